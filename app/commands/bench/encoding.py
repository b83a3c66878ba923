"""`fieldscope bench encoding`: encoding throughput, Warp vs the pure-PyTorch implementation, D=2 and
D=3, in the same process. By default a quick run (the same rows on 2^14 points: about a sixteenth of
the time); `--full` times 2^18 points per call, the long run (about 12 minutes on 2 cores)."""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import nn

from fieldscope.app.options import Subparsers, add_device_option
from fieldscope.fields import config as configs

ENCODING_BENCH = {
    "points": 1 << 18,
    "levels": 16,
    "features": 2,
    "log2_table_size": 19,
    "base_resolution": 16,
    "growth": 1.5,
}
#: Points and timed repeats per row: the default run, and with --full (the README's figures).
QUICK = {"points": 1 << 14, "repeats": 3}
FULL = {"points": ENCODING_BENCH["points"], "repeats": 3}


def add_parser(which: Subparsers) -> None:
    enc = which.add_parser("encoding", help="encoding throughput: Warp vs pure PyTorch, D=2 and D=3")
    enc.add_argument("--json", action="store_true", help="print one JSON object")
    enc.add_argument(
        "--full",
        action="store_true",
        help=f"the long run: {FULL['points']:,} points per call, {FULL['repeats']} repeats per row "
        f"(default: {QUICK['points']:,} points, {QUICK['repeats']} repeats)",
    )
    enc.add_argument("--points", type=int, help="points per call (overrides the run's)")
    enc.add_argument("--repeats", type=int, help="timed calls per row after a warm-up (overrides the run's)")
    enc.add_argument("--field", action="append", help="field kinds to time (default: all)")
    add_device_option(enc)
    enc.add_argument("--impl", action="append", choices=("warp", "torch"), help="implementations (default both)")
    enc.add_argument(
        "--interpolation",
        action="append",
        choices=("linear", "smoothstep", "lagrange"),
        help="interpolations to time (default: linear and lagrange, k=2; cost ratios are against linear)",
    )


def timed(fn: Callable[[], object], repeats: int) -> float:
    """Median seconds of `repeats` calls after one warm-up call (waiting for the GPU, if any)."""

    def sync() -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    fn()
    times = []
    for _ in range(repeats):
        sync()
        started = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def encoding_throughput(encoding: nn.Module, x: torch.Tensor, repeats: int) -> tuple[float, float]:
    """Points per second of encoding(x) (x: (N, D)) forward, and forward + backward to the parameters."""

    def forward() -> None:
        with torch.no_grad():
            encoding(x)

    def forward_backward() -> None:
        encoding.zero_grad(set_to_none=True)
        encoding(x).sum().backward()

    n = x.shape[0]
    return n / timed(forward, repeats), n / timed(forward_backward, repeats)


def grid_encodings(
    dims: int,
    settings: dict[str, Any],
    only: list[str] | None,
    device: str = "cpu",
    impls: Sequence[str] = ("warp", "torch"),
) -> Iterator[tuple[str, str, nn.Module]]:
    """(kind, impl, encoding module) for every grid field kind that takes the benchmark settings."""
    for kind in only or configs.kinds():
        cls = configs.config_class(kind)
        names = {f.name for f in dataclasses.fields(cls)}
        grid = {k: v for k, v in settings.items() if k not in ("points", "device")}
        values = {k: v for k, v in grid.items() if k in names}
        if len(values) < len(grid):  # not a grid kind
            continue
        config = cls(dims=dims, **values)
        for impl in impls:
            torch.manual_seed(0)
            yield kind, impl, configs.build_field(config, impl=impl).encoding.to(device)


def run(args: argparse.Namespace) -> dict[str, Any]:
    interpolations = args.interpolation or ["linear", "lagrange"]
    sizes = FULL if args.full else QUICK
    points = args.points or sizes["points"]
    repeats = args.repeats or sizes["repeats"]
    config = {
        **ENCODING_BENCH,
        "points": points,
        "repeats": repeats,
        "full": args.full,
        "device": args.device,
        "interpolations": interpolations,
    }
    results = []
    for dims in (2, 3):
        x = torch.rand(points, dims, generator=torch.Generator().manual_seed(dims)).to(args.device)
        for interpolation in interpolations:
            settings = {**config, "interpolation": interpolation}
            for key in ("interpolations", "repeats", "full"):
                del settings[key]
            impls = args.impl or ("warp", "torch")
            for kind, impl, encoding in grid_encodings(dims, settings, args.field, args.device, impls):
                fwd, fwd_bwd = encoding_throughput(encoding, x, repeats)
                row = {
                    "dims": dims,
                    "field": kind,
                    "impl": impl,
                    "interpolation": interpolation,
                    "forward_points_per_s": fwd,
                    "forward_backward_points_per_s": fwd_bwd,
                }
                results.append(row)
                if not args.json:
                    print(
                        f"D={dims} {kind:16s} {impl:5s} {interpolation:10s} forward {fwd / 1e6:7.3f} M points/s   "
                        f"forward+backward {fwd_bwd / 1e6:7.3f} M points/s",
                        flush=True,
                    )
    ratios = cost_ratios(results)
    if not args.json:
        for line in ratios:
            print(
                f"D={line['dims']} {line['field']} {line['impl']}: {line['interpolation']} costs "
                f"{line['forward_cost_vs_linear']:.2f}x linear forward, "
                f"{line['forward_backward_cost_vs_linear']:.2f}x forward+backward"
            )
        print_warp_vs_torch(results)
    return {"config": config, "results": results, "cost_vs_linear": ratios}


def cost_ratios(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per row that is not linear: its time per point over linear's (same dims, field, impl)."""
    out = []
    for row in results:
        same = ("dims", "field", "impl")
        linear = next(
            (r for r in results if r["interpolation"] == "linear" and all(r[k] == row[k] for k in same)), None
        )
        if linear is None or row is linear:
            continue
        out.append(
            {
                **{k: row[k] for k in (*same, "interpolation")},
                "forward_cost_vs_linear": linear["forward_points_per_s"] / row["forward_points_per_s"],
                "forward_backward_cost_vs_linear": linear["forward_backward_points_per_s"]
                / row["forward_backward_points_per_s"],
            }
        )
    return out


def print_warp_vs_torch(results: list[dict[str, Any]]) -> None:
    for row in results:
        if row["impl"] != "warp":
            continue
        ref = next(
            (
                r
                for r in results
                if r["impl"] == "torch" and all(r[k] == row[k] for k in ("dims", "field", "interpolation"))
            ),
            None,
        )
        if ref:
            print(
                f"D={row['dims']} {row['field']} {row['interpolation']}: Warp / PyTorch = "
                f"{row['forward_points_per_s'] / ref['forward_points_per_s']:.1f}x forward, "
                f"{row['forward_backward_points_per_s'] / ref['forward_backward_points_per_s']:.1f}x "
                "forward+backward"
            )
