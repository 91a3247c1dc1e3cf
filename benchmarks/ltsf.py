"""Long-horizon forecasting accuracy on ETTh1, under the field's standard protocol.

Protocol (docs/benchmarks.md, DESIGN.md): the ETT borders 12/4/4 months of 30 days
(hourly rows 0:8640 train, 8640:11520 validation, 11520:14400 test, validation and
test windows reaching ``lookback`` rows back into the previous part), a standard
scaler fitted on the training rows only, all 7 channels, stride-1 windows, no
dropped test window, MSE and MAE on the scaled data averaged over every window, step
and channel, horizons 96/192/336/720, lookback 96 or 336 reported separately.

Everything goes through the public API:

* neural models: ``tsssm.backtest({name: est}, y_scaled[:14400], horizon=H,
  n_windows=2880 - H + 1, step=1, refit=False, metrics=("mse", "mae"))``. The first
  window fits on rows 0:11520 with ``val_size=2880`` (training windows' targets end
  by row 8640; validation windows are exactly those whose targets lie in rows
  8640:11520; early stopping and the restored weights use them), and every later
  window rolls forward without refitting (the neural forecasters forecast all of
  them in one batched pass, equal to ``update`` + ``predict``). The validation
  MSE/MAE in scaled units are read by a Lightning callback passed through
  ``trainer_kwargs`` (the public hook) and reported for the restored epoch.
* SeasonalNaive(24), ARIMA and AutoARIMA: the same backtest with ``update()``
  (ARIMA and AutoARIMA on the target OT alone, univariate).
* the linear anchor (DLinear-style, :class:`DLinearLS`): moving-average
  decomposition, one linear map per component from lookback to horizon, shared by
  the channels, solved by ridge least squares on the training windows (ridge chosen
  on the validation windows); evaluated on the same test windows in NumPy.
* the normalised linear anchor (RLinear-style, :class:`RLinearLS`): each window
  standardised by its own mean and std, one linear map lookback -> horizon shared by
  the channels, solved by the same std^2-weighted ridge least squares as the neural
  forecasters' ``linear_skip="ridge"`` (ridge chosen on validation). It is the neural
  models' starting point, so "SSM minus rlinear" is what the backbone adds.

Examples
--------
CPU smoke run on a truncated file::

    python benchmarks/ltsf.py --model mamba --lookback 96 --horizons 96 --seeds 0 \\
        --epochs 1 --d-model 16 --accelerator cpu --out /tmp/ltsf

GPU (one (model, lookback), all horizons)::

    python benchmarks/ltsf.py --model mamba --lookback 336 --seeds 0,1,2 \\
        --accelerator gpu --precision bf16-mixed --patch-len 16 --patch-stride 8

The data is ``--csv`` (any CSV in the ETT-hour format), else
``tsssm.datasets.load_ett("ETTh1")`` (``$TSSSM_DATA``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import tsssm  # noqa: E402
from tsssm.datasets import load_ett  # noqa: E402

NEURAL = {"s4": "S4Forecaster", "s5": "S5Forecaster", "mamba": "MambaForecaster",
          "hybrid": "HybridForecaster"}
CLASSICAL = ("seasonal_naive", "linear", "rlinear", "arima", "auto_arima")
TARGET = "OT"

#: Published ETTh1 numbers (MSE, MAE) the issue asks us to beat.
PUBLISHED = {
    336: ("PatchTST/42", {96: (.375, .399), 192: (.414, .421), 336: (.431, .436),
                          720: (.449, .466)}),
    96: ("S-Mamba", {96: (.386, .405), 192: (.443, .437), 336: (.489, .468),
                     720: (.502, .489)}),
}


# ----------------------------------------------------------------- protocol pieces
class Borders(NamedTuple):
    """End rows (exclusive) of the train, validation and test parts."""

    train_end: int
    val_end: int
    test_end: int


def borders(steps_per_hour: int = 1) -> Borders:
    """The 12/4/4-month ETT borders (30-day months) in rows."""
    month = 30 * 24 * steps_per_hour
    return Borders(12 * month, 16 * month, 20 * month)


def n_test_windows(b: Borders, horizon: int) -> int:
    """Stride-1 test windows: every origin whose targets lie in the test part."""
    return b.test_end - b.val_end - horizon + 1


def scale_train_only(df: pd.DataFrame, train_rows: int
                     ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Standardise every column with the mean and (population) std of the training rows."""
    train = df.iloc[:train_rows].to_numpy(dtype=np.float64)
    mean, std = train.mean(axis=0), train.std(axis=0)
    return (df - mean) / std, mean, std


def mean_std(values: list[float]) -> dict[str, float]:
    """Mean and population std of a list of scores (the seeds)."""
    arr = np.asarray(values, dtype=np.float64)
    return {"mean": float(arr.mean()), "std": float(arr.std()), "n": int(arr.size)}


# ------------------------------------------------------------------ linear anchor
def _moving_average(x: np.ndarray, kernel: int) -> np.ndarray:
    """Trend of windows x (..., L): mean over ``kernel`` steps, ends replicated."""
    front, back = (kernel - 1) // 2, kernel // 2
    pad = np.concatenate([np.repeat(x[..., :1], front, axis=-1), x,
                          np.repeat(x[..., -1:], back, axis=-1)], axis=-1)
    c = np.cumsum(np.concatenate([np.zeros((*x.shape[:-1], 1)), pad], axis=-1), axis=-1)
    return (c[..., kernel:] - c[..., :-kernel]) / kernel  # (..., L)


class DLinearLS:
    """DLinear-style linear anchor solved by (ridge) least squares.

    The window x (L,) splits into trend = moving average (``kernel``, ends replicated)
    and remainder = x - trend; the forecast is ``remainder @ W_s + trend @ W_t + b``,
    one map per component shared by all channels (channel-independent, like DLinear's
    default), fitted on every stride-1 training window of every channel.
    """

    def __init__(self, lookback: int, horizon: int, kernel: int = 25, ridge: float = 0.0):
        self.lookback, self.horizon, self.kernel, self.ridge = lookback, horizon, kernel, ridge

    def _features(self, y: np.ndarray, origins: np.ndarray) -> np.ndarray:
        idx = origins[:, None] + np.arange(-self.lookback, 0)  # (W, L)
        x = np.moveaxis(y[idx], 2, 1)  # (W, C, L)
        trend = _moving_average(x, self.kernel)
        ones = np.ones((*x.shape[:-1], 1))
        return np.concatenate([x - trend, trend, ones], axis=-1)  # (W, C, 2L + 1)

    def fit(self, y: np.ndarray, end: int | None = None) -> DLinearLS:
        """Fit on windows of y (T, C) whose targets end by row ``end`` (default T)."""
        end = len(y) if end is None else end
        origins = np.arange(self.lookback, end - self.horizon + 1)
        X = self._features(y, origins).reshape(-1, 2 * self.lookback + 1)
        tidx = origins[:, None] + np.arange(self.horizon)  # (W, H)
        Y = np.moveaxis(y[tidx], 2, 1).reshape(-1, self.horizon)  # (W*C, H)
        gram = X.T @ X
        reg = self.ridge * len(X) * np.eye(len(gram))
        reg[-1, -1] = 0.0  # the intercept is not shrunk
        self.coef_ = np.linalg.lstsq(gram + reg, X.T @ Y, rcond=None)[0]  # (2L + 1, H)
        return self

    def predict_windows(self, y: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """Forecasts (W, C, H) from the ``lookback`` rows before each origin."""
        return self._features(y, origins) @ self.coef_


class RLinearLS(DLinearLS):
    """Linear anchor on instance-normalised windows (RLinear-style), least squares.

    Each window x (L,) is standardised by its own mean m and s = sqrt(var + 1e-5) (the
    neural models' RevIN); the forecast is ``m + s * ([z, 1] @ W)``. W minimises the
    squared error in data units, i.e. the std^2-weighted error in normalised units, with
    a ridge of ``ridge`` times the mean diagonal of the Gram matrix, as in
    ``tsssm.forecasters.neural._ridge_skip``.
    """

    def _normalised(self, y: np.ndarray, origins: np.ndarray):
        idx = origins[:, None] + np.arange(-self.lookback, 0)  # (W, L)
        x = np.moveaxis(y[idx], 2, 1)  # (W, C, L)
        m = x.mean(-1, keepdims=True)
        sd = np.sqrt(x.var(-1, keepdims=True) + 1e-5)
        z = np.concatenate([(x - m) / sd, np.ones_like(m)], axis=-1)  # (W, C, L + 1)
        return z, m, sd

    def fit(self, y: np.ndarray, end: int | None = None) -> RLinearLS:
        end = len(y) if end is None else end
        origins = np.arange(self.lookback, end - self.horizon + 1)
        z, m, sd = self._normalised(y, origins)
        tidx = origins[:, None] + np.arange(self.horizon)
        t = (np.moveaxis(y[tidx], 2, 1) - m) / sd  # (W, C, H)
        X, T, w = z.reshape(-1, self.lookback + 1), t.reshape(-1, self.horizon), \
            (sd ** 2).reshape(-1, 1)
        gram = X.T @ (w * X)
        reg = np.zeros_like(gram)
        reg[np.arange(self.lookback), np.arange(self.lookback)] = \
            self.ridge * gram.diagonal()[:self.lookback].mean()
        # The z columns sum to zero (each window is centred), so without a ridge the
        # Gram matrix is singular: lstsq returns the minimum-norm solution.
        self.coef_ = np.linalg.lstsq(gram + reg, X.T @ (w * T), rcond=None)[0]
        return self

    def predict_windows(self, y: np.ndarray, origins: np.ndarray) -> np.ndarray:
        z, m, sd = self._normalised(y, origins)
        return m + sd * (z @ self.coef_)  # (W, C, H)


def _window_errors(model: DLinearLS, y: np.ndarray, origins: np.ndarray,
                   chunk: int = 256) -> dict[str, Any]:
    """MSE/MAE over windows, steps, channels; and on the last channel (OT)."""
    H = model.horizon
    sse = sae = sse_t = sae_t = 0.0
    n = n_t = 0
    for lo in range(0, len(origins), chunk):
        o = origins[lo:lo + chunk]
        pred = model.predict_windows(y, o)  # (W, C, H)
        true = np.moveaxis(y[o[:, None] + np.arange(H)], 2, 1)
        err = pred - true
        sse += float((err ** 2).sum())
        sae += float(np.abs(err).sum())
        n += err.size
        sse_t += float((err[:, -1] ** 2).sum())
        sae_t += float(np.abs(err[:, -1]).sum())
        n_t += err[:, -1].size
    return {"mse": sse / n, "mae": sae / n, "ot_mse": sse_t / n_t, "ot_mae": sae_t / n_t}


# ---------------------------------------------------------- validation score hook
_VAL_LOG: dict[str, list[dict[str, float]]] = {}


def _val_callback(tag: str, scales: np.ndarray):
    """A Lightning callback recording, per epoch, validation MSE/MAE in scaled units.

    The estimator works in units of each series' own scale; ``scales`` (one per
    series, the std of the rows it is fitted on, as the estimator computes it) map the
    errors back. Results go to ``_VAL_LOG[tag]``: ``clone`` deep-copies the estimator's
    parameters, callbacks included, so the instance itself is not reachable here.
    """
    import lightning.pytorch as pl
    import torch

    class ValScore(pl.Callback):
        def __init__(self) -> None:
            self.tag = tag
            self.scales = scales
            self._reset()

        def _reset(self) -> None:
            self.sse = self.sae = self.n = 0.0
            self.sse_t = self.sae_t = self.n_t = 0.0

        def on_validation_epoch_start(self, trainer, pl_module) -> None:
            self._reset()

        def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx,
                                    dataloader_idx=0) -> None:
            net = pl_module.network
            with torch.no_grad():
                point, q = net(batch)
                point = net.point_from(point, q).float()  # (B, H, C)
                s = torch.as_tensor(self.scales, dtype=point.dtype, device=point.device)
                if point.shape[-1] == len(self.scales):  # channel mixing: C = series
                    scale = s[None, None, :]
                    is_t = torch.zeros(point.shape[-1], dtype=torch.bool,
                                       device=point.device)
                    is_t[-1] = True
                    is_t = is_t[None, None, :].expand_as(point)
                else:
                    scale = s[batch["series"]][:, None, None]
                    is_t = (batch["series"] == len(self.scales) - 1)[:, None, None]
                    is_t = is_t.expand_as(point)
                err = (point - batch["future_y"].float()) * scale
                self.sse += float((err ** 2).sum())
                self.sae += float(err.abs().sum())
                self.n += err.numel()
                self.sse_t += float((err[is_t] ** 2).sum())
                self.sae_t += float(err[is_t].abs().sum())
                self.n_t += float(is_t.sum())

        def on_validation_end(self, trainer, pl_module) -> None:
            if not self.n:
                return
            loss = trainer.callback_metrics.get("val_loss")
            # The estimator's full pre-training pass (a ridge start) is epoch 0.
            epoch = 0 if trainer.sanity_checking else int(trainer.current_epoch) + 1
            _VAL_LOG.setdefault(self.tag, []).append({
                "epoch": epoch,
                "val_loss": None if loss is None else float(loss),
                "val_mse": self.sse / self.n, "val_mae": self.sae / self.n,
                "val_ot_mse": self.sse_t / self.n_t if self.n_t else None,
                "val_ot_mae": self.sae_t / self.n_t if self.n_t else None})

    return ValScore()


# --------------------------------------------------------------------- runners
def neural_estimator(model: str, H: int, L: int, seed: int, hp: dict[str, Any],
                     callbacks: list) -> Any:
    cls = getattr(tsssm, NEURAL[model])
    return cls(
        horizon=H, lookback=L, d_model=hp["d_model"], n_layers=hp["n_layers"],
        d_state=hp["d_state"], dropout=hp["dropout"], lr=hp["lr"],
        max_epochs=hp["epochs"], batch_size=hp["batch_size"], patch_len=hp["patch_len"],
        patch_stride=hp["patch_stride"], weight_decay=hp["weight_decay"],
        early_stopping_patience=hp["patience"], calendar=hp["calendar"],
        linear_skip=None if hp.get("linear_skip", "ridge") == "none"
        else hp.get("linear_skip", "ridge"),
        val_size=hp["val_size"], random_state=seed, accelerator=hp["accelerator"],
        precision=hp["precision"], verbose=False,
        trainer_kwargs={"callbacks": callbacks, "enable_progress_bar": False,
                        **({"limit_train_batches": hp["limit_batches"],
                            "limit_val_batches": hp["limit_batches"]}
                           if hp.get("limit_batches") else {})},
    )


def _scores(res: Any, name: str) -> dict[str, float]:
    pw = res.per_window
    ot = pw[pw["unique_id"] == TARGET]
    return {"mse": float(res.metrics.loc[name, "mse"]),
            "mae": float(res.metrics.loc[name, "mae"]),
            "ot_mse": float(ot["mse"].mean()) if len(ot) else float("nan"),
            "ot_mae": float(ot["mae"].mean()) if len(ot) else float("nan"),
            "windows_scored": int(res.counts.loc[name, "scored"]),
            "windows_failed": int(res.counts.loc[name, "failed"])}


def run_neural(model: str, y: pd.DataFrame, b: Borders, H: int, L: int, seed: int,
               hp: dict[str, Any]) -> dict[str, Any]:
    """One fit + the full stride-1 test backtest; validation scores of the kept epoch."""
    tag = f"{model}-L{L}-H{H}-s{seed}-{time.time_ns()}"
    fit_rows = y.iloc[:b.val_end].to_numpy()
    scales = fit_rows.std(axis=0)  # the estimator's per-series scale (np.std)
    est = neural_estimator(model, H, L, seed, hp, [_val_callback(tag, scales)])
    t0 = time.perf_counter()
    res = tsssm.backtest({model: est}, y.iloc[:b.test_end], horizon=H,
                         n_windows=n_test_windows(b, H), step=1, refit=False,
                         metrics=("mse", "mae"), progress=False)
    wall = time.perf_counter() - t0
    if len(res.errors):
        raise RuntimeError(f"backtest failed: {res.errors.head(3).to_dict('records')}")
    log = _VAL_LOG.pop(tag, [])
    best = min(log, key=lambda r: r["val_loss"]) if log else {}
    return {"seed": seed, **_scores(res, model),
            "val_mse": best.get("val_mse"), "val_mae": best.get("val_mae"),
            "val_ot_mse": best.get("val_ot_mse"), "val_ot_mae": best.get("val_ot_mae"),
            "best_epoch": best.get("epoch"), "epochs_run": len(log),
            "val_history": log, "wall_s": round(wall, 1)}


def run_backtest_classical(est: Any, name: str, y: pd.DataFrame | pd.Series, b: Borders,
                           H: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    res = tsssm.backtest({name: est}, y.iloc[:b.test_end], horizon=H,
                         n_windows=n_test_windows(b, H), step=1, refit=False,
                         metrics=("mse", "mae"), season_length=24, progress=False)
    out = _scores(res, name)
    if isinstance(y, pd.Series):  # univariate on OT
        out["ot_mse"], out["ot_mae"] = out["mse"], out["mae"]
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    if len(res.errors):
        out["errors"] = res.errors.head(3).astype(str).to_dict("records")
    return out


def run_linear(y: pd.DataFrame, b: Borders, H: int, L: int,
               ridges: list[float], cls: type = DLinearLS) -> dict[str, Any]:
    arr = y.iloc[:b.test_end].to_numpy(dtype=np.float64)
    tried = []
    val_origins = np.arange(b.train_end, b.val_end - H + 1)
    for r in ridges:
        m = cls(L, H, ridge=r).fit(arr, end=b.train_end)
        v = _window_errors(m, arr, val_origins)
        tried.append({"ridge": r, "val_mse": v["mse"], "val_mae": v["mae"]})
    best = min(tried, key=lambda t: t["val_mse"])
    m = cls(L, H, ridge=best["ridge"]).fit(arr, end=b.train_end)
    test = _window_errors(m, arr, np.arange(b.val_end, b.test_end - H + 1))
    return {"configs": tried, "chosen": best, "test": test}


# ------------------------------------------------------------------------ output
def _fmt(s: dict | None, key: str) -> str:
    if not s or key not in s:
        return "—"
    v = s[key]
    return f"{v['mean']:.3f} ± {v['std']:.3f}" if v["n"] > 1 else f"{v['mean']:.3f}"


def markdown(result: dict[str, Any]) -> str:
    L = result["lookback"]
    pub_name, pub = PUBLISHED.get(L, ("", {}))
    lines = [f"ETTh1, lookback {L}, model `{result['model']}` "
             f"({result['n_seeds']} seed(s)); MSE / MAE on the scaled data, all 7 "
             f"channels; OT-only columns from the same runs.", "",
             f"| H | MSE | MAE | OT MSE | OT MAE | val MSE | {pub_name} MSE / MAE |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for H, r in sorted(result["horizons"].items(), key=lambda kv: int(kv[0])):
        s = r.get("summary", {})
        p = pub.get(int(H))
        lines.append(f"| {H} | {_fmt(s, 'mse')} | {_fmt(s, 'mae')} | {_fmt(s, 'ot_mse')} | "
                     f"{_fmt(s, 'ot_mae')} | {_fmt(s, 'val_mse')} | "
                     f"{'' if p is None else f'{p[0]:.3f} / {p[1]:.3f}'} |")
    return "\n".join(lines) + "\n"


def _environment() -> dict[str, Any]:
    import torch

    env = {"python": platform.python_version(), "torch": torch.__version__,
           "pandas": pd.__version__, "numpy": np.__version__,
           "date": dt.date.today().isoformat(), "machine": platform.processor() or
           platform.machine(), "cpu_count": os.cpu_count()}
    if torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(0)
    try:
        import triton
        env["triton"] = triton.__version__
    except ImportError:
        pass
    try:
        import lightning
        env["lightning"] = lightning.__version__
    except ImportError:
        pass
    return env


def _summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("mse", "mae", "ot_mse", "ot_mae", "val_mse", "val_mae")
    return {k: mean_std([r[k] for r in runs]) for k in keys
            if runs and all(r.get(k) is not None for r in runs)}


# -------------------------------------------------------------------------- main
def _list(kind):
    return lambda s: [kind(v) for v in str(s).split(",") if v != ""]


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--csv", default=None, help="ETT-hour CSV (default: load_ett('ETTh1'))")
    p.add_argument("--model", required=True, choices=[*NEURAL, *CLASSICAL])
    p.add_argument("--lookback", type=int, default=96)
    p.add_argument("--horizons", type=_list(int), default=[96, 192, 336, 720])
    p.add_argument("--seeds", type=_list(int), default=[0, 1, 2])
    # Hyperparameters: comma lists make a grid; the best configuration per horizon is
    # picked by validation MSE of the first seed, then run with the other seeds.
    p.add_argument("--d-model", type=_list(int), default=[64])
    p.add_argument("--n-layers", type=_list(int), default=[2])
    p.add_argument("--d-state", type=_list(int), default=[16])
    p.add_argument("--dropout", type=_list(float), default=[0.1])
    p.add_argument("--lr", type=_list(float), default=[1e-3])
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--patience", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--patch-len", type=_list(int), default=[0], help="0: no patching")
    p.add_argument("--patch-stride", type=int, default=0, help="0: = patch_len")
    p.add_argument("--linear-skip", type=_list(str), default=["ridge"],
                   help="the estimators' linear_skip: ridge, learned or none")
    p.add_argument("--no-calendar", action="store_true", help="same as --calendar off")
    p.add_argument("--calendar", type=_list(str), default=["on"],
                   help="grid axis: on, off or on,off")
    p.add_argument("--limit-batches", type=int, default=0,
                   help="smoke tests only: train/validate on this many batches per epoch")
    p.add_argument("--accelerator", default="auto")
    p.add_argument("--precision", default="32-true")
    p.add_argument("--ridge", type=_list(float), default=[],
                   help="ridge grid of the linear anchors (default: each one's own)")
    p.add_argument("--arima-order", default="2,0,1", help="p,d,q of ARIMA")
    p.add_argument("--arima-seasonal", default="0,1,1,24", help="P,D,Q,s of ARIMA")
    p.add_argument("--time-budget", type=float, default=None,
                   help="seconds; stop starting new runs after this (results so far kept)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--tag", default="", help="suffix of the output file names")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: keep)")
    return p.parse_args(argv)


def load_data(csv: str | None) -> pd.DataFrame:
    return load_ett("ETTh1", path=csv) if csv else load_ett("ETTh1")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse(argv)
    start = time.perf_counter()
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    raw = load_data(args.csv)
    b = borders(1)
    if len(raw) < b.test_end:
        raise SystemExit(f"The data has {len(raw)} rows; the ETT-hour split needs "
                         f"{b.test_end}.")
    y, _mean, _std = scale_train_only(raw.iloc[:b.test_end], b.train_end)
    L = args.lookback
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"ltsf_{args.model}_L{L}{args.tag}"
    result: dict[str, Any] = {
        "model": args.model, "lookback": L, "n_seeds": len(args.seeds),
        "protocol": {"train": [0, b.train_end], "val": [b.train_end - L, b.val_end],
                     "test": [b.val_end - L, b.test_end],
                     "scaler": "mean/std (ddof=0) of rows 0:8640, per column",
                     "channels": list(raw.columns), "stride": 1},
        "command": "python benchmarks/ltsf.py " + " ".join(sys.argv[1:] if argv is None
                                                           else argv),
        "environment": _environment(), "horizons": {},
    }

    def save() -> None:
        (out_dir / f"{stem}.json").write_text(json.dumps(result, indent=1, default=str))
        (out_dir / f"{stem}.md").write_text(markdown(result))

    def out_of_time() -> bool:
        return args.time_budget is not None and time.perf_counter() - start > args.time_budget

    for H in args.horizons:
        entry: dict[str, Any] = {"configs": [], "runs": []}
        result["horizons"][str(H)] = entry
        if out_of_time():
            entry["skipped"] = "time budget"
            continue
        if args.model in NEURAL:
            grid = [dict(d_model=d, n_layers=n, d_state=s, dropout=do, lr=lr,
                         patch_len=pl or None,
                         patch_stride=(args.patch_stride or None) if pl else None,
                         linear_skip=sk, calendar=cal == "on" and not args.no_calendar)
                    for d, n, s, do, lr, pl, sk, cal in itertools.product(
                        args.d_model, args.n_layers, args.d_state, args.dropout, args.lr,
                        args.patch_len, args.linear_skip, args.calendar)]
            common = dict(epochs=args.epochs, batch_size=args.batch_size,
                          weight_decay=args.weight_decay, patience=args.patience,
                          val_size=b.val_end - b.train_end,
                          accelerator=args.accelerator, precision=args.precision,
                          limit_batches=args.limit_batches)
            first = args.seeds[0]
            for cfg in grid:
                if out_of_time():
                    break
                run = run_neural(args.model, y, b, H, L, first, {**common, **cfg})
                entry["configs"].append({"config": cfg, "seed": first,
                                         "val_mse": run["val_mse"], "val_mae": run["val_mae"]})
                run["config"] = cfg
                entry["runs"].append(run)
                print(f"{args.model} L={L} H={H} {cfg} seed {first}: val {run['val_mse']:.4f}"
                      f" test {run['mse']:.4f}/{run['mae']:.4f} ({run['wall_s']} s)",
                      flush=True)
                save()
            if not entry["runs"]:
                continue
            chosen = min(entry["runs"], key=lambda r: r["val_mse"])["config"]
            entry["chosen"] = chosen
            entry["runs"] = [r for r in entry["runs"] if r["config"] == chosen]
            for seed in args.seeds[1:]:
                if out_of_time():
                    entry["seeds_skipped"] = "time budget"
                    break
                run = run_neural(args.model, y, b, H, L, seed, {**common, **chosen})
                run["config"] = chosen
                entry["runs"].append(run)
                print(f"{args.model} L={L} H={H} seed {seed}: test {run['mse']:.4f}/"
                      f"{run['mae']:.4f} ({run['wall_s']} s)", flush=True)
                save()
            entry["summary"] = _summarise(entry["runs"])
        elif args.model == "seasonal_naive":
            run = run_backtest_classical(tsssm.SeasonalNaive(24), "SeasonalNaive", y, b, H)
            entry["runs"].append(run)
            entry["summary"] = _summarise([run])
        elif args.model in ("linear", "rlinear"):
            if args.model == "rlinear":
                lin = run_linear(y, b, H, L, args.ridge or [1e-5, 1e-4, 1e-3, 1e-2, 0.1,
                                                            1.0, 10.0], RLinearLS)
            else:
                lin = run_linear(y, b, H, L, args.ridge or [0.0, 1e-4, 1e-3, 1e-2, 1e-1])
            entry["configs"] = lin["configs"]
            entry["chosen"] = lin["chosen"]
            run = {**lin["test"], "val_mse": lin["chosen"]["val_mse"],
                   "val_mae": lin["chosen"]["val_mae"]}
            entry["runs"].append(run)
            entry["summary"] = _summarise([run])
        else:
            if args.model == "arima":
                order = tuple(int(v) for v in args.arima_order.split(","))
                seas = tuple(int(v) for v in args.arima_seasonal.split(","))
                est = tsssm.ARIMA(order=order, seasonal_order=seas)
                entry["configs"].append({"order": order, "seasonal_order": seas})
            else:
                est = tsssm.AutoARIMA(season_length=24)
            run = run_backtest_classical(est, type(est).__name__, y[TARGET], b, H)
            entry["runs"].append(run)
            entry["summary"] = _summarise([run])
        print(f"{args.model} L={L} H={H}: {entry.get('summary', {}).get('mse')}", flush=True)
        save()
    result["wall_s"] = round(time.perf_counter() - start, 1)
    save()
    return result


if __name__ == "__main__":
    main()
