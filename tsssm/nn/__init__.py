"""``torch.nn`` layers and backbones built on :mod:`tsssm.ops`.

Sequences are (batch, length, channels) at every module boundary. Every sequence layer
and backbone has ``forward`` over whole sequences and, for streaming, ``allocate_state``
and ``step`` that reproduce ``forward`` one position at a time.
"""

from tsssm.nn.attention import CausalSelfAttention
from tsssm.nn.backbones import (
    BACKBONES,
    Backbone,
    HybridBackbone,
    MambaBackbone,
    S4Backbone,
    S5Backbone,
    make_backbone,
)
from tsssm.nn.blocks import MLP, GLUOutput, ResidualBlock
from tsssm.nn.heads import LinearHead, QuantileHead
from tsssm.nn.mamba import MambaBlock
from tsssm.nn.moe import MoE
from tsssm.nn.norm import RMSNorm, make_norm
from tsssm.nn.params import no_weight_decay, no_weight_decay_names, param_groups
from tsssm.nn.revin import RevIN
from tsssm.nn.s4 import S4DKernel, S4DLayer, S4Layer
from tsssm.nn.s5 import S5Layer

__all__ = [
    "BACKBONES",
    "MLP",
    "Backbone",
    "CausalSelfAttention",
    "GLUOutput",
    "HybridBackbone",
    "LinearHead",
    "MambaBackbone",
    "MambaBlock",
    "MoE",
    "QuantileHead",
    "RMSNorm",
    "ResidualBlock",
    "RevIN",
    "S4Backbone",
    "S4DKernel",
    "S4DLayer",
    "S4Layer",
    "S5Backbone",
    "S5Layer",
    "make_backbone",
    "make_norm",
    "no_weight_decay",
    "no_weight_decay_names",
    "param_groups",
]
