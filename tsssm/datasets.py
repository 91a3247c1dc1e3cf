"""Dataset loaders: statsmodels' bundled series, ETT from disk or its public URL, synthetic.

Every loader returns pandas objects with a regular ``DatetimeIndex`` named ``"ds"``
that carries its frequency, so the result can go straight into ``fit``:

- :func:`load_statsmodels`: series shipped inside statsmodels (nothing is downloaded);
- :func:`load_ett`: the Electricity Transformer Temperature data (ETTh1, ETTh2, ETTm1,
  ETTm2), read from a path, ``$TSSSM_DATA``, the cache, or downloaded once into the
  cache; :func:`ett_splits` gives the standard 12/4/4-month borders;
- :func:`make_synthetic`: seeded trend + seasonalities + noise, any number of series;
- :func:`load` / :func:`list_datasets`: one entry point by name (used by the CLI).

The dataset cards in the repository's ``datasets/`` folder give the source, license,
frequency and columns of each dataset.
"""

from __future__ import annotations

import importlib
import numbers
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from tsssm._validation import check_int, check_option, check_real
from tsssm.exceptions import DataError, ParameterError, ParameterTypeError

__all__ = [
    "ETT_COLUMNS",
    "ETT_NAMES",
    "ETT_URL",
    "ETTSplits",
    "ett_splits",
    "list_datasets",
    "load",
    "load_ett",
    "load_statsmodels",
    "make_synthetic",
]

STATSMODELS_NAMES = ("co2", "sunspots", "nile", "elnino", "elec_equip", "macrodata")
ETT_NAMES = ("ETTh1", "ETTh2", "ETTm1", "ETTm2")
ETT_COLUMNS = ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT")
ETT_URL = "https://raw.githubusercontent.com/zhouhaoyi/ETDataset/main/ETT-small/{name}.csv"

# Offsets rather than alias strings: alias spellings changed across pandas versions
# ("H" -> "h", "AS" -> "YS"), offset objects mean the same thing in pandas 2.x and 3.x.
_HOURLY = pd.offsets.Hour()
_QUARTER_HOUR = pd.offsets.Minute(15)
_YEARLY = pd.offsets.YearBegin()
_QUARTERLY = pd.offsets.QuarterBegin(startingMonth=1)
_MONTHLY = pd.offsets.MonthBegin()
_WEEKLY_SAT = pd.offsets.Week(weekday=5)


# --------------------------------------------------------------------------------------
# statsmodels' bundled series
# --------------------------------------------------------------------------------------


def _statsmodels_frame(module: str) -> pd.DataFrame:
    # Imported lazily: statsmodels' dataset modules take a while to import.
    return importlib.import_module(f"statsmodels.datasets.{module}").load_pandas().data


def _regular_index(start: Any, periods: int, freq: pd.DateOffset) -> pd.DatetimeIndex:
    return pd.date_range(start=start, periods=periods, freq=freq, name="ds")


def _yearly_series(module: str, year_col: str, value_col: str, name: str) -> pd.Series:
    data = _statsmodels_frame(module)
    years = data[year_col].to_numpy()
    # The bundled files hold one row per consecutive year; check rather than assume so a
    # change upstream fails loudly instead of shifting dates.
    if not np.all(np.diff(years) == 1):
        raise DataError(f"statsmodels' {module} data no longer holds consecutive years.")
    index = _regular_index(f"{int(years[0])}-01-01", len(years), _YEARLY)
    return pd.Series(data[value_col].to_numpy(dtype=np.float64), index=index, name=name)


def _load_co2() -> pd.Series:
    raw = _statsmodels_frame("co2")["co2"]
    index = _regular_index(raw.index[0], len(raw), _WEEKLY_SAT)
    if not np.array_equal(index.to_numpy(), raw.index.to_numpy().astype(index.dtype)):
        raise DataError("statsmodels' co2 data is no longer a regular weekly series.")
    series = pd.Series(raw.to_numpy(dtype=np.float64), index=index, name="co2")
    # 59 weeks have no measurement; a straight line between the neighbouring weeks keeps
    # the index regular (the dataset card says so).
    return series.interpolate(method="linear", limit_direction="both")


def _load_sunspots() -> pd.Series:
    return _yearly_series("sunspots", "YEAR", "SUNACTIVITY", "sunspots")


def _load_nile() -> pd.Series:
    return _yearly_series("nile", "year", "volume", "nile")


def _load_elnino() -> pd.Series:
    data = _statsmodels_frame("elnino")
    years = data["YEAR"].to_numpy()
    if not np.all(np.diff(years) == 1):
        raise DataError("statsmodels' elnino data no longer holds consecutive years.")
    # One row per year with twelve month columns JAN..DEC: read row by row.
    values = data.drop(columns="YEAR").to_numpy(dtype=np.float64).ravel()
    index = _regular_index(f"{int(years[0])}-01-01", len(values), _MONTHLY)
    return pd.Series(values, index=index, name="elnino")


def _load_elec_equip() -> pd.Series:
    raw = _statsmodels_frame("elec_equip").iloc[:, 0]
    index = _regular_index(raw.index[0], len(raw), _MONTHLY)
    return pd.Series(raw.to_numpy(dtype=np.float64), index=index, name="elec_equip")


def _load_macrodata() -> pd.DataFrame:
    data = _statsmodels_frame("macrodata")
    first_year, first_quarter = int(data["year"].iloc[0]), int(data["quarter"].iloc[0])
    start = f"{first_year}-{3 * (first_quarter - 1) + 1:02d}-01"
    index = _regular_index(start, len(data), _QUARTERLY)
    expected_year = index.year.to_numpy()
    expected_quarter = index.quarter.to_numpy()
    if not (
        np.array_equal(data["year"].to_numpy(), expected_year)
        and np.array_equal(data["quarter"].to_numpy(), expected_quarter)
    ):
        raise DataError("statsmodels' macrodata no longer holds consecutive quarters.")
    values = data.drop(columns=["year", "quarter"]).astype(np.float64)
    values.index = index
    return values


_STATSMODELS_LOADERS = {
    "co2": _load_co2,
    "sunspots": _load_sunspots,
    "nile": _load_nile,
    "elnino": _load_elnino,
    "elec_equip": _load_elec_equip,
    "macrodata": _load_macrodata,
}


def load_statsmodels(name: str) -> pd.Series | pd.DataFrame:
    """Load a time series bundled with statsmodels, with a regular, frequency-aware index.

    Nothing is downloaded: the data ships inside the statsmodels package.

    Parameters
    ----------
    name : {"co2", "sunspots", "nile", "elnino", "elec_equip", "macrodata"}
        Which dataset:

        - ``"co2"``: weekly atmospheric CO2 at Mauna Loa (ppm), 1958-03-29 to
          2001-12-29, frequency ``W-SAT``, 2284 weeks. The 59 missing weeks are filled
          by linear interpolation.
        - ``"sunspots"``: yearly sunspot activity, 1700-2008, frequency ``YS``.
        - ``"nile"``: yearly Nile flow volume at Aswan, 1871-1970, frequency ``YS``.
        - ``"elnino"``: monthly sea surface temperature in the Nino 1+2 region (deg C),
          1950-01 to 2010-12 as one series of 732 months, frequency ``MS``.
        - ``"elec_equip"``: monthly Euro-area manufacture of electrical equipment
          (turnover index), 1995-01 to 2016-05, frequency ``MS``.
        - ``"macrodata"``: 12 quarterly US macroeconomic series (realgdp, realcons,
          realinv, realgovt, realdpi, cpi, m1, tbilrate, unemp, pop, infl, realint),
          1959Q1-2009Q3, frequency ``QS-JAN``.

    Returns
    -------
    pandas.Series or pandas.DataFrame
        A Series named after the dataset, or for ``"macrodata"`` a wide DataFrame with
        one column per series; indexed by a ``DatetimeIndex`` named ``"ds"`` whose
        ``freq`` is set (period starts as timestamps). No missing values.

    Raises
    ------
    ParameterError
        If ``name`` is not one of the names above.

    See Also
    --------
    load : load any dataset by name.

    Examples
    --------
    >>> from tsssm.datasets import load_statsmodels
    >>> nile = load_statsmodels("nile")
    >>> nile.index.freqstr, len(nile), nile.name
    ('YS-JAN', 100, 'nile')
    >>> load_statsmodels("macrodata").shape
    (203, 12)
    """
    check_option(name, "name", STATSMODELS_NAMES, owner="load_statsmodels")
    return _STATSMODELS_LOADERS[name]()


# --------------------------------------------------------------------------------------
# Synthetic series
# --------------------------------------------------------------------------------------


def _check_random_state(random_state: Any) -> None:
    if random_state is None or isinstance(random_state, np.random.Generator):
        return
    if isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral):
        raise ParameterTypeError(
            "The 'random_state' parameter of make_synthetic must be None, an int >= 0 or a "
            f"numpy.random.Generator. Got {random_state!r} ({type(random_state).__name__})."
        )
    check_int(random_state, "random_state", owner="make_synthetic", min_value=0)


def make_synthetic(
    n_series: int = 1,
    length: int = 500,
    *,
    freq: str | pd.DateOffset = "h",
    start: str | pd.Timestamp = "2020-01-01",
    seasonalities: tuple[float, ...] = (24, 168),
    trend: float = 0.01,
    noise: float = 0.1,
    level: float = 10.0,
    random_state: int | np.random.Generator | None = None,
    form: str = "long",
) -> pd.DataFrame | pd.Series:
    r"""Generate series of trend + several seasonalities + Gaussian noise.

    Series :math:`i` at step :math:`t = 0, \dots, \text{length} - 1` is

    .. math::
        y_{i,t} = \ell_i + b_i t + \sum_k a_{ik} \sin(2 \pi t / p_k + \phi_{ik})
        + \sigma \varepsilon_{i,t}

    with, drawn independently per series, level :math:`\ell_i = \text{level} \cdot
    U(0.5, 1.5)`, slope :math:`b_i = \text{trend} \cdot U(0.5, 1.5)`, amplitudes
    :math:`a_{ik} \sim U(0.5, 1.5)`, phases :math:`\phi_{ik} \sim U(0, 2\pi)`,
    periods :math:`p_k` from ``seasonalities``, :math:`\sigma` = ``noise`` and
    :math:`\varepsilon_{i,t} \sim N(0, 1)`.

    Parameters
    ----------
    n_series : int, default=1
        Number of series.
    length : int, default=500
        Number of time steps per series.
    freq : str or pandas.DateOffset, default="h"
        Frequency of the time index (any pandas frequency).
    start : str or pandas.Timestamp, default="2020-01-01"
        First timestamp.
    seasonalities : tuple of float, default=(24, 168)
        Periods :math:`p_k` of the sine waves, in steps (each >= 2); may be empty.
        The default is daily and weekly seasonality for hourly data.
    trend : float, default=0.01
        Typical slope per step (each series gets its own, between 0.5x and 1.5x).
    noise : float, default=0.1
        Standard deviation of the Gaussian noise (>= 0).
    level : float, default=10.0
        Typical level (each series gets its own, between 0.5x and 1.5x); the default
        keeps the series positive so percentage errors stay finite.
    random_state : int, numpy.random.Generator or None, default=None
        Seed or generator for ``numpy.random.default_rng``; the same int gives the
        same data. ``None`` draws fresh entropy.
    form : {"long", "wide", "series"}, default="long"
        ``"long"``: DataFrame with columns ``unique_id, ds, y`` sorted by series then
        time; ``"wide"``: DataFrame indexed by ``ds``, one column per series;
        ``"series"``: a Series named ``"y"`` (needs ``n_series=1``).

    Returns
    -------
    pandas.DataFrame or pandas.Series
        Series ids are ``"series_0"``, ``"series_1"``, ... (zero-padded so they sort
        in order). The time index is a ``DatetimeIndex`` with ``freq`` set.

    Raises
    ------
    ParameterError
        If a parameter is out of range, ``freq`` or ``start`` is not understood by
        pandas, or ``form="series"`` with ``n_series > 1``.

    Examples
    --------
    >>> from tsssm.datasets import make_synthetic
    >>> df = make_synthetic(n_series=3, length=48, random_state=0)
    >>> list(df.columns), df.shape
    (['unique_id', 'ds', 'y'], (144, 3))
    >>> wide = make_synthetic(n_series=3, length=48, random_state=0, form="wide")
    >>> bool((wide["series_0"].to_numpy() == df["y"].to_numpy()[:48]).all())
    True
    >>> make_synthetic(length=10, freq="D", form="series", random_state=1).index.freqstr
    'D'
    """
    owner = "make_synthetic"
    n_series = check_int(n_series, "n_series", owner=owner, min_value=1)
    length = check_int(length, "length", owner=owner, min_value=1)
    trend = check_real(trend, "trend", owner=owner)
    noise = check_real(noise, "noise", owner=owner, min_value=0.0)
    level = check_real(level, "level", owner=owner)
    check_option(form, "form", ("long", "wide", "series"), owner=owner)
    _check_random_state(random_state)
    if isinstance(seasonalities, numbers.Real):
        seasonalities = (seasonalities,)
    if isinstance(seasonalities, str) or not np.iterable(seasonalities):
        raise ParameterTypeError(
            "The 'seasonalities' parameter of make_synthetic must be a tuple of periods "
            f"(numbers >= 2). Got {seasonalities!r}."
        )
    periods = np.array(
        [check_real(p, "seasonalities", owner=owner, min_value=2.0) for p in seasonalities],
        dtype=np.float64,
    )
    if form == "series" and n_series != 1:
        raise ParameterError(
            f"form='series' returns one series but n_series={n_series}. Use form='wide' "
            "or form='long' for several series."
        )
    try:
        index = pd.date_range(start=start, periods=length, freq=freq, name="ds")
    except (TypeError, ValueError) as exc:
        raise ParameterError(
            f"make_synthetic could not build a time index from start={start!r} and "
            f"freq={freq!r}: {exc}. Pass a pandas frequency such as 'h', 'D' or 'MS'."
        ) from exc

    rng = np.random.default_rng(random_state)
    n_seasons = len(periods)
    levels = level * rng.uniform(0.5, 1.5, size=(n_series, 1))  # (S, 1)
    slopes = trend * rng.uniform(0.5, 1.5, size=(n_series, 1))  # (S, 1)
    amplitudes = rng.uniform(0.5, 1.5, size=(n_series, n_seasons, 1))  # (S, K, 1)
    phases = rng.uniform(0.0, 2.0 * np.pi, size=(n_series, n_seasons, 1))  # (S, K, 1)
    eps = rng.standard_normal(size=(n_series, length))  # (S, T)

    t = np.arange(length, dtype=np.float64)  # (T,)
    waves = amplitudes * np.sin(2.0 * np.pi * t / periods[:, None] + phases)  # (S, K, T)
    values = levels + slopes * t + waves.sum(axis=1) + noise * eps  # (S, T)

    width = len(str(n_series - 1))
    ids = [f"series_{i:0{width}d}" for i in range(n_series)]
    if form == "series":
        return pd.Series(values[0], index=index, name="y")
    if form == "wide":
        return pd.DataFrame(values.T, index=index, columns=ids)
    return pd.DataFrame(
        {
            "unique_id": np.repeat(np.array(ids, dtype=object), length),
            "ds": np.tile(index.to_numpy(), n_series),
            "y": values.ravel(),
        }
    )


# --------------------------------------------------------------------------------------
# ETT (Electricity Transformer Temperature)
# --------------------------------------------------------------------------------------


def _ett_freq(name: str) -> pd.DateOffset:
    return _HOURLY if name.startswith("ETTh") else _QUARTER_HOUR


def _cache_folder(cache_dir: str | os.PathLike | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get("TSSSM_CACHE"):
        return Path(os.environ["TSSSM_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "tsssm"


def _read_ett(path: Path, name: str) -> pd.DataFrame:
    """Read and check one ETT-format CSV; return it indexed by a regular DatetimeIndex."""
    try:
        raw = pd.read_csv(path)
    except (ValueError, UnicodeDecodeError) as exc:  # pandas' parser errors are ValueErrors
        raise DataError(f"Could not parse {path} as a CSV file: {exc}") from exc
    missing = [c for c in ("date", *ETT_COLUMNS) if c not in raw.columns]
    if missing:
        raise DataError(
            f"{path} is not an ETT file: columns {missing} are missing (got "
            f"{list(raw.columns)}). ETT files have the columns date, "
            f"{', '.join(ETT_COLUMNS)}."
        )
    if len(raw) < 2:
        raise DataError(f"{path} holds {len(raw)} row(s); an ETT file needs at least 2.")
    try:
        stamps = pd.DatetimeIndex(pd.to_datetime(raw["date"]), name="ds")
    except (TypeError, ValueError) as exc:
        raise DataError(f"The 'date' column of {path} holds unparsable dates: {exc}") from exc
    freq = _ett_freq(name)
    steps = np.diff(stamps.to_numpy()).astype("timedelta64[s]")
    expected = np.timedelta64(int(pd.Timedelta(freq).total_seconds()), "s")
    irregular = np.flatnonzero(steps != expected)
    if irregular.size:
        first = irregular[0]
        raise DataError(
            f"{path} is not a regular {freq.freqstr} series as {name} should be: the row "
            f"after {stamps[first]} is dated {stamps[first + 1]}. Check that the file "
            f"matches name={name!r}."
        )
    try:
        values = raw.loc[:, list(ETT_COLUMNS)].astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{path} holds non-numeric values: {exc}") from exc
    with_nan = [c for c in ETT_COLUMNS if values[c].isna().any()]
    if with_nan:
        raise DataError(
            f"{path} has missing values in columns {with_nan}. Fill or drop them first."
        )
    values.index = pd.DatetimeIndex(stamps, freq=freq, name="ds")
    return values


def _download(url: str, target: Path, name: str) -> pd.DataFrame:
    """Download ``url`` to ``target`` through a temporary file renamed only when complete.

    The download is checked as an ETT file before the rename, so neither a half-written
    nor a wrong file (an HTML error page, say) is ever left in the cache.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as resp:
                shutil.copyfileobj(resp, out, length=1 << 20)
        except OSError as exc:  # URLError, HTTPError, timeouts and resets are OSErrors
            raise FileNotFoundError(
                f"Could not find {name}.csv locally and downloading it from {url} failed "
                f"({exc}). Pass path='/folder/with/{name}.csv' to load_ett, or set the "
                f"TSSSM_DATA environment variable to a folder holding {name}.csv."
            ) from exc
        try:
            frame = _read_ett(tmp, name)
        except DataError as exc:
            raise DataError(
                f"The file downloaded from {url} is not a valid {name} file, so nothing was "
                f"cached: {exc}"
            ) from exc
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return frame


def load_ett(
    name: str = "ETTh1",
    path: str | os.PathLike | None = None,
    *,
    url: str | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> pd.DataFrame:
    """Load an Electricity Transformer Temperature dataset (Zhou et al., 2021).

    The file is looked up in this order, and the first hit is read:

    1. ``path``, if given: the CSV file itself or a folder holding ``{name}.csv``
       (nothing else is tried when ``path`` is given);
    2. the folder in the ``TSSSM_DATA`` environment variable;
    3. the cache folder: ``cache_dir``, else ``$TSSSM_CACHE``, else
       ``$XDG_CACHE_HOME/tsssm`` or ``~/.cache/tsssm``;
    4. a download from ``url`` (default: the ETDataset repository on GitHub,
       :data:`ETT_URL`) into the cache folder. The file is written to a temporary
       name, checked, and renamed only when complete, so no partial file is left.

    The data is licensed CC BY-ND 4.0 and is not shipped with tsssm.

    Parameters
    ----------
    name : {"ETTh1", "ETTh2", "ETTm1", "ETTm2"}, default="ETTh1"
        Hourly (``h``) or 15-minute (``m``) data of transformer 1 or 2.
    path : str or path-like, optional
        A CSV file or a folder holding ``{name}.csv``.
    url : str, optional
        Where to download from when the file is not found locally (any URL that
        ``urllib`` opens, ``file://`` included).
    cache_dir : str or path-like, optional
        Cache folder to read from and download into.

    Returns
    -------
    pandas.DataFrame
        Wide frame with float columns HUFL, HULL, MUFL, MULL, LUFL, LULL and OT (oil
        temperature, the usual target), indexed by a ``DatetimeIndex`` named ``"ds"``
        with ``freq`` ``'h'`` (ETTh) or ``'15min'`` (ETTm).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist, or the file is not found locally and cannot be
        downloaded (the message says how to point tsssm at a local copy).
    DataError
        If the file lacks ETT columns, is not regular at the expected frequency, or has
        missing values.
    ParameterError
        If ``name`` is not an ETT dataset.

    See Also
    --------
    ett_splits : the standard train/validation/test borders.

    References
    ----------
    .. [1] Zhou, H. et al. (2021). "Informer: Beyond Efficient Transformer for Long
       Sequence Time-Series Forecasting". AAAI 35(12), 11106-11115.
       Data: https://github.com/zhouhaoyi/ETDataset

    Examples
    --------
    >>> from tsssm.datasets import load_ett
    >>> df = load_ett("ETTh1", path="../shared/datasets")  # doctest: +SKIP
    >>> df.shape, df.index.freqstr  # doctest: +SKIP
    ((17420, 7), 'h')
    """
    check_option(name, "name", ETT_NAMES, owner="load_ett")
    filename = f"{name}.csv"
    if path is not None:
        given = Path(path).expanduser()
        file = given / filename if given.is_dir() else given
        if not file.is_file():
            raise FileNotFoundError(
                f"load_ett found no file at {file}. Pass the path of {filename} or of the "
                "folder holding it."
            )
        return _read_ett(file, name)
    data_dir = os.environ.get("TSSSM_DATA")
    if data_dir and (Path(data_dir).expanduser() / filename).is_file():
        return _read_ett(Path(data_dir).expanduser() / filename, name)
    cached = _cache_folder(cache_dir) / filename
    if cached.is_file():
        return _read_ett(cached, name)
    return _download(url or ETT_URL.format(name=name), cached, name)


class ETTSplits(NamedTuple):
    """Row ranges of the standard ETT split; use them with ``DataFrame.iloc``.

    Attributes
    ----------
    train : slice
        Training rows (the first 12 months).
    val : slice
        Validation rows: the next 4 months, preceded by ``lookback`` context rows.
    test : slice
        Test rows: the 4 months after that, preceded by ``lookback`` context rows.

    Examples
    --------
    >>> from tsssm.datasets import ett_splits, make_synthetic
    >>> df = make_synthetic(length=14400, freq="h", form="wide", random_state=0)
    >>> splits = ett_splits(df, lookback=96)
    >>> splits.train, len(df.iloc[splits.val])
    (slice(0, 8640, None), 2976)
    """

    train: slice
    val: slice
    test: slice


def ett_splits(
    data: pd.DataFrame | pd.Series, lookback: int = 0, *, steps_per_hour: int | None = None
) -> ETTSplits:
    """Standard 12/4/4-month ETT borders (Informer's protocol), as row slices.

    Months have 30 days, so for hourly data the borders are rows 8640 and 11520 and
    the split ends at row 14400 (later rows are not used); 15-minute data has four
    times as many rows. The validation and test ranges start ``lookback`` rows before
    their border so the first window's input reaches back into the previous part and
    its first forecast target is the first row of the part:

    ======  ===========================  ==============================
    part    hourly rows                  15-minute rows
    ======  ===========================  ==============================
    train   0 : 8640                     0 : 34560
    val     8640 - lookback : 11520      34560 - lookback : 46080
    test    11520 - lookback : 14400     46080 - lookback : 57600
    ======  ===========================  ==============================

    Fit any scaler on the training rows only.

    Parameters
    ----------
    data : pandas.DataFrame or pandas.Series
        The ETT data, as returned by :func:`load_ett`; its length is checked and its
        index frequency tells hourly from 15-minute data.
    lookback : int, default=0
        Input window length of the model (0 gives the bare borders).
    steps_per_hour : int, optional
        Rows per hour (1 hourly, 4 for 15 minutes); inferred from ``data.index.freq``
        when omitted.

    Returns
    -------
    ETTSplits
        Named tuple of slices ``(train, val, test)``.

    Raises
    ------
    ParameterError
        If ``lookback`` is negative or longer than the training part, or the rows per
        hour cannot be inferred from the index.
    DataError
        If ``data`` is shorter than the 20 months the split needs.

    Examples
    --------
    >>> from tsssm.datasets import ett_splits, make_synthetic
    >>> df = make_synthetic(length=14400, freq="h", form="wide", random_state=0)
    >>> ett_splits(df, lookback=96)
    ETTSplits(train=slice(0, 8640, None), val=slice(8544, 11520, None), test=slice(11424, 14400, None))
    >>> len(df.iloc[ett_splits(df, 96).test])
    2976
    """  # noqa: E501
    if steps_per_hour is None:
        freq = getattr(data.index, "freq", None)
        step = pd.Timedelta(freq) if freq is not None else None
        if step not in (pd.Timedelta(hours=1), pd.Timedelta(minutes=15)):
            raise ParameterError(
                "ett_splits could not infer the rows per hour from the index frequency "
                f"({freq!r}); ETT data is hourly or 15-minute. Pass steps_per_hour=1 or 4."
            )
        steps_per_hour = int(pd.Timedelta(hours=1) / step)
    steps_per_hour = check_int(steps_per_hour, "steps_per_hour", owner="ett_splits", min_value=1)
    month = 30 * 24 * steps_per_hour  # type: ignore[operator]
    train_end, val_end, test_end = 12 * month, 16 * month, 20 * month
    lookback = check_int(
        lookback, "lookback", owner="ett_splits", min_value=0, max_value=train_end
    )
    if len(data) < test_end:
        raise DataError(
            f"ett_splits needs at least {test_end} rows (20 months of 30 days at "
            f"{steps_per_hour} row(s) per hour). Got {len(data)}."
        )
    return ETTSplits(
        train=slice(0, train_end),
        val=slice(train_end - lookback, val_end),  # type: ignore[operator]
        test=slice(val_end - lookback, test_end),  # type: ignore[operator]
    )


# --------------------------------------------------------------------------------------
# One entry point
# --------------------------------------------------------------------------------------


def list_datasets() -> list[str]:
    """Names accepted by :func:`load`.

    Returns
    -------
    list of str
        statsmodels' bundled series, ``"synthetic"`` and the ETT datasets.

    Examples
    --------
    >>> from tsssm.datasets import list_datasets
    >>> list_datasets()  # doctest: +NORMALIZE_WHITESPACE
    ['co2', 'sunspots', 'nile', 'elnino', 'elec_equip', 'macrodata', 'synthetic',
     'ETTh1', 'ETTh2', 'ETTm1', 'ETTm2']
    """
    return [*STATSMODELS_NAMES, "synthetic", *ETT_NAMES]


def load(name: str, **kwargs: Any) -> pd.Series | pd.DataFrame:
    """Load a dataset by name (case-insensitive).

    Parameters
    ----------
    name : str
        One of :func:`list_datasets`.
    **kwargs
        Passed on to :func:`make_synthetic` for ``"synthetic"`` or :func:`load_ett`
        for ETT (``path``, ``url``, ``cache_dir``); the statsmodels datasets take none.

    Returns
    -------
    pandas.Series or pandas.DataFrame
        What the underlying loader returns.

    Raises
    ------
    ParameterError
        If ``name`` is unknown (the message lists the valid names) or keyword arguments
        are given for a statsmodels dataset.
    TypeError
        If a keyword argument is not accepted by the underlying loader.

    Examples
    --------
    >>> from tsssm.datasets import load
    >>> load("sunspots").index.freqstr
    'YS-JAN'
    >>> load("synthetic", n_series=2, length=24, random_state=0, form="wide").shape
    (24, 2)
    """
    if not isinstance(name, str):
        raise ParameterTypeError(f"A dataset name must be a str. Got {name!r}.")
    by_lower = {n.lower(): n for n in list_datasets()}
    canonical = by_lower.get(name.lower())
    if canonical is None:
        raise ParameterError(
            f"Unknown dataset {name!r}. Valid names: {', '.join(list_datasets())}."
        )
    if canonical == "synthetic":
        return make_synthetic(**kwargs)
    if canonical in ETT_NAMES:
        return load_ett(canonical, **kwargs)
    if kwargs:
        raise ParameterError(
            f"The dataset {canonical!r} takes no options. Got {sorted(kwargs)}."
        )
    return load_statsmodels(canonical)
