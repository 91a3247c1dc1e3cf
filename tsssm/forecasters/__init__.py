"""Forecasters: classical baselines and neural state-space forecasters."""

from tsssm.forecasters.base import BaseForecaster, LocalForecaster
from tsssm.forecasters.naive import Drift, HistoricAverage, Naive, SeasonalNaive

__all__ = [
    "BaseForecaster",
    "Drift",
    "HistoricAverage",
    "LocalForecaster",
    "Naive",
    "SeasonalNaive",
]
