import pytest
import torch

from tsssm.exceptions import DataError
from tsssm.nn import RevIN


def _randomise_affine(revin):
    with torch.no_grad():
        revin.affine_weight.uniform_(0.5, 2.0)
        revin.affine_bias.normal_()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("affine", [True, False])
def test_round_trip(dtype, affine):
    torch.manual_seed(0)
    revin = RevIN(3, affine=affine, dtype=dtype)
    if affine:
        _randomise_affine(revin)
    x = torch.randn(4, 30, 3, dtype=dtype) * torch.tensor([1.0, 50.0, 1e-2], dtype=dtype) + 7
    back = revin.denormalize(revin.normalize(x))
    tol = {"rtol": 1e-12, "atol": 1e-12} if dtype == torch.float64 else {"rtol": 1e-5, "atol": 1e-5}
    torch.testing.assert_close(back, x, **tol)


def test_normalised_series_have_zero_mean_unit_scale():
    torch.manual_seed(0)
    revin = RevIN(2, affine=False, eps=1e-12, dtype=torch.float64)
    x = torch.randn(3, 50, 2, dtype=torch.float64) * 9 - 4
    z = revin.normalize(x)
    torch.testing.assert_close(z.mean(1), torch.zeros(3, 2, dtype=torch.float64), atol=1e-12,
                               rtol=0)
    torch.testing.assert_close(z.std(1, unbiased=False), torch.ones(3, 2, dtype=torch.float64))


def test_denormalize_quantile_outputs_per_quantile():
    torch.manual_seed(0)
    revin = RevIN(3, dtype=torch.float64)
    _randomise_affine(revin)
    revin.normalize(torch.randn(4, 20, 3, dtype=torch.float64) * 5 + 2)
    y = torch.randn(4, 6, 3, 5, dtype=torch.float64)  # (B, H, C, Q)
    out = revin.denormalize(y)
    for q in range(5):
        torch.testing.assert_close(out[..., q], revin.denormalize(y[..., q]))


def test_denormalize_one_channel_quantiles_without_channel_axis():
    torch.manual_seed(0)
    revin = RevIN(1, dtype=torch.float64)
    _randomise_affine(revin)
    x = torch.randn(4, 20, 1, dtype=torch.float64) * 3 + 10
    revin.normalize(x)
    y = torch.randn(4, 6, 5, dtype=torch.float64)  # (B, H, Q)
    want = revin.denormalize(y[:, :, None, :])[:, :, 0]  # via (B, H, 1, Q)
    torch.testing.assert_close(revin.denormalize(y), want)
    # by hand: undo the affine map, then the statistics
    mean, std = x.mean(1), x.std(1, unbiased=False)
    hand = (y - revin.affine_bias) / revin.affine_weight * torch.sqrt(
        std[:, :, None] ** 2 + 1e-5) + mean[:, :, None]
    torch.testing.assert_close(revin.denormalize(y), hand)
    assert revin.denormalize(y[..., 0]).shape == (4, 6)  # (B, H)


def test_constant_and_huge_series_stay_finite():
    revin = RevIN(2)
    x = torch.full((2, 10, 2), 3.0)
    x[1] = torch.linspace(-1e6, 1e6, 10)[:, None]
    z = revin.normalize(x)
    assert torch.isfinite(z).all()
    torch.testing.assert_close(revin.denormalize(z), x, rtol=1e-5, atol=1e-5)


def test_errors():
    revin = RevIN(3)
    with pytest.raises(RuntimeError, match="before normalize"):
        revin.denormalize(torch.zeros(2, 4, 3))
    with pytest.raises(DataError, match=r"\(batch, length, 3\)"):
        revin.normalize(torch.zeros(2, 4, 2))
    revin.normalize(torch.randn(2, 4, 3))
    with pytest.raises(DataError, match=r"Got shape \(2, 4, 5\)"):
        revin.denormalize(torch.zeros(2, 4, 5))


def test_gradients_reach_affine_parameters():
    revin = RevIN(2)
    x = torch.randn(3, 8, 2, requires_grad=True)
    revin.denormalize(revin.normalize(x) ** 2).sum().backward()
    assert revin.affine_weight.grad is not None and revin.affine_bias.grad is not None
    assert x.grad is not None
