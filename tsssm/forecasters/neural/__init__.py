"""Neural state-space forecasters: S4, S5, Mamba and a Mamba/attention hybrid.

One estimator (:class:`NeuralForecaster`) with four backbones; see
:class:`MambaForecaster` for the parameters they share.
"""

from tsssm.forecasters.neural.base import NeuralForecaster
from tsssm.forecasters.neural.models import (
    HybridForecaster,
    MambaForecaster,
    S4Forecaster,
    S5Forecaster,
)

__all__ = [
    "HybridForecaster",
    "MambaForecaster",
    "NeuralForecaster",
    "S4Forecaster",
    "S5Forecaster",
]
