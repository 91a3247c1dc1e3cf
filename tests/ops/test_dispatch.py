"""resolve_backend and the ops' hand-off to Triton kernels (faked: this machine has no GPU)."""

from __future__ import annotations

import sys
import types

import pytest
import torch

from tsssm.exceptions import ParameterError
from tsssm.ops import _dispatch, linear_scan, resolve_backend, selective_scan

FAKE_CUDA = types.SimpleNamespace(is_cuda=True, device="cuda:0")


@pytest.fixture
def no_interpret(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)


@pytest.fixture
def triton_importable(monkeypatch):
    monkeypatch.setattr(_dispatch, "_import_triton", lambda: None)


@pytest.fixture
def fake_kernels(monkeypatch):
    """Fake kernel modules that record their calls (replacing any real ones)."""
    calls = {}
    sel = types.ModuleType("tsssm.ops.triton.selective_scan")
    sel.selective_scan_triton = lambda *args: calls.setdefault("selective_scan", args)
    lin = types.ModuleType("tsssm.ops.triton.linear_scan")
    lin.linear_scan_triton = lambda *args: calls.setdefault("linear_scan", args)
    monkeypatch.setitem(sys.modules, "tsssm.ops.triton.selective_scan", sel)
    monkeypatch.setitem(sys.modules, "tsssm.ops.triton.linear_scan", lin)
    return calls


def test_unknown_backend_is_a_parameter_error():
    for bad in ("cuda", "Triton", None, 1):
        with pytest.raises(ParameterError, match="'backend' parameter must be one of"):
            resolve_backend(bad, torch.zeros(1))


def test_auto_and_torch_on_cpu_pick_torch(monkeypatch, fake_kernels, triton_importable):
    monkeypatch.setenv("TRITON_INTERPRET", "1")  # "auto" ignores the interpreter
    assert resolve_backend("auto", torch.zeros(1), None, op="selective_scan") == "torch"
    assert resolve_backend("torch", torch.zeros(1)) == "torch"


def test_auto_picks_triton_only_when_everything_is_cuda(fake_kernels, triton_importable):
    assert resolve_backend("auto", FAKE_CUDA, None, FAKE_CUDA, op="linear_scan") == "triton"
    assert resolve_backend("auto", FAKE_CUDA, torch.zeros(1), op="linear_scan") == "torch"
    # A kernel module that does not import makes "auto" fall back, not fail.
    assert resolve_backend("auto", FAKE_CUDA, op="no_such_kernel") == "torch"


def test_auto_keeps_dtypes_a_kernel_does_not_declare_on_the_reference(
    monkeypatch, fake_kernels, triton_importable
):
    kernel = sys.modules["tsssm.ops.triton.selective_scan"]
    monkeypatch.setattr(kernel, "SUPPORTED_DTYPES", (torch.float32,), raising=False)
    cuda32 = types.SimpleNamespace(is_cuda=True, device="cuda:0", dtype=torch.float32)
    cuda64 = types.SimpleNamespace(is_cuda=True, device="cuda:0", dtype=torch.float64)
    assert resolve_backend("auto", cuda32, cuda32, op="selective_scan") == "triton"
    assert resolve_backend("auto", cuda32, cuda64, op="selective_scan") == "torch"


def test_auto_falls_back_when_triton_is_missing(monkeypatch, fake_kernels):
    monkeypatch.setattr(_dispatch, "_import_triton", lambda: ImportError("no triton"))
    assert resolve_backend("auto", FAKE_CUDA, op="selective_scan") == "torch"
    with pytest.raises(RuntimeError, match="needs the 'triton' package"):
        resolve_backend("triton", FAKE_CUDA, op="selective_scan")
    # The ops themselves still run (on the reference) without triton.
    out = linear_scan(torch.full((3,), 0.5), torch.ones(3))
    torch.testing.assert_close(out, torch.tensor([1.0, 1.5, 1.75]))


def test_explicit_triton_explains_what_is_missing(no_interpret, fake_kernels, triton_importable):
    with pytest.raises(RuntimeError, match=r"CUDA tensors only; got tensors on \['cpu'\]"):
        resolve_backend("triton", torch.zeros(1), op="selective_scan")
    with pytest.raises(RuntimeError, match="no_such_kernel failed to import"):
        resolve_backend("triton", FAKE_CUDA, op="no_such_kernel")
    with pytest.raises(RuntimeError, match="CUDA tensors only"):
        linear_scan(torch.zeros(3), torch.zeros(3), backend="triton")


def test_interpreter_allows_triton_on_cpu(monkeypatch, fake_kernels, triton_importable):
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert resolve_backend("triton", torch.zeros(1), op="selective_scan") == "triton"


def test_ops_hand_their_arguments_to_the_kernels(monkeypatch, fake_kernels, triton_importable):
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    u = torch.zeros(1, 2, 5)
    A, B, D = torch.zeros(2, 3), torch.zeros(1, 3, 5), torch.zeros(2)
    selective_scan(u, u, A, B, B, D, None, D, True, True, backend="triton")
    assert fake_kernels["selective_scan"] == (u, u, A, B, B, D, None, D, True, True)
    a, b, h0 = torch.zeros(4, 6), torch.zeros(4, 6), torch.zeros(4)
    linear_scan(a, b, h0, True, backend="triton")
    assert fake_kernels["linear_scan"] == (a, b, h0, True)


def test_initial_state_keeps_selective_scan_on_the_reference(
    monkeypatch, fake_kernels, triton_importable
):
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    u = torch.zeros(1, 2, 5)
    A, B, h0 = torch.zeros(2, 3), torch.zeros(1, 3, 5), torch.ones(1, 2, 3)
    with pytest.raises(RuntimeError, match="does not take initial_state"):
        selective_scan(u, u, A, B, B, backend="triton", initial_state=h0)
    _, last = selective_scan(u, u, A, B, B, return_last_state=True, initial_state=h0)
    assert "selective_scan" not in fake_kernels
    torch.testing.assert_close(last, h0)  # delta = 0: the state passes through
