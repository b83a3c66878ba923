"""The Gaussian-bucket field on the GPU: shaders/gaussian_buckets.glsl (coarse grid levels and
Lagrangian levels) + shaders/mlp.glsl, with the GL objects made from a snapshot: the coarse table,
the means (one texel per point) and values of the Lagrangian points, the decoder, the level table
and each Lagrangian level's sigma."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import moderngl
import numpy as np
import torch

from fieldscope.app.render.gl_util import float_texture, include, table_image
from fieldscope.app.render.hashgrid_gl import GridBuffers, grid_defines, level_table
from fieldscope.fields.kinds.gaussian_buckets import GaussianBucketsConfig, gaussian_norm, split_layout
from fieldscope.fields.kinds.hashgrid import layout_of

MEANS_UNIT, VALUES_UNIT = 2, 3  # texture units (0: ground truth, 1: the coarse table)


def coarse_count(config: GaussianBucketsConfig) -> int:
    return config.levels - config.lagrangian_levels


def level_offsets(config: GaussianBucketsConfig) -> tuple[int, ...]:
    """First row of every level in its own table: coarse levels in the coarse table, Lagrangian
    levels in the bucket table (bucket b's points are rows b*K .. b*K+K-1 of means and values)."""
    coarse, fine = split_layout(layout_of(config), coarse_count(config))
    return (*coarse.offset, *fine.offset)


def sigmas(config: GaussianBucketsConfig, params: Mapping[str, np.ndarray]) -> np.ndarray:
    """(L~,) float32 sigma of every Lagrangian level, computed in float32 as the torch module does:
    sigma_scale * (1 / resolution)."""
    scale = np.float32(np.asarray(params["encoding.lagrangian.sigma_scale"]).reshape(-1)[0])
    resolution = np.array(layout_of(config).resolution[coarse_count(config) :], np.float32)
    return (scale * (np.float32(1.0) / resolution)).astype(np.float32)


def norms(config: GaussianBucketsConfig, sigma: np.ndarray) -> np.ndarray:
    """(L~,) float32 normaliser of every Lagrangian level for its sigma (L~,), computed by the torch
    module's own function (fields/kinds/gaussian_buckets.py gaussian_norm)."""
    return gaussian_norm(config.normaliser, torch.from_numpy(sigma), config.dims).numpy().astype(np.float32)


def lagrangian_points(config: GaussianBucketsConfig, params: Mapping[str, np.ndarray]) -> list[dict[str, Any]]:
    """Per Lagrangian level: its level index, means (P, D), sigma, resolution and where the points
    started (P, D; None for a snapshot without starting positions): what the points overlay draws."""
    means = np.asarray(params["encoding.lagrangian.means"])
    start = params.get("encoding.lagrangian.start")
    _, fine = split_layout(layout_of(config), coarse_count(config))
    k = config.points_per_bucket
    levels = zip(fine.offset, fine.rows, fine.resolution, sigmas(config, params), strict=True)
    return [
        {
            "level": coarse_count(config) + i,
            "means": means[o * k : (o + r) * k],
            "sigma": float(s),
            "resolution": n,
            "start": None if start is None else np.asarray(start)[o * k : (o + r) * k],
        }
        for i, (o, r, n, s) in enumerate(levels)
    ]


class GaussianBucketsBuffers(GridBuffers):
    def __init__(
        self,
        ctx: moderngl.Context,
        config: GaussianBucketsConfig,
        params: Mapping[str, np.ndarray],
        mask: tuple[bool, ...],
    ) -> None:
        super().__init__(ctx, config, params, mask)
        self.means = float_texture(ctx, table_image(np.asarray(params["encoding.lagrangian.means"]), 4), "means")
        values = np.asarray(params["encoding.lagrangian.values"])
        self.values = float_texture(ctx, table_image(values), "point features")
        self.sigma = sigmas(config, params)
        self.norm = norms(config, self.sigma)
        self.objects += [self.means, self.values]

    def grid_table(self, params: Mapping[str, np.ndarray]) -> np.ndarray:
        if "encoding.coarse.table" in params:
            return np.asarray(params["encoding.coarse.table"])
        return np.zeros((1, self.config.features), np.float32)  # every level is Lagrangian

    def level_rows(self, mask: tuple[bool, ...]) -> np.ndarray:
        return level_table(self.config, mask, level_offsets(self.config))

    def bind(self, program: moderngl.Program) -> None:
        super().bind(program)
        self.means.use(location=MEANS_UNIT)
        self.values.use(location=VALUES_UNIT)
        for name, value in (("gb_means", MEANS_UNIT), ("gb_values", VALUES_UNIT)):
            if name in program:
                program[name].value = value
        if "gb_sigma" in program:
            program["gb_sigma"].write(self.sigma.tobytes())
        if "gb_norm" in program:
            program["gb_norm"].write(self.norm.tobytes())


class GaussianBucketsGL:
    def glsl(self, config: GaussianBucketsConfig, params: Mapping[str, np.ndarray]) -> str:
        defines = {
            **grid_defines(config, params),
            "GB_COARSE": coarse_count(config),
            "GB_POINTS": config.points_per_bucket,
        }
        return include(defines, "gaussian_buckets.glsl")

    def points(self, config: GaussianBucketsConfig, params: Mapping[str, np.ndarray]) -> list[dict[str, Any]]:
        """The Lagrangian points (the overlay's): see lagrangian_points."""
        return lagrangian_points(config, params)

    def upload(
        self,
        ctx: moderngl.Context,
        config: GaussianBucketsConfig,
        params: Mapping[str, np.ndarray],
        mask: tuple[bool, ...],
    ) -> GaussianBucketsBuffers:
        return GaussianBucketsBuffers(ctx, config, params, mask)
