"""Helpers shared by the tsssm.nn tests."""

from __future__ import annotations

import torch

#: Tolerances for comparing two computations of the same quantity, by dtype.
TOL = {
    torch.float64: {"rtol": 1e-9, "atol": 1e-10},
    torch.float32: {"rtol": 1e-4, "atol": 2e-5},
}


def run_steps(module: torch.nn.Module, x: torch.Tensor, **alloc) -> torch.Tensor:
    """Feed x (B, L, D) through ``module.step`` one position at a time -> (B, L, D')."""
    state = module.allocate_state(x.shape[0], **alloc)
    ys = []
    for t in range(x.shape[1]):
        y_t, state = module.step(x[:, t], state)
        ys.append(y_t)
    return torch.stack(ys, dim=1)


def assert_all_grads(module: torch.nn.Module) -> None:
    """Every trainable parameter received a finite gradient."""
    missing = [n for n, p in module.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"no gradient for {missing}"
    bad = [n for n, p in module.named_parameters() if not torch.isfinite(p.grad).all()]
    assert not bad, f"non-finite gradient for {bad}"
