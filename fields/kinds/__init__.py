"""The field kinds: one module (or folder) each, and KINDS, the one registration of every kind, in the
order every list of kinds shows them (the window's kind box, `compare`, the README's Fields table).

A registration names where a kind's parts live as "module:attribute" strings, loaded when first
used (importlib): listing the kinds imports none of them, and fields/ never imports the GL side
(app/render) that `gl` names. Adding a kind: the README's "Adding a field kind"."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

#: The parts a registration names (FieldKind.load).
PARTS = ("config", "field", "gl", "tiers")


@dataclass(frozen=True)
class FieldKind:
    """One field kind: its name, its parts ("module:attribute") and its one-line description."""

    #: what configs and snapshots carry as `kind`, and the CLI's --field
    name: str
    #: its config: a frozen dataclass with `kind`, `dims`, `out_dims` and `capabilities`
    config: str
    #: what builds its Field from a config (a class or function: config, **options -> Field)
    field: str
    #: its GL program (app/render/<kind>_gl.py): a class with `glsl` and `upload`; only the view loads it
    gl: str
    #: its budget tiers: scene -> iterator of (settings, knob, values) (fields/training/budget.py)
    tiers: str
    #: what it is, in one line: the README's Fields table and the --field help
    summary: str
    #: the implementations its builder takes as `impl=`, the default first ("warp": Warp kernels,
    #: "torch": pure PyTorch); empty: plain torch, the builder takes no `impl` (impl="torch" is
    #: accepted, any other refused)
    impls: tuple[str, ...] = ("warp", "torch")

    def load(self, part: str) -> Any:
        """The object `part` (one of PARTS) names, importing its module."""
        module, _, attribute = getattr(self, part).partition(":")
        return getattr(importlib.import_module(module), attribute)


_KINDS = "fieldscope.fields.kinds"
_GL = "fieldscope.app.render"
_TIERS = "fieldscope.fields.training.budget"

KINDS: tuple[FieldKind, ...] = (
    FieldKind(
        name="hashgrid",
        config=f"{_KINDS}.hashgrid:HashGridConfig",
        field=f"{_KINDS}.hashgrid:HashGridField",
        gl=f"{_GL}.hashgrid_gl:HashGridGL",
        tiers=f"{_TIERS}:grid_tiers",
        summary="Instant-NGP multiresolution hash grid + MLP (one hidden layer of 64)",
    ),
    FieldKind(
        name="gaussian_buckets",
        config=f"{_KINDS}.gaussian_buckets:GaussianBucketsConfig",
        field=f"{_KINDS}.gaussian_buckets:GaussianBucketsField",
        gl=f"{_GL}.gaussian_buckets_gl:GaussianBucketsGL",
        tiers=f"{_TIERS}:grid_tiers",
        summary="Lagrangian Hashing: the last L~ levels hold K moving Gaussian points per bucket, pulled where "
        "the image has detail by the guidance loss",
    ),
    FieldKind(
        name="laplacian_blocks",
        config=f"{_KINDS}.laplacian_blocks.field:LaplacianBlocksConfig",
        field=f"{_KINDS}.laplacian_blocks.field:LaplacianBlocksField",
        gl=f"{_GL}.laplacian_blocks_gl:LaplacianBlocksGL",
        tiers=f"{_TIERS}:blocks_tiers",
        summary="MINER: a Laplacian pyramid of J scales cut into blocks, each active block a tiny SIREN; each "
        "scale is its blocks' residual plus the bilinear 2x upsampling (U2) of the coarser scale; trained coarse "
        "to fine with pruning",
    ),
    FieldKind(
        name="fourier",
        config=f"{_KINDS}.fourier:FourierConfig",
        field=f"{_KINDS}.fourier:FourierField",
        gl=f"{_GL}.fourier_gl:FourierGL",
        tiers=f"{_TIERS}:fourier_tiers",
        summary="random Fourier features [cos 2πBx, sin 2πBx] (B Gaussian, fixed, saved with the model) + the "
        "same MLP decoder; a baseline",
        impls=(),
    ),
    FieldKind(
        name="mlp",
        config=f"{_KINDS}.mlp:MlpConfig",
        field=f"{_KINDS}.mlp:MlpField",
        gl=f"{_GL}.mlp_gl:MlpGL",
        tiers=f"{_TIERS}:mlp_tiers",
        summary="the plain coordinate MLP (ReLU), or a SIREN with `activation=sine`; a baseline",
        impls=(),
    ),
)
