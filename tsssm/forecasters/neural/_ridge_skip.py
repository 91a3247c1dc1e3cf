"""Closed-form start for the network: the linear skip by weighted ridge least squares,
the quantile head from that fit's residuals.

The skip maps the RevIN-normalised window z (L values per channel) to the horizon
(H values) and is shared by the channels. With the backbone's heads starting at zero,
the untrained network forecasts ``(skip(z) * std + mean)``, so the skip that minimises
the training loss on its own is a least-squares problem with one row per (window,
channel)::

    minimise  sum_w std_w^2 * || [z_w, 1] beta - (y_w - mean_w) / std_w ||^2
              + lam * s * ||beta[:L]||^2

The weights ``std_w^2`` make it the mean squared error in the estimator's units (the
training loss), not in normalised units; ``s`` (the mean diagonal of the Gram matrix)
makes ``lam`` scale-free. Both sides accumulate in float64 over batches of windows, so
memory is O(L^2 + L H) whatever the number of windows. ``lam`` is chosen among
:data:`RIDGES` by the same weighted error on the validation windows, computed from
their own Gram matrix without forming a forecast.

The quantile head starts as the fit's empirical residual quantiles, per horizon step
(weights zero, biases set), so the untrained network is a complete probabilistic
linear forecaster whose validation loss can be compared with every trained epoch.

Linear models of this kind on normalised windows are strong long-horizon baselines
(DLinear, RLinear); starting from the best of them leaves the backbone only the
residual to learn.
"""

from __future__ import annotations

import torch

from tsssm.data.windows import WindowDataset, collate_windows

__all__ = ["RIDGES", "fit_ridge_skip", "start_quantile_head"]

#: Ridge strengths tried (relative to the mean diagonal of the Gram matrix).
RIDGES = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
#: Used when there are no validation windows to choose with.
DEFAULT_RIDGE = 1e-3
#: Windows whose residuals set the starting quantiles (evenly spaced over the data).
QUANTILE_WINDOWS = 8192


def _normalised_rows(network: torch.nn.Module, batch: dict,
                     dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A batch as one row per (window, channel), normalised by ``network.revin``.

    Returns z (R, L), the target (y - mean) / std (R, H) and std (R, 1), R = B * C.
    """
    z = network.revin.normalize(batch["past_y"].float()).to(dtype)  # (B, L, C)
    mean, std = network.revin.mean.to(dtype), network.revin.stdev.to(dtype)  # (B, 1, C)
    target = (batch["future_y"].to(dtype) - mean) / std  # (B, H, C)

    def rows(a: torch.Tensor) -> torch.Tensor:
        return a.transpose(1, 2).reshape(-1, a.shape[1])

    return rows(z), rows(target), rows(std)


def _moments(network: torch.nn.Module, data: WindowDataset,
             batch_size: int) -> tuple[torch.Tensor, torch.Tensor, float, float]:
    """Weighted Gram (L+1, L+1), cross moment (L+1, H), sum w y^2 and the row count."""
    L = network.lookback
    gram = torch.zeros(L + 1, L + 1, dtype=torch.float64)
    cross = torch.zeros(L + 1, network.horizon, dtype=torch.float64)
    yy, rows = 0.0, 0
    loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=False,
                                         collate_fn=collate_windows)
    for batch in loader:
        z, t, std = _normalised_rows(network, batch, torch.float64)
        x = torch.cat([z, torch.ones_like(std)], dim=-1)  # (R, L + 1)
        w = std ** 2
        gram += x.T @ (w * x)
        cross += x.T @ (w * t)
        yy += float((w * t ** 2).sum())
        rows += x.shape[0]
    return gram, cross, yy, rows


def _solve(gram: torch.Tensor, cross: torch.Tensor, lam: float) -> torch.Tensor:
    L = gram.shape[0] - 1
    scale = float(gram.diagonal()[:L].mean()) or 1.0
    penalty = torch.zeros_like(gram)
    penalty.diagonal()[:L] = lam * scale  # the intercept is not penalised
    return torch.linalg.lstsq(gram + penalty, cross).solution  # (L + 1, H)


def _weighted_mse(beta: torch.Tensor, gram: torch.Tensor, cross: torch.Tensor, yy: float,
                  n: int) -> float:
    """Mean of w (x beta - t)^2 over rows and steps, from the moments alone."""
    sse = (beta * (gram @ beta)).sum() - 2 * (beta * cross).sum() + yy
    return float(sse) / (n * beta.shape[1])


@torch.no_grad()
def fit_ridge_skip(network: torch.nn.Module, train: WindowDataset,
                   val: WindowDataset | None = None, ridges: tuple[float, ...] = RIDGES,
                   batch_size: int = 2048) -> dict:
    """Set ``network.skip`` to the weighted ridge solution on the training windows.

    Parameters
    ----------
    network : ForecastNetwork
        Its ``skip`` (``nn.Linear(L, H)``) is overwritten; its ``revin`` normalises.
    train, val : WindowDataset
        Training windows (the fit) and validation windows (the choice of ``lam``).
    ridges : tuple of float
        Relative ridge strengths tried when ``val`` is given.

    Returns
    -------
    dict with the chosen ``ridge``, its ``train_mse`` and, with validation windows,
    ``val_mse`` of every ridge tried (weighted MSE in the estimator's units).
    """
    gram, cross, yy, n = _moments(network, train, batch_size)
    report: dict = {}
    if val is not None and len(val):
        g_va, c_va, yy_va, n_va = _moments(network, val, batch_size)
        scores = {lam: _weighted_mse(_solve(gram, cross, lam), g_va, c_va, yy_va, n_va)
                  for lam in ridges}
        lam = min(scores, key=scores.get)
        report["val_mse"] = {str(k): v for k, v in scores.items()}
    else:
        lam = DEFAULT_RIDGE
    beta = _solve(gram, cross, lam)
    skip = network.skip
    skip.weight.copy_(beta[:-1].T.to(skip.weight))
    skip.bias.copy_(beta[-1].to(skip.bias))
    report.update(ridge=lam, train_mse=_weighted_mse(beta, gram, cross, yy, n))
    start_quantile_head(network, train, batch_size)
    return report


def _softplus_inverse(y: torch.Tensor) -> torch.Tensor:
    return y + torch.log(-torch.expm1(-y))


@torch.no_grad()
def start_quantile_head(network: torch.nn.Module, train: WindowDataset,
                        batch_size: int = 2048) -> None:
    """Set the quantile head to the skip's residual quantiles, one set per step.

    Residuals ``(y - mean) / std - skip(z)`` of up to :data:`QUANTILE_WINDOWS` training
    windows give, for each horizon step, the empirical quantile at each learned level;
    the head's weights are zeroed and its biases encode those quantiles in its
    non-crossing parametrisation (anchor, then softplus gaps, at least 1e-4 apart).
    """
    head = network.quantile_head
    if len(train) == 0:
        return
    idx = torch.linspace(0, len(train) - 1, min(len(train), QUANTILE_WINDOWS)).long()
    residuals = []
    for lo in range(0, len(idx), batch_size):
        batch = train.__getitems__(idx[lo:lo + batch_size].tolist())
        z, target, _ = _normalised_rows(network, batch, torch.float32)
        residuals.append(target - network.skip(z))  # (R, H)
    r = torch.cat(residuals).double()  # (rows, H)
    levels = torch.tensor(head.quantiles, dtype=torch.float64)
    q = torch.quantile(r, levels, dim=0).T  # (H, Q), sorted along Q
    m = head.centre
    raw = torch.empty_like(q)
    raw[:, m] = q[:, m]
    gaps = torch.diff(q, dim=1).clamp_min(1e-4)  # gaps[:, j] = q[:, j + 1] - q[:, j]
    raw[:, :m] = _softplus_inverse(gaps[:, :m])  # below: raw[j] -> q[j + 1] - q[j]
    raw[:, m + 1:] = _softplus_inverse(gaps[:, m:])  # above: raw[j] -> q[j] - q[j - 1]
    C = head.n_targets or 1
    bias = raw[:, None, :].expand(-1, C, -1).reshape(-1)  # (H * C * Q,), as _project reads
    head.proj.weight.zero_()
    head.proj.bias.copy_(bias.to(head.proj.bias))
