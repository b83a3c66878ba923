"""The field kinds: one module (or folder) each, and KINDS, the one registration of every kind, in the
order every list of kinds shows them (the window's kind box, `compare`, `fieldscope kinds`).

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
    #: what it is, in one line: `fieldscope kinds` and the --field help
    summary: str
    #: its own settings (`--option KEY=VALUE`) with their defaults: `fieldscope kinds`
    settings: str
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
        settings="the grid options (`--levels`, `--features`, `--log2-table-size`, `--base-resolution`, "
        "`--growth`, `--max-resolution`); `--interpolation lagrange` reads (2k)^D vertices per level through a "
        "Lagrange polynomial of order 2k-1 (HashEncoding's multi-sampling; `lagrange_k` 2, 1 = linear; smooth "
        "coordinate gradients; the stencil shifts inwards at the border)",
    ),
    FieldKind(
        name="gaussian_buckets",
        config=f"{_KINDS}.gaussian_buckets:GaussianBucketsConfig",
        field=f"{_KINDS}.gaussian_buckets:GaussianBucketsField",
        gl=f"{_GL}.gaussian_buckets_gl:GaussianBucketsGL",
        tiers=f"{_TIERS}:grid_tiers",
        summary="Lagrangian Hashing: the last L~ levels hold K moving Gaussian points per bucket, pulled where "
        "the image has detail by the guidance loss",
        settings="`lagrangian_levels` (2), `points_per_bucket` (4), `sigma_start`/`sigma_end` (50/5 cells), "
        "`sigma_schedule` (`run`: the decay ends with the planned run of `fit`/`bench`; `steps`: over "
        "`sigma_decay_steps`, also the window's), `guidance_weight` (0.1), `guidance_warmup`, `guidance` "
        "(`hard`: eq. 8's minimum; `soft`: a softmin, every candidate gets its softmax share; `none`), "
        "`normaliser` (`peak`: 1; `paper`: 1/(sqrt(2 pi) sigma); `released`: 1/sqrt(2 pi sigma); `density`: "
        "the D-dimensional 1/((2 pi)^(D/2) sigma^D)), `init` (`vertex`: near a vertex hashing to the bucket; "
        "`uniform`), `means_lr` (1e-4, in our [0,1] coordinates), `means_lr_end` (0: constant; else the means' "
        "rate decays to it alongside sigma); departures from eq. 8, all off by default: `guidance_reach` (R "
        "cells: a sample pulls the points of the cell of a place up to R cells from it, drawn per sample and "
        "step; 0), `guidance_power` (W^p at W's batch mean; 1), `guidance_error` (W times the sample's squared "
        "reconstruction error; false), `guidance_sigma` (the guidance cost's own sigma in cells; 0: the "
        "field's); the defaults that depart from the paper, and the variants measured: the README's "
        "\"Gaussian buckets\" section",
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
        settings="`scales` (4), `block_size` (32), `target_mse`, `defaults` (`tuned`: learning rate 2e-3, `schedule` "
        "`together`: a finer scale starts once the scale above falls by less than `min_gain` 20% over "
        "`gain_window` 10 passes while the coarser ones go on, every started scale's active blocks in one "
        "launch per pass; `paper`: MINER's 5e-4, plateau rule and `schedule` `sequential`, one scale after "
        "the other; 3D: 22 units, 3 layers, 1e-3; `fast` (2D): `tuned` with `sample_fraction` 1/8 of each "
        "block's samples a step and `stop_coarser` (coarser scales stop when a finer one starts): ~3x faster "
        "to a PSNR, rougher coarse levels; on a 1 MP photo with 2 CPU cores 30 dB in ~10 s, as fast as the "
        "hash grid at equal parameters), `learning_rate`, `omega`, `hidden_width`, `layers`, `max_epochs`, "
        "`blocks_per_step` (sequential schedule; 0: every active block in one launch)",
    ),
    FieldKind(
        name="fourier",
        config=f"{_KINDS}.fourier:FourierConfig",
        field=f"{_KINDS}.fourier:FourierField",
        gl=f"{_GL}.fourier_gl:FourierGL",
        tiers=f"{_TIERS}:fourier_tiers",
        summary="random Fourier features [cos 2πBx, sin 2πBx] (B Gaussian, fixed, saved with the model) + the "
        "same MLP decoder; a baseline",
        settings="`frequencies` (256), `sigma` (10), `hidden_width` (128), `hidden_layers` (2), `learning_rate` (1e-3, "
        "its own)",
        impls=(),
    ),
    FieldKind(
        name="mlp",
        config=f"{_KINDS}.mlp:MlpConfig",
        field=f"{_KINDS}.mlp:MlpField",
        gl=f"{_GL}.mlp_gl:MlpGL",
        tiers=f"{_TIERS}:mlp_tiers",
        summary="the plain coordinate MLP (ReLU), or a SIREN with `activation=sine`; a baseline",
        settings="`hidden_width` (256), `hidden_layers` (3), `activation` (relu), `omega` (30), `learning_rate` (1e-3, "
        "its own)",
        impls=(),
    ),
)
