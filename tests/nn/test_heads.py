import pytest
import torch

from tsssm.exceptions import DataError, ParameterError, ParameterTypeError
from tsssm.nn import LinearHead, QuantileHead


@pytest.mark.parametrize("n_targets", [None, 3])
def test_linear_head_last_matches_hand_projection(n_targets):
    torch.manual_seed(0)
    head = LinearHead(8, horizon=5, n_targets=n_targets, dtype=torch.float64)
    h = torch.randn(2, 7, 8, dtype=torch.float64)
    out = head(h)
    C = n_targets or 1
    want = (h[:, -1] @ head.proj.weight.T + head.proj.bias).reshape(2, 5, C)
    if n_targets is None:
        assert out.shape == (2, 5)
        torch.testing.assert_close(out, want[..., 0])
    else:
        assert out.shape == (2, 5, 3)
        torch.testing.assert_close(out, want)


def test_linear_head_flatten_reads_every_position():
    torch.manual_seed(0)
    head = LinearHead(4, horizon=3, pooling="flatten", lookback=6)
    h = torch.randn(2, 6, 4, requires_grad=True)
    head(h).sum().backward()
    assert (h.grad.abs().sum(-1) > 0).all()  # every position influences the output
    with pytest.raises(DataError, match="lookback=6"):
        head(torch.randn(2, 5, 4))
    with pytest.raises(ParameterTypeError, match="lookback"):
        LinearHead(4, horizon=3, pooling="flatten")
    with pytest.raises(ParameterError, match="pooling"):
        LinearHead(4, horizon=3, pooling="mean")
    with pytest.raises(DataError, match="8"):
        LinearHead(8, horizon=3)(torch.randn(2, 5, 4))


@pytest.mark.parametrize("quantiles", [(0.1, 0.5, 0.9), (0.05, 0.25, 0.5, 0.75, 0.95),
                                       (0.5,), (0.9, 0.1), (0.2, 0.3)])
@pytest.mark.parametrize("n_targets", [None, 2])
def test_quantile_head_never_crosses(quantiles, n_targets):
    gen = torch.Generator().manual_seed(1)
    head = QuantileHead(6, horizon=4, quantiles=quantiles, n_targets=n_targets)
    with torch.no_grad():
        head.proj.weight.copy_(torch.randn(head.proj.weight.shape, generator=gen) * 20)
    h = torch.randn(64, 3, 6, generator=gen) * torch.logspace(-3, 3, 64)[:, None, None]
    q = head(h)
    Q = len(set(quantiles))
    assert q.shape == ((64, 4, Q) if n_targets is None else (64, 4, 2, Q))
    assert torch.isfinite(q).all()
    assert (q.diff(dim=-1) >= 0).all()
    assert head.quantiles == tuple(sorted(set(quantiles)))


def test_quantile_head_centre_is_the_free_output():
    torch.manual_seed(0)
    head = QuantileHead(5, horizon=2, quantiles=(0.1, 0.4, 0.5, 0.9), dtype=torch.float64)
    assert head.centre == 2
    h = torch.randn(3, 4, 5, dtype=torch.float64)
    raw = (h[:, -1] @ head.proj.weight.T + head.proj.bias).reshape(3, 2, 4)
    q = head(h)
    torch.testing.assert_close(q[..., 2], raw[..., 2])
    sp = torch.nn.functional.softplus
    torch.testing.assert_close(q[..., 3], raw[..., 2] + sp(raw[..., 3]))
    torch.testing.assert_close(q[..., 1], raw[..., 2] - sp(raw[..., 1]))
    torch.testing.assert_close(q[..., 0], raw[..., 2] - sp(raw[..., 1]) - sp(raw[..., 0]))


def test_quantile_head_rejects_bad_levels():
    with pytest.raises(ParameterError, match="quantiles"):
        QuantileHead(4, horizon=2, quantiles=(0.1, 1.0))
