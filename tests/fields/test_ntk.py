"""The empirical NTK (fields/analysis/ntk.py): the chunked Jacobian's kernel equals a brute-force one, the
kernel is symmetric positive semi-definite, a linear model's NTK is X X^T, and the command's JSON."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn
from torch.func import functional_call, jacrev

from fieldscope.fields import config as configs
from fieldscope.fields.analysis.ntk import ntk_matrix, sample_points, spectrum
from fieldscope.fields.kinds.hashgrid import HashGridConfig
from fieldscope.fields.kinds.mlp import MlpConfig


def brute_force_ntk(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """K_ij = sum_c <df_c(x_i)/dtheta, df_c(x_j)/dtheta> from the full Jacobian (torch.func), float64."""
    params = {k: v.detach().double() for k, v in model.named_parameters()}
    buffers = {k: v for k, v in model.named_buffers()}
    jac = jacrev(lambda p: functional_call(model, {**p, **buffers}, (x.double(),)))(params)
    flat = torch.cat([j.reshape(x.shape[0], -1, params[k].numel()) for k, j in jac.items()], dim=2)  # (n, O, P)
    return torch.einsum("icp,jcp->ij", flat, flat)


def test_chunked_kernel_of_a_torch_field_equals_brute_force() -> None:
    torch.manual_seed(0)
    model = configs.build_field(MlpConfig(dims=2, out_dims=2, hidden_width=12, hidden_layers=2)).double()
    x = sample_points(2, 11)
    expected = brute_force_ntk(model, x)
    got = ntk_matrix(model, x.double(), chunk=4)  # chunks that do not divide n
    assert torch.allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_chunked_kernel_of_a_warp_field_equals_brute_force_of_its_torch_reference() -> None:
    # the Warp encoding cannot be vmapped: its rows come one backward at a time, kept sparse
    torch.manual_seed(1)
    config = HashGridConfig(dims=2, out_dims=1, levels=4, log2_table_size=10, base_resolution=4, growth=2.0)
    warp_field = configs.build_field(config)
    with torch.no_grad():
        warp_field.encoding.table.uniform_(-0.5, 0.5)
    reference = configs.build_field(config, impl="torch")
    reference.load_state(warp_field.state())
    x = sample_points(2, 9, seed=3)
    got = ntk_matrix(warp_field, x, chunk=4)
    expected = brute_force_ntk(reference.double(), x)
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-5 * expected.abs().max())
    assert (got - torch.diag(torch.diag(got))).abs().max() > 1e-3  # points share parameters


def test_kernel_is_symmetric_positive_semidefinite() -> None:
    torch.manual_seed(2)
    model = configs.build_field(MlpConfig(dims=3, out_dims=1, hidden_width=16, hidden_layers=2))
    kernel = ntk_matrix(model, sample_points(3, 40), chunk=16)
    assert torch.equal(kernel, kernel.T)
    eigenvalues = torch.linalg.eigvalsh(kernel)
    assert eigenvalues.min() >= -1e-9 * eigenvalues.max()


@pytest.mark.parametrize("outputs", [1, 2])
def test_linear_model_kernel_is_x_xt(outputs: int) -> None:
    torch.manual_seed(3)
    model = nn.Linear(3, outputs, bias=False)
    x = torch.randn(7, 3)
    expected = outputs * (x.double() @ x.double().T)  # traced over the outputs: once per output
    assert torch.allclose(ntk_matrix(model, x, chunk=3), expected, rtol=1e-6, atol=1e-6)


def test_spectrum_of_a_known_matrix() -> None:
    result = spectrum(torch.diag(torch.tensor([4.0, 1e-3, 2.0], dtype=torch.float64)))
    assert result["eigenvalues"] == pytest.approx([4.0, 2.0, 1e-3])
    assert result["min_eigenvalue"] == pytest.approx(1e-3) and result["condition_number"] == pytest.approx(4000.0)
    assert result["min_eigenvalue_relative"] == pytest.approx(1e-3 / ((4.0 + 2.0 + 1e-3) / 3))
    assert spectrum(torch.zeros(2, 2, dtype=torch.float64))["condition_number"] == float("inf")


def test_command_line_json(capsys) -> None:
    from fieldscope.app.cli import main

    assert main(["ntk", "--fields", "hashgrid,mlp", "--points", "24", "--params", "5000", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [row["field"] for row in report["results"]] == ["hashgrid", "mlp"]
    for row in report["results"]:
        assert len(row["eigenvalues"]) == 24 and row["eigenvalues"] == sorted(row["eigenvalues"], reverse=True)
        assert row["min_eigenvalue"] == row["eigenvalues"][-1]
        assert abs(row["params"] - 5000) <= 500
    assert report["dims"] == 2 and report["points"] == 24


@pytest.mark.parametrize(
    "args, words",
    [
        (["--fields", "laplacian_blocks"], "no parameters before they train"),
        (["--points", "1"], "--points must be between 2 and 8192"),
        (["--fields", "nope"], "unknown field kind 'nope'"),
    ],
)
def test_command_line_bad_input(capsys, args, words) -> None:
    from fieldscope.app.cli import main

    assert main(["ntk", *args]) == 2
    assert words in capsys.readouterr().err.strip().splitlines()[-1]
