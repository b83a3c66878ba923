"""The field kinds: one module (or folder) each; fields/kinds/__init__.py registers them, in order."""
