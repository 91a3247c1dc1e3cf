"""Tests of tsssm.ops (scans, S4D kernel, FFT convolution, backend dispatch)."""
