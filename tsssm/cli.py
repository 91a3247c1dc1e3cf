"""The ``tsssm`` command: rolling backtests of forecasters from the shell.

::

    tsssm backtest --data elec_equip --horizon 12 --windows 4 --models seasonal_naive,ets
    tsssm backtest --data sales.csv --time-col date --target units --out results/
    tsssm demo --out out/demo

``backtest`` prints the metrics table and, with ``--out``, writes ``forecasts.csv``,
``metrics.csv`` and ``backtest.png`` there (each written to a temporary file first and
renamed, so a reader never sees half a file). ``demo`` runs the classical baselines and
the four state-space forecasters on a bundled monthly series. Exit codes: 0 success,
1 a data or model error (the message is printed, without a traceback), 2 a usage error.

Models are looked up by name in :data:`MODELS`; :data:`DEMO_MODELS` lists those the
demo runs. Both are plain module-level tables, so a forecaster is added in one place.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["DEMO_MODELS", "MODELS", "main"]


# ---------------------------------------------------------------------- models
# Imports stay inside the factories: `tsssm --help` should not pay for statsmodels.
def _naive(season_length: int, horizon: int) -> Any:
    from tsssm.forecasters.naive import Naive

    return Naive()


def _seasonal_naive(season_length: int, horizon: int) -> Any:
    from tsssm.forecasters.naive import SeasonalNaive

    return SeasonalNaive(season_length=season_length)


def _drift(season_length: int, horizon: int) -> Any:
    from tsssm.forecasters.naive import Drift

    return Drift()


def _historic_average(season_length: int, horizon: int) -> Any:
    from tsssm.forecasters.naive import HistoricAverage

    return HistoricAverage()


def _arima(season_length: int, horizon: int) -> Any:
    from tsssm.forecasters.arima import ARIMA

    # The "airline" model (Box & Jenkins): one regular and one seasonal difference
    # with MA terms. A robust default that fits in a fraction of a second.
    if season_length > 1:
        return ARIMA(order=(1, 1, 1), seasonal_order=(0, 1, 1, season_length))
    return ARIMA(order=(1, 1, 1))


def _auto_arima(season_length: int, horizon: int) -> Any:
    from tsssm.forecasters.auto_arima import AutoARIMA

    return AutoARIMA(season_length=season_length)


def _ets(season_length: int, horizon: int) -> Any:
    from tsssm.forecasters.ets import ETS

    # Additive damped trend (the most robust trend in the M3/M4 studies) and an
    # additive season where there is one.
    if season_length > 1:
        return ETS(trend="add", damped_trend=True, seasonal="add",
                   season_length=season_length)
    return ETS(trend="add", damped_trend=True)


def _theta(season_length: int, horizon: int) -> Any:
    from tsssm.forecasters.theta import Theta

    return Theta(season_length=season_length)


def _neural(name: str) -> Callable[[int, int], Any]:
    """Factory of a small state-space forecaster that trains in seconds on a CPU.

    Sized for short series such as the demo's (lookback of three horizons, two layers
    of width 32); no validation split, since a held-out tail of a 20-year monthly series
    costs more accuracy than early stopping saves.
    """

    def make(season_length: int, horizon: int) -> Any:
        from tsssm.forecasters import neural

        cls = getattr(neural, name)
        return cls(horizon=horizon, lookback=max(3 * horizon, 2 * season_length),
                   d_model=32, n_layers=2, d_state=16, dropout=0.1, max_epochs=20,
                   batch_size=32, lr=3e-3, val_size=0, random_state=0, verbose=False)

    return make


#: Model name -> factory ``f(season_length, horizon) -> estimator``.
MODELS: dict[str, Callable[[int, int], Any]] = {
    "seasonal_naive": _seasonal_naive,
    "naive": _naive,
    "drift": _drift,
    "historic_average": _historic_average,
    "arima": _arima,
    "auto_arima": _auto_arima,
    "ets": _ets,
    "theta": _theta,
    "s4": _neural("S4Forecaster"),
    "s5": _neural("S5Forecaster"),
    "mamba": _neural("MambaForecaster"),
    "hybrid": _neural("HybridForecaster"),
}

_NEURAL_NAMES = ("s4", "s5", "mamba", "hybrid")

#: Models of ``tsssm demo``, in table order (names of :data:`MODELS`).
DEMO_MODELS: list[str] = ["seasonal_naive", "naive", "ets", "arima", "theta",
                          "s4", "s5", "mamba", "hybrid"]

#: The demo's data and windows: monthly euro-area electrical equipment output (trend
#: and a strong yearly season), the last four years forecast one year at a time.
DEMO_DATA, DEMO_HORIZON, DEMO_WINDOWS, DEMO_SEASON = "elec_equip", 12, 4, 12

_DEFAULT_MODELS = "seasonal_naive,naive,ets,theta"


def _display_name(name: str) -> str:
    return {"seasonal_naive": "SeasonalNaive", "naive": "Naive", "drift": "Drift",
            "historic_average": "HistoricAverage", "arima": "ARIMA",
            "auto_arima": "AutoARIMA", "ets": "ETS", "theta": "Theta", "s4": "S4",
            "s5": "S5", "mamba": "Mamba", "hybrid": "Hybrid"}.get(name, name)


def build_models(names: Sequence[str], season_length: int, horizon: int) -> dict[str, Any]:
    """Instantiate registry models by name, keyed by their display names.

    Parameters
    ----------
    names : sequence of str
        Keys of :data:`MODELS`.
    season_length : int
        Season length passed to the seasonal models.
    horizon : int
        Forecast horizon (for models that are trained for one).

    Returns
    -------
    dict of str to estimator
    """
    return {_display_name(n): MODELS[n](season_length, horizon) for n in names}


# ----------------------------------------------------------------------- data
def _builtin_names() -> list[str]:
    from tsssm.datasets import list_datasets

    return list_datasets()


def _load_builtin(name: str, target: str | None) -> tuple[pd.Series | pd.DataFrame, str]:
    from tsssm.datasets import load

    data = load(name)
    if target is not None:
        columns = [data.name] if isinstance(data, pd.Series) else list(data.columns)
        wanted = _split(target)
        missing = [t for t in wanted if t not in columns]
        if missing:
            from tsssm.exceptions import DataError

            raise DataError(f"Dataset {name!r} has no column(s) {missing}; it has {columns}.")
        if isinstance(data, pd.DataFrame):
            data = data[wanted[0]] if len(wanted) == 1 else data[wanted]
    return data, name


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _read_csv(path: Path, target: str | None, time_col: str | None,
              id_col: str) -> pd.Series | pd.DataFrame:
    """Read a long (``id_col`` present) or wide CSV, parsing its time column."""
    from tsssm.exceptions import DataError

    frame = pd.read_csv(path)
    if frame.empty:
        raise DataError(f"{path} has no rows.")
    if time_col is None:
        time_col = "ds" if "ds" in frame.columns else frame.columns[0]
    elif time_col not in frame.columns:
        raise DataError(
            f"{path} has no time column {time_col!r}; it has {list(frame.columns)[:10]}. "
            "Pass --time-col."
        )
    times = frame[time_col]
    if not pd.api.types.is_integer_dtype(times.dtype):
        try:
            times = pd.to_datetime(times)
        except (TypeError, ValueError) as err:
            raise DataError(
                f"Could not read column {time_col!r} of {path} as dates: {err}. Pass "
                "--time-col to name the time column."
            ) from None
    frame = frame.assign(**{time_col: times})
    if id_col in frame.columns:
        target = target or "y"
        if target not in frame.columns:
            raise DataError(
                f"{path} is a long table (it has {id_col!r}) without the target column "
                f"{target!r}; it has {list(frame.columns)[:10]}. Pass --target."
            )
        return frame[[id_col, time_col, target]].rename(
            columns={id_col: "unique_id", time_col: "ds", target: "y"})
    frame = frame.set_index(time_col)
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c].dtype)]
    wanted = numeric if target is None else _split(target)
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise DataError(f"{path} has no column(s) {missing}; it has {list(frame.columns)[:10]}.")
    if not wanted:
        raise DataError(f"{path} has no numeric column to forecast besides {time_col!r}.")
    return frame[wanted[0]] if len(wanted) == 1 else frame[wanted]


def _season_from_freq(freq: Any) -> int:
    """A season length for a frequency: a year of months/quarters/weeks, a day of hours."""
    if isinstance(freq, int):
        return 1
    name = getattr(freq, "rule_code", "") or ""
    n = int(getattr(freq, "n", 1) or 1)
    base = name.split("-")[0]
    by_code = {"M": 12, "ME": 12, "MS": 12, "BM": 12, "BME": 12, "BMS": 12,
               "Q": 4, "QE": 4, "QS": 4, "BQ": 4, "BQE": 4, "BQS": 4,
               "W": 52, "D": 7, "B": 5, "h": 24, "H": 24}
    if base in ("min", "T"):
        return 1440 // n if 1440 % n == 0 else 1
    m = by_code.get(base, 1)
    return m // n if n > 1 and m % n == 0 else (m if n == 1 else 1)


# ------------------------------------------------------------------ output
def _atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Write through a temporary file in the same folder, then rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _save(result: Any, out: Path) -> list[Path]:
    from matplotlib.figure import Figure

    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "forecasts.csv", out / "metrics.csv", out / "backtest.png"]
    _atomic_write(paths[0], lambda p: result.forecasts.to_csv(p, index=False))
    _atomic_write(paths[1], lambda p: result.metrics.to_csv(p))
    fig = Figure(figsize=(10, 7), layout="constrained")
    top, bottom = fig.subplots(2, 1, height_ratios=[2, 1])
    result.plot(ax=top)
    if result.metrics.shape[1] and result.metrics.notna().any().any():
        metric = "mase" if "mase" in result.metrics.columns else None
        result.plot_metrics(metric=metric, ax=bottom)
    else:
        bottom.set_axis_off()
    _atomic_write(paths[2], lambda p: fig.savefig(p, format="png", dpi=100))
    if len(result.errors):
        paths.append(out / "errors.csv")
        _atomic_write(paths[3], lambda p: result.errors.to_csv(p, index=False))
    return paths


def _report(result: Any, title: str, out: Path | None) -> None:
    print(title)
    print(result.metrics.to_string(float_format=lambda v: f"{v:.4g}"))
    data = result.errors["stage"] == "data"
    if data.any():
        skipped = result.errors.loc[data].drop_duplicates("unique_id")
        print(f"Skipped {len(skipped)} malformed series: "
              f"{skipped['message'].iloc[0]}", file=sys.stderr)
    if (~data).any():
        failed = result.counts["failed"]
        listed = ", ".join(f"{m} ({n})" for m, n in failed[failed > 0].items())
        print(f"Failed series-windows: {listed}. First error: "
              f"{result.errors.loc[~data].iloc[0]['message']}", file=sys.stderr)
    if out is not None:
        paths = _save(result, out)
        print("Wrote " + ", ".join(str(p) for p in paths))


# -------------------------------------------------------------------- parser
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an int >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an int >= 1, got {value}")
    return value


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an int (-1: all cores), got {text!r}"
                                         ) from None
    if value == 0:
        raise argparse.ArgumentTypeError("must not be 0 (use 1, 2, ... or -1 for all cores)")
    return value


def _out_dir(text: str) -> Path:
    # Checked while parsing, so a clash fails at once (exit 2) rather than after the
    # whole backtest has run.
    path = Path(text)
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise argparse.ArgumentTypeError(
            f"{str(existing)!r} is an existing file, not a folder; name a folder (it is "
            "created if needed)")
    return path


def _model_list(text: str) -> list[str]:
    names = [n.lower() for n in _split(text)]
    if not names:
        raise argparse.ArgumentTypeError("needs at least one model name")
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown model(s) {', '.join(unknown)}; valid: {', '.join(MODELS)}")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"a model is named twice in {text!r}")
    return names


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tsssm",
        description="Forecast backtests with classical and state-space models.",
    )
    sub = parser.add_subparsers(dest="command", metavar="{backtest,demo}")
    sub.required = True

    bt = sub.add_parser(
        "backtest", help="rolling-origin backtest of models on a dataset or CSV file",
        description="Rolling-origin backtest: forecast --horizon steps from --windows "
                    "cutoffs at the end of each series and score the forecasts.")
    bt.add_argument("--data", required=True,
                    help="a built-in dataset name (see tsssm.datasets.list_datasets) or "
                         "a CSV path: long (unique_id, ds, y columns) or wide (a time "
                         "column and one numeric column per series)")
    bt.add_argument("--target", help="target column(s), comma-separated (wide CSVs: "
                                     "default all numeric columns; long CSVs: default y)")
    bt.add_argument("--time-col", default=None,
                    help="time column of a CSV (default: 'ds' if present, else the first)")
    bt.add_argument("--id-col", default="unique_id",
                    help="series id column of a long CSV (default: unique_id)")
    bt.add_argument("--horizon", type=_positive_int, default=12,
                    help="steps forecast from each cutoff (default: 12)")
    bt.add_argument("--windows", type=_positive_int, default=3,
                    help="number of forecast windows (default: 3)")
    bt.add_argument("--step", type=_positive_int, default=None,
                    help="steps between cutoffs (default: the horizon)")
    bt.add_argument("--models", type=_model_list, default=_model_list(_DEFAULT_MODELS),
                    help=f"comma-separated, from: {', '.join(MODELS)} "
                         f"(default: {_DEFAULT_MODELS})")
    bt.add_argument("--season-length", type=_positive_int, default=None,
                    help="season length (default: from the frequency, e.g. 12 for "
                         "monthly, 24 for hourly data)")
    bt.add_argument("--n-jobs", type=_jobs, default=1,
                    help="parallel workers over models and windows (default: 1)")
    bt.add_argument("--out", type=_out_dir, default=None,
                    help="folder for forecasts.csv, metrics.csv and backtest.png "
                         "(created if needed; default: print only)")
    bt.add_argument("--quiet", action="store_true", help="no progress bar")

    demo = sub.add_parser(
        "demo", help="backtest the baselines and the SSM forecasters on a bundled monthly series",
        description=f"Backtest {', '.join(DEMO_MODELS)} on the bundled '{DEMO_DATA}' "
                    f"series: {DEMO_WINDOWS} windows of {DEMO_HORIZON} months.")
    demo.add_argument("--out", type=_out_dir, default=Path("out/demo"),
                      help="folder for the results (default: out/demo)")
    # One process by default: starting workers (each importing statsmodels and
    # pmdarima) costs more than it saves on a busy 2-core machine.
    demo.add_argument("--n-jobs", type=_jobs, default=1,
                      help="parallel workers (default: 1)")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


# ---------------------------------------------------------------------- main
def _run_backtest(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    from tsssm.backtesting import backtest
    from tsssm.data import to_panel

    path = Path(args.data)
    if path.is_dir():
        parser.error(f"argument --data: {args.data!r} is a folder; give a CSV file or a "
                     "built-in dataset name")
    if path.is_file():
        y, label = _read_csv(path, args.target, args.time_col, args.id_col), path.name
    elif args.data.lower() in {n.lower() for n in _builtin_names()}:
        y, label = _load_builtin(args.data, args.target)
    else:
        parser.error(
            f"argument --data: {args.data!r} is neither an existing file nor a built-in "
            f"dataset ({', '.join(_builtin_names())})")
    season = args.season_length
    if season is None:
        # malformed series are skipped (and reported) by the backtest, not fatal here
        season = _season_from_freq(to_panel(y, on_invalid="skip").axis.freq)
    if any(name in _NEURAL_NAMES for name in args.models):
        _one_torch_thread()
    models = build_models(args.models, season, args.horizon)
    result = backtest(models, y, horizon=args.horizon, n_windows=args.windows,
                      step=args.step, season_length=season, n_jobs=args.n_jobs,
                      progress=not args.quiet)
    title = (f"Backtest of {label}: horizon {args.horizon}, {args.windows} window(s), "
             f"season length {season}")
    _report(result, title, args.out)


def _one_torch_thread() -> None:
    """Train the small demo networks on one thread: on a 2-core machine torch's own
    thread pool competes with the process for the cores and runs 10-20x slower
    (benchmarks/training_throughput.py, docs/benchmarks.md)."""
    import torch

    torch.set_num_threads(1)


def _run_demo(args: argparse.Namespace) -> None:
    from tsssm.backtesting import backtest
    from tsssm.datasets import load

    _one_torch_thread()
    y = load(DEMO_DATA)
    models = build_models(DEMO_MODELS, DEMO_SEASON, DEMO_HORIZON)
    result = backtest(models, y, horizon=DEMO_HORIZON, n_windows=DEMO_WINDOWS,
                      season_length=DEMO_SEASON, n_jobs=args.n_jobs,
                      progress=not args.quiet)
    title = (f"tsssm demo: {DEMO_DATA} ({len(y)} months), {DEMO_WINDOWS} windows of "
             f"{DEMO_HORIZON} months, metrics averaged over windows (lower is better)")
    _report(result, title, args.out)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tsssm`` command.

    Parameters
    ----------
    argv : sequence of str or None, default=None
        Arguments without the program name; None reads ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit code: 0 on success, 1 on a data or model error, 2 on a usage error.

    Examples
    --------
    A backtest of the seasonal naive forecast on a bundled monthly series (the usage of
    the shell command ``tsssm backtest ...``); the return value is the exit code:

    >>> from tsssm.cli import main
    >>> main(["backtest", "--data", "elec_equip", "--horizon", "12", "--windows", "1",
    ...       "--models", "seasonal_naive", "--quiet"])
    Backtest of elec_equip: horizon 12, 1 window(s), season length 12
      mae rmse smape mase
    model
    SeasonalNaive ...
    0

    A usage error (here a missing ``--data``) prints the usage to stderr and returns 2:

    >>> main(["backtest"])
    2
    """
    from tsssm.exceptions import (
        DataError,
        DataTypeError,
        FitFailedError,
        ParameterError,
        ParameterTypeError,
    )

    parser = _parser()
    try:
        args = parser.parse_args(argv)
        with warnings.catch_warnings():
            # statsmodels' convergence chatter would bury the table
            warnings.simplefilter("ignore")
            if args.command == "backtest":
                _run_backtest(args, parser)
            else:
                _run_demo(args)
    except SystemExit as stop:  # argparse: --help (0) and usage errors (2)
        return int(stop.code) if isinstance(stop.code, int) else 2
    except (DataError, DataTypeError, FitFailedError, ParameterError, ParameterTypeError,
            OSError, pd.errors.ParserError, pd.errors.EmptyDataError,
            UnicodeDecodeError) as err:
        print(f"tsssm: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
