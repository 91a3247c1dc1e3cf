"""Saving and loading neural forecasters without pickle.

A saved model is a directory with two files:

``model.json``
    a format marker, the estimator class and parameters, the fitted scaling and the
    data metadata (ids, frequency, form) with the last ``lookback`` observations of
    each series, and the name of the weights file;
``weights-<token>.pt``
    ``torch.save`` of a dict of tensors: the network's ``state_dict`` and the cached
    encoding of the last window, read back with ``torch.load(weights_only=True)``.

Each file is written to a temporary name and renamed into place; the JSON goes last
and names the weights it belongs to, so a reader never sees a half-written model and
a crash while overwriting leaves the previous model readable.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from tsssm.data import FormSpec, Panel, TimeAxis
from tsssm.exceptions import DataError, DataTypeError

__all__ = ["load_model", "save_model"]

FORMAT = "tsssm.neural"
FORMAT_VERSION = 1
_JSON = "model.json"

# Fitted attributes that are plain arrays or JSON values, saved as they are.
_ARRAYS = ("scale_", "table_scale_", "x_mean_", "x_std_", "series_rows_")


# ----------------------------------------------------------------- values
def _encode(value: Any) -> list:
    """A JSON-safe, type-tagged form of an id, a time point or a name."""
    if value is None:
        return ["none", None]
    if isinstance(value, (bool, np.bool_)):
        return ["bool", bool(value)]
    if isinstance(value, (int, np.integer)):
        return ["int", int(value)]
    if isinstance(value, (float, np.floating)):
        return ["float", float(value)]
    if isinstance(value, str):
        return ["str", value]
    if isinstance(value, pd.Timestamp):
        return ["timestamp", value.isoformat()]
    if isinstance(value, pd.Period):
        return ["period", str(value), value.freqstr]
    raise DataTypeError(
        f"Cannot save {value!r} of type {type(value).__name__}: ids, names and time "
        "points must be strings, numbers, Timestamps or Periods to be stored in JSON."
    )


def _decode(item: list, tz: Any = None) -> Any:
    kind = item[0]
    if kind == "none":
        return None
    if kind in ("bool", "int", "float", "str"):
        return {"bool": bool, "int": int, "float": float, "str": str}[kind](item[1])
    if kind == "timestamp":
        ts = pd.Timestamp(item[1])
        return ts.tz_convert(tz) if tz is not None and ts.tzinfo is not None else ts
    if kind == "period":
        return pd.Period(item[1], freq=item[2])
    raise DataError(f"Unknown value tag {kind!r} in a saved model.")


def _encode_params(params: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in params.items():
        if key == "trainer_kwargs":
            out[key] = None  # loggers and callbacks are live objects: not saved
        elif isinstance(value, pd.DataFrame):
            out[key] = {"__frame__": {
                "index": [_encode(v) for v in value.index],
                "columns": [_encode(v) for v in value.columns],
                "data": value.to_numpy(dtype=np.float64).tolist(),
            }}
        elif isinstance(value, tuple):
            out[key] = {"__tuple__": list(value)}
        else:
            out[key] = value
    try:
        json.dumps(out)
    except TypeError as err:
        raise DataTypeError(f"Cannot save the estimator's parameters as JSON: {err}.") from None
    return out


def _decode_params(params: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in params.items():
        if isinstance(value, dict) and "__frame__" in value:
            f = value["__frame__"]
            out[key] = pd.DataFrame(
                np.asarray(f["data"], dtype=np.float64).reshape(len(f["index"]), -1),
                index=[_decode(v) for v in f["index"]],
                columns=[_decode(v) for v in f["columns"]],
            )
        elif isinstance(value, dict) and "__tuple__" in value:
            out[key] = tuple(value["__tuple__"])
        else:
            out[key] = value
    return out


# ------------------------------------------------------------------ panel
def _encode_panel(panel: Panel, lookback: int) -> dict[str, Any]:
    tail = panel.tail(lookback)
    axis = tail.axis
    spec = tail.spec
    return {
        "ids": [_encode(v) for v in tail.ids],
        "axis": {"kind": axis.kind,
                 "freq": int(axis.freq) if axis.kind == "int" else axis.freq.freqstr,
                 "tz": None if axis.tz is None else str(axis.tz)},
        "starts": [_encode(s) for s in tail.starts],
        "values": [tail.values(i).tolist() for i in range(tail.n_series)],
        "X": None if tail.X is None else tail.X.tolist(),
        "exog_names": list(tail.exog_names),
        "spec": {
            "form": spec.form,
            "name": _encode(spec.name),
            "columns": None if spec.columns is None else [_encode(c) for c in spec.columns],
            "columns_dtype": None if spec.columns is None else str(spec.columns.dtype),
            "index_name": _encode(spec.index_name),
            "id_col": spec.id_col, "time_col": spec.time_col, "target_col": spec.target_col,
            "id_dtype": None if spec.id_dtype is None else str(spec.id_dtype),
        },
    }


def _decode_panel(d: dict[str, Any]) -> Panel:
    a = d["axis"]
    tz = a["tz"]
    starts = [_decode(s, tz) for s in d["starts"]]
    if a["kind"] == "int":
        freq = int(a["freq"])
    elif a["kind"] == "period":
        freq = starts[0].freq  # the Period's own offset, as a PeriodIndex gives it
    else:
        freq = pd.tseries.frequencies.to_offset(a["freq"])
    s = d["spec"]
    columns = None
    if s["columns"] is not None:
        labels = [_decode(c) for c in s["columns"]]
        dtype = _dtype(s.get("columns_dtype"))
        try:
            columns = pd.Index(labels, dtype=dtype)
        except (TypeError, ValueError):
            columns = pd.Index(labels, dtype=object)
    spec = FormSpec(
        form=s["form"], name=_decode(s["name"]),
        columns=columns,
        index_name=_decode(s["index_name"]), id_col=s["id_col"], time_col=s["time_col"],
        target_col=s["target_col"], id_dtype=_dtype(s["id_dtype"]),
    )
    values = [np.asarray(v, dtype=np.float64) for v in d["values"]]
    ids = np.empty(len(values), dtype=object)
    ids[:] = [_decode(v) for v in d["ids"]]
    return Panel(
        ids=ids,
        y=np.concatenate(values),
        indptr=np.concatenate([[0], np.cumsum([len(v) for v in values])]).astype(np.int64),
        starts=starts,
        axis=TimeAxis(a["kind"], freq, tz),
        spec=spec,
        X=None if d["X"] is None else np.asarray(d["X"], dtype=np.float64).reshape(
            sum(len(v) for v in values), -1),
        exog_names=tuple(d["exog_names"]),
    )


def _dtype(name: str | None) -> Any:
    """The pandas dtype called ``name``; None where this pandas does not know it."""
    if name is None:
        return None
    try:
        return pd.api.types.pandas_dtype(name)
    except TypeError:
        return None  # e.g. pandas 3's "str" read by pandas 2: values stay objects


# ------------------------------------------------------------------ files
def _write_atomic(target: Path, write) -> None:
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_model(est: Any, path: str | os.PathLike) -> None:
    """Write a fitted neural forecaster into the directory ``path``."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise DataError(f"save needs a directory path; {str(path)!r} is a file.")
    path.mkdir(parents=True, exist_ok=True)
    c = est.config_
    fitted = {name: np.asarray(getattr(est, name)).tolist() for name in _ARRAYS}
    fitted.update({
        "calendar_kinds_": list(est.calendar_kinds_),
        "x_shared_": bool(est.x_shared_),
        "table_ids_": [_encode(v) for v in est.table_ids_],
        "static_names_": [str(n) for n in est.static_names_],
        "static_values_": None if est.static_values_ is None else est.static_values_.tolist(),
        "history_": est.history_,
    })
    weights_name = f"weights-{uuid.uuid4().hex[:12]}.pt"
    blob = {"network": est.network_.state_dict(),
            "context": {k: v.detach().cpu() for k, v in est.context_.items()}}
    _write_atomic(path / weights_name, lambda p: torch.save(blob, p))
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class": type(est).__name__,
        "params": _encode_params(est.get_params(deep=False)),
        "fitted": fitted,
        "data": _encode_panel(est.data_, c["lookback"]),
        "weights": weights_name,
    }
    text = json.dumps(meta)
    _write_atomic(path / _JSON, lambda p: p.write_text(text, encoding="utf-8"))
    for old in path.glob("weights-*.pt"):  # earlier saves into the same directory
        if old.name != weights_name:
            old.unlink()


def load_model(cls: type, path: str | os.PathLike) -> Any:
    """Read a model written by :func:`save_model`; ``cls`` or a subclass of it."""
    from tsssm.forecasters.neural.base import NeuralForecaster

    path = Path(path)
    meta_file = path / _JSON
    if not meta_file.is_file():
        raise DataError(
            f"{str(path)!r} does not hold a saved tsssm model (no {_JSON}). Pass the "
            "directory given to save()."
        )
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{str(meta_file)!r} is not a tsssm model file: {err}.") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DataError(f"{str(meta_file)!r} is not a tsssm neural model file.")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise DataError(
            f"{str(path)!r} was saved by a newer tsssm (format {meta['format_version']}); "
            "upgrade tsssm to read it."
        )
    classes = {k.__name__: k for k in _subclasses(NeuralForecaster)}
    klass = classes.get(meta.get("class"))
    if klass is None or not issubclass(klass, cls):
        raise DataError(
            f"{str(path)!r} holds a {meta.get('class')}, not a {cls.__name__}. Load it "
            f"with tsssm.{meta.get('class')}.load."
        )
    missing = [k for k in ("params", "fitted", "data", "weights") if k not in meta]
    if missing:
        raise DataError(f"{str(meta_file)!r} lacks {missing}: the model file is damaged. "
                        "Save the model again.")
    name = meta["weights"]
    # Only a file of the model's own directory: a crafted name must not reach elsewhere.
    if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
        raise DataError(f"{str(meta_file)!r} names the weights {name!r}, which is not a "
                        "file of the model directory: the model file is damaged.")
    weights = path / name
    try:
        blob = torch.load(weights, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise DataError(f"The weights file {str(weights)!r} of the saved model is missing.") \
            from None
    except Exception as err:  # torch raises assorted types on a damaged file
        raise DataError(f"Cannot read the weights {str(weights)!r}: {err}") from None

    try:
        return _rebuild(klass, meta, blob)
    except DataError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as err:
        # A file edited by hand or damaged: parameters or fields that do not rebuild.
        raise DataError(
            f"{str(path)!r} holds a damaged tsssm model ({type(err).__name__}: {err}). "
            "Save the model again."
        ) from None


def _rebuild(klass: type, meta: dict[str, Any], blob: Any) -> Any:
    """The fitted estimator described by ``meta`` with the weights in ``blob``."""
    from tsssm.forecasters.neural.base import _seeded, set_backend

    est = klass(**_decode_params(meta["params"]))
    c = est._config()
    f = meta["fitted"]
    panel = _decode_panel(meta["data"])
    est.config_ = c
    for name in _ARRAYS:
        setattr(est, name, np.asarray(f[name], dtype=np.int64 if name == "series_rows_"
                                      else np.float64))
    est.calendar_kinds_ = tuple(f["calendar_kinds_"])
    est.x_shared_ = bool(f["x_shared_"])
    table_ids = np.empty(len(f["table_ids_"]), dtype=object)
    table_ids[:] = [_decode(v) for v in f["table_ids_"]]
    est.table_ids_ = table_ids
    est.static_names_ = list(f["static_names_"])
    est.static_values_ = None if f["static_values_"] is None else np.asarray(
        f["static_values_"], dtype=np.float64)
    est.history_ = f["history_"]
    with _seeded(0, use_cuda=False):  # the weights are overwritten; keep the user's RNG
        network = est._build_network(panel, c)
    try:
        network.load_state_dict(blob["network"])
    except (RuntimeError, KeyError) as err:
        raise DataError(f"The saved weights do not fit the saved parameters: {err}") from None
    set_backend(network, "auto")  # predictions run on the CPU (see set_backend)
    est.network_ = network.eval()
    est.context_ = dict(blob["context"])
    est.data_ = panel
    est.n_series_ = panel.n_series
    return est


def _subclasses(cls: type) -> list[type]:
    out = [cls]
    for sub in cls.__subclasses__():
        out.extend(_subclasses(sub))
    return out
