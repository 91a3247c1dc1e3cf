"""The B/C pack kernel against a torch route (``zeros`` + two ``copy_``): CPU cost per
call, and the selective scan's forward and backward with each (KERNEL_NOTES, v9).

Run on a CUDA machine from the repository root::

    PYTHONPATH=. python3 benchmarks/pack_route.py

Per shape (bf16, 16-bit rows) and route: the CPU time of one pack call (200 calls, no
synchronisation inside), the ``do_bench`` medians of the forward (inputs that require
gradients, under ``no_grad``) and of the backward, and the CPU time of one forward call
(50 calls enqueued back to back).
"""

import sys
import time

import torch

sys.path.insert(0, "benchmarks")
from kernels import _args, _backward, _graph, _median_ms, make_inputs

from tsssm.ops.triton import selective_scan as tss

SHAPES = ((512, 128, 168, 16), (512, 128, 512, 16), (64, 256, 96, 16))


def torch_pack(B, C, Lp, block_n, dtype):
    """The same rows as ``tss._pack_time_major`` from three torch calls."""
    batch, N, L = B.shape
    out = torch.zeros((2, batch, Lp, block_n), dtype=dtype, device=B.device)
    out[0, :, :L, :N].copy_(B.transpose(1, 2))
    out[1, :, :L, :N].copy_(C.transpose(1, 2))
    return out


def cpu_us(call, repeats):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(repeats):
        call()
    us = (time.perf_counter() - t0) / repeats * 1e6
    torch.cuda.synchronize()
    return us


def measure(shape, pack):
    t = make_inputs(*shape, torch.bfloat16, 1, True)
    B, C = t["B"].detach(), t["C"].detach()
    Lp = shape[2] + 8
    for _ in range(20):
        pack(B, C, Lp, 16, torch.bfloat16)
    pack_cpu = cpu_us(lambda: pack(B, C, Lp, 16, torch.bfloat16), 200)

    def fwd(_=None):
        with torch.no_grad():
            return tss.selective_scan_triton(*_args(t))

    fwd_ms = _median_ms([None], fwd)
    graph = _graph(tss.selective_scan_triton, t)
    bwd_ms = _median_ms([None], lambda _=None: _backward(graph))
    return pack_cpu, fwd_ms, bwd_ms, cpu_us(fwd, 50)


def main():
    triton_pack = tss._pack_time_major
    try:
        for shape in SHAPES:
            for name, pack in (("triton", triton_pack), ("torch", torch_pack)):
                tss._pack_time_major = pack  # the forward and the backward both use it
                pack_cpu, f, b, fwd_cpu = measure(shape, pack)
                print(f"{shape} {name}: pack CPU {pack_cpu:.1f} us/call; fwd {f * 1e3:.1f} us "
                      f"bwd {b * 1e3:.1f} us; fwd call CPU {fwd_cpu:.1f} us", flush=True)
    finally:
        tss._pack_time_major = triton_pack


if __name__ == "__main__":
    main()
