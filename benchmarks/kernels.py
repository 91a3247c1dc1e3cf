"""GPU benchmark of the Triton kernels (selective scan, linear scan) and the S4D kernel.

Run on a CUDA machine from the repository root::

    PYTHONPATH=. python3 benchmarks/kernels.py --json out.json            # the table
    PYTHONPATH=. python3 benchmarks/kernels.py --variants --json out.json # + launch variants
    PYTHONPATH=. python3 benchmarks/kernels.py --only selective --fwd-variants all \
        --no-ref --out results/                            # forward variants side by side
    python3 benchmarks/kernels.py --sass           # no GPU: registers and SASS counts, sm_90

For each shape it reports forward and backward time (``triton.testing.do_bench``,
median, on fresh random data; input sets rotate so that repeated calls do not run out of
L2), the physical floor (the larger of bytes / copy bandwidth measured in the same run
and B*D*L*N exponentials / 4.2e12 per second), the mamba_ssm CUDA times measured on an
H100 (../shared/anchors), the speed-up over the PyTorch path
(``tsssm.ops.selective_scan_ref`` on the same GPU) and the peak memory of forward plus
backward for both.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import sys
import time

import torch
import triton
from triton.testing import do_bench

from tsssm.ops import linear_scan_ref, s4d_kernel, selective_scan_ref
from tsssm.ops.triton import linear_scan as tls
from tsssm.ops.triton import s4d as ts4d
from tsssm.ops.triton import selective_scan as tss

# mamba_ssm 's CUDA selective scan on an NVIDIA H100 80GB HBM3 (torch 2.11, CUDA 13.0),
# from ../shared/anchors/README.md: (B, D, L, N, dtype) -> (forward ms, backward ms).
MAMBA_H100 = {
    (8, 1536, 2048, 16, "float32"): (0.882, 2.069),
    (8, 1536, 2048, 16, "bfloat16"): (0.451, 1.836),
    (512, 128, 512, 16, "float32"): (1.282, 3.744),
    (512, 128, 512, 16, "bfloat16"): (0.564, 3.415),
    (2, 768, 16384, 16, "float32"): (0.982, 2.181),
    (2, 768, 16384, 16, "bfloat16"): (0.542, 1.980),
    (64, 256, 336, 64, "float32"): (0.923, 2.158),
    (64, 256, 336, 64, "bfloat16"): (0.860, 2.084),
}
EXP_RATE = 4.2e12  # exponentials per second, H100 SXM special-function units
L2_BYTES = 50 * 2**20


def copy_bandwidth() -> float:
    """Device-to-device copy bandwidth in bytes/s (bytes read plus bytes written)."""
    x = torch.empty(2**28, dtype=torch.float32, device="cuda")  # 1 GiB
    y = torch.empty_like(x)
    ms = do_bench(lambda: y.copy_(x), warmup=50, rep=300, return_mode="median")
    return 2 * x.numel() * 4 / (ms * 1e-3)


def make_inputs(batch, dim, L, N, dtype, seed, requires_grad):
    g = torch.Generator(device="cuda").manual_seed(seed)
    dev = "cuda"

    def rnd(*shape, scale=1.0, shift=0.0, dt=dtype):
        return (torch.randn(*shape, generator=g, device=dev) * scale + shift).to(dt)

    t = {
        "u": rnd(batch, dim, L),
        "delta": rnd(batch, dim, L, scale=0.5, shift=-1.0),
        "A": -torch.rand(dim, N, generator=g, device=dev) * 4 - 0.25,
        "B": rnd(batch, N, L),
        "C": rnd(batch, N, L),
        "D": rnd(dim, dt=torch.float32),
        "z": rnd(batch, dim, L),
        "delta_bias": rnd(dim, scale=0.1, dt=torch.float32),
    }
    if requires_grad:
        for v in t.values():
            v.requires_grad_()
    return t


def _args(t):
    return (
        t["u"],
        t["delta"],
        t["A"],
        t["B"],
        t["C"],
        t["D"],
        t["z"],
        t["delta_bias"],
        True,
        False,
    )


def bench_selective(shape, dtype, fn, n_sets):
    """Median forward and backward ms of ``fn`` (called like selective_scan_triton)."""
    batch, dim, L, N = shape
    sets = [make_inputs(batch, dim, L, N, dtype, 100 + i, True) for i in range(n_sets)]
    it = [0]

    def fwd():
        t = sets[it[0] % n_sets]
        it[0] += 1
        with torch.no_grad():
            return fn(*_args(t))

    fwd_ms = do_bench(fwd, warmup=25, rep=200, return_mode="median")
    graphs = []
    for t in sets:
        out = fn(*_args(t))
        graphs.append(
            (
                out,
                [t[k] for k in ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")],
                torch.randn_like(out),
            )
        )

    def bwd():
        out, ins, g = graphs[it[0] % n_sets]
        it[0] += 1
        torch.autograd.grad(out, ins, g, retain_graph=True)

    bwd_ms = do_bench(bwd, warmup=25, rep=200, return_mode="median")
    graphs.clear()
    sets.clear()
    return fwd_ms, bwd_ms


def bench_forward(shape, dtype, fn, n_sets):
    """Median forward ms of ``fn`` without autograd (the forward variants' sweep)."""
    batch, dim, L, N = shape
    sets = [make_inputs(batch, dim, L, N, dtype, 100 + i, False) for i in range(n_sets)]
    it = [0]

    def fwd():
        t = sets[it[0] % n_sets]
        it[0] += 1
        return fn(*_args(t))

    ms = do_bench(fwd, warmup=25, rep=200, return_mode="median")
    sets.clear()
    return ms


ANCHORS = [(8, 1536, 2048, 16), (512, 128, 512, 16), (2, 768, 16384, 16), (64, 256, 336, 64)]


def fwd_variant_rows(variants, bw, shapes=ANCHORS):
    """Forward time of each ``tss.FWD_VARIANTS`` entry at the anchor shapes, same inputs.

    The variants run interleaved per shape (v4, v5, ..., then again in reverse order) and
    each keeps the better of its two medians, so drift in clocks hits all of them alike.
    """
    rows = []
    for shape in shapes:
        for dtype in (torch.bfloat16, torch.float32):
            dname = str(dtype).split(".")[-1]
            batch, dim, L, N = shape
            set_bytes = torch.tensor([], dtype=dtype).element_size() * (
                3 * batch * dim * L + 2 * batch * N * L
            )
            n_sets = int(min(4, max(1, math.ceil(3 * L2_BYTES / set_bytes))))
            row = {"B": batch, "D": dim, "L": L, "N": N, "dtype": dname, "n_sets": n_sets}
            t = make_inputs(batch, dim, L, N, dtype, 1, False)
            with torch.no_grad():
                ref = selective_scan_ref(*_args(t))
                for v in variants:
                    cfg = tss.SelectiveScanConfig(fwd_variant=v)
                    out = tss.selective_scan_triton(*_args(t), config=cfg)
                    row[f"{v}_rel_err"] = rel_err(out, ref)
                    row[f"{v}_nan"] = bool(torch.isnan(out).any())
                    del out
            del t, ref
            times = {v: [] for v in variants}
            for order in (variants, variants[::-1]):
                for v in order:
                    cfg = tss.SelectiveScanConfig(fwd_variant=v)
                    fn = lambda *a, _c=cfg: tss.selective_scan_triton(*a, config=_c)  # noqa: E731
                    times[v].append(bench_forward(shape, dtype, fn, n_sets))
            for v in variants:
                row[f"{v}_fwd_ms"] = min(times[v])
                row[f"{v}_fwd_ms_runs"] = times[v]
            row["floor_fwd_ms"] = floors(shape, dtype, bw)[0]
            ref_ms = MAMBA_H100.get((*shape, dname))
            if ref_ms:
                row["mamba_fwd_ms"] = ref_ms[0]
            rows.append(row)
            print(json.dumps(row), flush=True)
            torch.cuda.empty_cache()
    return rows


def peak_memory(shape, dtype, fn):
    """Peak bytes allocated by forward plus backward on top of the inputs."""
    batch, dim, L, N = shape
    t = make_inputs(batch, dim, L, N, dtype, 7, True)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    out = fn(*_args(t))
    grads = torch.autograd.grad(
        out,
        [t[k] for k in ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")],
        torch.ones_like(out),
    )
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - base
    del out, grads
    return peak


def rel_err(a, b):
    a, b = a.double(), b.double()
    return ((a - b).norm() / b.norm().clamp_min(1e-30)).item()


def floors(shape, dtype, bw):
    batch, dim, L, N = shape
    s = torch.tensor([], dtype=dtype).element_size()
    exps = batch * dim * L * N / EXP_RATE
    fwd_bytes = s * (4 * batch * dim * L + 2 * batch * N * L)  # u, delta, z, B, C in; out
    # backward reads u, delta, z, B, C, dout and writes du, ddelta, dz, dB, dC
    bwd_bytes = s * (7 * batch * dim * L + 4 * batch * N * L)
    return max(fwd_bytes / bw, exps) * 1e3, max(bwd_bytes / bw, exps) * 1e3


VARIANTS = {
    "default": None,
    "nosplit": dict(splits=1, bwd_splits=1),
    "split2x": "split2x",
    "fwd_w4": dict(num_warps=4),
}


def config_for(shape, name):
    over = VARIANTS[name]
    if over is None:
        return None
    base = tss._default_config(*shape)
    fields = {k: getattr(base, k) for k in base.__dataclass_fields__}
    batch, dim, L, _ = shape
    n_segs = max(1, math.ceil(L / base.seg_len))
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    if over == "split2x":  # twice the automatic number of time splits, at least 2
        for key, bd, warps, per_sm in (
            ("splits", base.block_d, base.num_warps, tss._FWD_WARPS_PER_SM),
            ("bwd_splits", base.bwd_block_d, base.bwd_num_warps, tss._BWD_WARPS_PER_SM),
        ):
            progs = batch * math.ceil(dim / bd)
            fields[key] = 2 * tss._plan_splits(0, progs, n_segs, per_sm * sms // warps)[0]
        return tss.SelectiveScanConfig(**fields)
    fields.update(over)
    fields["block_d"] = 32 * fields["num_warps"] // fields["group"]
    fields["bwd_block_d"] = 32 * fields["bwd_num_warps"] // fields["bwd_group"]
    return tss.SelectiveScanConfig(**fields)


def selective_rows(args, bw):
    shapes = [
        (8, 1536, 2048, 16),
        (512, 128, 512, 16),
        (2, 768, 16384, 16),
        (64, 256, 336, 64),
        (4096, 64, 96, 16),
    ]
    dtypes = [torch.float32, torch.bfloat16]
    rows = []
    for shape in shapes:
        for dtype in dtypes:
            dname = str(dtype).split(".")[-1]
            batch, dim, L, N = shape
            set_bytes = torch.tensor([], dtype=dtype).element_size() * (
                3 * batch * dim * L + 2 * batch * N * L
            )
            n_sets = int(min(4, max(1, math.ceil(3 * L2_BYTES / set_bytes))))
            row = {"B": batch, "D": dim, "L": L, "N": N, "dtype": dname, "n_sets": n_sets}
            # accuracy against the PyTorch path on the same inputs (forward, fp32 compute)
            t = make_inputs(batch, dim, L, N, dtype, 1, False)
            with torch.no_grad():
                out_t = tss.selective_scan_triton(*_args(t))
                out_r = selective_scan_ref(*_args(t))
            row["rel_err_vs_ref"] = rel_err(out_t, out_r)
            row["nan"] = bool(torch.isnan(out_t).any())
            del t, out_t, out_r
            names = list(VARIANTS) if args.variants else ["default"]
            for name in names:
                cfg = config_for(shape, name)
                fn = lambda *a, _c=cfg: tss.selective_scan_triton(*a, config=_c)  # noqa: E731
                f, b = bench_selective(shape, dtype, fn, n_sets)
                row[f"{name}_fwd_ms"], row[f"{name}_bwd_ms"] = f, b
            row["fwd_ms"], row["bwd_ms"] = row["default_fwd_ms"], row["default_bwd_ms"]
            row["floor_fwd_ms"], row["floor_bwd_ms"] = floors(shape, dtype, bw)
            ref = MAMBA_H100.get((*shape, dname))
            if ref:
                row["mamba_fwd_ms"], row["mamba_bwd_ms"] = ref
            if args.ref and (dtype == torch.float32 or shape == (8, 1536, 2048, 16)):
                f, b = bench_selective(shape, dtype, selective_scan_ref, 1)
                row["ref_fwd_ms"], row["ref_bwd_ms"] = f, b
                row["ref_peak_bytes"] = peak_memory(shape, dtype, selective_scan_ref)
            row["peak_bytes"] = peak_memory(shape, dtype, tss.selective_scan_triton)
            rows.append(row)
            print(json.dumps(row), flush=True)
            torch.cuda.empty_cache()
    return rows


def linear_rows(bw):
    """Linear scan: forward and backward against the PyTorch path, with bandwidth."""
    rows = []
    for shape, dtype in (
        ((64, 256, 2048), torch.float32),
        ((64, 256, 2048), torch.bfloat16),
        ((64, 128, 2048), torch.complex64),
        ((4096, 64, 96), torch.float32),
    ):
        g = torch.Generator(device="cuda").manual_seed(3)
        if dtype.is_complex:
            a = torch.view_as_complex(torch.randn(*shape, 2, generator=g, device="cuda")) * 0.5
            b = torch.view_as_complex(torch.randn(*shape, 2, generator=g, device="cuda"))
        else:
            a = (torch.rand(*shape, generator=g, device="cuda") * 0.99).to(dtype)
            b = torch.randn(*shape, generator=g, device="cuda").to(dtype)
        h0 = torch.zeros(shape[:-1], device="cuda", dtype=dtype)
        row = {"shape": list(shape), "dtype": str(dtype).split(".")[-1]}
        for name, fn in (("triton", tls.linear_scan_triton), ("ref", linear_scan_ref)):
            ins = [x.clone().requires_grad_() for x in (a, b, h0)]
            row[f"{name}_fwd_ms"] = do_bench(
                lambda fn=fn, ins=ins: fn(*ins, False), warmup=25, rep=100, return_mode="median"
            )
            out = fn(*ins, False)
            go = torch.randn_like(out)
            row[f"{name}_bwd_ms"] = do_bench(
                lambda out=out, ins=ins, go=go: torch.autograd.grad(
                    out, ins, go, retain_graph=True
                ),
                warmup=25,
                rep=100,
                return_mode="median",
            )
        es = a.element_size()
        n = a.numel()
        row["fwd_GBps"] = 3 * n * es / (row["triton_fwd_ms"] * 1e-3) / 1e9  # a, b in; h out
        row["bwd_GBps"] = (
            5 * n * es / (row["triton_bwd_ms"] * 1e-3) / 1e9
        )  # a, h, dh in; da, db out
        row["fwd_floor_frac"] = row["fwd_GBps"] * 1e9 / bw
        row["bwd_floor_frac"] = row["bwd_GBps"] * 1e9 / bw
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def s4d_rows(bw):
    """The PyTorch S4D Vandermonde kernel against the bytes it moves.

    It materialises V = exp(l log dA), a (dim, N, L) complex64 tensor (written once,
    read once by the contraction): 16 bytes per term. Time near 16 * dim * N * L /
    copy bandwidth means it runs at its memory roofline.
    """
    rows = []
    for dim, N, L in ((256, 32, 4096), (512, 64, 2048), (64, 32, 720)):
        g = torch.Generator(device="cuda").manual_seed(4)
        log_dt = (torch.rand(dim, generator=g, device="cuda") * 4 - 7).requires_grad_()
        A_re = (-0.5 * torch.ones(dim, N, device="cuda")).requires_grad_()
        A_im = (torch.pi * torch.arange(N, device="cuda").float().repeat(dim, 1)).requires_grad_()
        C = torch.randn(dim, N, 2, generator=g, device="cuda").requires_grad_()
        params = (log_dt, A_re, A_im, C)
        fwd = do_bench(
            lambda p=params, L=L: s4d_kernel(*p, L, backend="torch"), warmup=25, rep=100,
            return_mode="median",
        )
        K = s4d_kernel(log_dt, A_re, A_im, C, L, backend="torch")
        gK = torch.randn_like(K)
        bwdt = do_bench(
            lambda K=K, p=params, gK=gK: torch.autograd.grad(K, p, gK, retain_graph=True),
            warmup=25,
            rep=100,
            return_mode="median",
        )
        # the Triton kernel on the discretised parameters (ZOH), same work
        with torch.no_grad():
            dt = torch.exp(log_dt)[:, None]
            A = torch.complex(A_re, A_im)
            log_dA = (dt * A).requires_grad_()
            W = (torch.view_as_complex(C) * (torch.exp(dt * A) - 1) / A).requires_grad_()
        tfwd = do_bench(
            lambda a=log_dA, w=W, L=L: ts4d.s4d_vandermonde_triton(a, w, L),
            warmup=25, rep=100, return_mode="median",
        )  # fmt: skip
        Kt = ts4d.s4d_vandermonde_triton(log_dA, W, L)
        tbwd = do_bench(
            lambda K=Kt, p=(log_dA, W), gK=gK: torch.autograd.grad(K, p, gK, retain_graph=True),
            warmup=25, rep=100, return_mode="median",
        )  # fmt: skip
        terms = dim * N * L
        row = {
            "triton_fwd_ms": tfwd,
            "triton_bwd_ms": tbwd,
            "triton_vs_ref_rel_err": rel_err(Kt, K),
            "dim": dim,
            "N": N,
            "L": L,
            "fwd_ms": fwd,
            "bwd_ms": bwdt,
            "fwd_bytes_model": 16 * terms,
            "fwd_roofline_frac": 16 * terms / bw / (fwd * 1e-3),
            # floor of a fused kernel: one exp and one sincos per term, output written once
            "fused_floor_ms": max(3 * terms / EXP_RATE, 4 * dim * L / bw) * 1e3,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def kernel_resources():
    """Registers and spills of every compiled variant of the kernels (for the notes)."""
    out = []
    for fn in (
        tss._selective_scan_fwd_kernel,
        tss._selective_scan_bwd_kernel,
        tls._linear_scan_fwd_kernel,
        tls._linear_scan_bwd_kernel,
    ):
        caches = getattr(fn, "device_caches", None) or {}
        for entry in caches.values():
            cache = entry[0] if isinstance(entry, tuple) else entry
            for k in cache.values():
                out.append(
                    {
                        "kernel": fn.__name__,
                        "n_regs": getattr(k, "n_regs", None),
                        "n_spills": getattr(k, "n_spills", None),
                        "constants": str(getattr(getattr(k, "src", None), "constants", ""))[:300],
                    }
                )
    return out


def sass_report(shape=(8, 1536, 2048, 16), variants=None):
    """Registers, spills and inner-loop SASS counts of the forward variants, for sm_90.

    Needs no GPU: the wrapper runs on CPU tensors with the kernel launch replaced by a
    recorder, and the recorded launch is compiled with Triton's own argument
    specialisation for ``GPUTarget("cuda", 90, 32)``; ``cuobjdump`` (shipped with
    Triton) gives the registers and the SASS. The inner loop is the longest backward
    branch; its instructions per element divide by the T * NG = 16 (step, state) pairs
    each thread handles per chunk.
    """
    import os
    import re
    import subprocess
    import tempfile

    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource, make_backend
    from triton.runtime.jit import create_function_from_signature

    if os.environ.get("TRITON_INTERPRET", "0") == "1":
        raise SystemExit("--sass compiles real kernels: unset TRITON_INTERPRET")
    target = GPUTarget("cuda", 90, 32)
    bindir = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin")
    variants = variants or list(tss.FWD_VARIANTS)
    kernel = tss._selective_scan_fwd_kernel
    launches = []

    class Recorder:
        def __getitem__(self, grid):
            return lambda *a, **kw: launches.append((a, kw))

    def compile_sm90(args, kw):
        backend = make_backend(target)
        binder = create_function_from_signature(kernel.signature, kernel.params, backend)
        bound, spec, options = binder(*args, **kw)
        options, sig, constexprs, attrs = kernel._pack_args(backend, kw, bound, spec, options)
        return triton.compile(ASTSource(kernel, sig, constexprs, attrs), target=target,
                              options=options.__dict__)  # fmt: skip

    def inner_loop(sass):
        ins = [
            (int(m.group(1), 16), m.group(2).strip())
            for m in re.finditer(r"/\*([0-9a-f]{4,})\*/\s+([^;]*);", sass)
        ]
        best = []
        for addr, text in ins:
            m = re.search(r"\bBRA\s+0x([0-9a-f]+)", text)
            if m and int(m.group(1), 16) < addr:
                body = [t for a, t in ins if int(m.group(1), 16) <= a <= addr]
                best = max(best, body, key=len)
        return best

    saved = (tss._selective_scan_fwd_kernel, tss._check_device, tss._num_sms)
    rows = []
    batch, dim, L, N = shape
    small = (batch, min(dim, 64), min(L, 64), N)  # the compiled code does not depend on sizes
    try:
        tss._selective_scan_fwd_kernel = Recorder()
        tss._check_device = lambda t: None
        tss._num_sms = lambda d: 132
        for dtype in (torch.bfloat16, torch.float32):
            g = torch.Generator().manual_seed(0)
            b, d, ln, n = small
            t = {k: torch.randn(*sh, generator=g).to(dt) for k, sh, dt in (
                ("u", (b, d, ln), dtype), ("delta", (b, d, ln), dtype),
                ("A", (d, n), torch.float32), ("B", (b, n, ln), dtype),
                ("C", (b, n, ln), dtype), ("D", (d,), torch.float32),
                ("z", (b, d, ln), dtype), ("delta_bias", (d,), torch.float32))}  # fmt: skip
            for v in variants:
                launches.clear()
                cfg = tss.SelectiveScanConfig(fwd_variant=v)
                with torch.no_grad():
                    tss.selective_scan_triton(*_args(t), config=cfg)
                k = compile_sm90(*launches[-1])
                with tempfile.TemporaryDirectory() as tmp:
                    cubin = os.path.join(tmp, "k.cubin")
                    with open(cubin, "wb") as f:
                        f.write(k.asm["cubin"])
                    res, sass = (
                        subprocess.run(
                            [os.path.join(bindir, "cuobjdump"), flag, cubin],
                            capture_output=True, text=True, check=True,
                        ).stdout
                        for flag in ("-res-usage", "-sass")
                    )  # fmt: skip
                body = inner_loop(sass)
                regs = int(re.search(r"REG:(\d+)", res).group(1))
                local = int(re.search(r"LOCAL:(\d+)", res).group(1))
                row = {"variant": v, "dtype": str(dtype).split(".")[-1], "regs": regs,
                       "local_bytes": local, "loop_instr": len(body),
                       "instr_per_elem": len(body) / 16}  # fmt: skip
                for op in ("MUFU", "SHFL", "BAR", "LDG", "STG", "LDS", "STS", "STSM", "CCTL"):
                    row[op] = sum(1 for x in body if re.search(r"(^|\s)" + op + r"\b", x))
                row["warps_per_sm"] = 65536 // (32 * (-(-regs // 8) * 8))
                rows.append(row)
                print(json.dumps(row), flush=True)
    finally:
        tss._selective_scan_fwd_kernel, tss._check_device, tss._num_sms = saved
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", default=None, help="write all numbers to this file")
    p.add_argument("--variants", action="store_true", help="also time launch variants")
    p.add_argument("--no-ref", dest="ref", action="store_false", help="skip the PyTorch path")
    p.add_argument("--only", choices=("selective", "linear", "s4d"), default=None)
    p.add_argument(
        "--fwd-variants",
        default=None,
        help="comma-separated keys of tss.FWD_VARIANTS (or 'all'): time only their forward "
        "at the anchor shapes, interleaved (with --only selective)",
    )
    p.add_argument("--out", default=None, help="directory for the JSON (a file name is chosen)")
    p.add_argument(
        "--sass",
        action="store_true",
        help="no GPU needed: compile the forward variants for sm_90 and count their SASS",
    )
    args = p.parse_args(argv)
    if args.sass:
        result = {"sass_sm90": sass_report(), "triton": triton.__version__}
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=1)
        return
    dev = torch.cuda.get_device_properties(0)
    info = {
        "device": dev.name,
        "sms": dev.multi_processor_count,
        "torch": torch.__version__,
        "triton": triton.__version__,
        "python": platform.python_version(),
        "date": datetime.date.today().isoformat(),
        "command": " ".join(sys.argv),
    }
    t0 = time.time()
    bw = copy_bandwidth()
    info["copy_GBps"] = bw / 1e9
    print(json.dumps(info), flush=True)
    result = {"info": info}
    if args.fwd_variants:
        names = args.fwd_variants.split(",")
        if names == ["all"]:
            names = list(tss.FWD_VARIANTS)
        result["fwd_variants"] = fwd_variant_rows(names, bw)
    elif args.only in (None, "selective"):
        result["selective_scan"] = selective_rows(args, bw)
    if args.only in (None, "linear"):
        result["linear_scan"] = linear_rows(bw)
    if args.only in (None, "s4d"):
        result["s4d_kernel"] = s4d_rows(bw)
    result["wall_s"] = time.time() - t0
    try:
        result["kernels"] = kernel_resources()
    except Exception as err:  # diagnostics only
        result["kernels"] = repr(err)
    paths = [args.json] if args.json else []
    if args.out:
        import os

        os.makedirs(args.out, exist_ok=True)
        tag = "fwd_variants" if args.fwd_variants else (args.only or "all")
        stamp = datetime.datetime.now().strftime("%Y%m%d_%H%M%S")
        paths.append(os.path.join(args.out, f"kernels_{tag}_{stamp}.json"))
    for path in paths:
        with open(path, "w") as f:
            json.dump(result, f, indent=1)
        print(f"wrote {path}", flush=True)
    print_table(result)


def print_table(result):
    print(f"\n{result['info']['device']}  copy {result['info']['copy_GBps']:.0f} GB/s")
    for r in result.get("linear_scan", []):
        print(
            f"linear {r['shape']} {r['dtype']}: fwd {r['triton_fwd_ms']:.3f} ms "
            f"({100 * r['fwd_floor_frac']:.0f}% copy bw, ref {r['ref_fwd_ms']:.3f}), bwd "
            f"{r['triton_bwd_ms']:.3f} ms ({100 * r['bwd_floor_frac']:.0f}%, "
            f"ref {r['ref_bwd_ms']:.3f})"
        )
    for r in result.get("s4d_kernel", []):
        print(
            f"s4d_kernel {r['dim']}x{r['N']}x{r['L']}: fwd {r['fwd_ms']:.3f} ms "
            f"({100 * r['fwd_roofline_frac']:.0f}% of its traffic at copy bw), "
            f"bwd {r['bwd_ms']:.3f} ms, fused floor {r['fused_floor_ms']:.3f} ms; Triton "
            f"{r['triton_fwd_ms']:.3f} / {r['triton_bwd_ms']:.3f} ms"
        )
    for r in result.get("fwd_variants", []):
        names = [k[: -len("_fwd_ms")] for k in r if k.endswith("_fwd_ms") and k != "floor_fwd_ms"]
        names = [n for n in names if n != "mamba"]
        cells = "  ".join(f"{n} {r[n + '_fwd_ms']:.3f}" for n in names)
        print(
            f"fwd {r['B']} {r['D']} {r['L']} {r['N']} {r['dtype']}: {cells}  "
            f"(mamba {r.get('mamba_fwd_ms', float('nan')):.3f}, floor {r['floor_fwd_ms']:.3f}) "
            f"max err {max(r[n + '_rel_err'] for n in names):.1e}"
        )
    if "selective_scan" not in result:
        return
    print(
        "B D L N dtype | fwd ms (mamba) floor% | bwd ms (mamba) floor% | ref fwd/bwd x"
        " | peak MB (ref)"
    )
    for r in result["selective_scan"]:
        mf, mb = r.get("mamba_fwd_ms", float("nan")), r.get("mamba_bwd_ms", float("nan"))
        sx = ""
        if "ref_fwd_ms" in r:
            sx = f"{r['ref_fwd_ms'] / r['fwd_ms']:.0f}/{r['ref_bwd_ms'] / r['bwd_ms']:.0f}"
        print(
            f"{r['B']} {r['D']} {r['L']} {r['N']} {r['dtype']} | {r['fwd_ms']:.3f} ({mf:.3f}) "
            f"{100 * r['floor_fwd_ms'] / r['fwd_ms']:.0f}% | {r['bwd_ms']:.3f} ({mb:.3f}) "
            f"{100 * r['floor_bwd_ms'] / r['bwd_ms']:.0f}% | {sx} | {r['peak_bytes'] / 2**20:.0f} "
            f"({r.get('ref_peak_bytes', float('nan')) / 2**20:.0f}) err {r['rel_err_vs_ref']:.1e}"
        )


if __name__ == "__main__":
    main()
