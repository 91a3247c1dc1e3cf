"""Correctness of the Triton kernels on a GPU at real sizes (the CPU tests use tiny ones).

Run on a CUDA machine from the repository root::

    PYTHONPATH=. python3 benchmarks/gpu_check.py [--json out.json] [--big]

Every output buffer is first filled with NaN (the kernels' debug switch), inputs are
fresh random data, and outputs and gradients are compared with float64 references: the
sequential loops of ``tests/ops/loops.py`` where L is short, the PyTorch path
(``tsssm.ops.selective_scan_ref`` / ``linear_scan_ref``) run in float64 elsewhere.
The script also compiles a small model that uses both kernels with ``torch.compile``.
``--big`` adds a selective scan with more than 2**31 elements per tensor (64-bit
offsets). Exit status 1 if any check fails.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time

import torch

from tests.ops.loops import linear_scan_loop, s4d_kernel_loop, selective_scan_loop
from tsssm.ops import linear_scan, linear_scan_ref, selective_scan, selective_scan_ref
from tsssm.ops.triton import linear_scan as tls
from tsssm.ops.triton import s4d as ts4d
from tsssm.ops.triton import selective_scan as tss

TOL = {
    torch.float32: (6e-4, 2e-3),
    torch.float16: (1e-2, 2e-2),
    torch.bfloat16: (3e-2, 5e-2),
    torch.complex64: (6e-4, 2e-3),
    torch.float64: (1e-9, 1e-9),
}
RESULTS: list[dict] = []


def close(name, got, ref, dtype, scale=None):
    """Record whether ``got`` matches ``ref`` within the dtype's tolerance.

    The error is measured relative to the reference's largest magnitude: gradients of a
    long scan span orders of magnitude, and elementwise rtol on near-zero entries says
    nothing about the kernel.
    """
    rtol, atol = TOL[dtype]
    got64 = got.detach().to(ref.dtype)
    ref = ref.detach()
    scale = ref.abs().max().item() if scale is None else scale
    err = (got64 - ref).abs()
    bad = (err > atol * max(scale, 1.0) + rtol * ref.abs()).sum().item()
    ok = bad == 0 and not torch.isnan(got64).any().item()
    rel = (err.norm() / ref.norm().clamp_min(1e-30)).item()
    RESULTS.append(
        {"check": name, "ok": ok, "rel_err": rel, "max_abs_err": err.max().item(), "bad": bad}
    )
    if not ok:
        print(f"FAIL {name}: {bad} elements off, rel err {rel:.2e}", flush=True)
    return ok


def sel_inputs(batch, dim, L, N, dtype, seed, opts):
    g = torch.Generator(device="cuda").manual_seed(seed)

    def rnd(*s, scale=1.0, shift=0.0, dt=dtype):
        return (torch.randn(*s, generator=g, device="cuda") * scale + shift).to(dt)

    t = {
        "u": rnd(batch, dim, L),
        "delta": rnd(batch, dim, L, scale=0.5, shift=-1.0 if opts["softplus"] else 0.0),
        "A": -torch.rand(dim, N, generator=g, device="cuda") * 3 - 0.1,
        "B": rnd(batch, N, L),
        "C": rnd(batch, N, L),
        "D": rnd(dim, dt=torch.float32) if opts["D"] else None,
        "z": rnd(batch, dim, L) if opts["z"] else None,
        "delta_bias": rnd(dim, scale=0.2, dt=torch.float32) if opts["bias"] else None,
    }
    if not opts["softplus"]:
        # keep the raw steps positive and moderate: a negative dt makes exp(dt A) > 1
        t["delta"] = t["delta"].abs() * 0.2
        if t["delta_bias"] is not None:
            t["delta_bias"] = t["delta_bias"].abs()
    for v in t.values():
        if v is not None:
            v.requires_grad_()
    return t


def check_selective(batch, dim, L, N, dtype, opts, seed, use_loop, config=None):
    t = sel_inputs(batch, dim, L, N, dtype, seed, opts)
    names = [k for k in ("u", "delta", "A", "B", "C", "D", "z", "delta_bias") if t[k] is not None]
    args = [t[k] for k in ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")]
    res = tss.selective_scan_triton(*args, opts["softplus"], opts["last"], config=config)
    out, last = res if opts["last"] else (res, None)
    if use_loop:
        ref_out, ref_last = selective_scan_loop(*args, opts["softplus"])
    else:
        a64 = [a.double() if a is not None else None for a in args]
        ref_out, ref_last = selective_scan_ref(*a64, opts["softplus"], True)
    tag = (
        f"sel {batch}x{dim}x{L}x{N} {str(dtype)[6:]} {''.join(k[0] for k, v in opts.items() if v)}"
    )
    ok = close(tag + " out", out, ref_out, dtype)
    if last is not None:
        ok &= close(tag + " last", last, ref_last, torch.float32)
    g = torch.Generator(device="cuda").manual_seed(seed + 1)
    gout = torch.randn(out.shape, generator=g, device="cuda", dtype=torch.float64)
    glast = torch.randn(batch, dim, N, generator=g, device="cuda", dtype=torch.float64)
    loss = (out.double() * gout).sum() + ((last.double() * glast).sum() if last is not None else 0)
    ref_loss = (ref_out * gout).sum() + ((ref_last * glast).sum() if last is not None else 0)
    ins = [t[k] for k in names]
    grads = torch.autograd.grad(loss, ins)
    rgrads = torch.autograd.grad(ref_loss, ins)
    for k, a, b in zip(names, grads, rgrads):
        # the incoming gradient is rounded to the output dtype, so every gradient
        # carries the input dtype's rounding
        ok &= close(f"{tag} d{k}", a, b, dtype)
    return ok


def check_linear(shape_a, shape_b, shape_h0, dtype, reverse, seed):
    g = torch.Generator(device="cuda").manual_seed(seed)

    def mk(s, scale=1.0):
        if dtype.is_complex:
            x = torch.randn(*s, 2, generator=g, device="cuda") * scale
            # decays with modulus below 1, as in S5 / S4D
            return torch.view_as_complex(x).to(dtype)
        return (torch.randn(*s, generator=g, device="cuda") * scale).to(dtype)

    a = mk(shape_a)
    a = (a / (a.abs() + 1) * 0.999).detach().requires_grad_()  # |a| < 1
    b = mk(shape_b).requires_grad_()
    h0 = mk(shape_h0).requires_grad_() if shape_h0 is not None else None
    h = tls.linear_scan_triton(a, b, h0, reverse)
    L = h.shape[-1]
    ref = (
        linear_scan_loop(a, b, h0, reverse)
        if L <= 600
        else linear_scan_ref(
            a.to(torch.complex128 if dtype.is_complex else torch.float64),
            b.to(torch.complex128 if dtype.is_complex else torch.float64),
            None if h0 is None else h0.to(torch.complex128 if dtype.is_complex else torch.float64),
            reverse,
        )
    )
    tag = f"lin {tuple(shape_a)}x{tuple(shape_b)} h0={shape_h0} {str(dtype)[6:]} rev={reverse}"
    ok = close(tag + " out", h, ref, dtype)
    gh = torch.randn(h.shape, generator=g, device="cuda", dtype=ref.dtype)
    if h.is_complex():
        loss = (h.to(ref.dtype) * gh.conj()).real.sum()
        rloss = (ref * gh.conj()).real.sum()
    else:
        loss = (h.double() * gh).sum()
        rloss = (ref * gh).sum()
    ins = [x for x in (a, b, h0) if x is not None]
    for nm, x, y in zip(
        ("da", "db", "dh0"), torch.autograd.grad(loss, ins), torch.autograd.grad(rloss, ins)
    ):
        ok &= close(f"{tag} {nm}", x, y, dtype)
    return ok


def check_s4d(dim, N, L, seed):
    """The fused S4D kernel (ZOH) against the float64 recurrence's impulse response."""
    g = torch.Generator(device="cuda").manual_seed(seed)
    log_dt = (torch.rand(dim, generator=g, device="cuda") * 3 - 6).requires_grad_()
    A_re = (-torch.rand(dim, N, generator=g, device="cuda") - 0.1).requires_grad_()
    A_im = (torch.rand(dim, N, generator=g, device="cuda") * 20).requires_grad_()
    C = torch.view_as_complex(torch.randn(dim, N, 2, generator=g, device="cuda")).requires_grad_()
    dt = torch.exp(log_dt)[:, None]
    A = torch.complex(A_re, A_im)
    K = ts4d.s4d_vandermonde_triton(dt * A, C * (torch.exp(dt * A) - 1) / A, L)
    ref = s4d_kernel_loop(log_dt, A_re, A_im, C, L)
    tag = f"s4d {dim}x{N}x{L}"
    ok = close(tag + " K", K, ref, torch.float32)
    gK = torch.randn(dim, L, generator=g, device="cuda", dtype=torch.float64)
    params = (log_dt, A_re, A_im, C)
    grads = torch.autograd.grad((K.double() * gK).sum(), params)
    rgrads = torch.autograd.grad((ref * gK).sum(), params)
    for name, a, b in zip(("log_dt", "A_re", "A_im", "C"), grads, rgrads):
        ok &= close(f"{tag} d{name}", a, b, torch.complex64 if a.is_complex() else torch.float32)
    return ok


class TinyMamba(torch.nn.Module):
    """A small selective-scan block plus a diagonal linear recurrence, for torch.compile."""

    def __init__(self, d=64, n=16):
        super().__init__()
        self.inp = torch.nn.Linear(d, 3 * d)
        self.bc = torch.nn.Linear(d, 2 * n)
        self.A_log = torch.nn.Parameter(torch.log(torch.arange(1, n + 1).float()).repeat(d, 1))
        self.D = torch.nn.Parameter(torch.ones(d))
        self.decay = torch.nn.Parameter(torch.full((d,), 0.9))
        self.out = torch.nn.Linear(d, d)
        self.n = n

    def forward(self, x):  # (B, L, d)
        u, dlt, z = self.inp(x).chunk(3, dim=-1)
        B, C = self.bc(x).chunk(2, dim=-1)
        y = selective_scan(
            u.transpose(1, 2),
            dlt.transpose(1, 2),
            -torch.exp(self.A_log),
            B.transpose(1, 2),
            C.transpose(1, 2),
            self.D,
            z.transpose(1, 2),
            None,
            True,
            False,
            backend="triton",
        )  # (B, d, L)
        y = linear_scan(self.decay[:, None], y, backend="triton")
        return self.out(y.transpose(1, 2))


def check_compile():
    from torch._dynamo.utils import counters

    model = TinyMamba().cuda()
    x = torch.randn(4, 128, 64, device="cuda")
    eager = model(x)
    counters.clear()
    compiled = torch.compile(model)
    try:
        out = compiled(x)
        out.sum().backward()
        ok = torch.allclose(out, eager, rtol=1e-4, atol=1e-4)
        grads_ok = all(
            p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters()
        )
        breaks = {str(k)[:120]: v for k, v in counters["graph_break"].items()}
        RESULTS.append(
            {
                "check": "torch.compile TinyMamba fwd+bwd",
                "ok": bool(ok and grads_ok),
                "graph_breaks": breaks,
            }
        )
        print("torch.compile graph breaks:", sum(breaks.values()), list(breaks)[:4], flush=True)
        return bool(ok and grads_ok)
    except Exception as err:  # report, do not hide
        RESULTS.append(
            {"check": "torch.compile TinyMamba fwd+bwd", "ok": False, "error": repr(err)[:2000]}
        )
        print("FAIL torch.compile:", repr(err)[:2000], flush=True)
        return False


def check_big():
    """More than 2**31 elements per (batch, dim, L) tensor: 64-bit offsets."""
    batch, dim, L, N = 1, 65536, 32776, 16
    dtype = torch.bfloat16
    g = torch.Generator(device="cuda").manual_seed(5)
    u = torch.randn(batch, dim, L, generator=g, device="cuda", dtype=dtype)
    delta = (torch.randn(batch, dim, L, generator=g, device="cuda") * 0.5 - 1).to(dtype)
    A = -torch.rand(dim, N, generator=g, device="cuda") - 0.5
    B = torch.randn(batch, N, L, generator=g, device="cuda", dtype=dtype)
    C = torch.randn(batch, N, L, generator=g, device="cuda", dtype=dtype)
    with torch.no_grad():
        out = tss.selective_scan_triton(u, delta, A, B, C, None, None, None, True, False)
        sl = slice(dim - 4, dim)
        ref = selective_scan_ref(
            u[:, sl].double(),
            delta[:, sl].double(),
            A[sl],
            B.double(),
            C.double(),
            None,
            None,
            None,
            True,
        )
    return close(f"sel big {batch}x{dim}x{L}x{N} bf16 out (last channels)", out[:, sl], ref, dtype)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", default=None)
    p.add_argument("--big", action="store_true")
    p.add_argument("--all-combos", action="store_true", help="all 32 option combinations")
    p.add_argument("--skip-linear", action="store_true", help="selective scan and compile only")
    args = p.parse_args(argv)
    tss.POISON_OUTPUTS = True
    tls.POISON_OUTPUTS = True
    t0 = time.time()
    ok = True
    keys = ("D", "z", "bias", "softplus", "last")
    # optional inputs against the float64 loop (the CPU tests cover every combination;
    # here all off, all on, and all on but one, to keep compile time down)
    all_on = dict.fromkeys(keys, True)
    combos = [dict.fromkeys(keys, False), all_on] + [{**all_on, k: False} for k in keys]
    if args.all_combos:
        combos = [dict(zip(keys, c)) for c in itertools.product((False, True), repeat=5)]
    for i, opts in enumerate(combos):
        ok &= check_selective(2, 40, 203, 16, torch.float32, opts, 10 + i, True)
    for dtype in (torch.float32, torch.bfloat16, torch.float16):
        ok &= check_selective(2, 96, 517, 16, dtype, all_on, 50, True)
        ok &= check_selective(3, 70, 333, 64, dtype, all_on, 51, True)
    for N in (1, 3, 8, 32, 128, 256):
        ok &= check_selective(2, 20, 150, N, torch.float32, all_on, 60 + N, True)
    # explicit time splits and launch shapes (the automatic choice depends on the GPU)
    for cfg in (
        tss.SelectiveScanConfig(splits=3, bwd_splits=4),
        tss.SelectiveScanConfig(block_d=8, num_warps=1, splits=2),
        tss.SelectiveScanConfig(
            bwd_block_d=32, bwd_num_warps=4, seg_len=128, splits=5, bwd_splits=2
        ),
    ):
        ok &= check_selective(2, 70, 1000, 16, torch.bfloat16, all_on, 55, True, config=cfg)
    # real sizes against the float64 PyTorch path
    for shape, dtype in (
        ((8, 1536, 2048, 16), torch.float32),
        ((8, 1536, 2048, 16), torch.bfloat16),
        ((2, 768, 16384, 16), torch.bfloat16),
        ((64, 256, 336, 64), torch.float32),
        ((4096, 64, 96, 16), torch.bfloat16),
    ):
        ok &= check_selective(*shape, dtype, all_on, 70, False)
    for dtype in (
        () if args.skip_linear else (torch.float32, torch.complex64, torch.bfloat16, torch.float64)
    ):
        for rev in (False, True):
            ok &= check_linear((8, 64, 517), (8, 64, 517), (8, 64), dtype, rev, 80)
    if not args.skip_linear:
        ok &= check_linear((64, 1), (16, 64, 3000), None, torch.complex64, False, 81)
        ok &= check_linear((256, 4096), (256, 4096), (256,), torch.float32, True, 82)
    ok &= check_s4d(64, 16, 500, 90)
    ok &= check_compile()
    if args.big:
        ok &= check_big()
    n_ok = sum(r["ok"] for r in RESULTS)
    print(f"{n_ok}/{len(RESULTS)} checks passed in {time.time() - t0:.0f} s", flush=True)
    worst = sorted((r for r in RESULTS if "rel_err" in r), key=lambda r: -r["rel_err"])[:8]
    for r in worst:
        print(f"  worst rel err {r['rel_err']:.2e} {r['check']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "device": torch.cuda.get_device_name(),
                    "torch": torch.__version__,
                    "results": RESULTS,
                },
                f,
                indent=1,
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
