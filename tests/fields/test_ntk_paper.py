"""The NTK paper's protocol (fields/analysis/ntk_paper.py, ntk_experiment.py, `fieldscope ntk --protocol
paper`): the layer-wise kernel equals J J^T of a float64 autograd Jacobian, its grid-term split and the
generic split of a field both sum to the whole kernel, the Fourier encoding's frequencies are the
paper's (axis-aligned, log-spaced), spectra resample keeping their ends, and the command's JSON and
report on a tiny run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from torch.func import functional_call, jacrev

from fieldscope.app.cli import main
from fieldscope.fields import config as configs
from fieldscope.fields.analysis.ntk import grid_parameters, ntk_matrix, ntk_split, resample_spectrum, sample_points
from fieldscope.fields.analysis.ntk_experiment import NAMES, PaperProtocol, encodings
from fieldscope.fields.analysis.ntk_paper import EncodingSpec, FourierEncoding, PaperNet, kernel_terms
from fieldscope.fields.kinds.hashgrid import HashGridConfig

SPECS = [
    EncodingSpec("baseline", "none"),
    EncodingSpec("fourier", "fourier", frequencies=3),
    EncodingSpec("grid", "grid", resolutions=(2, 5), features=2),
]


def jacobian_kernels(model: nn.Module, x: torch.Tensor, groups: dict[str, list[str]]) -> dict[str, torch.Tensor]:
    """Per group of parameter names: sum_c J_c J_c^T over those parameters' columns of the float64
    Jacobian (torch.func.jacrev) of model at x (n, D) -> (n, n) each."""
    params = {k: v.detach().double() for k, v in model.named_parameters()}
    buffers = {k: v.double() for k, v in model.named_buffers()}
    jac = jacrev(lambda p: functional_call(model, {**p, **buffers}, (x.double(),)))(params)
    n = x.shape[0]
    flat = {k: j.reshape(n, j.shape[1], -1) for k, j in jac.items()}  # (n, C, P_k)
    zero = torch.zeros(n, n, dtype=torch.float64)
    return {
        name: sum((torch.einsum("icp,jcp->ij", flat[k], flat[k]) for k in keys), zero) for name, keys in groups.items()
    }


def tiny_net(spec: EncodingSpec, dims: int) -> PaperNet:
    torch.manual_seed(0)
    net = PaperNet(spec, dims, out_dims=3, width=7, depth=2).double()
    for grid in net.grid_parameters():  # away from the tiny initial values: a visible grid term
        nn.init.uniform_(grid, -1.0, 1.0)
    return net


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("spec", SPECS, ids=[s.kind for s in SPECS])
def test_layerwise_kernel_equals_the_jacobian_product(spec: EncodingSpec, dims: int) -> None:
    net = tiny_net(spec, dims)
    x = torch.rand(13, dims, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    names = [k for k, _ in net.named_parameters()]
    grid_names = [k for k in names if k.startswith("encoding.")]
    expected = jacobian_kernels(net, x, {"whole": names, "grid": grid_names})
    without, grid = kernel_terms(net, x)
    assert torch.allclose(without + grid, expected["whole"], rtol=1e-10, atol=1e-12)
    assert torch.allclose(grid, expected["grid"], rtol=1e-10, atol=1e-12)
    if spec.kind == "grid":
        assert grid.abs().max() > 1e-2  # points share grid corners: a real term, off the diagonal too
        assert (grid - torch.diag(torch.diag(grid))).abs().max() > 1e-3
    else:
        assert grid.abs().max() == 0


def test_grid_term_split_sums_to_the_whole_kernel() -> None:
    net = tiny_net(SPECS[2], 2)
    x = torch.rand(17, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    without, grid = kernel_terms(net, x)
    names = [k for k, _ in net.named_parameters()]
    expected = jacobian_kernels(net, x, {"net": [k for k in names if not k.startswith("encoding.")]})["net"]
    assert torch.allclose(without, expected, rtol=1e-10, atol=1e-12)  # the MLP's term on the embedding
    both = torch.linalg.eigvalsh(without + grid)
    bare = torch.linalg.eigvalsh(without)
    assert (both >= bare - 1e-9).all()  # Weyl: adding the PSD grid term raises every eigenvalue


def test_generic_split_of_a_hash_grid_field_sums_to_its_kernel() -> None:
    torch.manual_seed(4)
    config = HashGridConfig(dims=2, out_dims=2, levels=3, log2_table_size=10, base_resolution=4, growth=2.0)
    model = configs.build_field(config, impl="torch").double()
    with torch.no_grad():
        model.encoding.table.uniform_(-0.5, 0.5)
    x = sample_points(2, 10, seed=5).double()
    grid = grid_parameters(model)
    assert grid and all(any(p is q for q in model.encoding.parameters()) for p in grid)
    without, grid_term = ntk_split(model, x, grid, chunk=4)
    assert torch.allclose(without + grid_term, ntk_matrix(model, x, chunk=4), rtol=1e-10, atol=1e-12)
    table = [k for k, _ in model.named_parameters() if k.startswith("encoding.")]
    expected = jacobian_kernels(model, x, {"grid": table})["grid"]
    assert torch.allclose(grid_term, expected, rtol=1e-9, atol=1e-12) and grid_term.abs().max() > 1e-3


def test_fourier_frequencies_are_axis_aligned_and_log_spaced() -> None:
    encoding = FourierEncoding(dims=3, frequencies=4)
    matrix = encoding.matrix
    assert matrix.shape == (12, 3)
    assert ((matrix != 0).sum(dim=1) == 1).all()  # every row along one axis
    for axis in range(3):
        along = sorted(float(v) for v in matrix[:, axis] if v != 0)
        assert along == [1.0, 2.0, 4.0, 8.0]  # 2^k cycles per unit, k < L
    x = torch.tensor([[0.25, 0.0, 0.5]])
    phase = 2 * math.pi * x @ matrix.T
    assert torch.allclose(encoding(x), torch.cat([torch.sin(phase), torch.cos(phase)], dim=-1))
    specs = {s.name: s for s in encodings(PaperProtocol(size=64))}
    assert 2 ** (specs["fourier_high"].frequencies - 1) == 32  # the 64-pixel image's Nyquist frequency
    assert specs["fourier_low"].frequencies < specs["fourier_mid"].frequencies < specs["fourier_high"].frequencies
    assert max(specs["grid_fine"].resolutions) == 64 and max(specs["grid_coarse"].resolutions) == 16


def test_resampled_spectrum_keeps_its_ends_and_order() -> None:
    values = torch.tensor([1e-8, 3.0, 1e2, 0.5, 1e-3], dtype=torch.float64)
    out = resample_spectrum(values, 9)
    assert len(out) == 9 and out == sorted(out, reverse=True)
    assert out[0] == 1e2 and out[-1] == 1e-8 and out[2] == 3.0  # rank 1 of 4 lands on index 2 of 8
    assert resample_spectrum(values, 5) == sorted(values.tolist(), reverse=True)


def test_command_line_json_and_report(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    args = ["ntk", "--protocol", "paper", "--size", "33", "--width", "8", "--depth", "1", "--epochs", "2", "--lr", "1"]
    assert main([*args, "--spectrum-points", "6", "--json", "--report", str(tmp_path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"encodings", "scaling"} and "image side 33" in report["scaling"]
    assert [row["name"] for row in report["encodings"]] == list(NAMES)
    for row in report["encodings"]:
        assert set(row) == {"name", "psnr", "ms_ssim", "eigenvalues", "eigenvalues_without_grid_term"}
        assert math.isfinite(row["psnr"]) and 0.0 <= row["ms_ssim"] <= 1.0
        for key in ("eigenvalues", "eigenvalues_without_grid_term"):
            assert set(row[key]) == {"start", "middle", "end"}
            for values in row[key].values():
                assert len(values) == 6 and values == sorted(values, reverse=True)
        if row["name"].startswith("grid"):  # the grid term raises the smallest eigenvalue (Weyl)
            assert row["eigenvalues"]["end"][-1] > row["eigenvalues_without_grid_term"]["end"][-1]
        else:
            assert row["eigenvalues"] == row["eigenvalues_without_grid_term"]
    assert json.loads((tmp_path / "results.json").read_text()) == report
    table = (tmp_path / "table.md").read_text()
    assert "| grid_fine |" in table and "| 41.5 |" in table and "| 20 |" in table  # beside Table 3
    picture = np.asarray(Image.open(tmp_path / "spectra.png").convert("RGB")).astype(int)
    assert picture.shape[1] == 4 * 560  # Figure 4's three panels and Figure 2's
    coloured = (np.abs(picture - picture.mean(axis=2, keepdims=True)) > 40).any(axis=2)
    for panel in range(4):
        assert coloured[:, panel * 560 : (panel + 1) * 560].sum() > 200  # lines drawn in every panel


def test_command_line_bad_paper_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ntk", "--protocol", "paper", "--size", "20"]) == 2
    assert "at least 33 pixels" in capsys.readouterr().err
    assert main(["ntk", "--protocol", "paper", "--encodings", "grid_fine,nope"]) == 2
    assert "unknown encodings ['nope']" in capsys.readouterr().err
    args = ["--size", "33", "--width", "8", "--depth", "1", "--epochs", "1", "--encodings", "baseline", "--lr", "1e6"]
    assert main(["ntk", "--protocol", "paper", *args]) == 2
    assert "baseline diverged (non-finite weights by epoch 1)" in capsys.readouterr().err


def test_command_line_3d_occupancy(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--dims", "3", "--size", "4", "--width", "8", "--depth", "2", "--epochs", "2", "--spectrum-points", "4"]
    assert main(["ntk", "--protocol", "paper", *args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert "on a torus" in report["scaling"] and "MLP 2 x 8 (paper 8 x 256)" in report["scaling"]
    assert [row["name"] for row in report["encodings"]] == list(NAMES)
    for row in report["encodings"]:
        assert row["psnr"] is None and row["ms_ssim"] is None and 0.0 <= row["iou"] <= 1.0
        assert all(len(values) == 4 for values in row["eigenvalues"].values())
