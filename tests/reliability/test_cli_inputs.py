"""The ``tsssm`` command rejects bad paths and options with a message, never a traceback.

Usage errors (paths, option values, model names) exit with code 2 before any model
runs; unreadable or malformed data exits with code 1. Either way stderr carries one
``tsssm ...: error:`` line naming what was wrong, and nothing is written.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tsssm import cli


@pytest.fixture
def csv(tmp_path: Path) -> Path:
    """A valid long CSV of two monthly series (enough for a 3-window backtest)."""
    ds = pd.date_range("2015-01-31", periods=48, freq="ME")
    rng = np.random.default_rng(0)
    frame = pd.concat([
        pd.DataFrame({"unique_id": uid, "ds": ds, "y": rng.normal(10, 1, len(ds))})
        for uid in ("a", "b")
    ])
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return path


def _usage_cases(tmp: Path, csv: Path) -> dict[str, tuple[list[str], str]]:
    """name -> (argv, a fragment the error message must contain)."""
    afile = tmp / "existing.txt"
    afile.write_text("keep me")
    folder = tmp / "folder"
    folder.mkdir()
    base = ["backtest", "--data", str(csv), "--quiet"]
    return {
        "missing_data_path": (["backtest", "--data", str(tmp / "nope.csv")],
                              "neither an existing file"),
        "data_is_a_folder": (["backtest", "--data", str(folder)], "is a folder"),
        "out_is_a_file": ([*base, "--out", str(afile)], "existing file, not a folder"),
        "out_below_a_file": ([*base, "--out", str(afile / "sub")], "existing file"),
        "demo_out_is_a_file": (["demo", "--quiet", "--out", str(afile)], "existing file"),
        "negative_horizon": ([*base, "--horizon", "-3"], "--horizon: must be an int >= 1"),
        "zero_horizon": ([*base, "--horizon", "0"], "--horizon"),
        "text_horizon": ([*base, "--horizon", "twelve"], "'twelve'"),
        "float_horizon": ([*base, "--horizon", "1.5"], "'1.5'"),
        "negative_windows": ([*base, "--windows", "-1"], "--windows"),
        "zero_step": ([*base, "--step", "0"], "--step"),
        "zero_season": ([*base, "--season-length", "0"], "--season-length"),
        "zero_jobs": ([*base, "--n-jobs", "0"], "--n-jobs"),
        "unknown_model": ([*base, "--models", "naive,prophet"], "unknown model(s) prophet"),
        "empty_models": ([*base, "--models", ","], "at least one model"),
        "model_twice": ([*base, "--models", "naive,Naive"], "named twice"),
        "unknown_option": ([*base, "--horizn", "3"], "unrecognized arguments"),
        "no_data_option": (["backtest"], "--data"),
        "no_command": ([], "required"),
    }


CASES = sorted([
    "missing_data_path", "data_is_a_folder", "out_is_a_file", "out_below_a_file",
    "demo_out_is_a_file", "negative_horizon", "zero_horizon", "text_horizon",
    "float_horizon", "negative_windows", "zero_step", "zero_season", "zero_jobs",
    "unknown_model", "empty_models", "model_twice", "unknown_option", "no_data_option",
    "no_command",
])


@pytest.mark.parametrize("case", CASES)
def test_usage_errors_exit_2_with_a_message(case, tmp_path, csv, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the demo's default out/ must not land in the repo
    argv, fragment = _usage_cases(tmp_path, csv)[case]
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "error:" in err and fragment in err, err
    assert "Traceback" not in err
    # nothing ran: no output folder or file appeared, the existing file is intact
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert (tmp_path / "existing.txt").read_text() == "keep me"


def test_usage_cases_are_all_listed(tmp_path, csv):
    # CASES is spelled out for readable test ids; keep it in step with the table.
    assert sorted(_usage_cases(tmp_path, csv)) == CASES


@pytest.mark.parametrize("content, fragment", [
    (b"\x89PNG\r\n\x1a\n\x00\x00binary\xff\xfe", "error:"),
    (b"", "error:"),
    (b"unique_id,ds,y\n", "no rows"),
    (b"when,value\nyesterday,1\ntoday,2\ntomorrow,3\n", "as dates"),
    (b"unique_id,ds,units\na,2020-01-01,1\n", "target column 'y'"),
    (b"unique_id,ds,y\na,2020-01-01,1\na,2020-01-01,2\na,2020-01-03,3\n", "'a'"),
])
def test_malformed_csv_exits_1_with_a_message(tmp_path, content, fragment, capsys):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    out = tmp_path / "out"
    code = cli.main(["backtest", "--data", str(path), "--quiet", "--horizon", "1",
                     "--windows", "1", "--models", "naive", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.startswith("tsssm: error:") and fragment in err, err
    assert "Traceback" not in err
    assert not out.exists()


def test_installed_command_prints_no_traceback(tmp_path):
    """The real entry point in a fresh interpreter (what a shell user sees)."""
    afile = tmp_path / "f.txt"
    afile.write_text("x")
    proc = subprocess.run(
        [sys.executable, "-m", "tsssm.cli", "backtest", "--data", "nile", "--out",
         str(afile), "--horizon", "-1"],
        capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "error:" in proc.stderr
    assert proc.stdout == ""


def test_one_malformed_series_in_a_csv_is_skipped_and_reported(tmp_path, capsys):
    ds = pd.date_range("2015-01-31", periods=40, freq="ME")
    frame = pd.concat([pd.DataFrame({"unique_id": uid, "ds": ds, "y": np.arange(40.0)})
                       for uid in ("a", "b", "c")], ignore_index=True)
    frame.loc[(frame["unique_id"] == "b") & (frame["ds"] == ds[5]), "y"] = np.nan
    path = tmp_path / "one_bad.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "out"
    code = cli.main(["backtest", "--data", str(path), "--quiet", "--horizon", "6",
                     "--windows", "2", "--models", "naive", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Skipped 1 malformed series: Series 'b' contains 1 missing" in captured.err
    assert "Failed series-windows" not in captured.err
    errors = pd.read_csv(out / "errors.csv")
    assert errors[["model", "unique_id", "stage"]].values.tolist() == [["Naive", "b", "data"]]
    assert sorted(pd.read_csv(out / "forecasts.csv")["unique_id"].unique()) == ["a", "c"]
