"""Forecasters: classical baselines and neural state-space forecasters.

The neural forecasters are imported lazily so that the classical ones work without
loading torch and Lightning.
"""

from tsssm.forecasters.arima import ARIMA
from tsssm.forecasters.auto_arima import AutoARIMA
from tsssm.forecasters.base import BaseForecaster, LocalForecaster
from tsssm.forecasters.ets import ETS
from tsssm.forecasters.naive import Drift, HistoricAverage, Naive, SeasonalNaive
from tsssm.forecasters.theta import Theta

_NEURAL = ("S4Forecaster", "S5Forecaster", "MambaForecaster", "HybridForecaster",
           "NeuralForecaster")

__all__ = [
    "ARIMA",
    "ETS",
    "AutoARIMA",
    "BaseForecaster",
    "Drift",
    "HistoricAverage",
    "LocalForecaster",
    "Naive",
    "SeasonalNaive",
    "Theta",
    *_NEURAL,
]


def __getattr__(name: str):
    if name in _NEURAL:
        from tsssm.forecasters import neural

        return getattr(neural, name)
    raise AttributeError(f"module 'tsssm.forecasters' has no attribute {name!r}")
