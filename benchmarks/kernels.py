"""GPU benchmark of the Triton kernels (selective scan, linear scan) and the S4D kernel.

Run on a CUDA machine from the repository root::

    PYTHONPATH=. python3 benchmarks/kernels.py --json out.json            # the table
    PYTHONPATH=. python3 benchmarks/kernels.py --variants --json out.json # + launch variants
    PYTHONPATH=. python3 benchmarks/kernels.py --only selective --fwd-variants all \
        --no-ref --out results/                            # forward variants side by side
    PYTHONPATH=. python3 benchmarks/kernels.py --only selective --configs auto \
        --no-ref --out results/                            # threads-per-channel sweep
    python3 benchmarks/kernels.py --sass           # no GPU: registers and SASS counts, sm_90
    python3 benchmarks/kernels.py --sass --configs auto    # the same for the sweep's configs

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


def input_sets(shape, dtype):
    """How many input sets to rotate through so that together they overflow L2 (1 to 4)."""
    batch, dim, L, N = shape
    set_bytes = torch.tensor([], dtype=dtype).element_size() * (
        3 * batch * dim * L + 2 * batch * N * L
    )
    return int(min(4, max(1, math.ceil(3 * L2_BYTES / set_bytes))))


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


_GRAD_INPUTS = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")


def _median_ms(items, call):
    """Median ms of ``call(item)``, cycling through ``items`` so each run sees other data."""
    it = [0]

    def run():
        item = items[it[0] % len(items)]
        it[0] += 1
        return call(item)

    return do_bench(run, warmup=25, rep=200, return_mode="median")


def _graph(fn, t):
    """(output, differentiable inputs, output gradient) of one forward of ``fn``."""
    out = fn(*_args(t))
    return out, [t[k] for k in _GRAD_INPUTS], torch.randn_like(out)


def _backward(graph):
    out, ins, g = graph
    torch.autograd.grad(out, ins, g, retain_graph=True)


def bench_selective(shape, dtype, fn, n_sets):
    """Median forward and backward ms of ``fn`` (called like selective_scan_triton)."""
    batch, dim, L, N = shape
    sets = [make_inputs(batch, dim, L, N, dtype, 100 + i, True) for i in range(n_sets)]

    def fwd(t):
        with torch.no_grad():
            return fn(*_args(t))

    fwd_ms = _median_ms(sets, fwd)
    graphs = [_graph(fn, t) for t in sets]
    bwd_ms = _median_ms(graphs, _backward)
    graphs.clear()
    sets.clear()
    return fwd_ms, bwd_ms


def bench_forward(shape, dtype, fn, n_sets):
    """Median forward ms of ``fn`` without autograd (the forward variants' sweep)."""
    batch, dim, L, N = shape
    sets = [make_inputs(batch, dim, L, N, dtype, 100 + i, False) for i in range(n_sets)]
    ms = _median_ms(sets, lambda t: fn(*_args(t)))
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
            n_sets = input_sets(shape, dtype)
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


# ------------------------------------------------------------ launch-config sweep
# A spec names one change from the automatic settings: "f<G>" puts each forward channel
# on G threads (N / G states each, BLOCK_D = 32 / G, one warp), "f<G>x<R>" gives each
# thread R channels (BLOCK_D = R * 32 / G, still one warp), "f<G>@<variant>" also
# fixes the forward variant; "b<G>" does the same for the backward (bwd_group G); a
# suffix "/s<k>" fixes that kernel's time splits (splits / bwd_splits; 0 = automatic).
# The automatic splitting assumes 16 (12) warps per SM and BLOCK_D channels per warp, so
# fewer threads per channel (more channels per program, fewer programs) can trigger
# splits at (8, 1536, 2048, 16): "/s1" times those configs unsplit there too.
CONFIG_CANDIDATES = {
    16: ["f1", "f2", "f4", "f1/s1", "f2/s1", "b1", "b2", "b4", "b1/s1", "b2/s1"],
    64: ["f2", "f4", "f8", "b8", "b16", "b32"],
}


def parse_shapes(text):
    """'512x128x512x16,2x768x16384x16' -> [(512, 128, 512, 16), (2, 768, 16384, 16)]."""
    return [tuple(int(v) for v in s.split("x")) for s in text.split(",") if s]


def config_from_spec(shape, spec, dtype=torch.float32):
    """(kind, SelectiveScanConfig) for a spec, or None where it does not fit the shape.

    kind is "fwd" or "bwd": only that kernel's settings differ from ``_default_config``
    at ``dtype`` (the forward's defaults depend on it).
    """
    batch, dim, _, N = shape
    base = tss._default_config(*shape, dtype)
    fields = {k: getattr(base, k) for k in base.__dataclass_fields__}
    block_n = max(triton.next_power_of_2(N), 2)
    spec, _, splits = spec.partition("/s")
    head, _, variant = spec.partition("@")
    if splits:
        if int(splits) == 1 and batch * dim < 32 * 132:
            return None  # unsplit, so few channels leave most of the GPU idle (4-5x slower)
        fields["splits" if head[0] == "f" else "bwd_splits"] = int(splits)
    head, _, rep = head.partition("x")
    rep = int(rep or 1)
    kind, g = {"f": "fwd", "b": "bwd"}[head[0]], int(head[1:])
    if g < 1 or g & (g - 1) or g > block_n or rep & (rep - 1):
        return None
    if kind == "fwd":
        if g > 32:
            return None
        fields.update(block_d=rep * 32 // g, group=g, num_warps=1)
        if variant:
            fields["fwd_variant"] = variant
    else:
        if variant:
            raise ValueError(f"{spec}: a variant applies to the forward only")
        warps = max(1, g // 32)
        fields.update(bwd_block_d=rep * 32 * warps // g, bwd_group=g, bwd_num_warps=warps)
    return kind, tss.SelectiveScanConfig(**fields)


def bench_backward(shape, dtype, fn, n_sets):
    """Median backward ms of ``fn`` (the forward graphs are built outside the timing)."""
    batch, dim, L, N = shape
    graphs = [_graph(fn, make_inputs(batch, dim, L, N, dtype, 100 + i, True))
              for i in range(n_sets)]
    ms = _median_ms(graphs, _backward)
    graphs.clear()
    return ms


def config_rows(specs, bw, shapes=ANCHORS, dtypes=(torch.bfloat16, torch.float32)):
    """Forward / backward time of launch-config specs at each shape, interleaved.

    ``specs`` is a list of specs (see ``config_from_spec``) or None for
    ``CONFIG_CANDIDATES`` of each shape's N. Forward specs time the forward alone (no
    autograd), backward specs the backward alone (on graphs of the default forward);
    each spec runs twice (in order, then in reverse) and keeps the better median. Every
    spec's output (forward) or gradients (backward) are compared with the PyTorch path.
    """
    rows = []
    names = _GRAD_INPUTS
    for shape in shapes:
        batch, dim, L, N = shape
        block_n = max(triton.next_power_of_2(N), 2)
        wanted = specs or CONFIG_CANDIDATES.get(block_n, [])
        sms = torch.cuda.get_device_properties(0).multi_processor_count
        n_segs = max(1, math.ceil(L / 64))
        for dtype in dtypes:
            cfgs = {}
            for s in wanted:
                got = config_from_spec(shape, s, dtype)
                if got is not None:
                    cfgs[s] = got
            for s in [s for s in cfgs if s.endswith("/s1")]:  # drop where auto runs 1 too
                c = cfgs[s][1]
                if s[0] == "f":
                    bd, w, per_sm = c.block_d, c.num_warps, tss._FWD_WARPS_PER_SM
                else:
                    bd, w, per_sm = c.bwd_block_d, c.bwd_num_warps, tss._BWD_WARPS_PER_SM
                progs = batch * math.ceil(dim / bd)
                if tss._plan_splits(0, progs, n_segs, per_sm * sms // w)[0] == 1:
                    del cfgs[s]
            fwd = [s for s, (k, _) in cfgs.items() if k == "fwd"]
            bwd = [s for s, (k, _) in cfgs.items() if k == "bwd"]
            dname = str(dtype).split(".")[-1]
            default = tss._default_config(*shape, dtype)
            n_sets = input_sets(shape, dtype)
            row = {"B": batch, "D": dim, "L": L, "N": N, "dtype": dname, "n_sets": n_sets,
                   "skipped": [s for s in wanted if s not in cfgs], "sms": sms}  # fmt: skip
            for s, (_, cfg) in cfgs.items():
                row[f"{s}_config"] = {k: getattr(cfg, k) for k in cfg.__dataclass_fields__}
                row[f"{s}_is_default"] = cfg == default
            t = make_inputs(batch, dim, L, N, dtype, 1, True)
            ins = [t[k] for k in names]
            ref = selective_scan_ref(*_args(t))
            gout = torch.randn_like(ref)
            try:
                ref_grads = torch.autograd.grad(ref, ins, gout)
            except torch.cuda.OutOfMemoryError:  # compare with the default kernel instead
                ref_grads = None
            with torch.no_grad():
                for s in fwd:
                    out = tss.selective_scan_triton(*_args(t), config=cfgs[s][1])
                    row[f"{s}_rel_err"] = rel_err(out, ref)
                    row[f"{s}_nan"] = bool(torch.isnan(out).any())
                    del out
            ref = ref.detach()
            for s in bwd:
                out = tss.selective_scan_triton(*_args(t), config=cfgs[s][1])
                grads = torch.autograd.grad(out, ins, gout)
                if ref_grads is None:
                    o2 = tss.selective_scan_triton(*_args(t), config=default)
                    ref_grads = torch.autograd.grad(o2, ins, gout)
                    row["grad_ref"] = "default config"
                    del o2
                row[f"{s}_grad_rel_err"] = {
                    n: rel_err(a, b) for n, a, b in zip(names, grads, ref_grads)
                }
                row[f"{s}_nan"] = any(bool(torch.isnan(x).any()) for x in grads)
                row[f"{s}_rel_err"] = rel_err(out.detach(), ref)
                del out, grads
            del t, ins, ref, ref_grads, gout
            torch.cuda.empty_cache()
            for kind, group, bench in (("fwd", fwd, bench_forward), ("bwd", bwd, bench_backward)):
                times = {s: [] for s in group}
                for order in (group, group[::-1]):
                    for s in order:
                        cfg = cfgs[s][1]
                        fn = lambda *a, _c=cfg: tss.selective_scan_triton(*a, config=_c)  # noqa: E731
                        times[s].append(bench(shape, dtype, fn, n_sets))
                for s in group:
                    row[f"{s}_{kind}_ms"] = min(times[s])
                    row[f"{s}_{kind}_ms_runs"] = times[s]
            row["floor_fwd_ms"], row["floor_bwd_ms"] = floors(shape, dtype, bw)
            ref_ms = MAMBA_H100.get((*shape, dname))
            if ref_ms:
                row["mamba_fwd_ms"], row["mamba_bwd_ms"] = ref_ms
            rows.append(row)
            print(json.dumps(row), flush=True)
            torch.cuda.empty_cache()
    return rows


def print_config_rows(rows):
    print("launch configs: ms (rel err); * = the automatic settings")
    for r in rows:
        for kind in ("fwd", "bwd"):
            specs = [k[: -len(f"_{kind}_ms")] for k in r if k.endswith(f"_{kind}_ms")
                     and not k.startswith(("floor", "mamba"))]  # fmt: skip
            if not specs:
                continue
            cells = []
            for s in specs:
                err = r[f"{s}_rel_err"]
                if kind == "bwd":
                    err = max([err, *r[f"{s}_grad_rel_err"].values()])
                nan = " NaN" if r[f"{s}_nan"] else ""
                star = "*" if r[f"{s}_is_default"] else ""
                cells.append(f"{s}{star} {r[f'{s}_{kind}_ms']:.3f} ({err:.0e}{nan})")
            print(
                f"{kind} {r['B']} {r['D']} {r['L']} {r['N']} {r['dtype']}: " + "  ".join(cells)
                + f"  | mamba {r.get(f'mamba_{kind}_ms', float('nan')):.3f}"
                f" floor {r[f'floor_{kind}_ms']:.3f}"
            )


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
        [t[k] for k in _GRAD_INPUTS],
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
            n_sets = input_sets(shape, dtype)
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


def _sm90_compile(kernel, args, kw):
    """Compile one recorded launch of ``kernel`` for sm_90 (no GPU needed)."""
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource, make_backend
    from triton.runtime.jit import create_function_from_signature

    target = GPUTarget("cuda", 90, 32)
    backend = make_backend(target)
    binder = create_function_from_signature(kernel.signature, kernel.params, backend)
    bound, spec, options = binder(*args, **kw)
    options, sig, constexprs, attrs = kernel._pack_args(backend, kw, bound, spec, options)
    return triton.compile(ASTSource(kernel, sig, constexprs, attrs), target=target,
                          options=options.__dict__)  # fmt: skip


def _sass_inner_loop(sass):
    """Instructions of the longest backward branch (the innermost hot loop)."""
    import re

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


SASS_OPS = ("MUFU", "SHFL", "BAR", "LDG", "STG", "LDS", "STS", "STSM", "CCTL", "RED", "ATOM",
            "LDL", "STL")  # fmt: skip


def _sass_stats(k, elems):
    """Registers, stack and inner-loop counts of a compiled kernel; ``elems`` is the
    number of (step, state) pairs one thread handles per loop iteration."""
    import os
    import re
    import subprocess
    import tempfile

    bindir = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin")
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
    body = _sass_inner_loop(sass)
    regs = int(re.search(r"REG:(\d+)", res).group(1))
    stack = re.search(r"STACK:(\d+)", res)
    row = {"regs": regs, "local_bytes": int(re.search(r"LOCAL:(\d+)", res).group(1)),
           "stack_bytes": int(stack.group(1)) if stack else None,
           "loop_instr": len(body), "instr_per_elem": len(body) / elems}  # fmt: skip
    for op in SASS_OPS:
        row[op] = sum(1 for x in body if re.search(r"(^|\s)" + op + r"\b", x))
    row["shfl_per_elem"] = row["SHFL"] / elems
    row["warps_per_sm"] = 65536 // (32 * (-(-regs // 8) * 8))
    return row


def _cpu_inputs(shape, dtype, requires_grad=False):
    g = torch.Generator().manual_seed(0)
    b, d, ln, n = shape
    t = {k: torch.randn(*sh, generator=g).to(dt) for k, sh, dt in (
        ("u", (b, d, ln), dtype), ("delta", (b, d, ln), dtype),
        ("A", (d, n), torch.float32), ("B", (b, n, ln), dtype),
        ("C", (b, n, ln), dtype), ("D", (d,), torch.float32),
        ("z", (b, d, ln), dtype), ("delta_bias", (d,), torch.float32))}  # fmt: skip
    if requires_grad:
        for v in t.values():
            v.requires_grad_()
    return t


class _Recorder:
    """Stands in for a Triton kernel: records the launches instead of running them."""

    def __init__(self, kernel):
        self.kernel, self.launches = kernel, []

    def __getitem__(self, grid):
        return lambda *a, **kw: self.launches.append((a, kw))


def _recording(fn):
    """Run ``fn()`` on CPU tensors with every selective-scan kernel replaced by a
    recorder; returns {kernel name: [(args, kwargs), ...]}."""
    import os

    if os.environ.get("TRITON_INTERPRET", "0") == "1":
        raise SystemExit("--sass compiles real kernels: unset TRITON_INTERPRET")
    names = ("_selective_scan_fwd_kernel", "_selective_scan_bwd_kernel",
             "_selective_scan_bwd_prep_kernel", "_pack_time_major_kernel")  # fmt: skip
    saved = {n: getattr(tss, n) for n in names} | {
        "_check_device": tss._check_device, "_num_sms": tss._num_sms}  # fmt: skip
    recs = {n: _Recorder(saved[n]) for n in names}
    try:
        for n in names:
            setattr(tss, n, recs[n])
        tss._check_device = lambda t: None
        tss._num_sms = lambda d: 132
        fn()
    finally:
        for n, v in saved.items():
            setattr(tss, n, v)
    return {n: (r.kernel, r.launches) for n, r in recs.items()}


def sass_report(shape=(8, 1536, 2048, 16), variants=None):
    """Registers, spills and inner-loop SASS counts of the forward variants, for sm_90.

    Needs no GPU: the wrapper runs on CPU tensors with the kernel launch replaced by a
    recorder, and the recorded launch is compiled with Triton's own argument
    specialisation for ``GPUTarget("cuda", 90, 32)``; ``cuobjdump`` (shipped with
    Triton) gives the registers and the SASS. The inner loop is the longest backward
    branch; its instructions per element divide by the T * NG = 16 (step, state) pairs
    each thread handles per chunk.
    """
    variants = variants or list(tss.FWD_VARIANTS)
    rows = []
    batch, dim, L, N = shape
    small = (batch, min(dim, 64), min(L, 64), N)  # the compiled code does not depend on sizes
    for dtype in (torch.bfloat16, torch.float32):
        t = _cpu_inputs(small, dtype)
        for v in variants:
            cfg = tss.SelectiveScanConfig(fwd_variant=v)

            def run(cfg=cfg, t=t):
                with torch.no_grad():
                    tss.selective_scan_triton(*_args(t), config=cfg)

            kernel, launches = _recording(run)["_selective_scan_fwd_kernel"]
            stats = _sass_stats(_sm90_compile(kernel, *launches[-1]), 16)
            row = {"variant": v, "dtype": str(dtype).split(".")[-1], **stats}
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def config_sass_report(specs=None, shapes=((512, 128, 512, 16), (64, 256, 336, 64)),
                       variants=("v4", "v5")):  # fmt: skip
    """sm_90 SASS counts of the launch-config specs (``config_rows``), no GPU needed.

    Forward specs compile the main forward pass (with saved states, as in training)
    once per forward variant in ``variants`` (at N = 16; the N = 64 shapes use the
    automatic variant, v5); backward specs compile the backward. The inner loop is the
    longest backward branch: the forward's chunk loop, the backward's phase-2 chunk loop
    (four replayed steps and four adjoint steps); per element = per (step, state) pair,
    i.e. divided by T * NG = 4 * N / G.
    """
    rows = []
    for shape in shapes:
        _, dim, L, N = shape
        small = (2, min(dim, 64), min(L, 64), N)  # the compiled code does not depend on sizes
        block_n = max(triton.next_power_of_2(N), 2)
        for spec in specs or CONFIG_CANDIDATES[block_n]:
            for dtype in (torch.bfloat16, torch.float32):
                got = config_from_spec(shape, spec, dtype)
                if got is None:
                    continue
                kind, cfg = got
                for v in (variants if kind == "fwd" and block_n <= 16 else (None,)):
                    c = cfg if v is None else tss.SelectiveScanConfig(
                        **{**cfg.__dict__, "fwd_variant": v})  # fmt: skip
                    t = _cpu_inputs(small, dtype, requires_grad=True)

                    def run(c=c, t=t, kind=kind):
                        out = tss.selective_scan_triton(*_args(t), config=c)
                        if kind == "bwd":
                            out.backward(torch.ones_like(out))

                    name = f"_selective_scan_{kind}_kernel"
                    kernel, launches = _recording(run)[name]
                    group = cfg.group if kind == "fwd" else cfg.bwd_group
                    elems = 4 * block_n // group
                    stats = _sass_stats(_sm90_compile(kernel, *launches[-1]), elems)
                    row = {"N": N, "spec": spec, "kernel": kind, "variant": v or "auto",
                           "dtype": str(dtype).split(".")[-1], "group": group,
                           "states_per_thread": block_n // group, **stats}  # fmt: skip
                    rows.append(row)
                    print(json.dumps(row), flush=True)
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
    p.add_argument(
        "--configs",
        default=None,
        help="'auto' (CONFIG_CANDIDATES per N) or comma-separated launch-config specs "
        "(f<G>[@variant] forward, b<G> backward threads per channel): time them at the "
        "anchor shapes (or --shapes), interleaved, forward and backward separately",
    )
    p.add_argument("--shapes", default=None, help="with --configs: e.g. 512x128x512x16,...")
    p.add_argument("--dtypes", default="bfloat16,float32", help="with --configs")
    p.add_argument("--out", default=None, help="directory for the JSON (a file name is chosen)")
    p.add_argument(
        "--sass",
        action="store_true",
        help="no GPU needed: compile the forward variants for sm_90 and count their SASS",
    )
    args = p.parse_args(argv)
    specs = None if args.configs in (None, "auto") else args.configs.split(",")
    shapes = parse_shapes(args.shapes) if args.shapes else ANCHORS
    if args.sass:
        if args.configs:
            sass_shapes = list({s[3]: s for s in shapes[::-1]}.values())[::-1]  # one per N
            result = {"config_sass_sm90": config_sass_report(specs, sass_shapes)}
        else:
            result = {"sass_sm90": sass_report()}
        result["triton"] = triton.__version__
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
    if args.configs:
        dtypes = [getattr(torch, d) for d in args.dtypes.split(",")]
        result["configs"] = config_rows(specs, bw, shapes, dtypes)
    elif args.fwd_variants:
        names = args.fwd_variants.split(",")
        if names == ["all"]:
            names = list(tss.FWD_VARIANTS)
        result["fwd_variants"] = fwd_variant_rows(names, bw)
    elif args.only in (None, "selective"):
        result["selective_scan"] = selective_rows(args, bw)
    if args.only in (None, "linear") and not args.configs:
        result["linear_scan"] = linear_rows(bw)
    if args.only in (None, "s4d") and not args.configs:
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
        tag = "configs" if args.configs else "fwd_variants" if args.fwd_variants else (
            args.only or "all"
        )
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
    if result.get("configs"):
        print_config_rows(result["configs"])
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
