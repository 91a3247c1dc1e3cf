"""selective_scan / selective_scan_ref / selective_scan_step against the float64 loop."""

from __future__ import annotations

import itertools

import pytest
import torch

from tsssm.exceptions import ParameterError, ParameterTypeError
from tsssm.ops import selective_scan, selective_scan_ref, selective_scan_step
from tsssm.ops.selective_scan import _selective_scan_impl

from .loops import selective_scan_loop

F64 = torch.float64


def make_inputs(batch, dim, L, N, dtype=F64, seed=0, delta_scale=1.0, a_scale=2.0):
    g = torch.Generator().manual_seed(seed)

    def rn(*shape):
        return torch.randn(*shape, generator=g, dtype=F64).to(dtype)

    return {
        "u": rn(batch, dim, L),
        "delta": (torch.rand(batch, dim, L, generator=g, dtype=F64) * delta_scale).to(dtype),
        "A": (-torch.rand(dim, N, generator=g, dtype=F64) * a_scale).to(dtype),
        "B": rn(batch, N, L),
        "C": rn(batch, N, L),
        "D": rn(dim),
        "z": rn(batch, dim, L),
        "delta_bias": (0.5 * rn(dim)),
        "initial_state": rn(batch, dim, N),
    }


def pick(inputs, use_D, use_z, use_bias, use_h0=False):
    keep = dict(inputs)
    for flag, name in ((use_D, "D"), (use_z, "z"), (use_bias, "delta_bias"),
                       (use_h0, "initial_state")):
        if not flag:
            keep[name] = None
    return keep


def loop(x, softplus):
    return selective_scan_loop(
        x["u"], x["delta"], x["A"], x["B"], x["C"], x["D"], x["z"], x["delta_bias"],
        softplus, x["initial_state"],
    )


def tol(dtype):
    return {"rtol": 1e-9, "atol": 1e-9} if dtype == F64 else {"rtol": 2e-4, "atol": 2e-4}


OPTIONS = list(itertools.product([False, True], repeat=5))


@pytest.mark.parametrize(("use_D", "use_z", "use_bias", "softplus", "last"), OPTIONS)
def test_every_option_combination_matches_loop(use_D, use_z, use_bias, softplus, last):
    x = pick(make_inputs(2, 3, 37, 5), use_D, use_z, use_bias)
    ref_out, ref_h = loop(x, softplus)
    # chunk_size=8 makes five chunks (the last one padded): the carry between chunks
    # and the padding are exercised, not only the inside of one chunk.
    for chunk in (None, 8):
        res = _selective_scan_impl(
            "t", x["u"], x["delta"], x["A"], x["B"], x["C"], x["D"], x["z"],
            x["delta_bias"], softplus, last, None, chunk,
        )
        out, h = res if last else (res, None)
        torch.testing.assert_close(out, ref_out, **tol(F64))
        if last:
            torch.testing.assert_close(h, ref_h, **tol(F64))
    public = selective_scan(
        x["u"], x["delta"], x["A"], x["B"], x["C"], x["D"], x["z"], x["delta_bias"],
        softplus, last, backend="torch",
    )
    torch.testing.assert_close(public if not last else public[0], ref_out, **tol(F64))


@pytest.mark.parametrize(
    ("batch", "dim", "L", "N"),
    [(2, 3, 1, 1), (1, 2, 7, 16), (2, 3, 130, 16), (1, 2, 300, 64), (3, 1, 16, 1)],
)
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_shapes_and_dtypes_match_loop(batch, dim, L, N, dtype):
    x = make_inputs(batch, dim, L, N, dtype=dtype, delta_scale=0.5)
    x["initial_state"] = None
    ref_out, ref_h = loop(x, True)
    out, h = selective_scan_ref(
        x["u"], x["delta"], x["A"], x["B"], x["C"], x["D"], x["z"], x["delta_bias"],
        delta_softplus=True, return_last_state=True,
    )
    assert out.dtype == dtype and h.dtype == dtype
    torch.testing.assert_close(out, ref_out.to(dtype), **tol(dtype))
    torch.testing.assert_close(h, ref_h.to(dtype), **tol(dtype))


def test_half_precision_inputs_are_upcast_and_cast_back():
    x = make_inputs(2, 3, 40, 4, dtype=torch.bfloat16, delta_scale=0.5)
    out, h = selective_scan_ref(
        x["u"], x["delta"], x["A"], x["B"], x["C"], return_last_state=True
    )
    assert out.dtype == torch.bfloat16 and h.dtype == torch.float32
    ref_out, ref_h = selective_scan_loop(x["u"], x["delta"], x["A"], x["B"], x["C"])
    torch.testing.assert_close(out.double(), ref_out, rtol=2e-2, atol=2e-2)
    torch.testing.assert_close(h.double(), ref_h, rtol=1e-4, atol=1e-4)


def test_initial_state_continues_a_split_sequence():
    x = make_inputs(2, 3, 50, 6)
    args = [x[k] for k in ("u", "delta", "A", "B", "C")]
    full, h_full = selective_scan_ref(*args, return_last_state=True)
    first = [a[..., :21] if a.ndim == 3 else a for a in args]
    second = [a[..., 21:] if a.ndim == 3 else a for a in args]
    y1, h1 = selective_scan_ref(*first, return_last_state=True)
    y2, h2 = selective_scan_ref(*second, return_last_state=True, initial_state=h1)
    torch.testing.assert_close(torch.cat([y1, y2], -1), full, **tol(F64))
    torch.testing.assert_close(h2, h_full, **tol(F64))
    out = selective_scan(*args, initial_state=x["initial_state"], backend="auto")
    ref = selective_scan_loop(*args, initial_state=x["initial_state"])[0]
    torch.testing.assert_close(out, ref, **tol(F64))


@pytest.mark.parametrize("softplus", [False, True])
def test_gradcheck_every_input(softplus):
    x = make_inputs(2, 2, 11, 3, delta_scale=0.7)
    names = ["u", "delta", "A", "B", "C", "D", "z", "delta_bias", "initial_state"]
    leaves = [x[k].clone().requires_grad_() for k in names]

    def f(*t):
        # chunk_size=4: three chunks with padding, so the backward's carry is checked.
        return _selective_scan_impl("t", *t[:8], softplus, True, t[8], 4)

    assert torch.autograd.gradcheck(f, leaves, eps=1e-6, atol=1e-6)


def test_gradcheck_without_optional_inputs_and_only_last_state():
    x = make_inputs(1, 2, 9, 2, delta_scale=0.7)
    leaves = [x[k].clone().requires_grad_() for k in ("u", "delta", "A", "B", "C")]
    assert torch.autograd.gradcheck(
        lambda *t: _selective_scan_impl("t", *t, None, None, None, False, True, None, 4)[1],
        leaves,
    )
    assert torch.autograd.gradcheck(
        lambda *t: _selective_scan_impl("t", *t, None, None, None, False, False, None, 4),
        leaves,
    )


def test_float32_gradients_match_loop_on_a_long_sequence():
    x64 = make_inputs(2, 4, 260, 16, delta_scale=0.3, seed=3)
    x64["initial_state"] = None
    names = ["u", "delta", "A", "B", "C", "D", "z", "delta_bias"]
    g = torch.Generator().manual_seed(1)
    w_out = torch.randn(2, 4, 260, generator=g, dtype=F64)
    w_h = torch.randn(2, 4, 16, generator=g, dtype=F64)

    def grads(fn, dtype):
        leaves = {k: x64[k].to(dtype).clone().requires_grad_() for k in names}
        out, h = fn(leaves)
        ((out.double() * w_out).sum() + (h.double() * w_h).sum()).backward()
        return [leaves[k].grad.double() for k in names]

    ref = grads(lambda v: selective_scan_loop(*[v[k] for k in names], True), F64)
    got = grads(
        lambda v: selective_scan_ref(*[v[k] for k in names], delta_softplus=True,
                                     return_last_state=True),
        torch.float32,
    )
    for name, r, o in zip(names, ref, got, strict=True):
        scale = r.abs().max().item()
        torch.testing.assert_close(o, r, rtol=1e-3, atol=1e-3 * scale, msg=name)


@pytest.mark.parametrize(("use_D", "use_z", "use_bias", "softplus"),
                         list(itertools.product([False, True], repeat=4)))
def test_step_reproduces_the_scan(use_D, use_z, use_bias, softplus):
    x = pick(make_inputs(2, 3, 12, 4), use_D, use_z, use_bias)
    out, h = selective_scan_ref(
        x["u"], x["delta"], x["A"], x["B"], x["C"], x["D"], x["z"], x["delta_bias"],
        softplus, True,
    )
    state = torch.zeros(2, 3, 4, dtype=F64)
    ys = []
    for t in range(12):
        z_t = None if x["z"] is None else x["z"][:, :, t]
        y_t, state = selective_scan_step(
            state, x["u"][:, :, t], x["delta"][:, :, t], x["A"], x["B"][:, :, t],
            x["C"][:, :, t], x["D"], z_t, x["delta_bias"], softplus,
        )
        ys.append(y_t)
    torch.testing.assert_close(torch.stack(ys, -1), out, **tol(F64))
    torch.testing.assert_close(state, h, **tol(F64))


@pytest.mark.parametrize("min_slab", [0, 1 << 40], ids=["sequential", "blocked"])
def test_extreme_decays_stay_finite_and_exact_in_float32(monkeypatch, min_slab):
    # delta up to 20 after softplus and A down to -100: per-step decays as small as
    # exp(-2000), many of them inside one chunk. Nothing may overflow into inf or nan.
    import importlib

    monkeypatch.setattr(importlib.import_module("tsssm.ops.selective_scan"),
                        "_SEQUENTIAL_MIN_SLAB", min_slab)
    g = torch.Generator().manual_seed(0)
    batch, dim, L, N = 2, 3, 300, 16
    u = torch.randn(batch, dim, L, generator=g)
    delta = torch.rand(batch, dim, L, generator=g) * 20
    A = -torch.rand(dim, N, generator=g) * 100
    A[0] = -100.0
    B = torch.randn(batch, N, L, generator=g)
    C = torch.randn(batch, N, L, generator=g)
    leaves = [t.clone().requires_grad_() for t in (u, delta, A, B, C)]
    out, h = selective_scan_ref(*leaves, delta_softplus=True, return_last_state=True)
    (out.sum() + h.sum()).backward()
    assert torch.isfinite(out).all() and torch.isfinite(h).all()
    for leaf in leaves:
        assert torch.isfinite(leaf.grad).all()
    ref_out, ref_h = selective_scan_loop(u, delta, A, B, C, delta_softplus=True)
    torch.testing.assert_close(out.double(), ref_out, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(h.double(), ref_h, rtol=1e-4, atol=1e-4)


def test_shape_errors_name_the_shapes():
    x = make_inputs(2, 3, 10, 4)
    args = {k: x[k] for k in ("u", "delta", "A", "B", "C")}
    bad_B = dict(args, B=x["B"][..., :9])
    with pytest.raises(ParameterError, match=r"B must have shape \(batch, N, L\) = "
                                             r"\(2, 4, 10\); got \(2, 4, 9\)"):
        selective_scan(**bad_B)
    with pytest.raises(ParameterError, match=r"delta must have shape"):
        selective_scan_ref(**dict(args, delta=x["delta"][:1]))
    with pytest.raises(ParameterError, match=r"A must have shape \(dim, N\)"):
        selective_scan(**dict(args, A=x["A"][:2]))
    with pytest.raises(ParameterError, match=r"D must have shape \(dim,\) = \(3,\)"):
        selective_scan(**args, D=torch.zeros(4, dtype=F64))
    with pytest.raises(ParameterError, match=r"u must have shape \(batch, dim, L\)"):
        selective_scan(**dict(args, u=x["u"][0]))
    with pytest.raises(ParameterError, match="initial_state"):
        selective_scan_ref(**args, initial_state=torch.zeros(2, 3, 5, dtype=F64))
    with pytest.raises(ParameterTypeError, match="A must be a real floating-point"):
        selective_scan(**dict(args, A=x["A"].to(torch.complex128)))
    with pytest.raises(ParameterTypeError, match=r"u must be a torch\.Tensor"):
        selective_scan(**dict(args, u=x["u"].tolist()))
    with pytest.raises(ParameterError, match="backend"):
        selective_scan(**args, backend="cuda")
    with pytest.raises(ParameterError, match=r"u_t must have shape \(batch, dim\)"):
        selective_scan_step(torch.zeros(2, 3, 4), torch.zeros(2, 3, 1), torch.zeros(2, 3),
                            torch.zeros(3, 4), torch.zeros(2, 4), torch.zeros(2, 4))
    with pytest.raises(ParameterError, match=r"B_t must have shape \(batch, N\)"):
        selective_scan_step(torch.zeros(2, 3, 4), torch.zeros(2, 3), torch.zeros(2, 3),
                            torch.zeros(3, 4), torch.zeros(2, 5), torch.zeros(2, 4))


def test_empty_sequence():
    x = make_inputs(2, 3, 0, 4)
    out, h = selective_scan_ref(x["u"], x["delta"], x["A"], x["B"], x["C"],
                                return_last_state=True)
    assert out.shape == (2, 3, 0) and torch.equal(h, torch.zeros(2, 3, 4, dtype=F64))


# Both inner scans of the chunked reference (the sequential one for large state slabs,
# the blocked one for small slabs), with several chunks per segment, one chunk per
# segment, and a short last chunk: forward, last state and gradients of every input.
SCAN_PATHS = [
    pytest.param(0, 1 << 18, id="sequential"),
    pytest.param(0, 1, id="sequential-segment-per-chunk"),
    pytest.param(1 << 40, 1 << 18, id="blocked"),
    pytest.param(1 << 40, 1, id="blocked-segment-per-chunk"),
]


@pytest.mark.parametrize(("min_slab", "segment"), SCAN_PATHS)
@pytest.mark.parametrize("chunk", [None, 5, 16])
def test_both_scan_paths_match_loop(monkeypatch, min_slab, segment, chunk):
    import importlib

    ss = importlib.import_module("tsssm.ops.selective_scan")
    monkeypatch.setattr(ss, "_SEQUENTIAL_MIN_SLAB", min_slab)
    monkeypatch.setattr(ss, "_SEGMENT_ELEMENTS", segment)
    x = make_inputs(2, 3, 43, 4, delta_scale=0.7, seed=5)
    names = ["u", "delta", "A", "B", "C", "D", "z", "delta_bias", "initial_state"]
    g = torch.Generator().manual_seed(2)
    w_out = torch.randn(2, 3, 43, generator=g, dtype=F64)
    w_h = torch.randn(2, 3, 4, generator=g, dtype=F64)

    def run(fn):
        leaves = {k: x[k].clone().requires_grad_() for k in names}
        out, h = fn(leaves)
        ((out * w_out).sum() + (h * w_h).sum()).backward()
        return out, h, [leaves[k].grad for k in names]

    ref = run(lambda v: selective_scan_loop(*[v[k] for k in names[:8]], True,
                                            v["initial_state"]))
    got = run(lambda v: _selective_scan_impl(
        "t", *[v[k] for k in names[:8]], True, True, v["initial_state"], chunk))
    torch.testing.assert_close(got[0], ref[0], **tol(F64))
    torch.testing.assert_close(got[1], ref[1], **tol(F64))
    for name, r, o in zip(names, ref[2], got[2], strict=True):
        torch.testing.assert_close(o, r, **tol(F64), msg=name)


def test_large_slab_float32_matches_loop_with_gradients():
    # batch * dim * N = 4096: the default plan takes the sequential path here.
    import importlib

    ss = importlib.import_module("tsssm.ops.selective_scan")
    block, chunk = ss._plan(4, 64, 70, 16, None)
    assert block == chunk
    x64 = make_inputs(4, 64, 70, 16, delta_scale=0.3, seed=7)
    names = ["u", "delta", "A", "B", "C", "D", "z", "delta_bias", "initial_state"]
    g = torch.Generator().manual_seed(3)
    w_out = torch.randn(4, 64, 70, generator=g, dtype=F64)

    def grads(fn, dtype):
        leaves = {k: x64[k].to(dtype).clone().requires_grad_() for k in names}
        out, h = fn(leaves)
        ((out.double() * w_out).sum() + h.double().sum()).backward()
        return out.double(), h.double(), [leaves[k].grad.double() for k in names]

    ref = grads(lambda v: selective_scan_loop(*[v[k] for k in names[:8]], True,
                                              v["initial_state"]), F64)
    got = grads(lambda v: selective_scan_ref(*[v[k] for k in names[:8]], True, True,
                                             v["initial_state"]), torch.float32)
    torch.testing.assert_close(got[0], ref[0], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(got[1], ref[1], rtol=1e-4, atol=1e-4)
    for name, r, o in zip(names, ref[2], got[2], strict=True):
        scale = r.abs().max().item()
        torch.testing.assert_close(o, r, rtol=1e-3, atol=1e-3 * scale, msg=name)


@pytest.mark.parametrize(("use_D", "use_bias", "softplus"),
                         list(itertools.product([False, True], repeat=3)))
def test_short_segments_every_option_matches_loop(monkeypatch, use_D, use_bias, softplus):
    # One chunk per segment and a short last one: the forward's staging of dt and
    # dt * u in the inputs' layout and its store of y + D u run on slices of the inputs.
    import importlib

    ss = importlib.import_module("tsssm.ops.selective_scan")
    monkeypatch.setattr(ss, "_SEGMENT_ELEMENTS", 1)
    x = pick(make_inputs(2, 3, 37, 5), use_D, False, use_bias)
    ref_out, ref_h = loop(x, softplus)
    for chunk in (None, 8):
        out, h = _selective_scan_impl(
            "t", x["u"], x["delta"], x["A"], x["B"], x["C"], x["D"], None,
            x["delta_bias"], softplus, True, None, chunk,
        )
        torch.testing.assert_close(out, ref_out, **tol(F64))
        torch.testing.assert_close(h, ref_h, **tol(F64))


def test_reused_workspaces_give_fresh_results():
    # The scan reuses its buffers from call to call (per thread): results must not
    # alias them, and interleaved shapes, dtypes and threads must not disturb each other.
    import threading

    a = make_inputs(2, 3, 37, 5)
    b = make_inputs(3, 2, 20, 4, dtype=torch.float32, seed=4)

    def run(x):
        return selective_scan_ref(x["u"], x["delta"], x["A"], x["B"], x["C"], x["D"],
                                  delta_bias=x["delta_bias"], delta_softplus=True,
                                  return_last_state=True)

    out_a, h_a = run(a)
    ref_a = (out_a.clone(), h_a.clone())
    out_b, h_b = run(b)
    ref_b = (out_b.clone(), h_b.clone())
    again = run(a)
    for got, ref in zip(again, ref_a, strict=True):
        assert torch.equal(got, ref)
    for got, ref in zip((out_a, h_a, out_b, h_b), ref_a + ref_b, strict=True):
        assert torch.equal(got, ref)  # earlier results were not overwritten
    results = {}

    def worker(i):
        results[i] = [run(a if i % 2 else b) for _ in range(5)]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, res in results.items():
        for out, h in res:
            ref = ref_a if i % 2 else ref_b
            assert torch.equal(out, ref[0]) and torch.equal(h, ref[1])
