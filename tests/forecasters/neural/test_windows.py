"""Window positions and window batches against brute-force enumeration and slicing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tsssm.data.windows import WindowDataset, collate_windows, window_origins
from tsssm.exceptions import DataError


def brute_force(lengths, lookback, horizon, first_target=None, end=None, stride=1):
    """Every (series, origin) by looping over positions, newest window anchored."""
    out = []
    for s, n in enumerate(lengths):
        lo = lookback if first_target is None else max(lookback, int(first_target[s]))
        stop = n if end is None else (n + end[s] if end[s] < 0 else min(end[s], n))
        valid = [o for o in range(lo, stop - horizon + 1)]
        if valid:
            last = valid[-1]
            out.extend((s, o) for o in valid if (last - o) % stride == 0)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_window_origins_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 40, size=5)
    lookback, horizon = int(rng.integers(1, 8)), int(rng.integers(1, 6))
    stride = int(rng.integers(1, 4))
    first = rng.integers(0, 30, size=5) if seed % 2 else None
    end = -rng.integers(0, 10, size=5) if seed % 3 == 0 else (
        rng.integers(5, 45, size=5) if seed % 3 == 1 else None)
    s, o = window_origins(lengths, lookback, horizon, first_target=first, end=end,
                          stride=stride)
    assert list(zip(s.tolist(), o.tolist())) == brute_force(lengths, lookback, horizon,
                                                            first, end, stride)


def test_window_dataset_serves_slices_of_its_series():
    rng = np.random.default_rng(1)
    lengths = np.array([9, 4, 12])
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    values = rng.normal(size=(indptr[-1], 2))
    cov = rng.normal(size=(indptr[-1], 3))
    s, o = window_origins(lengths, 3, 2)
    labels = np.array([7, 8, 9])
    ds = WindowDataset(values, indptr, s, o, 3, 2, cov, labels=labels)
    assert len(ds) == len(s) == (9 - 5 + 1) + 0 + (12 - 5 + 1)
    batch = ds.__getitems__(list(range(len(ds))))
    for k, (si, oi) in enumerate(zip(s, o)):
        series = values[indptr[si]:indptr[si + 1]]
        c = cov[indptr[si]:indptr[si + 1]]
        np.testing.assert_allclose(batch["past_y"][k], series[oi - 3:oi], rtol=1e-6)
        np.testing.assert_allclose(batch["future_y"][k], series[oi:oi + 2], rtol=1e-6)
        np.testing.assert_allclose(batch["past_cov"][k], c[oi - 3:oi], rtol=1e-6)
        np.testing.assert_allclose(batch["future_cov"][k], c[oi:oi + 2], rtol=1e-6)
        assert batch["series"][k] == labels[si]
    single = ds[3]
    assert single["past_y"].shape == (3, 2) and single["series"].ndim == 0


def test_window_dataset_through_a_dataloader():
    values = np.arange(20.0)[:, None]
    s, o = window_origins(np.array([20]), 4, 3)
    ds = WindowDataset(values, np.array([0, 20]), s, o, 4, 3)
    loader = torch.utils.data.DataLoader(ds, batch_size=5, shuffle=False,
                                         collate_fn=collate_windows)
    batches = list(loader)
    assert [b["past_y"].shape[0] for b in batches] == [5, 5, 4]
    # Window k reads 0..3 + k and predicts 4 + k .. 6 + k.
    assert batches[1]["past_y"][0, :, 0].tolist() == [5.0, 6.0, 7.0, 8.0]
    assert batches[1]["future_y"][0, :, 0].tolist() == [9.0, 10.0, 11.0]
    assert "past_cov" not in batches[0]


def test_window_dataset_rejects_windows_outside_their_series():
    with pytest.raises(DataError, match="outside"):
        WindowDataset(np.zeros((10, 1)), np.array([0, 10]), np.array([0]), np.array([9]),
                      3, 2)
    with pytest.raises(DataError, match=r"\(T, C\)"):
        WindowDataset(np.zeros(10), np.array([0, 10]), np.array([0]), np.array([3]), 3, 2)
