"""tsssm: time-series forecasting with deep state-space models and classical baselines.

Every estimator speaks the same scikit-learn-style language::

    import tsssm
    model = tsssm.MambaForecaster(horizon=24).fit(y)      # or tsssm.ARIMA(...), ...
    model.predict(24); model.predict_interval(24, coverage=0.9); model.update(y_new)
    tsssm.backtest([tsssm.SeasonalNaive(24), model], y, horizon=24, n_windows=5)

Names are imported lazily, so ``import tsssm`` stays fast and loads torch only when a
neural forecaster or an op is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_PUBLIC = {
    # classical baselines
    "Naive": "tsssm.forecasters",
    "SeasonalNaive": "tsssm.forecasters",
    "Drift": "tsssm.forecasters",
    "HistoricAverage": "tsssm.forecasters",
    "ARIMA": "tsssm.forecasters",
    "AutoARIMA": "tsssm.forecasters",
    "ETS": "tsssm.forecasters",
    "Theta": "tsssm.forecasters",
    # neural state-space forecasters
    "S4Forecaster": "tsssm.forecasters",
    "S5Forecaster": "tsssm.forecasters",
    "MambaForecaster": "tsssm.forecasters",
    "HybridForecaster": "tsssm.forecasters",
    # preprocessing pipeline
    "TransformedForecaster": "tsssm.preprocessing",
    # evaluation
    "backtest": "tsssm.backtesting",
    "BacktestResult": "tsssm.backtesting",
    "plot_forecast": "tsssm.plotting",
}
_SUBMODULES = {"ops", "nn", "data", "forecasters", "preprocessing", "metrics", "datasets",
               "backtesting", "plotting", "exceptions"}

__all__ = sorted(_PUBLIC) + sorted(_SUBMODULES) + ["__version__"]


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"tsssm.{name}")
    else:
        raise AttributeError(f"module 'tsssm' has no attribute {name!r}")
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # static analysers see the real names
    from tsssm import backtesting, data, datasets, exceptions, forecasters, metrics  # noqa: F401
    from tsssm.backtesting import BacktestResult, backtest  # noqa: F401
    from tsssm.forecasters import (  # noqa: F401
        ARIMA,
        ETS,
        AutoARIMA,
        Drift,
        HistoricAverage,
        HybridForecaster,
        MambaForecaster,
        Naive,
        S4Forecaster,
        S5Forecaster,
        SeasonalNaive,
        Theta,
    )
    from tsssm.plotting import plot_forecast  # noqa: F401
    from tsssm.preprocessing import TransformedForecaster  # noqa: F401
