"""Experiments on trained fields: optical flow through coordinates, the empirical NTK."""
