"""The tsssm command: files written, table printed, exit codes 0 / 1 / 2."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tsssm import cli


@pytest.fixture
def wide_csv(tmp_path):
    t = np.arange(60)
    frame = pd.DataFrame({
        "date": pd.date_range("2015-01-01", periods=60, freq="MS").strftime("%Y-%m-%d"),
        "north": 100 + 10 * np.sin(2 * np.pi * t / 12) + 0.5 * t,
        "south": 50 + 5 * np.cos(2 * np.pi * t / 12),
        "label": "x",  # a text column is not a series
    })
    path = tmp_path / "sales.csv"
    frame.to_csv(path, index=False)
    return path


def test_backtest_writes_three_files_and_prints_the_table(wide_csv, tmp_path, capsys):
    out = tmp_path / "new" / "folder"
    code = cli.main(["backtest", "--data", str(wide_csv), "--horizon", "6", "--windows",
                     "2", "--models", "seasonal_naive,naive,drift", "--out", str(out),
                     "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "season length 12" in captured.out  # inferred from the monthly dates
    for name in ("SeasonalNaive", "Naive", "Drift", "mase"):
        assert name in captured.out
    assert sorted(p.name for p in out.iterdir()) == [
        "backtest.png", "forecasts.csv", "metrics.csv"]  # no temporary files left
    metrics = pd.read_csv(out / "metrics.csv", index_col="model")
    assert metrics.index.tolist() == ["SeasonalNaive", "Naive", "Drift"]
    forecasts = pd.read_csv(out / "forecasts.csv")
    # 3 models x 2 series x 2 windows x 6 steps
    assert len(forecasts) == 72
    assert set(forecasts.unique_id) == {"north", "south"}
    # the 'south' series is exactly 12-periodic: the seasonal naive forecast is exact
    south = forecasts.query("model == 'SeasonalNaive' and unique_id == 'south'")
    np.testing.assert_allclose(south.yhat, south.y)
    assert (out / "backtest.png").read_bytes()[:4] == b"\x89PNG"


def test_backtest_long_csv_with_target_and_time_column(tmp_path, capsys):
    rows = [pd.DataFrame({"store": s, "day": pd.date_range("2024-01-01", periods=30),
                          "units": np.arange(30.0) * (k + 1)}) for k, s in enumerate("ab")]
    path = tmp_path / "long.csv"
    pd.concat(rows).to_csv(path, index=False)
    code = cli.main(["backtest", "--data", str(path), "--id-col", "store", "--time-col",
                     "day", "--target", "units", "--horizon", "3", "--models", "drift",
                     "--season-length", "1", "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    table = captured.out.splitlines()
    drift_row = next(line for line in table if line.startswith("Drift"))
    assert float(drift_row.split()[1]) == pytest.approx(0.0, abs=1e-9)  # straight lines


def test_backtest_builtin_dataset(capsys):
    code = cli.main(["backtest", "--data", "nile", "--models", "naive,historic_average",
                     "--horizon", "5", "--windows", "2", "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Backtest of nile" in captured.out and "season length 1" in captured.out


@pytest.mark.parametrize(("args", "message"), [
    (["backtest", "--data", "missing.csv"], "neither an existing file nor a built-in"),
    (["backtest", "--data", "nile", "--models", "naive,prophet"],
     "unknown model(s) prophet; valid: seasonal_naive, naive"),
    (["backtest", "--data", "nile", "--horizon", "0"], "--horizon: must be an int >= 1"),
    (["backtest", "--data", "nile", "--n-jobs", "0"], "must not be 0"),
    (["backtest"], "the following arguments are required: --data"),
    ([], "required"),
    (["forecast"], "invalid choice"),
])
def test_usage_errors_exit_with_code_2(args, message, capsys):
    assert cli.main(args) == 2
    assert message in capsys.readouterr().err


def test_data_errors_exit_with_code_1_without_traceback(wide_csv, capsys):
    code = cli.main(["backtest", "--data", str(wide_csv), "--windows", "20", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("tsssm: error: Series ['north', 'south'] are too short")
    assert "Traceback" not in err
    assert cli.main(["backtest", "--data", str(wide_csv), "--target", "west"]) == 1
    assert "has no column(s) ['west']" in capsys.readouterr().err


def test_registry_models_are_valid_for_seasonal_and_plain_data():
    for m in (1, 12):
        for name, est in cli.build_models(list(cli.MODELS), m, 6).items():
            est._check_params()  # raises on an invalid default
            assert cli.build_models([cli.DEMO_MODELS[0]], m, 6)
            assert name[0].isupper()
    assert set(cli.DEMO_MODELS) <= set(cli.MODELS)
    assert cli._season_from_freq(pd.tseries.frequencies.to_offset("h")) == 24
    assert cli._season_from_freq(pd.tseries.frequencies.to_offset("QS")) == 4
    assert cli._season_from_freq(pd.tseries.frequencies.to_offset("15min")) == 96
    assert cli._season_from_freq(pd.tseries.frequencies.to_offset("YS")) == 1
    assert cli._season_from_freq(1) == 1


@pytest.mark.slow
def test_demo_runs_and_saves_its_results(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli.main(["demo", "--out", str(out), "--quiet"]) == 0
    captured = capsys.readouterr()
    metrics = pd.read_csv(out / "metrics.csv", index_col="model")
    assert metrics.index.tolist() == ["SeasonalNaive", "Naive", "ETS", "ARIMA", "Theta",
                                      "S4", "S5", "Mamba", "Hybrid"]
    assert metrics.notna().all().all()
    # the state-space forecasters, trained in the demo, beat the seasonal naive baseline
    for name in ("S4", "S5", "Mamba", "Hybrid"):
        assert metrics.loc[name, "mase"] < metrics.loc["SeasonalNaive", "mase"], name
    # on a strongly seasonal series the seasonal models beat the naive forecast
    assert metrics.loc["SeasonalNaive", "mase"] < metrics.loc["Naive", "mase"]
    assert metrics.loc["ETS", "mase"] < metrics.loc["Naive", "mase"]
    assert "tsssm demo: elec_equip" in captured.out
    assert (out / "backtest.png").exists()
