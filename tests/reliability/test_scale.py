"""Backtests over thousands of series: time, memory, a malformed series, and workers.

The first test runs ``benchmarks/scale.py`` itself (a smaller version of the 10,000
series benchmark) in a fresh interpreter, so its peak memory is its own. The others
check that spreading the same backtest over joblib processes or a Dask cluster (through
joblib's dask backend, the documented path beyond one machine) gives exactly the
sequential result, malformed series included.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import joblib
import pandas as pd
import pytest

from tsssm import backtest
from tsssm.forecasters import Naive, SeasonalNaive

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "scale.py"

# Wall-time ceiling of the 2,000-series backtest. It takes about 8 s alone on the
# project's 2-core machine; the margin absorbs a loaded CI box running tests in parallel.
TIME_BUDGET_S = 60.0
# What the backtest may add to the resident memory after imports (about 40 MiB seen):
# the data, the forecasts and the per-task copies together.
MEMORY_BUDGET_MB = 150.0


def _scale_module():
    spec = importlib.util.spec_from_file_location("scale_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_two_thousand_series_within_time_and_memory_budget():
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--series", "2000", "--windows", "2", "--json", "-"],
        capture_output=True, text=True, timeout=300, check=False, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(proc.stdout)
    # the one malformed series is reported and skipped; the others all scored
    assert res["skipped"] == ["bad"] and "'bad'" in res["skip_reason"]
    assert res["scored"] == {"Naive": 1999 * 2, "SeasonalNaive": 1999 * 2}
    assert res["failed"] == {"Naive": 0, "SeasonalNaive": 0}
    assert res["forecast_rows"] == 2 * 1999 * 2 * 7
    # seasonal naive must beat naive on these weekly-seasonal series
    assert res["mase"]["SeasonalNaive"] < res["mase"]["Naive"]
    assert res["backtest_s"] < TIME_BUDGET_S, res
    grown = res["peak_rss_mb"] - res["rss_after_imports_mb"]
    assert grown < MEMORY_BUDGET_MB, res


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return _scale_module().make_panel(300, 40, seed=1)


KWARGS = dict(horizon=7, n_windows=2, season_length=7, progress=False)


@pytest.fixture(scope="module")
def sequential(frame):
    models = {"naive": Naive(), "snaive": SeasonalNaive(season_length=7)}
    return {refit: backtest(models, frame, refit=refit, **KWARGS) for refit in (True, False)}


def _same(a, b) -> None:
    for name in ("forecasts", "per_window", "metrics", "errors", "counts"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), obj=name)


@pytest.mark.parametrize("refit", [True, False])
def test_joblib_processes_give_the_sequential_result(frame, sequential, refit):
    models = {"naive": Naive(), "snaive": SeasonalNaive(season_length=7)}
    res = backtest(models, frame, refit=refit, n_jobs=2, **KWARGS)
    _same(res, sequential[refit])
    assert list(res.errors["unique_id"]) == ["bad", "bad"]


def test_dask_cluster_through_joblib_gives_the_sequential_result(frame, sequential):
    distributed = pytest.importorskip("dask.distributed")
    models = {"naive": Naive(), "snaive": SeasonalNaive(season_length=7)}
    # processes=False keeps the test fast (threads of this process); the scheduler,
    # task graph and (de)serialisation are those of a real cluster.
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client, \
            joblib.parallel_config(backend="dask"), \
            distributed.get_task_stream(client) as stream:
        res = backtest(models, frame, refit=True, n_jobs=-1, **KWARGS)
        workers = set(client.scheduler_info()["workers"])
    # the (model, window) tasks really ran on the cluster's workers
    assert len(stream.data) >= 1
    assert {t["worker"] for t in stream.data} <= workers and len(workers) == 2
    _same(res, sequential[True])
    assert list(res.errors["stage"]) == ["data", "data"]
