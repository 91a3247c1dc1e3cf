"""Tests of the classical forecasters (naive family and statsmodels-based models)."""
