"""The Triton selective scan against the float64 sequential loop (forward and gradients).

Without a GPU the kernels run in Triton's CPU interpreter (``tests/conftest.py`` sets
``TRITON_INTERPRET=1``), which is slow, so shapes are tiny; the launch settings are
chosen so that even tiny shapes take every path: several programs, masked channels,
several threads per channel, a partial last chunk, several saved segments and time
splits. Every output buffer is filled with NaN first (``POISON_OUTPUTS``), so an element
the kernels never write fails the comparison. The ``gpu`` tests repeat the checks at
real sizes on a CUDA device.
"""

from __future__ import annotations

import itertools
import os

import pytest
import torch

from tests.ops.loops import selective_scan_loop

triton = pytest.importorskip("triton")

from tsssm.ops import selective_scan  # noqa: E402
from tsssm.ops.triton import selective_scan as tss  # noqa: E402

ON_GPU = torch.cuda.is_available()
INTERPRET = os.environ.get("TRITON_INTERPRET", "0") == "1"
DEVICE = "cuda" if ON_GPU else "cpu"
pytestmark = pytest.mark.skipif(
    not (ON_GPU or INTERPRET), reason="needs a GPU or TRITON_INTERPRET=1 (see conftest)"
)

TOL = {  # (rtol, atol), relative to the largest reference magnitude for atol
    torch.float32: (6e-4, 2e-3),
    torch.float16: (1e-2, 2e-2),
    torch.bfloat16: (3e-2, 5e-2),
}
NAMES = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")

# Two programs over three channels (one masked), two threads per channel, saved states
# every 8 steps: a 9-step sequence has two segments and a partial last chunk.
SMALL = tss.SelectiveScanConfig(
    block_d=2, group=2, num_warps=1, bwd_block_d=2, bwd_group=2, bwd_num_warps=1, seg_len=8
)


@pytest.fixture(autouse=True)
def poisoned_outputs(monkeypatch):
    monkeypatch.setattr(tss, "POISON_OUTPUTS", True)


def make_inputs(batch, dim, L, N, dtype, *, D=True, z=True, bias=True, softplus=True, seed=0):
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape, scale=1.0, dt=dtype):
        return (torch.randn(*shape, generator=g) * scale).to(dt).to(DEVICE)

    delta = rnd(batch, dim, L, scale=0.5)
    if not softplus:  # raw steps must stay positive, or exp(dt A) grows
        delta = delta.abs() * 0.5 + 0.05
    t = {
        "u": rnd(batch, dim, L),
        "delta": delta,
        "A": -(torch.rand(dim, N, generator=g) * 2 + 0.1).to(DEVICE),
        "B": rnd(batch, N, L),
        "C": rnd(batch, N, L),
        "D": rnd(dim, dt=torch.float32) if D else None,
        "z": rnd(batch, dim, L) if z else None,
        "delta_bias": rnd(dim, scale=0.3, dt=torch.float32).abs() if bias else None,
    }
    for v in t.values():
        if v is not None:
            v.requires_grad_()
    return t


def assert_close(got, ref, dtype, name):
    rtol, atol = TOL[dtype]
    scale = max(ref.abs().max().item(), 1.0)
    torch.testing.assert_close(
        got.detach().double().cpu(),
        ref.detach().double().cpu(),
        rtol=rtol,
        atol=atol * scale,
        msg=lambda m: f"{name}: {m}",
    )


def check_against_loop(t, dtype, softplus, last, config, *, grad_last=True):
    """Compare out, last state and every gradient with the float64 loop."""
    args = [t[k] for k in NAMES]
    res = tss.selective_scan_triton(*args, softplus, last, config=config)
    out, last_state = res if last else (res, None)
    assert out.dtype == t["u"].dtype and out.shape == t["u"].shape
    ref_out, ref_last = selective_scan_loop(*args, softplus)
    assert_close(out, ref_out, dtype, "out")
    g = torch.Generator().manual_seed(99)
    gout = torch.randn(out.shape, generator=g, dtype=torch.float64).to(DEVICE)
    loss = (out.double() * gout).sum()
    ref_loss = (ref_out * gout).sum()
    if last:
        assert last_state.dtype == torch.float32
        assert_close(last_state, ref_last, torch.float32, "last_state")
        if grad_last:
            glast = torch.randn(last_state.shape, generator=g, dtype=torch.float64).to(DEVICE)
            loss = loss + (last_state.double() * glast).sum()
            ref_loss = ref_loss + (ref_last * glast).sum()
    inputs = [t[k] for k in NAMES if t[k] is not None]
    names = [k for k in NAMES if t[k] is not None]
    grads = torch.autograd.grad(loss, inputs)
    ref_grads = torch.autograd.grad(ref_loss, inputs)
    for name, x, gx, rx in zip(names, inputs, grads, ref_grads):
        assert gx.dtype == x.dtype and gx.shape == x.shape, name
        assert_close(gx, rx, dtype, "d" + name)


@pytest.mark.parametrize(
    "D, z, bias, softplus, last", list(itertools.product((False, True), repeat=5))
)
def test_every_combination_of_optional_inputs(D, z, bias, softplus, last):
    t = make_inputs(1, 3, 9, 3, torch.float32, D=D, z=z, bias=bias, softplus=softplus)
    check_against_loop(t, torch.float32, softplus, last, SMALL)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_dtypes_with_default_launch_settings(dtype):
    # N = 16: the default settings put four threads on each channel.
    t = make_inputs(2, 5, 13, 16, dtype, seed=1)
    check_against_loop(t, dtype, True, True, None)


def test_time_splits_in_forward_and_backward():
    # 30 steps, segments of 8: the forward runs 3 splits (with its preparatory pass),
    # the backward 4 (with its own); the last split is partial.
    cfg = tss.SelectiveScanConfig(**{**SMALL.__dict__, "splits": 3, "bwd_splits": 4})
    t = make_inputs(2, 3, 30, 3, torch.float32, seed=2)
    check_against_loop(t, torch.float32, True, True, cfg)


def test_four_warp_programs_and_large_state():
    # 4-warp programs: the backward adds one partial sum per warp; N = 64 spreads a
    # channel over 16 threads, crossing the forward's 4-thread groups.
    cfg = tss.SelectiveScanConfig(
        block_d=8, group=16, num_warps=4, bwd_block_d=8, bwd_group=16, bwd_num_warps=4, seg_len=8
    )
    t = make_inputs(1, 3, 10, 64, torch.float32, seed=3)
    check_against_loop(t, torch.float32, True, True, cfg)


def test_largest_state_size():
    t = make_inputs(1, 2, 5, 256, torch.float32, seed=4)
    check_against_loop(t, torch.float32, True, True, None)


def test_any_strides():
    # Non-contiguous views for every (batch, dim, L) and (batch, N, L) input.
    base = make_inputs(2, 3, 9, 3, torch.float32, seed=5)
    t = dict(base)
    for k in ("u", "delta", "z"):
        wide = torch.zeros(2, 3, 19, device=DEVICE)
        wide[..., 1::2] = base[k].detach()
        t[k] = wide[..., 1::2].requires_grad_()
    for k in ("B", "C"):
        t[k] = base[k].detach().transpose(1, 2).contiguous().transpose(1, 2).requires_grad_()
    t["A"] = base["A"].detach().t().contiguous().t().requires_grad_()
    for k in ("D", "delta_bias"):  # every other element of a longer vector
        wide = torch.zeros(6, device=DEVICE)
        wide[::2] = base[k].detach()
        t[k] = wide[::2].requires_grad_()
    check_against_loop(t, torch.float32, True, True, SMALL)


@pytest.mark.parametrize(
    "dtypes, packed",
    [
        ((torch.float32, torch.float32), torch.float32),
        ((torch.bfloat16, torch.bfloat16), torch.bfloat16),
        ((torch.bfloat16, torch.bfloat16), torch.float32),
        ((torch.bfloat16, torch.float16), torch.float32),
    ],
)
@pytest.mark.parametrize("layout", ["batch_n_l", "batch_l_n"])
def test_pack_time_major_against_torch(dtypes, packed, layout):
    # B and C become zero-padded (batch, Lp, block_n) rows of the asked dtype: N = 5 to 8,
    # L = 297 to 304 over three programs of up to 128 steps (the last one cut at Lp);
    # every element written (the outputs are poisoned first).
    g = torch.Generator().manual_seed(11)
    batch, N, L, Lp, block_n = 3, 5, 297, 304, 8
    if layout == "batch_n_l":
        B, C = (torch.randn(batch, N, L, generator=g).to(dt).to(DEVICE) for dt in dtypes)
    else:  # (batch, L, N) memory seen as (batch, N, L), as the Mamba block passes them
        B, C = (
            torch.randn(batch, L, N, generator=g).to(dt).to(DEVICE).transpose(1, 2)
            for dt in dtypes
        )
    before = B.clone(), C.clone()
    Bt, Ct = tss._pack_time_major(B, C, Lp, block_n, packed)  # [0] and [1]
    for x, xt in ((B, Bt), (C, Ct)):
        want = torch.zeros(batch, Lp, block_n, dtype=torch.float64)
        want[:, :L, :N] = x.transpose(1, 2).double().cpu()
        assert xt.dtype == packed and xt.is_contiguous()
        assert torch.equal(xt.double().cpu(), want)
    assert torch.equal(B, before[0]) and torch.equal(C, before[1])


@pytest.mark.parametrize(
    "dtype, group, packed",
    [
        (torch.bfloat16, 2, torch.bfloat16),  # eight states per thread: 16-bit rows
        (torch.bfloat16, 4, torch.float32),  # four: float32 rows
        (torch.float16, 2, torch.float16),
        (torch.float32, 2, torch.float32),
    ],
)
def test_rows_of_B_and_C_keep_16_bits_at_eight_states_per_thread(
    monkeypatch, dtype, group, packed
):
    seen = []
    pack = tss._pack_time_major
    monkeypatch.setattr(tss, "_pack_time_major", lambda *a: seen.append(a[-1]) or pack(*a))
    cfg = tss.SelectiveScanConfig(block_d=32 // group, group=group, seg_len=8)
    t = make_inputs(1, 3, 9, 16, dtype, seed=14)
    check_against_loop(t, dtype, True, True, cfg)
    # at N = 16 the backward packs float32 rows of its own from 16-bit B and C
    assert seen == ([packed] if packed == torch.float32 else [packed, torch.float32])


def test_gradient_of_last_state_only():
    # Only the last state is used: the adjoint starts from its gradient alone.
    t = make_inputs(1, 3, 9, 3, torch.float32, seed=6)
    args = [t[k] for k in NAMES]
    _, last = tss.selective_scan_triton(*args, True, True, config=SMALL)
    _, ref_last = selective_scan_loop(*args, True)
    inputs = [t[k] for k in NAMES]
    grads = torch.autograd.grad(last.sum(), inputs, allow_unused=True)
    ref_grads = torch.autograd.grad(ref_last.sum(), inputs, allow_unused=True)
    for name, gx, rx in zip(NAMES, grads, ref_grads):
        if rx is None:  # C, D and the gate act on the output only
            assert name in ("C", "D", "z") and (gx is None or not gx.any()), name
            continue
        assert_close(gx, rx, torch.float32, "d" + name)


def test_empty_sequence():
    t = make_inputs(2, 3, 0, 4, torch.float32)
    out, last = tss.selective_scan_triton(*[t[k] for k in NAMES], True, True)
    assert out.shape == (2, 3, 0)
    assert torch.equal(last, torch.zeros(2, 3, 4, device=DEVICE))


def test_public_dispatch_runs_the_kernel():
    t = make_inputs(1, 3, 9, 3, torch.float32, seed=7)
    args = [t[k] for k in NAMES]
    out = selective_scan(*args, delta_softplus=True, backend="triton")
    ref, _ = selective_scan_loop(*args, True)
    assert_close(out, ref, torch.float32, "out")


@pytest.mark.skipif(ON_GPU, reason="checks the CPU error")
def test_cpu_tensors_need_the_interpreter(monkeypatch):
    monkeypatch.setattr(tss, "_interpreting", lambda: False)
    t = make_inputs(1, 2, 4, 2, torch.float32)
    with pytest.raises(RuntimeError, match="needs CUDA tensors"):
        tss.selective_scan_triton(*[t[k] for k in NAMES])


def test_split_planning():
    # Enough programs: no split. Few: about three waves' worth, whole segments each.
    assert tss._plan_splits(0, 600, 32, 1000) == (1, 32)
    assert tss._plan_splits(0, 48, 256, 2112) == (128, 2)
    n, per = tss._plan_splits(0, 100, 10, 4000)
    assert (n, per) == (10, 1)
    assert tss._plan_splits(3, 10_000, 10, 100) == (3, 4)


def test_torch_compile_with_graph_breaks():
    # A small block through torch.compile (the kernels themselves run eagerly in the
    # interpreter, on a GPU dynamo traces their launches).
    torch.manual_seed(0)
    lin = torch.nn.Linear(4, 12).to(DEVICE)
    A = -torch.rand(4, 2, device=DEVICE) - 0.5

    def block(x):  # x (batch, L, 4)
        u, dlt, B_C = lin(x).split((4, 4, 4), dim=-1)
        B, C = B_C.transpose(1, 2).chunk(2, dim=1)
        return selective_scan(
            u.transpose(1, 2), dlt.transpose(1, 2), A, B, C, delta_softplus=True, backend="triton"
        )

    x = torch.randn(2, 6, 4, device=DEVICE)
    eager = block(x)
    compiled = torch.compile(block, backend="aot_eager" if not ON_GPU else "inductor")
    out = compiled(x)
    out.sum().backward()
    torch.testing.assert_close(out, eager)
    assert lin.weight.grad is not None and torch.isfinite(lin.weight.grad).all()


# ------------------------------------------------- forward load-pipeline variants (v5)
# They change only the forward's loads (z with u/delta, two chunks ahead, B/C two chunks
# ahead, L2 prefetch, which the interpreter skips); the backward is v4's, and checking
# the gradients checks the states the forward saves for it.
V5 = [v for v in tss.FWD_VARIANTS if v != "v4"]


def variant_config(variant, base=SMALL, **over):
    return tss.SelectiveScanConfig(**{**base.__dict__, "fwd_variant": variant, **over})


@pytest.mark.parametrize("variant", V5)
@pytest.mark.parametrize(
    "D, z, bias, softplus, last",
    [
        (False,) * 5,
        (True,) * 5,
        (False, True, False, True, False),
        (True, False, True, False, True),
        (True, True, False, False, True),
        (False, False, True, True, False),
    ],
)
def test_forward_variants_optional_inputs(variant, D, z, bias, softplus, last):
    t = make_inputs(1, 3, 9, 3, torch.float32, D=D, z=z, bias=bias, softplus=softplus, seed=8)
    check_against_loop(t, torch.float32, softplus, last, variant_config(variant))


@pytest.mark.parametrize("variant", ["v5z", "v5", "v5bc", "v6", "v6d"])  # v5l2 is v5 here
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_forward_variants_dtypes_default_launch(variant, dtype):
    # N = 16 with the default settings; 13 steps: a partial last chunk.
    cfg = tss.SelectiveScanConfig(fwd_variant=variant)
    t = make_inputs(2, 5, 13, 16, dtype, seed=1)
    check_against_loop(t, dtype, True, True, cfg)


@pytest.mark.parametrize("variant", ["v5", "v5bc", "v6"])
def test_forward_variants_time_splits(variant):
    # The preparatory pass and the main pass both run the deeper pipeline; splits of
    # one segment (two chunks) end before the loads two chunks ahead do.
    cfg = variant_config(variant, splits=3, bwd_splits=2)
    t = make_inputs(2, 3, 30, 3, torch.float32, seed=2)
    check_against_loop(t, torch.float32, True, True, cfg)
    cfg = variant_config(variant, seg_len=4, splits=3, bwd_splits=1)
    t = make_inputs(1, 3, 10, 3, torch.float32, seed=9)
    check_against_loop(t, torch.float32, True, True, cfg)


@pytest.mark.parametrize("variant", ["v5", "v5bc"])
@pytest.mark.parametrize("L", [1, 4, 6])
def test_forward_variants_short_sequences(variant, L):
    # Fewer steps than the pipeline is deep: every load ahead is past the end.
    t = make_inputs(1, 3, L, 3, torch.float32, seed=10 + L)
    check_against_loop(t, torch.float32, True, True, variant_config(variant))


def spy_forward_launches(monkeypatch, record):
    """Wrap the forward kernel so each launch appends ``record(launch kwargs)`` to the
    returned list, then runs the real kernel."""
    seen = []
    kernel = tss._selective_scan_fwd_kernel

    class Spy:
        def __getitem__(self, grid):
            def launch(*args, **kw):
                seen.append(record(kw))
                return kernel[grid](*args, **kw)

            return launch

    monkeypatch.setattr(tss, "_selective_scan_fwd_kernel", Spy())
    return seen


def test_module_level_forward_variant(monkeypatch):
    # config=None and configs without fwd_variant follow tss.FWD_VARIANT.
    seen = spy_forward_launches(monkeypatch, lambda kw: kw["XDEPTH"])
    monkeypatch.setattr(tss, "FWD_VARIANT", "v5")
    t = make_inputs(1, 3, 9, 3, torch.float32, seed=7)
    args = [t[k] for k in NAMES]
    with torch.no_grad():
        out = tss.selective_scan_triton(*args, True)
        tss.selective_scan_triton(*args, True, config=variant_config("v4"))
    # one launch at the default settings (one segment), then prep + main with SMALL
    assert seen == [2, 1, 1]
    assert_close(out, selective_scan_loop(*args, True)[0], torch.float32, "out")
    monkeypatch.setattr(tss, "FWD_VARIANT", "v9")
    with pytest.raises(ValueError, match="unknown forward variant"):
        tss.selective_scan_triton(*args, True)


def test_register_cap_is_a_gpu_launch_option(monkeypatch):
    # v6's MAXNREG is not a kernel argument: it becomes ptxas' maxnreg on the GPU and is
    # dropped in the interpreter (which does not know the option).
    seen = spy_forward_launches(
        monkeypatch, lambda kw: (kw["XF32"], "MAXNREG" in kw, kw.get("maxnreg"))
    )
    t = make_inputs(1, 3, 9, 3, torch.float32, seed=7)
    args = [t[k] for k in NAMES]
    with torch.no_grad():
        tss.selective_scan_triton(*args, True, config=tss.SelectiveScanConfig(fwd_variant="v6"))
    assert seen == [(True, False, None)]
    assert tss.FWD_VARIANTS["v6"]["MAXNREG"] == 96


def test_auto_variant_follows_the_channel_count():
    # v5's deeper pipeline where the programs fill the GPU about once, v4 above.
    limit = tss.V5_MAX_CHANNELS
    assert tss._resolve_variant("auto", 8, 1536) == "v5"
    assert tss._resolve_variant("auto", 1, limit) == "v5"
    assert tss._resolve_variant("auto", 1, limit + 1) == "v4"
    assert tss._resolve_variant("auto", 512, 128) == "v4"
    assert tss._resolve_variant("v5bc", 512, 128) == "v5bc"  # a named variant is kept
    with pytest.raises(ValueError, match="unknown forward variant"):
        tss._resolve_variant("v9", 1, 1)


# (batch, dim, N, dtype) -> forward and backward states per thread.
@pytest.mark.parametrize(
    "batch, dim, N, dtype, states, bwd_states",
    [
        (2, 768, 16, torch.bfloat16, 8, 8),  # few channels, 16-bit: eight states
        (2, 768, 16, torch.float32, 4, 8),
        (8, 1536, 16, torch.float16, 4, 8),
        (512, 128, 16, torch.float32, 4, 8),
        (512, 128, 16, torch.bfloat16, 8, 8),  # very many channels, 16-bit: eight
        (4096, 64, 16, torch.float16, 8, 8),
        (256, 128, 16, torch.bfloat16, 4, 8),  # in between: four
        (1, 4, 1, torch.float16, 2, 2),
        (4, 64, 32, torch.float16, 4, 8),
        (4, 64, 8, torch.float16, 4, 4),
        (64, 256, 64, torch.float16, 16, 8),
        (1, 8, 256, torch.float16, 16, 8),
    ],
)
def test_default_launch_settings(batch, dim, N, dtype, states, bwd_states):
    cfg = tss._default_config(batch, dim, 100, N, dtype)
    block_n = max(triton.next_power_of_2(N), 2)
    assert block_n // cfg.group == states
    assert block_n // cfg.bwd_group == bwd_states
    # one channel row per lane in both kernels
    assert cfg.block_d * cfg.group == 32 * cfg.num_warps
    assert cfg.bwd_block_d * cfg.bwd_group == 32 * cfg.bwd_num_warps


# ------------------------------------- launch configs of the benchmark sweep (--configs)
# benchmarks/kernels.py times these beside the automatic settings: a forward channel on
# 1 or 2 threads (16 or 8 states each at N = 16, BLOCK_D 32 or 16), on 2 or 8 at N = 64,
# and the backward likewise. 32 / G + 3 channels: two programs of the wider kernel, the
# second one mostly masked.
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize(
    "N, group, bwd_group", [(16, 1, 1), (16, 2, 2), (16, 4, 4), (64, 2, 8), (64, 8, 32)]
)
def test_launch_configs_of_the_sweep(N, group, bwd_group, dtype):
    cfg = tss.SelectiveScanConfig(
        block_d=32 // group,
        group=group,
        num_warps=1,
        bwd_block_d=32 // bwd_group,
        bwd_group=bwd_group,
        bwd_num_warps=1,
        seg_len=8,
    )
    t = make_inputs(2, 32 // min(group, bwd_group) + 3, 13, N, dtype, seed=12)
    check_against_loop(t, dtype, True, True, cfg)


# Several channels per thread (BLOCK_D * G = 64 or 128 rows on one warp's 32 lanes): the
# benchmark's "f<G>x<R>" / "b<G>x<R>" specs. 64 + 5 channels: two programs, the second
# mostly masked; the backward then sums dB / dC in two or four partials per program.
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("group, rows", [(4, 64), (4, 128), (2, 64)])
def test_several_channels_per_thread(group, rows, dtype):
    cfg = tss.SelectiveScanConfig(
        block_d=rows // group,
        group=group,
        num_warps=1,
        bwd_block_d=rows // group,
        bwd_group=group,
        bwd_num_warps=1,
        seg_len=8,
    )
    t = make_inputs(2, rows // group + 5, 13, 16, dtype, seed=13)
    check_against_loop(t, dtype, True, True, cfg)


# ----------------------------------------------------------------- real sizes, GPU only
@pytest.mark.gpu
@pytest.mark.skipif(not ON_GPU, reason="needs a CUDA device")
@pytest.mark.parametrize(
    "shape, dtype",
    [
        ((8, 1536, 2048, 16), torch.float32),
        ((2, 768, 4096, 16), torch.bfloat16),
        ((64, 256, 336, 64), torch.float32),
        ((512, 128, 512, 16), torch.bfloat16),
    ],
)
def test_real_sizes_against_float64_reference(shape, dtype):
    from tsssm.ops import selective_scan_ref

    t = make_inputs(*shape, dtype, seed=11)
    args = [t[k] for k in NAMES]
    out = tss.selective_scan_triton(*args, True)
    ref = selective_scan_ref(*[a.double() if a is not None else None for a in args], True)
    assert_close(out, ref, dtype, "out")
    gout = torch.randn_like(ref)
    inputs = [t[k] for k in NAMES]
    grads = torch.autograd.grad((out.double() * gout).sum(), inputs)
    ref_grads = torch.autograd.grad((ref * gout).sum(), inputs)
    for name, gx, rx in zip(NAMES, grads, ref_grads):
        assert_close(gx, rx, dtype, "d" + name)
