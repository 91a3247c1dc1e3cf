import pytest
import torch

from tsssm.exceptions import ParameterError
from tsssm.nn import S5Layer
from tsssm.nn.s5 import hippo_legs, hippo_n_eig

from ._util import TOL, assert_all_grads, run_steps


def test_hippo_legs_by_hand():
    want = torch.tensor(
        [[-1.0, 0.0, 0.0],
         [-(3**0.5), -2.0, 0.0],
         [-(5**0.5), -(15**0.5), -3.0]],
        dtype=torch.float64,
    )
    torch.testing.assert_close(hippo_legs(3), want)


@pytest.mark.parametrize("P", [2, 8, 16])
def test_hippo_n_eigendecomposition(P):
    Lambda, V = hippo_n_eig(P)
    n = torch.arange(P, dtype=torch.float64)
    S = hippo_legs(P) + torch.sqrt(n + 0.5)[:, None] * torch.sqrt(n + 0.5)[None, :]
    recon = V @ torch.diag(Lambda) @ V.conj().T
    torch.testing.assert_close(recon, S.to(torch.complex128))
    torch.testing.assert_close(Lambda.real, torch.full((P,), -0.5, dtype=torch.float64))
    # eigenvalues come in conjugate pairs
    im = torch.sort(Lambda.imag).values
    torch.testing.assert_close(im, -im.flip(0))


def _reference(layer, x):
    """The SSM part of the layer in complex128, discretised by hand, one step at a time."""
    Lam = torch.complex(-torch.exp(layer.log_Lambda_real.double()), layer.Lambda_imag.double())
    dt = torch.exp(layer.log_dt.double())
    B = torch.view_as_complex(layer.B.double().contiguous())  # (P/2, H)
    C = torch.view_as_complex(layer.C.double().contiguous())  # (H, P/2)
    if layer.discretization == "zoh":
        dL = torch.exp(Lam * dt)
        dB = ((dL - 1) / Lam)[:, None] * B
    else:
        dL = (2 + dt * Lam) / (2 - dt * Lam)
        dB = (2 * dt / (2 - dt * Lam))[:, None] * B
    xs = torch.zeros(x.shape[0], Lam.shape[0], dtype=torch.complex128)
    ys = []
    for t in range(x.shape[1]):
        u = x[:, t].double()
        xs = dL * xs + u.to(torch.complex128) @ dB.T
        ys.append(2 * (xs @ C.T).real + layer.D.double() * u)
    return layer.output.double()(torch.stack(ys, dim=1))


@pytest.mark.parametrize("discretization", ["zoh", "bilinear"])
@pytest.mark.parametrize("blocks", [1, 2])
def test_forward_matches_hand_discretised_loop(discretization, blocks):
    torch.manual_seed(0)
    layer = S5Layer(4, d_state=8, blocks=blocks, discretization=discretization,
                    dtype=torch.float64)
    x = torch.randn(2, 20, 4, dtype=torch.float64)
    torch.testing.assert_close(layer(x), _reference(layer, x), **TOL[torch.float64])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("discretization", ["zoh", "bilinear"])
def test_step_reproduces_forward(dtype, discretization):
    torch.manual_seed(0)
    layer = S5Layer(5, d_state=12, blocks=3, discretization=discretization, dtype=dtype)
    x = torch.randn(2, 60, 5, dtype=dtype)
    with torch.no_grad():
        torch.testing.assert_close(run_steps(layer, x), layer(x), **TOL[dtype])


def test_conjugate_symmetry_equals_the_full_real_system():
    """Keeping P/2 modes and taking 2 Re(.) is the real P-state system S, B, C."""
    torch.manual_seed(0)
    P, H = 6, 3
    gen_state = torch.get_rng_state()
    layer = S5Layer(H, d_state=P, dtype=torch.float64)
    # Re-draw the real B and C the layer drew (same generator state, same order).
    torch.set_rng_state(gen_state)
    B_real = torch.randn(P, H, dtype=torch.float64) / H**0.5
    C_real = torch.randn(H, P, dtype=torch.float64) / P**0.5
    with torch.no_grad():
        layer.log_dt.fill_(-2.0)  # one step for all modes, so the real system has one too
    n = torch.arange(P, dtype=torch.float64)
    S = hippo_legs(P) + torch.sqrt(n + 0.5)[:, None] * torch.sqrt(n + 0.5)[None, :]
    dt = torch.exp(torch.tensor(-2.0, dtype=torch.float64))
    dA = torch.linalg.matrix_exp(dt * S)
    dB = torch.linalg.solve(S, dA - torch.eye(P, dtype=torch.float64)) @ B_real
    x = torch.randn(2, 15, H, dtype=torch.float64)
    s = torch.zeros(2, P, dtype=torch.float64)
    ys = []
    for t in range(15):
        s = s @ dA.T + x[:, t] @ dB.T
        ys.append(s @ C_real.T + layer.D * x[:, t])
    want = layer.output(torch.stack(ys, dim=1))
    torch.testing.assert_close(layer(x), want, **TOL[torch.float64])


@pytest.mark.parametrize("discretization", ["zoh", "bilinear"])
def test_both_discretisations_stable_for_any_step(discretization):
    torch.manual_seed(0)
    layer = S5Layer(3, d_state=8, discretization=discretization, dtype=torch.float64)
    for log_dt in (-12.0, -3.0, 0.0, 3.0, 8.0):
        with torch.no_grad():
            layer.log_dt.fill_(log_dt)
        dL, _, _ = layer.discrete()
        assert (dL.abs() < 1).all()
    with torch.no_grad():
        layer.log_dt.fill_(1.0)
    y = layer(torch.ones(1, 500, 3, dtype=torch.float64))  # constant input: bounded state
    assert torch.isfinite(y).all() and y.abs().max() < 1e3


def test_gradients_large_inputs_and_errors():
    torch.manual_seed(0)
    layer = S5Layer(4, d_state=8)
    y = layer(torch.randn(2, 30, 4) * 1e4)
    assert torch.isfinite(y).all()
    y.pow(2).mean().backward()
    assert_all_grads(layer)
    with pytest.raises(ParameterError, match="multiple of 2 \\* blocks = 4"):
        S5Layer(4, d_state=6, blocks=2)
    with pytest.raises(ParameterError, match="discretization"):
        S5Layer(4, discretization="euler")
