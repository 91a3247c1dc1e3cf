"""Check that a neural forecaster trains with DDP on several GPUs (``strategy="ddp"``).

Fits a small model on generated hourly series with ``devices=2`` (or ``--devices``)
and ``trainer_kwargs={"strategy": "ddp"}``, then prints, from every process, a checksum
of the trained weights (DDP keeps the replicas equal, so the checksums must match),
and from rank 0 the training history, the forecast accuracy against SeasonalNaive and
the wall time. Lightning's DDP launcher starts one process per device by re-running
this script, so it must be run as a script, not from a notebook::

    python benchmarks/ddp_check.py --devices 2
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tsssm.forecasters import SeasonalNaive
from tsssm.forecasters.neural import (
    HybridForecaster,
    MambaForecaster,
    S4Forecaster,
    S5Forecaster,
)
from tsssm.metrics import mase

MODELS = {"s4": S4Forecaster, "s5": S5Forecaster, "mamba": MambaForecaster,
          "hybrid": HybridForecaster}


def generated(n_series: int = 8, n: int = 24 * 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    idx = pd.date_range("2024-01-01", periods=n, freq="h")
    return pd.DataFrame({
        f"s{k}": 10 * (k + 1) + (2 + k) * np.sin(2 * np.pi * t / 24 + k)
        + rng.normal(0, 0.5, n) for k in range(n_series)}, index=idx)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--devices", type=int, default=2)
    p.add_argument("--model", choices=tuple(MODELS), default="mamba")
    p.add_argument("--epochs", type=int, default=3)
    args = p.parse_args()
    data = generated()
    train, test = data.iloc[:-24], data.iloc[-24:]
    model = MODELS[args.model](
        horizon=24, lookback=96, d_model=32, n_layers=2, max_epochs=args.epochs,
        batch_size=64, accelerator="gpu", devices=args.devices, random_state=0,
        verbose=False, trainer_kwargs={"strategy": "ddp"},
    )
    start = time.perf_counter()
    model.fit(train)
    elapsed = time.perf_counter() - start
    rank = int(os.environ.get("LOCAL_RANK", "0"))
    checksum = sum(float(v.double().sum()) for v in model.network_.state_dict().values())
    print(f"rank {rank}: fitted, weight checksum {checksum:.10e}", flush=True)
    if rank != 0:
        return
    pred = model.predict(24)
    naive = SeasonalNaive(24).fit(train).predict(24)
    score = np.mean([mase(test[c], pred[c], y_train=train[c], season_length=24)
                     for c in data])
    base = np.mean([mase(test[c], naive[c], y_train=train[c], season_length=24)
                    for c in data])
    print(f"{type(model).__name__} with devices={args.devices}, strategy='ddp': fit "
          f"{elapsed:.1f} s, history {model.history_}")
    print(f"finite forecasts: {bool(np.isfinite(pred.to_numpy()).all())}; MASE {score:.3f} "
          f"(SeasonalNaive {base:.3f})")


if __name__ == "__main__":
    main()
