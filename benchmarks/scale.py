"""Scale: a rolling backtest over many short series, its wall time and peak memory.

Target: 10,000 short daily series (60 observations each) backtested with the naive
baselines over 3 windows on one machine, peak resident memory bounded (it grows with
the size of the result, not with the number of tasks), and one malformed series among
them reported in ``result.errors`` and skipped rather than fatal. The same backtest is
spread over worker processes with joblib (``--n-jobs 2``) or over a Dask cluster
through joblib's dask backend (``--dask-workers 2``), the path for users who outgrow one
machine (see docs/reliability.md).

Run::

    .venv/bin/python benchmarks/scale.py                         # 10,000 series, one process
    .venv/bin/python benchmarks/scale.py --n-jobs 2              # joblib, 2 processes
    .venv/bin/python benchmarks/scale.py --dask-workers 2        # local Dask cluster
    .venv/bin/python benchmarks/scale.py --series 2000 --json -  # what the test runs

It prints a Markdown block (machine, versions, command, table) for docs/benchmarks.md,
or with ``--json PATH`` (``-`` for stdout) the figures as one JSON object. Peak memory
is the ``ru_maxrss`` of this process (exact), and with workers also the largest total
resident memory of this process and its children, sampled every 50 ms (approximate).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import sys
import threading
import time
import warnings
from datetime import date
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the sibling _machine module
from _machine import cpu_name

MODELS = ("naive", "seasonal_naive", "drift", "historic_average")


def _versions() -> str:
    import joblib
    import pandas

    text = (f"Python {platform.python_version()}, numpy {np.__version__}, pandas "
            f"{pandas.__version__}, joblib {joblib.__version__}")
    with contextlib.suppress(ImportError):
        import dask

        text += f", dask {dask.__version__}"
    return text


def _rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20


class _TreeSampler:
    """Largest total RSS of this process and its children, sampled in a thread."""

    def __init__(self, every: float = 0.05) -> None:
        self.every, self.peak_mb = every, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            import psutil
        except ImportError:  # psutil comes with dask[distributed]; without it, no tree
            return
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += p.memory_info().rss
            self.peak_mb = max(self.peak_mb, total / 2**20)
            self._stop.wait(self.every)

    def __enter__(self) -> _TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def make_panel(n_series: int, length: int, seed: int = 0, malformed: bool = True):
    """A long frame of ``n_series`` daily series: weekly season, trend and noise.

    With ``malformed``, series ``"bad"`` (the last one) has a missing value and a
    duplicated timestamp: ``backtest(errors="report")`` must skip and report it.
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    ds = pd.date_range("2024-01-01", periods=length, freq="D")
    t = np.arange(length)
    level = rng.uniform(10, 100, size=(n_series, 1))
    season = rng.uniform(0, 5, size=(n_series, 1)) * np.sin(2 * np.pi * t / 7)
    trend = rng.normal(0, 0.05, size=(n_series, 1)) * t
    y = level + season + trend + rng.normal(0, 1, size=(n_series, length))  # (S, T)
    ids = np.array([f"s{k:06d}" for k in range(n_series)], dtype=object)
    if malformed:
        ids[-1] = "bad"
        y[-1, length // 2] = np.nan
    frame = pd.DataFrame({"unique_id": np.repeat(ids, length), "ds": np.tile(ds, n_series),
                          "y": y.ravel()})
    if malformed:
        frame = pd.concat([frame, frame.iloc[[-1]]], ignore_index=True)  # duplicate ds
    return frame


def _models(names: list[str], season_length: int) -> dict[str, Any]:
    from tsssm.cli import build_models

    return build_models(names, season_length, horizon=0)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Build the data, run the backtest, return the figures."""
    import pandas as pd

    from tsssm.backtesting import backtest

    base_mb = _rss_mb()  # after the imports: what the data and backtest add on top
    start = time.perf_counter()
    frame = make_panel(args.series, args.length, seed=args.seed)
    build_s = time.perf_counter() - start
    models = _models(args.models, args.season_length)
    kwargs = dict(horizon=args.horizon, n_windows=args.windows, season_length=args.season_length,
                  refit=not args.no_refit, progress=False)

    with contextlib.ExitStack() as stack:
        n_jobs = args.n_jobs
        if args.dask_workers:
            import joblib
            from dask.distributed import Client, LocalCluster

            cluster = stack.enter_context(LocalCluster(
                n_workers=args.dask_workers, threads_per_worker=1, processes=True,
                dashboard_address=None))
            stack.enter_context(Client(cluster))
            stack.enter_context(joblib.parallel_config(backend="dask"))
            n_jobs = -1  # every worker thread of the cluster (1 would run one task at a time)
        sampler = stack.enter_context(_TreeSampler())
        wall, cpu = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = backtest(models, frame, n_jobs=n_jobs, **kwargs)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    errors = result.errors
    return {
        "series": args.series, "length": args.length, "rows": len(frame),
        "models": list(models), "windows": args.windows, "horizon": args.horizon,
        "n_jobs": args.n_jobs, "dask_workers": args.dask_workers,
        "build_s": round(build_s, 3), "backtest_s": round(wall, 3),
        "backtest_cpu_s": round(cpu, 3),
        "series_windows_per_s": round(int(result.counts["scored"].sum()) / wall, 1),
        "peak_rss_mb": round(_rss_mb(), 1), "rss_after_imports_mb": round(base_mb, 1),
        "peak_tree_rss_mb": round(sampler.peak_mb, 1),
        "forecast_rows": len(result.forecasts),
        "scored": {k: int(v) for k, v in result.counts["scored"].items()},
        "failed": {k: int(v) for k, v in result.counts["failed"].items()},
        "skipped": sorted(str(u) for u in errors.loc[errors["stage"] == "data",
                                                     "unique_id"].unique()),
        "skip_reason": "" if errors.empty else str(errors["message"].iloc[0]),
        "mase": {k: round(float(v), 4) for k, v in result.metrics["mase"].items()}
        if "mase" in result.metrics else {},
        "pandas": pd.__version__,
    }


def _markdown(res: dict[str, Any], command: str) -> str:
    how = ("1 process" if res["dask_workers"] == 0 and res["n_jobs"] == 1 else
           f"joblib, n_jobs={res['n_jobs']}" if res["dask_workers"] == 0 else
           f"Dask LocalCluster, {res['dask_workers']} worker processes")
    return "\n".join([
        f"{date.today().isoformat()}, {cpu_name()}, {os.cpu_count()} cores; {_versions()}.",
        "",
        f"`{command}`",
        "",
        "| series x length | models x windows | run on | backtest wall (CPU of main) "
        "| series-windows/s | peak RSS main (after imports) | peak RSS all processes "
        "| skipped |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| {res['series']:,} x {res['length']} | {len(res['models'])} x {res['windows']} "
        f"| {how} | {res['backtest_s']:.1f} s ({res['backtest_cpu_s']:.1f} s) "
        f"| {res['series_windows_per_s']:,.0f} | {res['peak_rss_mb']:.0f} MiB "
        f"({res['rss_after_imports_mb']:.0f} MiB) | {res['peak_tree_rss_mb']:.0f} MiB "
        f"| {', '.join(res['skipped']) or '-'} |",
    ])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--length", type=int, default=60)
    parser.add_argument("--horizon", type=int, default=7)
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--season-length", type=int, default=7)
    parser.add_argument("--models", default="naive,seasonal_naive",
                        help=f"comma-separated, from {', '.join(MODELS)}")
    parser.add_argument("--no-refit", action="store_true",
                        help="fit once and update between windows (refit=False)")
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--dask-workers", type=int, default=0,
                        help="run on a local Dask cluster of this many processes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="write the figures as JSON here "
                                                     "('-' for stdout) instead of Markdown")
    args = parser.parse_args(argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {', '.join(MODELS)}")
    # the models run on one BLAS thread each: more would only compete for the cores
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    res = run(args)
    if args.json is None:
        command = "python benchmarks/scale.py " + " ".join(sys.argv[1:] if argv is None
                                                            else argv)
        print(_markdown(res, command.strip()))
    elif args.json == "-":
        print(json.dumps(res))
    else:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
