"""S4 in its diagonal form (S4D, Gu et al., 2022): kernel generator and layer.

One layer holds ``d_model`` independent single-input single-output state-space systems

    x'(t) = A x(t) + B u(t),    y(t) = C x(t) + D u(t)

with A diagonal and complex, discretised by zero-order hold (ZOH) with a learned step.
Because the system is linear and time-invariant it has two discrete views that give the
same output: a causal convolution with kernel K_l = C dB dA^l (used to train, with an
FFT over the whole sequence) and the recurrence x_t = dA x_{t-1} + dB u_t (used to step
through new observations at constant cost).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from tsssm._validation import check_int, check_option
from tsssm.nn._init import check_dt_range, complex_dtype, log_uniform, real_dtype
from tsssm.nn.blocks import GLUOutput
from tsssm.nn.params import no_weight_decay
from tsssm.ops import fft_conv, s4d_discretize, s4d_final_state, s4d_kernel, s4d_step

__all__ = ["S4D_INITS", "S4DKernel", "S4DLayer", "S4Layer"]

#: Initialisations of the imaginary parts of A (the real parts start at -1/2).
S4D_INITS = ("lin", "inv")


class S4DKernel(nn.Module):
    """Parameters of ``d_model`` diagonal SSMs and the convolution kernel they generate.

    A state of real size N is held as N/2 complex modes, one of each conjugate pair; the
    output takes ``2 Re(.)``, which is what the discarded conjugates would have added.
    B is fixed to 1 (its role is absorbed by C, as in S4D).

    Parameters
    ----------
    d_model : int
        Number of independent channels H.
    d_state : int, default=64
        Real state size N per channel (even; N/2 complex modes are stored).
    init : {"lin", "inv"}, default="lin"
        Imaginary parts of A. ``"lin"`` (S4D-Lin): ``A_n = -1/2 + i pi n``, frequencies
        spaced evenly like a Fourier basis. ``"inv"`` (S4D-Inv):
        ``A_n = -1/2 + i (N/pi) (N/(2n+1) - 1)``, approximating S4-LegS.
    dt_min, dt_max : float, default=1e-3, 1e-1
        The step of each channel is initialised log-uniform in [dt_min, dt_max].
    device, dtype : optional
        Where and in what real floating type the parameters are created.

    Attributes
    ----------
    log_dt : Parameter (H,)
        Log of the step, so that the step stays positive.
    log_A_real : Parameter (H, N/2)
        ``log(-Re A)``, so that Re A stays negative and the system stable.
    A_imag : Parameter (H, N/2)
        Im A.
    C : Parameter (H, N/2, 2)
        C as a real tensor (real and imaginary parts on the last axis).

    Examples
    --------
    >>> from tsssm.nn import S4DKernel
    >>> kernel = S4DKernel(d_model=3, d_state=4)
    >>> kernel(10).shape  # (H, L)
    torch.Size([3, 10])
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 64,
        init: str = "lin",
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        owner = "S4DKernel"
        self.d_model = H = check_int(d_model, "d_model", owner=owner, min_value=1)
        self.d_state = N = check_int(d_state, "d_state", owner=owner, min_value=2)
        self.init = check_option(init, "init", S4D_INITS, owner=owner)
        dt_min, dt_max = check_dt_range(dt_min, dt_max, owner)
        dtype = real_dtype(dtype)
        kw = {"device": device, "dtype": dtype}
        n = torch.arange(N // 2, **kw)  # mode index, (N/2,)
        if init == "lin":
            imag = math.pi * n
        else:
            imag = (N / math.pi) * (N / (2 * n + 1) - 1)
        self.log_dt = nn.Parameter(log_uniform((H,), dt_min, dt_max, **kw))
        self.log_A_real = nn.Parameter(torch.full((H, N // 2), math.log(0.5), **kw))
        self.A_imag = nn.Parameter(imag.repeat(H, 1))  # (H, N/2)
        # C ~ standard complex normal (each part has variance 1/2), stored as real pairs.
        self.C = nn.Parameter(torch.randn(H, N // 2, 2, **kw) * math.sqrt(0.5))
        no_weight_decay(self, "log_dt", "log_A_real", "A_imag")

    def A_real(self) -> torch.Tensor:
        """Re A = -exp(log_A_real), shape (H, N/2)."""
        return -torch.exp(self.log_A_real)

    def discrete(self) -> tuple[torch.Tensor, torch.Tensor]:
        """ZOH-discretised ``dA = exp(dt A)`` and ``dB = (exp(dt A) - 1) / A``, (H, N/2).

        ``dB`` is the exact integral of the continuous system over one step with the
        input held constant (B = 1).
        """
        return s4d_discretize(self.log_dt, self.A_real(), self.A_imag)

    def forward(self, L: int) -> torch.Tensor:
        """The convolution kernel ``K_l = 2 Re(sum_n C_n dB_n dA_n^l)``, shape (H, L)."""
        return s4d_kernel(self.log_dt, self.A_real(), self.A_imag, self.C, L)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, d_state={self.d_state}, init={self.init!r}"


class S4DLayer(nn.Module):
    """S4D layer: diagonal SSM per channel, skip term D, then GELU and GLU mixing.

    ``y = GLU(W gelu(SSM(u) + D u))``, as in S4D's minimal layer (without its dropout:
    the residual block around the layer applies dropout).

    Parameters
    ----------
    d_model : int
        Channels H of the input and output.
    d_state : int, default=64
        Real state size N of each channel's SSM (even).
    init : {"lin", "inv"}, default="lin"
        Initialisation of A; see :class:`S4DKernel`.
    dt_min, dt_max : float, default=1e-3, 1e-1
        Range of the log-uniform step initialisation.
    device, dtype : optional
        Where and in what real floating type the parameters are created.

    Shapes
    ------
    forward : x (B, L, H) -> (B, L, H), FFT convolution (convolutional view)
    step : x_t (B, H) -> (B, H), state (B, H, N/2) complex (recurrent view)

    Examples
    --------
    >>> import torch
    >>> from tsssm.nn import S4DLayer
    >>> layer = S4DLayer(d_model=3, d_state=4)
    >>> x = torch.randn(2, 10, 3)  # (B, L, H)
    >>> layer(x).shape
    torch.Size([2, 10, 3])
    >>> state = layer.allocate_state(batch_size=2)  # (B, H, N/2) complex
    >>> state.shape, state.dtype
    (torch.Size([2, 3, 2]), torch.complex64)
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 64,
        init: str = "lin",
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        kw = {"device": device, "dtype": real_dtype(dtype)}
        self.kernel = S4DKernel(d_model, d_state, init, dt_min, dt_max, **kw)
        self.d_model = d_model
        self.D = nn.Parameter(torch.randn(d_model, **kw))
        no_weight_decay(self, "D")
        self.output = GLUOutput(d_model, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = x.transpose(1, 2)  # (B, H, L)
        K = self.kernel(u.shape[-1])  # (H, L)
        y = fft_conv(u, K, self.D)  # (B, H, L), FFT of length 2L: no wrap-around
        return self.output(y.transpose(1, 2))

    def allocate_state(self, batch_size: int) -> torch.Tensor:
        """Zero state of shape (batch_size, H, N/2), complex."""
        p = self.kernel.log_dt
        shape = (batch_size, self.d_model, self.kernel.d_state // 2)
        return torch.zeros(shape, device=p.device, dtype=complex_dtype(p.dtype))

    def step(self, x_t: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        dA, dB = self.kernel.discrete()  # each (H, N/2) complex
        y, state = s4d_step(state, x_t, dA, dB, self.kernel.C, self.D)  # (B, H), (B, H, N/2)
        return self.output(y), state

    def forward_with_state(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``forward(x)`` and the recurrent state after reading x, (B, H, N/2) complex."""
        dA, dB = self.kernel.discrete()
        return self(x), s4d_final_state(x.transpose(1, 2), dA, dB)


#: S4 in tsssm is the diagonal S4D form.
S4Layer = S4DLayer
