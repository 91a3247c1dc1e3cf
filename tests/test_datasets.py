"""Dataset loaders: regular indexes, reproducible synthetic data, ETT lookup and download."""

from __future__ import annotations

import doctest
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tsssm.datasets as td
from tsssm.exceptions import DataError, ParameterError, ParameterTypeError

SHARED_ETTH1 = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "ETTh1.csv"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, tmp_path):
    # Never read a developer's real data folder or cache, never touch ~/.cache.
    monkeypatch.delenv("TSSSM_DATA", raising=False)
    monkeypatch.setenv("TSSSM_CACHE", str(tmp_path / "default_cache"))


def _assert_regular(obj, freqstr):
    index = obj.index
    assert isinstance(index, pd.DatetimeIndex)
    assert index.freq is not None and index.freqstr == freqstr
    assert index.name == "ds"
    # the freq attribute must describe the actual stamps, not just be set
    expected = pd.date_range(index[0], periods=len(index), freq=index.freq)
    assert np.array_equal(index.to_numpy(), expected.to_numpy().astype(index.dtype))
    assert not np.isnan(obj.to_numpy(dtype=np.float64)).any()


# --------------------------------------------------------------------------------------
# statsmodels
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "freqstr", "length", "first", "last"),
    [
        ("co2", "W-SAT", 2284, "1958-03-29", "2001-12-29"),
        ("sunspots", "YS-JAN", 309, "1700-01-01", "2008-01-01"),
        ("nile", "YS-JAN", 100, "1871-01-01", "1970-01-01"),
        ("elnino", "MS", 732, "1950-01-01", "2010-12-01"),
        ("elec_equip", "MS", 257, "1995-01-01", "2016-05-01"),
    ],
)
def test_statsmodels_series(name, freqstr, length, first, last):
    s = td.load_statsmodels(name)
    assert isinstance(s, pd.Series) and s.name == name
    assert len(s) == length
    assert s.index[0] == pd.Timestamp(first) and s.index[-1] == pd.Timestamp(last)
    _assert_regular(s, freqstr)


def test_statsmodels_values_kept_in_place():
    import statsmodels.datasets as smd

    # elnino is read row by row: Feb 1951 is row 1951, column FEB of the bundled table
    raw = smd.elnino.load_pandas().data
    s = td.load_statsmodels("elnino")
    assert s["1951-02-01"] == raw.loc[raw["YEAR"] == 1951, "FEB"].item()
    nile = smd.nile.load_pandas().data
    assert td.load_statsmodels("nile")["1900-01-01"] == nile.loc[nile["year"] == 1900,
                                                                  "volume"].item()
    # co2: measured weeks unchanged; a missing week is the midpoint of its neighbours
    raw_co2 = smd.co2.load_pandas().data["co2"]
    co2 = td.load_statsmodels("co2")
    observed = raw_co2.notna().to_numpy()
    np.testing.assert_array_equal(co2.to_numpy()[observed], raw_co2.to_numpy()[observed])
    gaps = np.flatnonzero(~observed)
    lone = next(i for i in gaps if observed[i - 1] and observed[i + 1])
    assert co2.iloc[lone] == pytest.approx((raw_co2.iloc[lone - 1] + raw_co2.iloc[lone + 1]) / 2)


def test_statsmodels_macrodata_wide():
    df = td.load_statsmodels("macrodata")
    assert isinstance(df, pd.DataFrame)
    assert df.shape == (203, 12)
    assert "realgdp" in df.columns and "year" not in df.columns and "quarter" not in df.columns
    assert df.index[-1] == pd.Timestamp("2009-07-01")  # 2009Q3
    _assert_regular(df, "QS-JAN")
    assert df.loc["1959-01-01", "realgdp"] == pytest.approx(2710.349)


def test_statsmodels_unknown_name():
    with pytest.raises(ParameterError, match="'name' parameter of load_statsmodels"):
        td.load_statsmodels("air_passengers")


# --------------------------------------------------------------------------------------
# synthetic
# --------------------------------------------------------------------------------------


def test_synthetic_forms_and_shapes():
    long = td.make_synthetic(n_series=12, length=30, freq="D", random_state=3)
    assert list(long.columns) == ["unique_id", "ds", "y"]
    assert len(long) == 12 * 30
    ids = long["unique_id"].unique().tolist()
    assert ids == sorted(ids) and ids[0] == "series_00" and ids[-1] == "series_11"
    wide = td.make_synthetic(n_series=12, length=30, freq="D", random_state=3, form="wide")
    assert wide.shape == (30, 12) and list(wide.columns) == ids
    _assert_regular(wide, "D")
    # the three forms hold the same numbers
    pivot = long.pivot(index="ds", columns="unique_id", values="y")
    np.testing.assert_array_equal(pivot.to_numpy(), wide.to_numpy())
    one = td.make_synthetic(length=30, freq="D", random_state=3, form="series")
    assert one.name == "y"
    _assert_regular(one, "D")


def test_synthetic_reproducible_and_seed_dependent():
    a = td.make_synthetic(n_series=3, length=50, random_state=7, form="wide")
    b = td.make_synthetic(n_series=3, length=50, random_state=7, form="wide")
    c = td.make_synthetic(n_series=3, length=50, random_state=8, form="wide")
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a.to_numpy(), c.to_numpy())
    gen = td.make_synthetic(n_series=3, length=50, random_state=np.random.default_rng(7),
                            form="wide")
    pd.testing.assert_frame_equal(a, gen)


def test_synthetic_matches_its_formula():
    # no noise, no trend: level + one sine; the period shows as an exact repeat
    s = td.make_synthetic(length=48, seasonalities=(12,), trend=0.0, noise=0.0,
                          random_state=0, form="series")
    np.testing.assert_allclose(s.to_numpy()[12:], s.to_numpy()[:-12], atol=1e-12)
    # mean over whole periods is the level, drawn in [0.5, 1.5] * 10
    assert 5.0 <= s.mean() <= 15.0
    amplitude = (s.max() - s.min()) / 2
    assert 0.5 - 1e-9 <= amplitude <= 1.5 + 1e-9
    # trend only: a straight line with slope in [0.5, 1.5] * trend
    line = td.make_synthetic(length=10, seasonalities=(), trend=0.2, noise=0.0,
                             random_state=0, form="series").to_numpy()
    slope = np.diff(line)
    np.testing.assert_allclose(slope, slope[0])
    assert 0.1 <= slope[0] <= 0.3
    # noise only: sample standard deviation close to `noise`
    noisy = td.make_synthetic(length=20000, seasonalities=(), trend=0.0, noise=2.0,
                              random_state=0, form="series")
    assert noisy.std() == pytest.approx(2.0, rel=0.03)


def test_synthetic_parameter_errors():
    with pytest.raises(ParameterError, match="n_series=2"):
        td.make_synthetic(n_series=2, form="series")
    with pytest.raises(ParameterError, match="'length' parameter of make_synthetic"):
        td.make_synthetic(length=0)
    with pytest.raises(ParameterError, match="'noise'"):
        td.make_synthetic(noise=-1.0)
    with pytest.raises(ParameterError, match="'seasonalities'"):
        td.make_synthetic(seasonalities=(1,))
    with pytest.raises(ParameterError, match="'form'"):
        td.make_synthetic(form="panel")
    with pytest.raises(ParameterError, match="freq='every-hour'"):
        td.make_synthetic(freq="every-hour")
    with pytest.raises(ParameterTypeError, match="random_state"):
        td.make_synthetic(random_state=1.5)


# --------------------------------------------------------------------------------------
# ETT
# --------------------------------------------------------------------------------------


def _write_ett(
    path: Path, rows: int = 48, freq: str = "h", drop: str | list[str] | None = None
) -> Path:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(rows, 7)), columns=list(td.ETT_COLUMNS))
    frame.insert(0, "date", pd.date_range("2016-07-01", periods=rows, freq=freq)
                 .strftime("%Y-%m-%d %H:%M:%S"))
    if drop:
        frame = frame.drop(columns=drop)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def test_load_ett_from_shared_folder():
    if not SHARED_ETTH1.is_file():
        pytest.skip(f"ETTh1.csv not found at {SHARED_ETTH1} (the shared datasets folder)")
    by_folder = td.load_ett("ETTh1", path=SHARED_ETTH1.parent)
    by_file = td.load_ett("ETTh1", path=SHARED_ETTH1)
    pd.testing.assert_frame_equal(by_folder, by_file)
    assert by_folder.shape == (17420, 7)
    assert list(by_folder.columns) == list(td.ETT_COLUMNS)
    assert by_folder.index[0] == pd.Timestamp("2016-07-01 00:00:00")
    _assert_regular(by_folder, pd.offsets.Hour().freqstr)
    # first row of the file, read independently
    first = SHARED_ETTH1.read_text().splitlines()[1].split(",")
    np.testing.assert_allclose(by_folder.iloc[0].to_numpy(), [float(v) for v in first[1:]])
    splits = td.ett_splits(by_folder, lookback=96)
    assert len(by_folder.iloc[splits.train]) == 8640


def test_load_ett_from_env_folder(monkeypatch, tmp_path):
    _write_ett(tmp_path / "data" / "ETTm2.csv", rows=20, freq="15min")
    monkeypatch.setenv("TSSSM_DATA", str(tmp_path / "data"))
    df = td.load_ett("ETTm2")
    assert df.shape == (20, 7)
    _assert_regular(df, pd.offsets.Minute(15).freqstr)
    # the case-insensitive entry point goes to the same place
    pd.testing.assert_frame_equal(td.load("ettm2"), df)


def test_load_ett_download_then_cache(monkeypatch, tmp_path):
    source = _write_ett(tmp_path / "remote" / "ETTh2.csv")
    cache = tmp_path / "cache"
    opened = []
    real_urlopen = urllib.request.urlopen

    def counting_urlopen(url, *args, **kwargs):
        opened.append(url)
        return real_urlopen(url, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", counting_urlopen)
    first = td.load_ett("ETTh2", url=source.as_uri(), cache_dir=cache)
    assert opened == [source.as_uri()]
    assert sorted(p.name for p in cache.iterdir()) == ["ETTh2.csv"]  # no temp file left
    assert (cache / "ETTh2.csv").read_bytes() == source.read_bytes()
    second = td.load_ett("ETTh2", url=source.as_uri(), cache_dir=cache)
    assert len(opened) == 1  # served from the cache
    pd.testing.assert_frame_equal(first, second)
    # $TSSSM_CACHE is the default cache folder
    monkeypatch.setenv("TSSSM_CACHE", str(cache))
    pd.testing.assert_frame_equal(td.load_ett("ETTh2"), first)
    assert len(opened) == 1


def test_load_ett_failed_download_leaves_nothing(monkeypatch, tmp_path):
    cache = tmp_path / "cache"

    class BrokenResponse:
        """Sends some bytes, then the connection drops."""

        def __init__(self):
            self.sent = False

        def read(self, n=-1):
            if not self.sent:
                self.sent = True
                return b"date,HUFL,HULL,MUFL,MULL,LUFL,LULL,OT\n2016-07-01 00:00:00,1,"
            raise ConnectionResetError("connection reset by peer")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    opened = []

    def broken_urlopen(url, **kwargs):
        opened.append(url)
        return BrokenResponse()

    monkeypatch.setattr(urllib.request, "urlopen", broken_urlopen)
    with pytest.raises(FileNotFoundError, match=r"path=.*TSSSM_DATA"):
        td.load_ett("ETTh1", cache_dir=cache)
    assert opened == [
        "https://raw.githubusercontent.com/zhouhaoyi/ETDataset/main/ETT-small/ETTh1.csv"
    ]
    assert list(cache.iterdir()) == []


def test_load_ett_unreachable_url(tmp_path):
    cache = tmp_path / "cache"
    missing = (tmp_path / "nowhere" / "ETTh1.csv").as_uri()
    with pytest.raises(FileNotFoundError, match="downloading it from file:"):
        td.load_ett("ETTh1", url=missing, cache_dir=cache)
    assert not (cache / "ETTh1.csv").exists()
    assert list(cache.iterdir()) == []


def test_load_ett_invalid_download_not_cached(tmp_path):
    bad = _write_ett(tmp_path / "remote" / "ETTh1.csv", drop="OT")
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match=r"nothing was cached.*\['OT'\]"):
        td.load_ett("ETTh1", url=bad.as_uri(), cache_dir=cache)
    assert list(cache.iterdir()) == []


def test_load_ett_file_errors(tmp_path):
    with pytest.raises(DataError, match=r"columns \['LULL', 'OT'\] are missing"):
        td.load_ett("ETTh1", path=_write_ett(tmp_path / "a.csv", drop=["LULL", "OT"]))
    with pytest.raises(FileNotFoundError, match="no file at"):
        td.load_ett("ETTh1", path=tmp_path / "empty_folder_without_file")
    # 15-minute rows under an hourly name
    with pytest.raises(DataError, match=f"not a regular {pd.offsets.Hour().freqstr} series"):
        td.load_ett("ETTh1", path=_write_ett(tmp_path / "b.csv", freq="15min"))
    frame = pd.read_csv(_write_ett(tmp_path / "c.csv"))
    frame.loc[3, "OT"] = np.nan
    frame.to_csv(tmp_path / "c.csv", index=False)
    with pytest.raises(DataError, match=r"missing values in columns \['OT'\]"):
        td.load_ett("ETTh1", path=tmp_path / "c.csv")
    with pytest.raises(ParameterError, match="'name' parameter of load_ett"):
        td.load_ett("ETTh3", path=tmp_path)


def test_ett_splits_borders():
    hourly = pd.DataFrame(index=pd.date_range("2016-07-01", periods=14400, freq="h"))
    s = td.ett_splits(hourly, lookback=336)
    assert s == td.ETTSplits(slice(0, 8640), slice(8640 - 336, 11520),
                             slice(11520 - 336, 14400))
    quarter = pd.DataFrame(index=pd.date_range("2016-07-01", periods=57600, freq="15min"))
    s = td.ett_splits(quarter, lookback=96)
    assert s == td.ETTSplits(slice(0, 34560), slice(34560 - 96, 46080),
                             slice(46080 - 96, 57600))
    assert td.ett_splits(pd.RangeIndex(14400).to_series(), steps_per_hour=1).train == slice(
        0, 8640
    )
    with pytest.raises(DataError, match="at least 14400 rows"):
        td.ett_splits(hourly.iloc[:14399])
    with pytest.raises(ParameterError, match="steps_per_hour"):
        td.ett_splits(pd.RangeIndex(14400).to_series())
    with pytest.raises(ParameterError, match="'lookback'"):
        td.ett_splits(hourly, lookback=-1)


# --------------------------------------------------------------------------------------
# entry point and docs
# --------------------------------------------------------------------------------------


def test_load_entry_point():
    assert td.list_datasets()[:6] == list(td.STATSMODELS_NAMES)
    assert {"synthetic", "ETTh1", "ETTm2"} <= set(td.list_datasets())
    pd.testing.assert_series_equal(td.load("NILE"), td.load_statsmodels("nile"))
    pd.testing.assert_frame_equal(
        td.load("synthetic", n_series=2, length=10, random_state=0),
        td.make_synthetic(n_series=2, length=10, random_state=0),
    )
    with pytest.raises(ParameterError, match=r"Unknown dataset 'm4'\. Valid names: co2"):
        td.load("m4")
    with pytest.raises(ParameterError, match="takes no options"):
        td.load("nile", length=3)


def test_doctests():
    result = doctest.testmod(td, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 10
    assert result.failed == 0


def test_dataset_cards_exist():
    cards = Path(__file__).resolve().parents[1] / "datasets"
    index = (cards / "README.md").read_text()
    for card in ["co2", "sunspots", "nile", "elnino", "elec_equip", "macrodata", "synthetic",
                 "ETT"]:
        assert (cards / f"{card}.md").is_file(), card
        assert f"{card}.md" in index
