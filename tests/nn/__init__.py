"""Tests of tsssm.nn (layers, backbones, heads, RevIN)."""
