"""CPU benchmark of the PyTorch selective scan (tsssm.ops.selective_scan_ref).

Compares the chunked reference against per-step Python loops, forward and forward plus
backward, and measures the peak memory of forward plus backward on a long sequence. It
also times ``torch.exp`` (and ``torch.exp2``) alone over a (batch, dim, L, N) tensor: the
floor for any forward that evaluates every decay exp(delta A), and so the best speed-up
over the per-step loop such a forward can reach.

    .venv/bin/python benchmarks/cpu_scan.py              # the table for docs/benchmarks.md
    .venv/bin/python benchmarks/cpu_scan.py --tune       # sweep the chunk/segment sizes
    .venv/bin/python benchmarks/cpu_scan.py --json out.json

Timings are the minimum over ``--repeats`` runs (the machine may be shared; the minimum
is the least disturbed run). Memory is the peak resident set size (``ru_maxrss``) of a
fresh subprocess minus its resident size just before the forward pass, i.e. everything
forward plus backward allocated on top of the inputs.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import resource
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from tsssm.ops import selective_scan_ref


def make_inputs(batch, dim, L, N, seed=0, requires_grad=False):
    g = torch.Generator().manual_seed(seed)
    tensors = {
        "u": torch.randn(batch, dim, L, generator=g),
        "delta": torch.randn(batch, dim, L, generator=g) * 0.5 - 2.0,  # softplus -> ~0.1
        "A": -torch.rand(dim, N, generator=g) * 4 - 0.5,
        "B": torch.randn(batch, N, L, generator=g),
        "C": torch.randn(batch, N, L, generator=g),
        "D": torch.randn(dim, generator=g),
        "delta_bias": torch.zeros(dim),
    }
    if requires_grad:
        for t in tensors.values():
            t.requires_grad_()
    return tensors


def loop_mamba_style(u, delta, A, B, C, D, delta_bias):
    """Per-step loop in the style of common reference implementations.

    Precomputes exp(delta A) and delta B u for the whole sequence, then one Python
    iteration per time step with an einsum for the output.
    """
    delta = F.softplus(delta + delta_bias[:, None])
    dA = torch.exp(torch.einsum("bdl,dn->bdln", delta, A))  # (B, D, L, N)
    dBu = torch.einsum("bdl,bnl,bdl->bdln", delta, B, u)  # (B, D, L, N)
    h = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    ys = []
    for t in range(u.shape[2]):
        h = dA[:, :, t] * h + dBu[:, :, t]
        ys.append(torch.einsum("bdn,bn->bd", h, C[:, :, t]))
    return torch.stack(ys, dim=2) + D[:, None] * u


def loop_lean(u, delta, A, B, C, D, delta_bias):
    """A leaner per-step loop: everything for step t computed inside the iteration."""
    delta = F.softplus(delta + delta_bias[:, None])
    Bt, Ct = B.transpose(1, 2), C.transpose(1, 2)  # (B, L, N)
    h = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    ys = []
    for t in range(u.shape[2]):
        dt = delta[:, :, t, None]  # (B, D, 1)
        h = torch.exp(dt * A) * h + (dt * u[:, :, t, None]) * Bt[:, None, t]
        ys.append((h * Ct[:, None, t]).sum(-1))
    return torch.stack(ys, dim=2) + D[:, None] * u


def chunked(u, delta, A, B, C, D, delta_bias):
    return selective_scan_ref(u, delta, A, B, C, D=D, delta_bias=delta_bias,
                              delta_softplus=True)


def best_time(fn, repeats):
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def time_impl(impl, shape, repeats, backward):
    x = make_inputs(*shape, requires_grad=backward)

    def run():
        out = impl(**x)
        if backward:
            out.square().mean().backward()
            for t in x.values():
                t.grad = None

    with torch.set_grad_enabled(backward):
        return best_time(run, repeats)


def memory_child(shape):
    """Run in a subprocess: print the peak RSS growth (bytes) of forward + backward."""
    x = make_inputs(*shape, requires_grad=True)
    before = _rss_bytes()
    out = chunked(**x)
    out.square().mean().backward()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    inputs = sum(t.numel() * t.element_size() for t in x.values())
    print(json.dumps({"peak_increase_bytes": peak - before, "inputs_bytes": inputs}))


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure_memory(shape):
    cmd = [sys.executable, __file__, "--memory-child", ",".join(map(str, shape)),
           "--threads", str(torch.get_num_threads())]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def tune(shape, repeats):
    """Sweep the chunk and segment sizes of the sequential (large-slab) path."""
    ss = importlib.import_module("tsssm.ops.selective_scan")

    rows = []
    defaults = ss._CHUNK_ELEMENTS, ss._SEGMENT_ELEMENTS
    for chunk_el in (1 << 17, 1 << 18, 1 << 19, 1 << 20):
        for seg_el in (1 << 16, 1 << 18, 1 << 20):
            ss._CHUNK_ELEMENTS, ss._SEGMENT_ELEMENTS = chunk_el, seg_el
            block, chunk = ss._plan(*shape, None)
            seg = ss._segment_steps(chunk, shape[0], shape[1], shape[2])
            fwd = time_impl(chunked, shape, repeats, backward=False)
            fb = time_impl(chunked, shape, max(1, repeats // 2), backward=True)
            rows.append((chunk_el, seg_el, block, chunk, seg, fwd, fb))
            print(f"chunk elements 2^{chunk_el.bit_length() - 1:<3d}segment elements "
                  f"2^{seg_el.bit_length() - 1:<3d}block {block:4d} chunk {chunk:5d} "
                  f"segment {seg:5d} steps  fwd {fwd * 1e3:7.1f} ms  "
                  f"fwd+bwd {fb * 1e3:7.1f} ms", flush=True)
    ss._CHUNK_ELEMENTS, ss._SEGMENT_ELEMENTS = defaults  # the table uses the defaults
    return rows


def exp_floor(shape, repeats):
    """Seconds for torch.exp (and torch.exp2) alone over a (batch, dim, L, N) float32 tensor.

    Every forward that materialises the decays exp(delta A) per (batch, dim, step, state)
    element pays at least this; the arguments are the benchmark's own delta * A values
    and the output is preallocated, so nothing but the exponential is timed.
    """
    x = make_inputs(*shape)
    dt = F.softplus(x["delta"] + x["delta_bias"][:, None])
    arg = dt[:, :, :, None] * x["A"][None, :, None, :]  # (batch, dim, L, N)
    out = torch.empty_like(arg)
    with torch.no_grad():
        t_exp = best_time(lambda: torch.exp(arg, out=out), repeats)
        arg.mul_(1.4426950408889634)  # exp(x) = exp2(x * log2(e))
        t_exp2 = best_time(lambda: torch.exp2(arg, out=out), repeats)
    return {"exp_s": t_exp, "exp2_s": t_exp2, "elements": arg.numel()}


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", default="16,64,1024,16", help="batch,dim,L,N for the timings")
    p.add_argument("--mem-shape", default="32,128,4096,16", help="batch,dim,L,N for memory")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--tune", action="store_true", help="sweep chunk and segment sizes")
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--slow-baselines", action="store_true",
                   help="also time forward+backward of the precomputed/einsum loop (minutes: "
                        "autograd materialises a full-size gradient for every slice)")
    p.add_argument("--json", help="also write the results to this JSON file")
    p.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_child:
        memory_child(tuple(int(v) for v in args.memory_child.split(",")))
        return
    shape = tuple(int(v) for v in args.shape.split(","))
    mem_shape = tuple(int(v) for v in args.mem_shape.split(","))
    info = {
        "cpu": cpu_model(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
        "load_average_1min_at_start": os.getloadavg()[0],
        "shape_batch_dim_L_N": shape,
    }
    print(" ".join(f"{k}={v}" for k, v in info.items()), flush=True)
    if args.tune:
        info["tune"] = tune(shape, args.repeats)
    results = {}
    impls = {"chunked (selective_scan_ref)": chunked, "per-step loop, lean": loop_lean,
             "per-step loop, precomputed + einsum": loop_mamba_style}
    for name, impl in impls.items():
        reps = args.repeats if impl is chunked else max(1, args.repeats // 2)
        fwd = time_impl(impl, shape, reps, backward=False)
        fb = float("nan")
        if impl is not loop_mamba_style or args.slow_baselines:
            fb = time_impl(impl, shape, 1 if impl is loop_mamba_style else reps, backward=True)
        results[name] = {"forward_s": fwd, "forward_backward_s": fb}
        print(f"{name:38s} forward {fwd * 1e3:8.1f} ms   forward+backward {fb * 1e3:8.1f} ms",
              flush=True)
    base = results["chunked (selective_scan_ref)"]
    print("\nspeed-up of the chunked scan:")
    for name, r in results.items():
        if r is not base:
            print(f"  vs {name:36s} forward {r['forward_s'] / base['forward_s']:5.1f}x   "
                  f"forward+backward {r['forward_backward_s'] / base['forward_backward_s']:5.1f}x")
    info["timings"] = results
    floor = exp_floor(shape, args.repeats)
    lean = results["per-step loop, lean"]["forward_s"]
    floor.update({
        "chunked_forward_over_exp": base["forward_s"] / floor["exp_s"],
        "chunked_forward_over_exp2": base["forward_s"] / floor["exp2_s"],
        "lean_loop_forward_over_exp": lean / floor["exp_s"],
        "lean_loop_forward_over_exp2": lean / floor["exp2_s"],
    })
    info["exp_floor"] = floor
    print(f"\nexp floor: torch.exp over {floor['elements']:,} float32 elements "
          f"{floor['exp_s'] * 1e3:.1f} ms, torch.exp2 {floor['exp2_s'] * 1e3:.1f} ms "
          f"(the scan computes its decays with exp2)")
    print(f"  chunked forward / exp floor {floor['chunked_forward_over_exp']:.2f}x, "
          f"/ exp2 floor {floor['chunked_forward_over_exp2']:.2f}x")
    print(f"  best forward speed-up over the lean loop a forward that evaluates every "
          f"decay allows: {floor['lean_loop_forward_over_exp']:.1f}x (exp), "
          f"{floor['lean_loop_forward_over_exp2']:.1f}x (exp2)")
    if not args.skip_memory:
        mem = measure_memory(mem_shape)
        info["memory"] = dict(mem, shape_batch_dim_L_N=mem_shape)
        print(f"\nforward+backward at {mem_shape}: peak RSS increase "
              f"{mem['peak_increase_bytes'] / 2**20:.0f} MiB over the inputs' "
              f"{mem['inputs_bytes'] / 2**20:.0f} MiB")
    info["load_average_1min_at_end"] = os.getloadavg()[0]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(info, f, indent=2)


if __name__ == "__main__":
    main()
