"""One forward and one backward of the Triton selective scan, as a target for ncu.

ncu -k regex:selective_scan python3 benchmarks/ncu_target.py 8 1536 2048 16 float32
"""

from __future__ import annotations

import sys

import torch

from tsssm.ops.triton.selective_scan import selective_scan_triton


def main(argv):
    batch, dim, L, N = (int(a) for a in argv[:4])
    dtype = getattr(torch, argv[4]) if len(argv) > 4 else torch.float32
    g = torch.Generator(device="cuda").manual_seed(0)
    u, z = (torch.randn(batch, dim, L, generator=g, device="cuda").to(dtype) for _ in range(2))
    delta = (torch.randn(batch, dim, L, generator=g, device="cuda") * 0.5 - 1).to(dtype)
    A = -torch.rand(dim, N, generator=g, device="cuda") * 4 - 0.25
    B, C = (torch.randn(batch, N, L, generator=g, device="cuda").to(dtype) for _ in range(2))
    D, bias = torch.randn(dim, device="cuda"), torch.zeros(dim, device="cuda")
    ins = [t.requires_grad_() for t in (u, delta, A, B, C, D, z, bias)]
    for _ in range(2):  # the first pass compiles
        out = selective_scan_triton(*ins, True, False)
        torch.autograd.grad(out, ins, torch.randn_like(out))
    torch.cuda.synchronize()


if __name__ == "__main__":
    main(sys.argv[1:])
