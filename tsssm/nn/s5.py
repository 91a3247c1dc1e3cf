"""S5 (Smith, Warrington and Linderman, ICLR 2023): one multi-input multi-output SSM.

Where S4D runs one small SSM per channel, S5 runs a single SSM with state size P whose
input and output are the whole d_model-vector:

    x'(t) = Lambda x(t) + B u(t),    y(t) = Re(C x(t)) + D u(t)

with Lambda diagonal (complex) after a change of basis. Lambda is initialised with the
eigenvalues of HiPPO-N, the normal part of the HiPPO-LegS matrix, and B and C with the
matching eigenvectors, so the layer starts out as a diagonalised HiPPO system. Being
diagonal and time-invariant, the discrete recurrence x_k = dLambda x_{k-1} + dB u_k is a
first-order linear recurrence, computed over a whole sequence with a parallel scan.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from tsssm._validation import check_int, check_option
from tsssm.exceptions import ParameterError
from tsssm.nn._init import (
    check_dt_range,
    complex_dtype,
    complex_expm1,
    log_uniform,
    real_dtype,
)
from tsssm.nn.blocks import GLUOutput
from tsssm.nn.params import no_weight_decay
from tsssm.ops import linear_scan

__all__ = ["S5_DISCRETIZATIONS", "S5Layer", "hippo_legs", "hippo_n_eig"]

#: Discretisation rules of S5Layer.
S5_DISCRETIZATIONS = ("zoh", "bilinear")


def hippo_legs(P: int) -> torch.Tensor:
    """The HiPPO-LegS state matrix of size P, in float64.

    ``A[n, k] = -sqrt(2n+1) sqrt(2k+1)`` for n > k, ``-(n+1)`` for n = k, 0 for n < k.

    Returns
    -------
    A : (P, P) float64
        Lower triangular.

    Examples
    --------
    >>> from tsssm.nn.s5 import hippo_legs
    >>> A = hippo_legs(3)
    >>> A.shape, A.dtype
    (torch.Size([3, 3]), torch.float64)
    >>> A[2]  # -sqrt(5) sqrt(1), -sqrt(5) sqrt(3), -3
    tensor([-2.2361, -3.8730, -3.0000], dtype=torch.float64)
    """
    q = torch.sqrt(2 * torch.arange(P, dtype=torch.float64) + 1)  # (P,)
    A = -torch.tril(q[:, None] * q[None, :], diagonal=-1)
    return A - torch.diag(torch.arange(1, P + 1, dtype=torch.float64))


def hippo_n_eig(P: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigen-decomposition of HiPPO-N, the normal part of HiPPO-LegS.

    HiPPO-LegS equals a normal matrix minus the rank-one ``p p^T`` with
    ``p_n = sqrt(n + 1/2)``; that normal matrix is ``-I/2`` plus a skew-symmetric matrix,
    so its eigenvalues are ``-1/2 + i w`` with ``w`` from the Hermitian eigenproblem of
    ``-i`` times the skew part, and its eigenvectors are unitary.

    Returns
    -------
    Lambda : (P,) complex128
        Eigenvalues, in conjugate pairs, sorted by imaginary part.
    V : (P, P) complex128
        Unitary eigenvectors (columns), so that ``S = V diag(Lambda) V^H``.

    Examples
    --------
    >>> import torch
    >>> from tsssm.nn.s5 import hippo_n_eig
    >>> Lambda, V = hippo_n_eig(4)
    >>> Lambda.real  # every eigenvalue of HiPPO-N has real part -1/2
    tensor([-0.5000, -0.5000, -0.5000, -0.5000], dtype=torch.float64)
    >>> torch.allclose(V @ V.conj().T, torch.eye(4, dtype=V.dtype))  # unitary
    True
    """
    p = torch.sqrt(torch.arange(P, dtype=torch.float64) + 0.5)  # (P,)
    S = hippo_legs(P) + p[:, None] * p[None, :]  # normal: -I/2 + skew-symmetric
    skew = S + 0.5 * torch.eye(P, dtype=torch.float64)
    w, V = torch.linalg.eigh(skew.to(torch.complex128) * -1j)  # (P,), (P, P)
    Lambda = torch.complex(torch.full_like(w, -0.5), w)
    return Lambda, V


class S5Layer(nn.Module):
    """S5 layer: a MIMO diagonal SSM over all channels, skip D, then GELU and GLU mixing.

    Parameters
    ----------
    d_model : int
        Channels H of the input and output.
    d_state : int, default=64
        State size P of the real system (even; P/2 complex modes are stored, one of each
        conjugate pair, and the output takes ``2 Re(.)`` to account for the other).
    blocks : int, default=1
        Number J of diagonal blocks in the initialisation: Lambda and the eigenvectors
        come from J copies of HiPPO-N of size P/J (P/J must be even). S5 reports that
        J > 1 helps on long sequences.
    discretization : {"zoh", "bilinear"}, default="zoh"
        Zero-order hold ``dL = exp(dt L)``, ``dB = (dL - 1)/L B``, or bilinear
        (Tustin) ``dL = (1 + dt L/2)/(1 - dt L/2)``, ``dB = dt/(1 - dt L/2) B``.
        Both map Re L < 0 inside the unit circle, so both are stable.
    dt_min, dt_max : float, default=1e-3, 1e-1
        Each mode's step is initialised log-uniform in [dt_min, dt_max].
    backend : {"auto", "torch", "triton"}, default="auto"
        Passed to :func:`tsssm.ops.linear_scan`.
    device, dtype : optional
        Where and in what real floating type the parameters are created.

    Attributes
    ----------
    log_Lambda_real : Parameter (P/2,)
        ``log(-Re Lambda)``: Re Lambda stays negative, so the system stays stable.
    Lambda_imag : Parameter (P/2,)
        Im Lambda.
    B : Parameter (P/2, H, 2)
        Input matrix in the eigenbasis, real and imaginary parts on the last axis.
    C : Parameter (H, P/2, 2)
        Output matrix in the eigenbasis, likewise.
    D : Parameter (H,)
        Skip term.
    log_dt : Parameter (P/2,)
        Log of each mode's step.

    Shapes
    ------
    forward : x (B, L, H) -> (B, L, H), parallel scan over L
    step : x_t (B, H) -> (B, H), state (B, P/2) complex

    Examples
    --------
    >>> import torch
    >>> from tsssm.nn import S5Layer
    >>> layer = S5Layer(d_model=3, d_state=4, backend="torch")
    >>> x = torch.randn(2, 10, 3)  # (B, L, H)
    >>> layer(x).shape
    torch.Size([2, 10, 3])
    >>> layer.allocate_state(batch_size=2).shape  # (B, P/2)
    torch.Size([2, 2])
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 64,
        blocks: int = 1,
        discretization: str = "zoh",
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        backend: str = "auto",
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        owner = "S5Layer"
        self.d_model = H = check_int(d_model, "d_model", owner=owner, min_value=1)
        self.d_state = P = check_int(d_state, "d_state", owner=owner, min_value=2)
        self.blocks = J = check_int(blocks, "blocks", owner=owner, min_value=1)
        if P % (2 * J):
            raise ParameterError(
                f"The 'd_state' parameter of {owner} must be a multiple of 2 * blocks = "
                f"{2 * J} (each block keeps half of its conjugate pairs). Got {P}."
            )
        self.discretization = check_option(discretization, "discretization",
                                           S5_DISCRETIZATIONS, owner=owner)
        self.backend = check_option(backend, "backend", ("auto", "torch", "triton"),
                                    owner=owner)
        dt_min, dt_max = check_dt_range(dt_min, dt_max, owner)
        dtype = real_dtype(dtype)
        kw = {"device": device, "dtype": dtype}

        # Eigen-decomposition of J copies of HiPPO-N, in float64 on the CPU.
        size = P // J
        Lambda_b, V_b = hippo_n_eig(size)
        # eigh sorts by imaginary part, so the second half holds one of each pair.
        keep = torch.arange(size // 2, size)
        Lambda = Lambda_b[keep].repeat(J)  # (P/2,)
        V = torch.block_diag(*([V_b] * J))  # (P, P) unitary
        kept = torch.cat([keep + j * size for j in range(J)])  # (P/2,) columns of V kept
        # B, C start as random real matrices of the full system, moved to the eigenbasis:
        # B~ = V^H B and C~ = C V, restricted to the kept modes. Lecun-normal scales.
        B_real = torch.randn(P, H, dtype=torch.float64) / math.sqrt(H)
        C_real = torch.randn(H, P, dtype=torch.float64) / math.sqrt(P)
        B_tilde = (V.conj().T @ B_real.to(torch.complex128))[kept]  # (P/2, H)
        C_tilde = (C_real.to(torch.complex128) @ V)[:, kept]  # (H, P/2)

        self.log_Lambda_real = nn.Parameter(torch.log(-Lambda.real).to(**kw))
        self.Lambda_imag = nn.Parameter(Lambda.imag.to(**kw))
        self.B = nn.Parameter(torch.view_as_real(B_tilde).to(**kw))
        self.C = nn.Parameter(torch.view_as_real(C_tilde).to(**kw))
        self.D = nn.Parameter(torch.randn(H, **kw))
        self.log_dt = nn.Parameter(log_uniform((P // 2,), dt_min, dt_max, **kw))
        no_weight_decay(self, "log_Lambda_real", "Lambda_imag", "log_dt", "D")
        self.output = GLUOutput(H, **kw)

    def discrete(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Discretised system: ``dLambda`` (P/2,), ``dB`` (P/2, H) and ``C`` (H, P/2)."""
        Lambda = torch.complex(-torch.exp(self.log_Lambda_real), self.Lambda_imag)  # (P/2,)
        dt = torch.exp(self.log_dt)  # (P/2,)
        B = torch.view_as_complex(self.B)  # (P/2, H)
        if self.discretization == "zoh":
            dLambda = torch.exp(Lambda * dt)
            dB = (complex_expm1(Lambda * dt) / Lambda)[:, None] * B
        else:
            inv = 1 / (1 - dt / 2 * Lambda)
            dLambda = inv * (1 + dt / 2 * Lambda)
            dB = (inv * dt)[:, None] * B
        return dLambda, dB, torch.view_as_complex(self.C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_state(x)[0]

    def forward_with_state(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``forward(x)`` and the state after the last position, (B, P/2) complex."""
        dLambda, dB, C = self.discrete()
        Bu = torch.einsum("ph,blh->bpl", dB, x.to(dB.dtype))  # (B, P/2, L)
        a = dLambda[None, :, None].expand_as(Bu)  # (B, P/2, L)
        states = linear_scan(a, Bu, backend=self.backend)  # (B, P/2, L)
        y = 2 * torch.einsum("hp,bpl->blh", C, states).real  # (B, L, H)
        y = y.to(x.dtype) + self.D * x
        return self.output(y), states[..., -1]

    def allocate_state(self, batch_size: int) -> torch.Tensor:
        """Zero state of shape (batch_size, P/2), complex."""
        p = self.log_dt
        return torch.zeros(batch_size, self.d_state // 2, device=p.device,
                           dtype=complex_dtype(p.dtype))

    def step(self, x_t: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        dLambda, dB, C = self.discrete()
        state = dLambda * state + x_t.to(dB.dtype) @ dB.T  # (B, P/2)
        y = 2 * (state @ C.T).real.to(x_t.dtype) + self.D * x_t  # (B, H)
        return self.output(y), state

    def extra_repr(self) -> str:
        return (
            f"d_model={self.d_model}, d_state={self.d_state}, blocks={self.blocks}, "
            f"discretization={self.discretization!r}"
        )
