"""One package-wide convention for parameters that must not be weight-decayed.

State-space parameters (log-steps, eigenvalues, skip terms) sit at values chosen by
their initialisation; weight decay would pull them towards zero, which for ``log_dt``
means a step of 1 and for ``A_log`` an eigenvalue of -1, destroying the memory the
initialisation gave the layer. Layers therefore mark such parameters with
:func:`no_weight_decay`, and the training code builds its optimiser groups with
:func:`param_groups`.

The mark is kept by the module that owns the parameter (a set of parameter names in
the attribute ``_no_weight_decay``), not on the tensor: tensor attributes are lost by
``copy.deepcopy`` of a ``Parameter``, module attributes survive ``deepcopy``, pickling
and ``Module.to``.
"""

from __future__ import annotations

from collections.abc import Iterator

from torch import nn

from tsssm._validation import check_real
from tsssm.exceptions import ParameterError

__all__ = ["NO_WEIGHT_DECAY_ATTR", "no_weight_decay", "no_weight_decay_names", "param_groups"]

#: Module attribute holding the names of its own parameters exempt from weight decay.
NO_WEIGHT_DECAY_ATTR = "_no_weight_decay"


def no_weight_decay(module: nn.Module, *names: str) -> None:
    """Mark parameters of ``module`` (by attribute name) as exempt from weight decay.

    Parameters
    ----------
    module : torch.nn.Module
        The module that directly owns the parameters.
    *names : str
        Their attribute names, e.g. ``no_weight_decay(self, "A_log", "D")``.

    Examples
    --------
    >>> import torch
    >>> from tsssm.nn import no_weight_decay, no_weight_decay_names
    >>> lin = torch.nn.Linear(2, 3)
    >>> no_weight_decay(lin, "weight")
    >>> no_weight_decay_names(lin)
    ['weight', 'bias']
    """
    own = dict(module.named_parameters(recurse=False))
    unknown = [n for n in names if n not in own]
    if unknown:
        raise ParameterError(
            f"no_weight_decay: {type(module).__name__} has no parameter named "
            f"{', '.join(map(repr, unknown))}. Its parameters are {sorted(own)}."
        )
    marked = set(getattr(module, NO_WEIGHT_DECAY_ATTR, ()))
    setattr(module, NO_WEIGHT_DECAY_ATTR, marked | set(names))


def no_weight_decay_names(module: nn.Module) -> list[str]:
    """Dotted names of the parameters of ``module`` that get no weight decay.

    A parameter is exempt when its owner marked it with :func:`no_weight_decay`, or when
    it has fewer than two dimensions (biases and normalisation gains: decaying them only
    shrinks offsets and scales, it does not regularise a mapping).

    Returns
    -------
    list of str
        Dotted names, in the order of ``module.named_modules()``.

    Examples
    --------
    >>> import torch
    >>> from tsssm.nn import no_weight_decay_names
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.LayerNorm(3))
    >>> no_weight_decay_names(net)  # biases and gains; the weight matrix decays
    ['0.bias', '1.weight', '1.bias']
    """
    return [name for name, _ in _exempt(module)]


def _exempt(module: nn.Module) -> Iterator[tuple[str, nn.Parameter]]:
    for prefix, mod in module.named_modules():
        marked = getattr(mod, NO_WEIGHT_DECAY_ATTR, ())
        for name, p in mod.named_parameters(recurse=False):
            if name in marked or p.ndim < 2:
                yield (f"{prefix}.{name}" if prefix else name), p


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
        ordinary weights and one with ``0.0`` for those :func:`no_weight_decay_names`
        lists. Empty groups are left out; parameters with ``requires_grad=False`` are
        skipped; a shared parameter appears once.

    Examples
    --------
    >>> from torch import nn
    >>> groups = param_groups(nn.Linear(3, 2), weight_decay=0.01)
    >>> [(len(g["params"]), g["weight_decay"]) for g in groups]
    [(1, 0.01), (1, 0.0)]
    """
    weight_decay = check_real(weight_decay, "weight_decay", owner="param_groups", min_value=0.0)
    exempt_ids = {id(p) for _, p in _exempt(module)}
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for p in module.parameters():  # a shared parameter comes once
        if p.requires_grad:
            (no_decay if id(p) in exempt_ids else decay).append(p)
    groups = []
    if decay:
        groups.append({"params": decay, "weight_decay": weight_decay})
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups
