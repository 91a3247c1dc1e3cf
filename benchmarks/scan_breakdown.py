"""Where the selective scan's GPU time goes: every kernel of one forward and one backward.

Run on a CUDA machine from the repository root::

    PYTHONPATH=. python3 benchmarks/scan_breakdown.py --shape 512x128x512x16 --dtype bfloat16

The forward runs as in ``benchmarks/kernels.py`` (inputs that require gradients, under
``no_grad``, so it saves its chunk states); the backward computes the gradients of every
input. ``torch.profiler`` records the CUDA kernels of ``--repeats`` calls of each; the
table lists each kernel's launches per call and mean time, next to the ``do_bench``
median of the whole call, so launch gaps and helper kernels show up as the difference.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, "benchmarks")
from kernels import _args, _backward, _graph, _median_ms, make_inputs

from tsssm.ops.triton import selective_scan as tss


def kernel_times(call, repeats: int) -> dict[str, tuple[float, float]]:
    """{kernel name: (launches per call, mean us per launch)} over ``repeats`` calls."""
    call()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(repeats):
            call()
        torch.cuda.synchronize()
    total, count = defaultdict(float), defaultdict(int)
    for ev in prof.events():
        if ev.device_type == torch.autograd.DeviceType.CUDA:
            total[ev.name] += ev.device_time
            count[ev.name] += 1
    return {k: (count[k] / repeats, total[k] / count[k]) for k in total}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", default="512x128x512x16", help="BxDxLxN")
    p.add_argument("--dtype", default="bfloat16", choices=("float32", "float16", "bfloat16"))
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    batch, dim, L, N = (int(v) for v in a.shape.split("x"))
    dtype = getattr(torch, a.dtype)
    t = make_inputs(batch, dim, L, N, dtype, 1, True)

    def fwd(_=None):
        with torch.no_grad():
            return tss.selective_scan_triton(*_args(t))

    graph = _graph(tss.selective_scan_triton, t)
    rows = {"shape": a.shape, "dtype": a.dtype, "card": torch.cuda.get_device_name()}
    for name, call in (("forward", fwd), ("backward", lambda _=None: _backward(graph))):
        kernels = kernel_times(call, a.repeats)
        ms = _median_ms([None], call)
        rows[name] = {"do_bench_ms": ms, "kernels": kernels}
        print(f"{name}: do_bench median {ms * 1e3:.1f} us; kernels (launches/call, mean us):")
        for k, (n, us) in sorted(kernels.items(), key=lambda kv: -kv[1][0] * kv[1][1]):
            print(f"  {n:4.1f} x {us:8.1f}  {k[:90]}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
