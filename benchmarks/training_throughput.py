"""Training throughput of the neural forecasters: windows per second on ETTh1.

Each run fits one forecaster on the 12-month training part of ETTh1 (8,640 hourly
rows, the 7 columns as 7 series of one global, channel-independent model) and counts
the training windows (one lookback window plus its horizon) that pass through a full
training step per second: batch gathering, forward, loss, backward, clipping and the
optimiser step, under Lightning. The first epoch is a warm-up (Triton compiles its
kernels there) and is not counted; the figure is the median over the others. Each
epoch is cut to ``--batches`` training steps, so the numbers measure speed, not a
converged model.

Examples
--------
On this project's CPU machine (the PyTorch scans)::

    python benchmarks/training_throughput.py --device cpu --batches 10

On a GPU, the PyTorch path and the Triton kernels side by side::

    python benchmarks/training_throughput.py --device cuda --backends torch,triton

The data file is looked up as ``--data``, then ``$TSSSM_DATA/ETTh1.csv``, then
``../shared/datasets/ETTh1.csv`` beside the repository.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import lightning.pytorch as pl
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))  # the sibling _machine module

from _machine import cpu_name  # noqa: E402

from tsssm.forecasters.neural import (  # noqa: E402
    HybridForecaster,
    MambaForecaster,
    S4Forecaster,
    S5Forecaster,
)

MODELS = {"s4": S4Forecaster, "s5": S5Forecaster, "mamba": MambaForecaster,
          "hybrid": HybridForecaster}
#: Backbones whose scans have a Triton kernel (S4 trains with FFT convolutions).
HAS_BACKEND = {"s5", "mamba", "hybrid"}
TRAIN_ROWS = 12 * 30 * 24  # the standard ETT split: 12 months of 30 days for training


class WindowTimer(pl.Callback):
    """Time each training epoch and count the windows it trained on."""

    def __init__(self) -> None:
        self.epochs: list[tuple[int, float]] = []

    def _sync(self, pl_module: pl.LightningModule) -> None:
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize(pl_module.device)

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._sync(pl_module)
        self._windows = 0
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._windows += int(batch["past_y"].shape[0])

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._sync(pl_module)
        self.epochs.append((self._windows, time.perf_counter() - self._start))


def find_data(path: str | None) -> Path:
    candidates = [path] if path else []
    if os.environ.get("TSSSM_DATA"):
        candidates.append(os.path.join(os.environ["TSSSM_DATA"], "ETTh1.csv"))
    candidates += [ROOT.parent / "shared" / "datasets" / "ETTh1.csv",
                   ROOT / ".gpu_data" / "ETTh1.csv"]
    for c in candidates:
        if c and Path(c).is_file():
            return Path(c)
    raise SystemExit(f"ETTh1.csv not found; tried {[str(c) for c in candidates]}. "
                     "Pass --data PATH.")


def load_train(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, parse_dates=["date"], index_col="date")
    frame.index.freq = "h"
    return frame.iloc[:TRAIN_ROWS]


def measure(name: str, backend: str, data: pd.DataFrame, args) -> dict:
    timer = WindowTimer()
    model = MODELS[name](
        horizon=args.horizon, lookback=args.lookback, d_model=args.d_model,
        n_layers=args.n_layers, d_state=args.d_state, batch_size=args.batch_size,
        max_epochs=args.epochs, val_size=0, early_stopping_patience=None,
        accelerator="gpu" if args.device == "cuda" else "cpu", devices=1,
        precision=args.precision, backend=backend, random_state=0, verbose=False,
        trainer_kwargs={"callbacks": [timer], "limit_train_batches": args.batches},
    )
    start = time.perf_counter()
    model.fit(data)
    total = time.perf_counter() - start
    counted = timer.epochs[1:] or timer.epochs  # the first epoch is the warm-up
    rates = [w / s for w, s in counted]
    return {"model": type(model).__name__, "backend": backend,
            "windows_per_s": statistics.median(rates),
            "epoch_rates": [round(r, 1) for r in rates],
            "first_epoch_s": round(timer.epochs[0][1], 3), "fit_s": round(total, 2)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=None, help="path of ETTh1.csv")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--models", default="s4,s5,mamba,hybrid")
    p.add_argument("--backends", default="torch",
                   help="comma-separated: torch, triton (GPU only)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lookback", type=int, default=168)
    p.add_argument("--horizon", type=int, default=24)
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--n-layers", type=int, default=2)
    p.add_argument("--d-state", type=int, default=16)
    p.add_argument("--precision", default="32-true")
    p.add_argument("--batches", type=int, default=50, help="training steps per epoch")
    p.add_argument("--epochs", type=int, default=3, help="epochs, the first a warm-up")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_train(find_data(args.data))
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    results = []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        # S4 has no scan backend (FFT convolutions): one run, labelled "auto".
        for backend in (backends if name in HAS_BACKEND else ["auto"]):
            results.append(measure(name, backend, data, args))
            r = results[-1]
            print(f"{r['model']:<17} {r['backend']:<7} {r['windows_per_s']:>10.0f} windows/s"
                  f"  (first epoch {r['first_epoch_s']} s)", flush=True)
    cpu = f"{cpu_name()} ({os.cpu_count()} cores)"
    device = torch.cuda.get_device_name(0) if args.device == "cuda" else cpu
    meta = {
        "date": dt.date.today().isoformat(), "device": device,
        "cpu_threads": torch.get_num_threads(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "torch": torch.__version__, "lightning": pl.__version__,
        "triton": _version("triton"), "pandas": pd.__version__,
        "python": platform.python_version(), "command": " ".join(sys.argv),
        "settings": {k: v for k, v in vars(args).items() if k not in ("data", "out")},
        "n_series": data.shape[1], "train_rows": len(data),
    }
    print()
    print(f"{meta['device']}, torch {meta['torch']}, triton {meta['triton']}, lightning "
          f"{meta['lightning']}, batch {args.batch_size}, lookback {args.lookback}, "
          f"horizon {args.horizon}, d_model {args.d_model}, n_layers {args.n_layers}, "
          f"precision {args.precision}")
    print("| model | backend | windows/s |\n| --- | --- | ---: |")
    for r in results:
        print(f"| {r['model']} | {r['backend']} | {r['windows_per_s']:,.0f} |")
    if args.out:
        Path(args.out).write_text(json.dumps({"meta": meta, "results": results}, indent=1))


def _version(module: str) -> str | None:
    try:
        return __import__(module).__version__
    except Exception:  # not installed, or broken on this platform
        return None


if __name__ == "__main__":
    main()
