"""One package-wide convention for parameters that must not be weight-decayed.

State-space parameters (log-steps, eigenvalues, skip terms) sit at values chosen by
their initialisation; weight decay would pull them towards zero, which for ``log_dt``
means a step of 1 and for ``A_log`` an eigenvalue of -1, destroying the memory the
initialisation gave the layer. Layers therefore mark such parameters with
:func:`no_weight_decay`, and the training code builds its optimiser groups with
:func:`param_groups`.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from tsssm._validation import check_real

__all__ = ["NO_WEIGHT_DECAY_ATTR", "is_no_weight_decay", "no_weight_decay", "param_groups"]

#: Attribute set to ``True`` on a parameter that must get no weight decay.
NO_WEIGHT_DECAY_ATTR = "_no_weight_decay"


def no_weight_decay(*params: nn.Parameter) -> None:
    """Mark parameters so that :func:`param_groups` exempts them from weight decay."""
    for p in params:
        setattr(p, NO_WEIGHT_DECAY_ATTR, True)


def is_no_weight_decay(param: torch.Tensor) -> bool:
    """Return whether ``param`` is exempt from weight decay.

    A parameter is exempt when it was marked with :func:`no_weight_decay`, or when it
    has fewer than two dimensions (biases and normalisation gains: decaying them only
    shrinks offsets and scales, it does not regularise a mapping).
    """
    return bool(getattr(param, NO_WEIGHT_DECAY_ATTR, False)) or param.ndim < 2


def param_groups(module: nn.Module, weight_decay: float) -> list[dict]:
    """Split the trainable parameters of ``module`` into optimiser groups.

    Parameters
    ----------
    module : torch.nn.Module
        The model whose parameters are grouped.
    weight_decay : float
        Weight decay applied to the decayed group (``>= 0``).

    Returns
    -------
    list of dict
        Groups ``{"params": [...], "weight_decay": float}`` ready for
        ``torch.optim.AdamW(groups, lr=...)``: one with ``weight_decay`` for the
        ordinary weights and one with ``0.0`` for the parameters that
        :func:`is_no_weight_decay` exempts. Empty groups are left out; parameters
        with ``requires_grad=False`` are skipped; shared parameters appear once.

    Examples
    --------
    >>> from torch import nn
    >>> groups = param_groups(nn.Linear(3, 2), weight_decay=0.01)
    >>> [(len(g["params"]), g["weight_decay"]) for g in groups]
    [(1, 0.01), (1, 0.0)]
    """
    weight_decay = check_real(weight_decay, "weight_decay", owner="param_groups", min_value=0.0)
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for p in _unique_trainable(module.parameters()):
        (no_decay if is_no_weight_decay(p) else decay).append(p)
    groups = []
    if decay:
        groups.append({"params": decay, "weight_decay": weight_decay})
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def _unique_trainable(params: Iterable[nn.Parameter]) -> list[nn.Parameter]:
    seen: set[int] = set()
    out = []
    for p in params:
        if p.requires_grad and id(p) not in seen:
            seen.add(id(p))
            out.append(p)
    return out
