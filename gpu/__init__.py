"""Warp kernels and @wp.func helpers; no state-holding classes, no torch (see ARCHITECTURE.md).

Kernels are named by what they do, verb first, as in Warp's examples: `march_rays`, `fit_blocks`,
`query_inside`; a kernel with a gradient twin ends in `_forward` / `_backward` (`encode_forward`,
`encode_backward_table`: the gradient with respect to the table).
"""
