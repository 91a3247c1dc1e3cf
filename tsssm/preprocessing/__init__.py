"""Preprocessing in scikit-learn transformer style, on the forecasters' data layouts.

Every transformer works series by series on a Series, a wide DataFrame or a long
DataFrame (``unique_id``, ``ds``, ``y``), never modifies its input, and has an
``inverse_transform`` that also maps forecasts (``predict``, ``predict_quantiles``
and ``predict_interval`` outputs) back to the original scale.

=======================  ==========================================================
``FillGaps``             insert missing time points (inferred or given frequency)
``Imputer``              forward/backward fill, linear/time interpolation, seasonal
``Scaler``               per-series standard, robust, min-max or mean-absolute scale
``LogTransform``         log / log1p
``BoxCox``               Box-Cox with a lambda per series (MLE or Guerrero)
``Differencer``          (seasonal) differencing with an exact inverse for forecasts
``OutlierClipper``       IQR clipping or Hampel filter, with a report
``CalendarFeatures``     hour, day of week, month, holidays, Fourier terms
``LagFeatures``          leak-free lags and rolling statistics of covariates
``TransformedForecaster``  transformers + forecaster behind the forecaster API
=======================  ==========================================================
"""

from tsssm.preprocessing.base import BaseTransformer
from tsssm.preprocessing.features import BaseFeatures, CalendarFeatures, LagFeatures
from tsssm.preprocessing.gaps import FillGaps
from tsssm.preprocessing.impute import Imputer
from tsssm.preprocessing.outliers import OutlierClipper
from tsssm.preprocessing.pipeline import TransformedForecaster
from tsssm.preprocessing.scalers import Scaler
from tsssm.preprocessing.transforms import BoxCox, Differencer, LogTransform

__all__ = [
    "BaseFeatures",
    "BaseTransformer",
    "BoxCox",
    "CalendarFeatures",
    "Differencer",
    "FillGaps",
    "Imputer",
    "LagFeatures",
    "LogTransform",
    "OutlierClipper",
    "Scaler",
    "TransformedForecaster",
]
