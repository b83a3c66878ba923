"""MINER's Laplacian-block field: config and module (field.py), block layout and U2 (layout.py), Laplacian
pyramids (pyramid.py) and its two training schedules (training.py, together.py)."""
