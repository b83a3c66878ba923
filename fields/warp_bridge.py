"""Calling gpu/ launch functions with torch tensors: zero-copy views, on torch's CUDA stream."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
import warp as wp

from fieldscope.gpu import runtime


def to_warp(value: Any) -> Any:
    """A torch tensor as a warp array (no copy); dicts and other values pass through converted."""
    if isinstance(value, torch.Tensor):
        return wp.from_torch(value.detach(), requires_grad=False)
    if isinstance(value, dict):
        return {k: to_warp(v) for k, v in value.items()}
    return value


def warp_call(launch: Callable[..., None], *args: Any) -> None:
    """Run a gpu/ launch function on tensors, ordered with torch's work on the same device."""
    runtime.init()
    device = next((a.device for a in args if isinstance(a, torch.Tensor)), torch.device("cpu"))
    scope = (
        wp.ScopedStream(wp.stream_from_torch(torch.cuda.current_stream(device)))
        if device.type == "cuda"
        else contextlib.nullcontext()
    )
    with scope:
        launch(*(to_warp(a) for a in args))
