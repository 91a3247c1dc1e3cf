"""Sequence backbones built from one kind of SSM layer, and the ``make_backbone`` factory.

Every backbone maps (B, L, d_input) to (B, L, d_model) causally: an input projection,
``n_layers`` pre-norm residual blocks, and a final norm. Each also steps one
observation at a time (``allocate_state`` then ``step``), reproducing ``forward``.
"""

from __future__ import annotations

from typing import Any

import torch

from tsssm._validation import check_option
from tsssm.nn.base import Backbone
from tsssm.nn.blocks import ResidualBlock
from tsssm.nn.hybrid import HybridBackbone
from tsssm.nn.mamba import MambaBlock
from tsssm.nn.s4 import S4DLayer
from tsssm.nn.s5 import S5Layer

__all__ = [
    "BACKBONES",
    "Backbone",
    "HybridBackbone",
    "MambaBackbone",
    "S4Backbone",
    "S5Backbone",
    "make_backbone",
]

class S4Backbone(Backbone):
    """Stack of S4D layers (:class:`~tsssm.nn.S4DLayer`) in pre-norm residual blocks.

    Parameters
    ----------
    d_input : int
        Input channels.
    d_model : int, default=64
        Width of the residual stream.
    n_layers : int, default=4
        Number of residual blocks.
    d_state : int, default=64
        Real state size N per channel (even).
    dropout : float, default=0.0
        Dropout on every block's output, in training mode only.
    norm : {"rmsnorm", "layernorm"}, default="rmsnorm"
        Normalisation before each block and at the end.
    init : {"lin", "inv"}, default="lin"
        Initialisation of the S4D eigenvalues.
    dt_min, dt_max : float, default=1e-3, 1e-1
        Range of the log-uniform step initialisation.
    device, dtype : optional
        Where and in what floating type the parameters are created.

    Shapes
    ------
    forward : x (B, L, d_input) -> (B, L, d_model), FFT convolutions
    step : x_t (B, d_input) -> (B, d_model), recurrences

    Examples
    --------
    >>> import torch
    >>> from tsssm.nn import S4Backbone
    >>> net = S4Backbone(d_input=3, d_model=8, n_layers=2, d_state=4)
    >>> x = torch.randn(2, 10, 3)  # (B, L, d_input)
    >>> net(x).shape
    torch.Size([2, 10, 8])
    """

    def __init__(
        self,
        d_input: int,
        d_model: int = 64,
        n_layers: int = 4,
        d_state: int = 64,
        dropout: float = 0.0,
        norm: str = "rmsnorm",
        init: str = "lin",
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(d_input, d_model, n_layers, dropout, norm, owner="S4Backbone",
                         device=device, dtype=dtype)
        kw = {"device": device, "dtype": dtype}
        for _ in range(self.n_layers):
            layer = S4DLayer(d_model, d_state, init, dt_min, dt_max, **kw)
            self.layers.append(ResidualBlock(layer, d_model, norm, dropout, **kw))


class S5Backbone(Backbone):
    """Stack of S5 layers (:class:`~tsssm.nn.S5Layer`) in pre-norm residual blocks.

    Parameters
    ----------
    d_input : int
        Input channels.
    d_model : int, default=64
        Width of the residual stream.
    n_layers : int, default=4
        Number of residual blocks.
    d_state : int, default=64
        State size P of each layer (even).
    dropout : float, default=0.0
        Dropout on every block's output, in training mode only.
    norm : {"rmsnorm", "layernorm"}, default="rmsnorm"
        Normalisation before each block and at the end.
    blocks : int, default=1
        Diagonal blocks of the HiPPO-N initialisation.
    discretization : {"zoh", "bilinear"}, default="zoh"
        Discretisation rule.
    dt_min, dt_max : float, default=1e-3, 1e-1
        Range of the log-uniform step initialisation.
    backend : {"auto", "torch", "triton"}, default="auto"
        Backend of :func:`tsssm.ops.linear_scan`.
    device, dtype : optional
        Where and in what floating type the parameters are created.

    Shapes
    ------
    forward : x (B, L, d_input) -> (B, L, d_model), parallel scans
    step : x_t (B, d_input) -> (B, d_model), recurrences

    Examples
    --------
    >>> import torch
    >>> from tsssm.nn import S5Backbone
    >>> net = S5Backbone(d_input=3, d_model=8, n_layers=2, d_state=4, backend="torch")
    >>> x = torch.randn(2, 10, 3)  # (B, L, d_input)
    >>> net(x).shape
    torch.Size([2, 10, 8])
    """

    def __init__(
        self,
        d_input: int,
        d_model: int = 64,
        n_layers: int = 4,
        d_state: int = 64,
        dropout: float = 0.0,
        norm: str = "rmsnorm",
        blocks: int = 1,
        discretization: str = "zoh",
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        backend: str = "auto",
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(d_input, d_model, n_layers, dropout, norm, owner="S5Backbone",
                         device=device, dtype=dtype)
        kw = {"device": device, "dtype": dtype}
        for _ in range(self.n_layers):
            layer = S5Layer(d_model, d_state, blocks, discretization, dt_min, dt_max,
                            backend, **kw)
            self.layers.append(ResidualBlock(layer, d_model, norm, dropout, **kw))


class MambaBackbone(Backbone):
    """Stack of Mamba blocks (:class:`~tsssm.nn.MambaBlock`) in pre-norm residual blocks.

    Parameters
    ----------
    d_input : int
        Input channels.
    d_model : int, default=64
        Width of the residual stream.
    n_layers : int, default=4
        Number of residual blocks.
    d_state : int, default=16
        State size N per inner channel.
    dropout : float, default=0.0
        Dropout on every block's output, in training mode only.
    norm : {"rmsnorm", "layernorm"}, default="rmsnorm"
        Normalisation before each block and at the end.
    d_conv : int, default=4
        Width of the causal depthwise convolution.
    expand : int, default=2
        Inner width as a multiple of d_model.
    dt_rank : int or "auto", default="auto"
        Rank of the step projection.
    backend : {"auto", "torch", "triton"}, default="auto"
        Backend of :func:`tsssm.ops.selective_scan`.
    device, dtype : optional
        Where and in what floating type the parameters are created.

    Shapes
    ------
    forward : x (B, L, d_input) -> (B, L, d_model), selective scans
    step : x_t (B, d_input) -> (B, d_model), recurrences

    Examples
    --------
    >>> import torch
    >>> from tsssm.nn import MambaBackbone
    >>> net = MambaBackbone(d_input=3, d_model=8, n_layers=2, d_state=4, backend="torch")
    >>> x = torch.randn(2, 10, 3)  # (B, L, d_input)
    >>> net(x).shape
    torch.Size([2, 10, 8])
    >>> state = net.allocate_state(batch_size=2)
    >>> y_t, state = net.step(x[:, 0], state)  # one step of the recurrence
    >>> y_t.shape
    torch.Size([2, 8])
    """

    def __init__(
        self,
        d_input: int,
        d_model: int = 64,
        n_layers: int = 4,
        d_state: int = 16,
        dropout: float = 0.0,
        norm: str = "rmsnorm",
        d_conv: int = 4,
        expand: int = 2,
        dt_rank: int | str = "auto",
        backend: str = "auto",
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(d_input, d_model, n_layers, dropout, norm, owner="MambaBackbone",
                         device=device, dtype=dtype)
        kw = {"device": device, "dtype": dtype}
        for _ in range(self.n_layers):
            layer = MambaBlock(d_model, d_state, d_conv, expand, dt_rank, backend=backend, **kw)
            self.layers.append(ResidualBlock(layer, d_model, norm, dropout, **kw))


#: Backbone names accepted by :func:`make_backbone`, and their classes.
BACKBONES: dict[str, type[Backbone]] = {
    "s4": S4Backbone,
    "s5": S5Backbone,
    "mamba": MambaBackbone,
    "hybrid": HybridBackbone,
}


def make_backbone(name: str, **kwargs: Any) -> Backbone:
    """Build the backbone called ``name`` with the given constructor arguments.

    Parameters
    ----------
    name : {"s4", "s5", "mamba", "hybrid"}
        Which backbone.
    **kwargs
        Passed to the backbone's constructor (``d_input`` is required); an argument
        the backbone does not take raises ``TypeError``.

    Returns
    -------
    Backbone
        A :class:`S4Backbone`, :class:`S5Backbone`, :class:`MambaBackbone` or
        :class:`HybridBackbone`.

    Examples
    --------
    >>> net = make_backbone("s4", d_input=3, d_model=16, n_layers=2, d_state=8)
    >>> type(net).__name__
    'S4Backbone'
    """
    check_option(name, "name", tuple(BACKBONES), owner="make_backbone")
    return BACKBONES[name](**kwargs)
