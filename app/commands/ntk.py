"""`fieldscope ntk`: the empirical NTK spectrum of field kinds. Two protocols:

- `budget` (the default): field kinds at an equal parameter budget (fields/analysis/ntk.py) on random
  points, at initialisation, after training them on a scene (--scene, --steps: each built as a run of
  `compare` is, fields/training/sweep.py's `build`), or of saved fields (--snapshot); min / max / condition number.
- `paper`: the NTK paper's scaling experiment, one MLP behind six encodings on one photograph, spectra
  during training with and without the grid term, PSNR / MS-SSIM beside its Table 3
  (app/commands/ntk_paper.py)."""

from __future__ import annotations

import argparse
import json
from typing import Any

import torch

from fieldscope.app.commands import command_parser, ntk_paper
from fieldscope.app.options import Subparsers
from fieldscope.fields import config as configs
from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.analysis.ntk import UnitScene, ntk_matrix, param_total, sample_points, spectrum
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.field import FieldBase
from fieldscope.fields.scenes import open_scene
from fieldscope.fields.scenes.base import Scene
from fieldscope.fields.training.compare import parse_kinds
from fieldscope.fields.training.sweep import RunSpec, build

#: The NTK paper's figures (Audia et al., 2D image regression, tuned encodings, end of training).
PAPER = {
    "source": "ntk-multigrid-encodings.txt",
    "min_eigenvalue_multigrid_over_fourier": "about 1e2 (2 orders of magnitude)",
    "min_eigenvalue_multigrid_over_mlp": "about 1e8 (8 orders of magnitude)",
    "note": "measured in the middle and at the end of training; at initialisation the spectra are similar; "
    "in 3D (occupancy) the minimum eigenvalues of Fourier and multigrid are similar, both far above the MLP",
}


def add_parser(sub: Subparsers) -> None:
    ntk = command_parser(sub, "ntk")
    ntk.add_argument(
        "--protocol",
        choices=("budget", "paper"),
        default="budget",
        help="budget (default): kinds at an equal parameter budget on random points; "
        "paper: the NTK paper's scaling experiment on one photograph",
    )
    ntk.add_argument("--fields", default="hashgrid,fourier,mlp", help="comma-separated kinds")
    ntk.add_argument("--dims", type=int, choices=(2, 3), default=2, help="input dimensions without --scene")
    ntk.add_argument("--points", type=int, default=1024, help="sample points n (K is n x n; default 1024)")
    ntk.add_argument("--params", type=int, default=100_000, help="parameter budget per field (default 100000)")
    ntk.add_argument("--scene", help="train the fields on this scene first and sample its points")
    ntk.add_argument("--steps", type=int, default=0, help="training steps on --scene before the NTK (default 0)")
    ntk.add_argument("--batch-size", type=int, help="samples per training step (default: the scene's; paper: 32)")
    ntk.add_argument("--snapshot", action="append", default=[], help="a saved field (instead of --fields)")
    ntk.add_argument("--seed", type=int, default=0)
    ntk.add_argument("--json", action="store_true", help="print the report as one JSON object")
    ntk_paper.add_options(ntk)
    ntk.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.protocol == "paper":
        return ntk_paper.run(args)
    if not 2 <= args.points <= 8192:
        raise ConfigError(f"--points must be between 2 and 8192, not {args.points}")
    if args.steps and not args.scene:
        raise ConfigError("--steps trains on a scene: give --scene PATH")
    torch.manual_seed(args.seed)
    fields, points, where = fields_and_points(args)
    results = [result_of(label, model, points) for label, model in fields]
    report = {"dims": points.shape[1], "points": points.shape[0], "where": where, "results": results, "paper": PAPER}
    if args.json:
        print(json.dumps(report))
    else:
        print(table(report))
    return 0


def fields_and_points(args: argparse.Namespace) -> tuple[list[tuple[str, FieldBase]], torch.Tensor, str]:
    """[(label, field)], the points (n, D) and a few words on where the fields stand."""
    if args.snapshot:
        loaded = [(path, snapshots.field_from(snapshots.load(path))) for path in args.snapshot]
        dims = {model.config.dims for _, model in loaded}
        if len(dims) > 1:
            raise ConfigError("the snapshots have different input dimensions")
        return loaded, sample_points(dims.pop(), args.points, args.seed), "saved fields"
    kinds = parse_kinds(args.fields)
    growing = [k for k in kinds if configs.config_class(k).capabilities.grows_while_training]
    if growing and not args.steps:
        raise ConfigError(f"{growing[0]} fields have no parameters before they train: give --scene PATH --steps N")
    if not args.scene:
        scene: Scene = UnitScene(args.dims)
        fields = [(kind, build(RunSpec(kind, scene.name, params=args.params), scene).field) for kind in kinds]
        return fields, sample_points(args.dims, args.points, args.seed), "init"
    scene = open_scene(args.scene)
    fields = []
    for kind in kinds:
        spec = RunSpec(
            kind, scene.name, params=args.params, seed=args.seed, steps=args.steps or None, batch_size=args.batch_size
        )
        trainer = build(spec, scene)
        for _ in range(args.steps or 0):
            trainer.step()
        fields.append((kind, trainer.field))
    # uniform points of the scene's domain: distinct (sampled pixels can repeat, which makes K singular)
    points = sample_points(scene.dims, args.points, args.seed)
    return fields, points, f"after {args.steps} steps on {scene.name}"


def result_of(label: str, model: FieldBase, points: torch.Tensor) -> dict[str, Any]:
    params = param_total(model)
    if params == 0:
        raise ConfigError(f"{label}: the field has no parameters yet (Laplacian blocks get theirs as they train)")
    return {"field": getattr(model.config, "kind", label), "source": label, "params": params} | spectrum(
        ntk_matrix(model, points)
    )


def table(report: dict[str, Any]) -> str:
    lines = [
        f"NTK on {report['points']} points in {report['dims']}D ({report['where']})",
        "| field | parameters | min eigenvalue | min / mean eigenvalue | max eigenvalue | condition number |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in report["results"]:
        lines.append(
            f"| {row['field']} | {row['params']:,} | {row['min_eigenvalue']:.3e} | "
            f"{row['min_eigenvalue_relative']:.3e} | {row['max_eigenvalue']:.3e} | {row['condition_number']:.3e} |"
        )
    return "\n".join(lines)
