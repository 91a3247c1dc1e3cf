"""tsssm: time-series forecasting with deep state-space models and classical baselines."""

__version__ = "0.1.0"
