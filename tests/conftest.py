"""Shared pytest setup for the whole suite.

Without a CUDA device the Triton kernels run in Triton's CPU interpreter. The interpreter
is chosen when a kernel is defined, so ``TRITON_INTERPRET`` must be set before anything
imports ``triton``: that is why it is set here, at the top, before other imports.
"""

from __future__ import annotations

import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
