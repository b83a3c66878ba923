"""The baseline kinds (fields/kinds/fourier.py, fields/kinds/mlp.py): forward and gradients against float64
references written out from the papers' formulas, snapshots, training on a scene."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fieldscope.fields import config as configs
from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.kinds.fourier import FourierConfig
from fieldscope.fields.kinds.mlp import MlpConfig, decoder_params


def mlp_reference(h: torch.Tensor, weights: list[tuple[torch.Tensor, torch.Tensor]], act: str, omega: float):
    """The decoder in float64: hidden layers relu(Wh+b) or sin(omega (Wh+b)), a linear last one."""
    for w, b in weights[:-1]:
        z = h @ w.T + b
        h = torch.relu(z) if act == "relu" else torch.sin(omega * z)
    w, b = weights[-1]
    return h @ w.T + b


def reference_eval(field, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The field at x (N, D) in float64 from its parameters (leaf copies, for their gradients)."""
    c = field.config
    params = [p.detach().double().requires_grad_(True) for p in field.decoder.parameters()]
    weights = list(zip(params[0::2], params[1::2], strict=True))
    x = x.double().clamp(0.0, 1.0)
    if c.kind == "fourier":
        b = field.encoding.B.double()
        phase = 2 * math.pi * x @ b.T
        h = torch.cat([torch.cos(phase), torch.sin(phase)], dim=1)
        act, omega = "relu", 1.0
    else:
        h, act, omega = 2 * x - 1, c.activation, c.omega
    return mlp_reference(h, weights, act, omega), params


CONFIGS = [
    FourierConfig(dims=2, out_dims=3, frequencies=16, sigma=4.0, hidden_width=32, hidden_layers=2),
    FourierConfig(dims=3, out_dims=1, frequencies=8, sigma=2.0, hidden_width=16, hidden_layers=1),
    MlpConfig(dims=2, out_dims=3, hidden_width=32, hidden_layers=3),
    MlpConfig(dims=3, out_dims=2, hidden_width=16, hidden_layers=2, activation="sine", omega=30.0),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.kind}-{c.dims}d-{getattr(c, 'activation', '')}")
def test_forward_and_gradients_equal_float64_reference(config) -> None:
    torch.manual_seed(1)
    field = configs.build_field(config)
    x = torch.rand(200, config.dims) * 1.2 - 0.1  # some points outside: clamped like the grid kinds
    x.requires_grad_(True)
    out = field(x)
    expected, ref_params = reference_eval(field, x.detach())
    assert torch.allclose(out.double(), expected, atol=1e-5, rtol=1e-4)
    assert expected.abs().max() > 1e-3  # a non-trivial output
    weight = torch.randn_like(expected)
    (out * weight.float()).sum().backward()
    (expected * weight).sum().backward()
    for p, ref in zip(field.decoder.parameters(), ref_params, strict=True):
        scale = max(1.0, ref.grad.abs().max().item())
        assert torch.allclose(p.grad.double(), ref.grad, atol=1e-4 * scale), p.shape
    inside = ((x > 0) & (x < 1)).all(dim=1)
    x_ref = x.detach().double().requires_grad_(True)
    (reference_eval(field, x_ref)[0] * weight).sum().backward()
    grad_scale = max(1.0, x_ref.grad.abs().max().item())
    assert torch.allclose(x.grad[inside].double(), x_ref.grad[inside], atol=1e-4 * grad_scale)
    assert bool((x.grad[~inside.unsqueeze(1).expand_as(x) & ((x < 0) | (x > 1))] == 0).all())


@pytest.mark.parametrize("config", CONFIGS[:3:2], ids=lambda c: c.kind)
def test_param_count_formula_and_no_encoding_parameters(config) -> None:
    field = configs.build_field(config)
    in_dims = 2 * config.frequencies if config.kind == "fourier" else config.dims
    expected = decoder_params(in_dims, config.hidden_width, config.hidden_layers, config.out_dims)
    assert field.param_count() == expected
    assert list(field.encoding.parameters()) == []


def test_fourier_frequencies_have_the_asked_spread() -> None:
    torch.manual_seed(0)
    field = configs.build_field(FourierConfig(dims=2, frequencies=1024, sigma=7.0))
    assert abs(field.encoding.B.std().item() - 7.0) < 0.3


def test_level_mask_turns_the_input_off() -> None:
    field = configs.build_field(MlpConfig(dims=2, hidden_width=8, hidden_layers=1))
    field.set_level_mask((False,))
    x = torch.rand(10, 2)
    with torch.no_grad():
        out = field(x)
        bias_only = field.decoder(torch.zeros(10, 2))
    assert torch.equal(out, bias_only)


@pytest.mark.parametrize(
    "kind, settings, words",
    [
        ("mlp", {"activation": "tanh"}, "activation"),
        ("fourier", {"frequencies": 0}, "frequencies"),
        ("fourier", {"sigma": -1.0}, "sigma"),
        ("mlp", {"hidden_width": 0}, "hidden width"),
    ],
)
def test_bad_settings_name_the_setting(kind: str, settings: dict, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        configs.config_class(kind)(**settings)


@pytest.mark.parametrize("config", [CONFIGS[0], CONFIGS[3]], ids=lambda c: c.kind)
def test_snapshot_round_trip(tmp_path, config) -> None:
    from tests.app.test_renderer import snapshot_of

    torch.manual_seed(3)
    field = configs.build_field(config)
    path = tmp_path / "f.safetensors"
    snapshots.save(path, snapshot_of(field))
    loaded = snapshots.field_from(snapshots.load(path, kind=config.kind))
    assert loaded.config == config
    x = torch.rand(50, config.dims)
    with torch.no_grad():
        assert torch.equal(loaded(x), field(x))  # B travels with the snapshot


@pytest.mark.parametrize("kind", ["fourier", "mlp"])
def test_trains_on_the_bundled_image(astronaut_path, kind: str) -> None:
    from fieldscope.fields.scenes import open_scene
    from fieldscope.fields.training.run import FieldOptions, TrainOptions, build_run

    scene = open_scene(astronaut_path)
    settings = {"hidden_width": 32, "hidden_layers": 2, **({"frequencies": 32} if kind == "fourier" else {})}
    trainer = build_run(scene, FieldOptions(kind, settings), TrainOptions(batch_size=2048, lr=1e-3))
    first = trainer.evaluate()["psnr"]
    losses = [trainer.step() for _ in range(40)]
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])
    assert trainer.evaluate()["psnr"] > first + 1.0
