"""The Warp hash-grid kernels against the float64 PyTorch reference, brute force and finite differences."""

import itertools

import numpy as np
import pytest
import torch

from fieldscope.fields import reference
from fieldscope.fields.kinds.hashgrid import HashGridEncoding, level_layout
from fieldscope.gpu import runtime

# Seeded sweep: (dims, levels, features, log2 T, base, growth, smooth); every case has dense and hashed levels.
CASES = [
    (2, 8, 2, 12, 4, 1.8, 0),
    (2, 6, 1, 10, 8, 2.0, 1),
    (2, 12, 4, 14, 16, 1.5, 0),
    (2, 4, 8, 10, 16, 2.5, 1),
    (3, 8, 2, 12, 4, 1.8, 1),
    (3, 6, 1, 10, 2, 2.0, 0),
    (3, 5, 4, 13, 8, 1.7, 1),
    (3, 4, 8, 11, 4, 2.2, 0),
]


def make_encoding(dims, levels, feats, log2t, base, growth, smooth, seed=0):
    layout = level_layout(dims, levels, base, growth, log2t)
    assert any(layout.hashed) and not all(layout.hashed), "each case must mix dense and hashed levels"
    enc = HashGridEncoding(layout, feats, ("linear", "smoothstep")[smooth])
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        enc.table.copy_(torch.randn(enc.table.shape, generator=gen))
    mask = torch.rand(levels, generator=gen) > 0.3
    mask[0] = True
    enc.set_mask(tuple(mask.tolist()))
    return enc


def sample_points(n, dims, seed=1):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, dims, generator=gen)
    x[0] = 1.0  # upper edge: the last cell, fraction 1
    x[1] = 0.0
    x[2, 0] = 1.25  # outside: clamped, no gradient along that axis
    x[3, -1] = -0.5
    return x


def run_both(enc, x):
    """Warp output and float64 reference output with their autograd graphs."""
    xw = x.clone().requires_grad_(True)
    yw = enc(xw)
    x64 = x.double().requires_grad_(True)
    t64 = enc.table.detach().double().requires_grad_(True)
    y64 = reference.hashgrid_encode(x64, t64, enc.layout, enc.mask, enc.smooth)
    return xw, yw, x64, t64, y64


def rel_err(a, b):
    return float((a.detach().double() - b.detach()).abs().max() / b.detach().abs().max().clamp_min(1e-30))


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"D{c[0]}-L{c[1]}-F{c[2]}-T{c[3]}-s{c[6]}")
def test_forward_matches_float64_reference(case, device):
    enc = make_encoding(*case).to(device)
    x = sample_points(3000, case[0]).to(device)
    _, yw, _, _, y64 = run_both(enc, x)
    assert yw.shape == (3000, case[1] * case[2])
    assert rel_err(yw, y64) <= 1e-5
    off = [lvl for lvl, m in enumerate(enc.mask.tolist()) if not m]
    for lvl in off:
        assert torch.all(yw[:, lvl * case[2] : (lvl + 1) * case[2]] == 0)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"D{c[0]}-L{c[1]}-F{c[2]}-T{c[3]}-s{c[6]}")
def test_gradients_match_reference_autograd(case, device):
    enc = make_encoding(*case).to(device)
    x = sample_points(3000, case[0]).to(device)
    xw, yw, x64, t64, y64 = run_both(enc, x)
    cotangent = torch.randn(yw.shape, generator=torch.Generator().manual_seed(7)).to(device)
    (yw * cotangent).sum().backward()
    (y64 * cotangent.double()).sum().backward()
    assert rel_err(enc.table.grad, t64.grad) <= 1e-5
    assert rel_err(xw.grad, x64.grad) <= 1e-5
    # masked levels get no gradient: their rows stay exactly zero
    for lvl, on in enumerate(enc.mask.tolist()):
        rows = slice(enc.layout.offset[lvl], enc.layout.offset[lvl] + enc.layout.rows[lvl])
        if not on:
            assert torch.all(enc.table.grad[rows] == 0)
    assert torch.all(xw.grad[2, 0] == 0) and torch.all(xw.grad[3, -1] == 0)


def test_reference_gradients_pass_gradcheck():
    # Cells and fractions are picked in float32 (as the kernels do), so the reference's value moves in
    # float32 steps along x: a larger step and a looser tolerance than gradcheck's defaults.
    layout = level_layout(2, 3, 2, 2.0, 10)
    table = torch.randn(layout.total_rows, 2, dtype=torch.float64, requires_grad=True)
    x = torch.tensor([[0.31, 0.77], [0.52, 0.13]], dtype=torch.float64, requires_grad=True)
    mask = torch.ones(3, dtype=torch.int32)
    for smooth in (0, 1):
        assert torch.autograd.gradcheck(
            lambda xx, tt, s=smooth: reference.hashgrid_encode(xx, tt, layout, mask, s),
            (x, table),
            eps=1e-4,
            atol=1e-2,
            rtol=1e-2,
        )


@pytest.mark.parametrize("dims", [2, 3])
def test_warp_gradients_match_finite_differences(dims, device):
    enc = make_encoding(dims, 3, 2, 10, 6, 2.5, 1).to(device)
    enc.set_mask((True, True, True))
    x = torch.tensor([[0.23, 0.61, 0.47][:dims], [0.71, 0.18, 0.83][:dims]], device=device)
    cot = torch.randn(2, 6, generator=torch.Generator().manual_seed(3)).to(device)
    xw = x.clone().requires_grad_(True)
    (enc(xw) * cot).sum().backward()

    def loss(xx):
        with torch.no_grad():
            return float((enc(xx).double() * cot.double()).sum())

    eps = 1e-3
    for p in range(2):
        for d in range(dims):
            plus, minus = x.clone(), x.clone()
            plus[p, d] += eps
            minus[p, d] -= eps
            fd = (loss(plus) - loss(minus)) / (2 * eps)
            assert fd == pytest.approx(float(xw.grad[p, d]), rel=2e-2, abs=2e-2)
    # the output is linear in the table, so a finite difference there is exact up to rounding
    rows = torch.nonzero(enc.table.grad.abs().sum(1)).flatten()[:5]
    for r in rows.tolist():
        saved = enc.table.data[r, 0].item()
        enc.table.data[r, 0] = saved + 0.5
        up = loss(x)
        enc.table.data[r, 0] = saved - 0.5
        down = loss(x)
        enc.table.data[r, 0] = saved
        assert (up - down) / 1.0 == pytest.approx(float(enc.table.grad[r, 0]), rel=1e-4, abs=1e-5)


def brute_force_rows(point, layout):
    """Rows (global) and weights of every level's cell corners, in plain Python integers."""
    out = []
    for lvl, (res, hashed, offset) in enumerate(zip(layout.resolution, layout.hashed, layout.offset, strict=True)):
        pos = [np.float32(min(max(v, 0.0), 1.0)) * np.float32(res) for v in point]
        cell = [min(int(np.floor(p)), res - 1) for p in pos]
        frac = [float(p - np.float32(c)) for p, c in zip(pos, cell, strict=True)]
        corners = {}
        for bits in itertools.product((0, 1), repeat=len(point)):
            v = [c + b for c, b in zip(cell, bits, strict=True)]
            if hashed:
                h = 0
                for coord, prime in zip(v, (1, 2654435761, 805459861), strict=False):
                    h ^= (coord * prime) & 0xFFFFFFFF
                row = h % layout.table_size
            else:
                row = sum(c * (res + 1) ** d for d, c in enumerate(v))
            weight = np.prod([f if b else 1.0 - f for f, b in zip(frac, bits, strict=True)])
            corners[offset + row] = corners.get(offset + row, 0.0) + weight
        out.append((lvl, corners))
    return out


@pytest.mark.parametrize("dims", [2, 3])
def test_rows_touched_equal_brute_force(dims, device):
    enc = make_encoding(dims, 6, 1, 10, 4, 2.0, 0).to(device)
    enc.set_mask((True,) * 6)
    points = [*sample_points(6, dims, seed=11)[4:].tolist(), [0.999] * dims, [0.5] * dims]
    for point in points:
        x = torch.tensor([point], device=device)
        for lvl, corners in brute_force_rows(point, enc.layout):
            enc.table.grad = None
            y = enc(x)
            y[0, lvl].backward()
            touched = torch.nonzero(enc.table.grad[:, 0]).flatten().tolist()
            expected = {r: w for r, w in corners.items() if w != 0.0}
            assert sorted(touched) == sorted(expected)
            for r, w in expected.items():
                assert float(enc.table.grad[r, 0]) == pytest.approx(w, rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("dims", [2, 3])
def test_launches_split_over_cores_equal_one_launch(dims, monkeypatch):
    enc = make_encoding(dims, 8, 2, 12, 4, 1.8, 0)
    x = sample_points(40000, dims).requires_grad_(True)
    cot = torch.randn(40000, 16, generator=torch.Generator().manual_seed(5))

    def run():
        enc.table.grad, x.grad = None, None
        y = enc(x)
        (y * cot).sum().backward()
        return y.detach().clone(), enc.table.grad.clone(), x.grad.clone()

    # the split as on a 2- or 3-core machine, whatever this one has (the launches share the pool)
    results = {}
    for workers in (1, 2, 3):
        monkeypatch.setattr(runtime, "cpu_workers", lambda w=workers: w)
        results[workers] = run()
    for split in (results[2], results[3]):
        for a, b in zip(split, results[1], strict=True):
            assert torch.equal(a, b)


@pytest.mark.parametrize(("dims", "res", "log2t"), [(2, 100, 10), (2, 40, 12), (3, 30, 12), (3, 9, 10)])
def test_collision_counts_equal_a_brute_force_count(dims, res, log2t, device):
    from fieldscope.fields.warp_bridge import warp_call
    from fieldscope.gpu import hashgrid as kernels

    table = 1 << log2t
    hashed = (res + 1) ** dims > table
    rows = table if hashed else (res + 1) ** dims
    counts = torch.zeros(2, rows, dtype=torch.int32, device=device)
    warp_call(kernels.count_vertices, dims, res, hashed, table, counts)
    expected = [0] * rows
    for v in itertools.product(range(res + 1), repeat=dims):
        if hashed:
            h = 0
            for c, p in zip(v, (1, 2654435761, 805459861), strict=False):
                h ^= (c * p) & 0xFFFFFFFF
            expected[h % table] += 1
        else:
            expected[sum(c * (res + 1) ** d for d, c in enumerate(v))] += 1
    assert counts.sum(0).cpu().tolist() == expected
    # counted in parts (as a large level is, a few lines at a time), the sum is the same
    lines = kernels.vertex_lines(dims, res)
    parts = torch.zeros_like(counts)
    for start in range(0, lines, 7):
        warp_call(kernels.count_vertices, dims, res, hashed, table, parts, (start, min(lines, start + 7)))
    assert parts.sum(0).cpu().tolist() == expected
