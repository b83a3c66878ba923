"""Warp kernels and @wp.func helpers; no state-holding classes, no torch (see ARCHITECTURE.md)."""
