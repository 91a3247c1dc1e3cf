"""Backtest speed: ARIMA rolling windows with refit=False (update) vs refit=True, and the demo.

Target: over 50 windows, fitting ARIMA once and rolling it forward with ``update``
(refit=False) is at least 10x faster than refitting it in every window (refit=True).
Both runs use one process (n_jobs=1) so the ratio measures the work, not the cores.
The demo (`tsssm demo`) is timed as a user runs it, in a fresh process.

Run::

    .venv/bin/python benchmarks/backtest_speed.py            # full run
    .venv/bin/python benchmarks/backtest_speed.py --windows 5 --no-demo   # smoke test

It prints a Markdown block (machine, versions, command, table) for docs/benchmarks.md.
Wall time and CPU time (of this process) are both shown: on a shared machine wall time
also counts waiting for the CPU.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import date

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the sibling _machine module
from _machine import cpu_name


def _versions() -> str:
    import numpy
    import pandas
    import statsmodels

    return (f"Python {platform.python_version()}, numpy {numpy.__version__}, pandas "
            f"{pandas.__version__}, statsmodels {statsmodels.__version__}")


def _time_backtest(refit: bool, args: argparse.Namespace) -> tuple[float, float, object]:
    from tsssm.backtesting import backtest
    from tsssm.datasets import load
    from tsssm.forecasters.arima import ARIMA

    y = load(args.dataset)
    model = ARIMA(order=(1, 1, 1), seasonal_order=(0, 1, 1, args.season_length))
    wall, cpu = time.perf_counter(), time.process_time()
    result = backtest([model], y, horizon=args.horizon, n_windows=args.windows,
                      step=args.step, refit=refit, season_length=args.season_length,
                      n_jobs=1, progress=False, errors="raise")
    return time.perf_counter() - wall, time.process_time() - cpu, result


def _time_demo(n_jobs: int) -> tuple[float, float]:
    """Wall time of `tsssm demo` in a fresh process, and the CPU time of the processes
    it ran that were reaped (all of it with n_jobs=1, where nothing runs elsewhere)."""
    with tempfile.TemporaryDirectory() as out:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tsssm.cli", "demo", "--out", out, "--quiet",
                        "--n-jobs", str(n_jobs)], check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="elec_equip")
    parser.add_argument("--windows", type=int, default=50)
    parser.add_argument("--horizon", type=int, default=12)
    parser.add_argument("--step", type=int, default=1)
    parser.add_argument("--season-length", type=int, default=12)
    parser.add_argument("--no-demo", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    _time_backtest(False, argparse.Namespace(**{**vars(args), "windows": 1}))  # warm imports
    rows = []
    for refit in (False, True):
        wall, cpu, res = _time_backtest(refit, args)
        rows.append((f"refit={refit}", wall, cpu, float(res.metrics.loc["ARIMA", "mase"])))
    demo = None if args.no_demo else (_time_demo(2), _time_demo(1))

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"- Machine: {cpu_name()}, {os.cpu_count()} cores (load average {load:.1f} "
          "at the end of the run)")
    print(f"- Versions: {_versions()}")
    print(f"- Date: {date.today().isoformat()}")
    command = " ".join([".venv/bin/python benchmarks/backtest_speed.py", *sys.argv[1:]])
    print(f"- Command: `{command}`")
    print(f"- Backtest: ARIMA(1,1,1)(0,1,1,{args.season_length}) on `{args.dataset}`, "
          f"{args.windows} windows, horizon {args.horizon}, step {args.step}, n_jobs=1")
    print()
    print("| run | wall s | CPU s | s per window (wall) | MASE |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, wall, cpu, mase in rows:
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {wall / args.windows:.3f} | {mase:.3f} |")
    (_, w_false, c_false, _), (_, w_true, c_true, _) = rows
    print()
    print(f"Speed-up of refit=False over refit=True: {w_true / w_false:.1f}x wall, "
          f"{c_true / c_false:.1f}x CPU (target: >= 10x).")
    if demo is not None:
        (wall2, _), (wall1, cpu1) = demo
        print(f"`tsssm demo` in a fresh process: {wall1:.1f} s wall and {cpu1:.1f} s CPU "
              f"with its default --n-jobs 1; {wall2:.1f} s wall with --n-jobs 2 "
              "(target: < 180 s on 2 cores).")

if __name__ == "__main__":
    main()
