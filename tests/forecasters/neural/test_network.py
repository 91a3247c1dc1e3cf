"""The forecasting network without training: shapes, views, quantile order, losses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tsssm.forecasters.neural._network import (
    ForecastNetwork,
    interpolate_quantiles,
    n_patches,
)
from tsssm.forecasters.neural._system import pinball_loss, warmup_cosine
from tsssm.nn import make_backbone

BACKBONES = ["s4", "s5", "mamba", "hybrid"]


def build(name="s4", C=1, K=3, static=None, id_embedding=0, patch_len=None,
          patch_stride=None, point_head=True, L=20, H=6, quantiles=(0.1, 0.5, 0.9)):
    n_static = 0 if static is None else static.shape[1]
    d_input = ForecastNetwork.input_size(C, K, n_static, id_embedding, patch_len)
    extra = {"attn_every": 2} if name == "hybrid" else {}
    backbone = make_backbone(name, d_input=d_input, d_model=8, n_layers=2, d_state=4,
                             **extra)
    return ForecastNetwork(backbone, n_channels=C, lookback=L, horizon=H, n_covariates=K,
                           static=static, n_series=3, id_embedding=id_embedding,
                           patch_len=patch_len, patch_stride=patch_stride,
                           quantiles=quantiles, point_head=point_head).eval()


def batch(B=5, L=20, H=6, C=1, K=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = {"past_y": 5 + 3 * torch.randn(B, L, C, generator=g),
           "future_y": torch.randn(B, H, C, generator=g),
           "series": torch.arange(B) % 3}
    if K:
        out["past_cov"] = torch.randn(B, L, K, generator=g)
        out["future_cov"] = torch.randn(B, H, K, generator=g)
    return out


@pytest.mark.parametrize("name", BACKBONES)
def test_recurrent_context_equals_parallel_context(name):
    torch.manual_seed(0)
    net = build(name, static=torch.randn(3, 2), id_embedding=3)
    b = batch()
    with torch.no_grad():
        par = net.context(b["past_y"], b["past_cov"], b["series"], recurrent=False)
        rec = net.context(b["past_y"], b["past_cov"], b["series"], recurrent=True)
    for key in par:
        torch.testing.assert_close(rec[key], par[key], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("patch_len", "stride"), [(4, None), (5, 3), (20, None)])
def test_patching_reads_the_window_end_and_steps_like_forward(patch_len, stride):
    torch.manual_seed(1)
    net = build("s5", patch_len=patch_len, patch_stride=stride)
    b = batch()
    P = n_patches(20, patch_len, stride)
    u, *_ = net._tokens(b["past_y"], b["past_cov"], b["series"])
    assert u.shape == (5, P, net.backbone.d_input)
    # The last token holds the last patch_len steps, newest last.
    feats = u[:, -1].reshape(5, patch_len, -1)
    z = net.revin.normalize(b["past_y"])
    torch.testing.assert_close(feats[:, :, 0], z[:, -patch_len:, 0])
    with torch.no_grad():
        par = net.context(b["past_y"], b["past_cov"], b["series"])
        rec = net.context(b["past_y"], b["past_cov"], b["series"], recurrent=True)
    torch.testing.assert_close(rec["ctx"], par["ctx"], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("C", [1, 3])
def test_forward_shapes_and_quantile_order(C):
    torch.manual_seed(2)
    net = build("s4", C=C, K=0)
    b = batch(C=C, K=0)
    with torch.no_grad():
        point, q = net(b)
        point_2, q_2 = net.decode(net.context(b["past_y"], None, b["series"]), None, h=2)
    assert point.shape == (5, 6, C) and q.shape == (5, 6, C, 3)
    assert torch.all(q[..., 1:] >= q[..., :-1])
    torch.testing.assert_close(point_2, point[:, :2])
    torch.testing.assert_close(q_2, q[:, :2])


def test_forecast_is_equivariant_to_the_window_level_and_scale():
    torch.manual_seed(3)
    net = build("s4", K=0)
    b = batch(K=0)
    shifted = dict(b, past_y=b["past_y"] * 4.0 + 100.0)
    with torch.no_grad():
        p1, q1 = net(b)
        p2, q2 = net(shifted)
    torch.testing.assert_close(p2, p1 * 4.0 + 100.0, rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(q2, q1 * 4.0 + 100.0, rtol=1e-4, atol=1e-3)


def test_without_point_head_the_point_is_the_median():
    torch.manual_seed(4)
    net = build("s4", point_head=False, quantiles=(0.2, 0.5, 0.8))
    with torch.no_grad():
        point, q = net(batch())
    assert point is None
    torch.testing.assert_close(net.point_from(point, q), q[..., 1])


def test_interpolate_quantiles_matches_numpy():
    levels = (0.1, 0.25, 0.5, 0.9)
    q = torch.tensor([[1.0, 2.0, 4.0, 10.0], [0.0, 0.0, 1.0, 1.0]])
    wanted = (0.1, 0.2, 0.5, 0.7, 0.9)
    got = interpolate_quantiles(q, levels, wanted)
    expected = np.stack([np.interp(wanted, levels, row) for row in q.numpy()])
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)


def test_pinball_loss_hand_computed():
    q = torch.tensor([[1.0, 2.0, 3.0]])
    levels = torch.tensor([0.1, 0.5, 0.9])
    # target 2.5: under-predictions by 1.5, 0.5; over-prediction by 0.5.
    expected = (0.1 * 1.5 + 0.5 * 0.5 + (1 - 0.9) * 0.5) / 3
    torch.testing.assert_close(pinball_loss(q, torch.tensor([2.5]), levels),
                               torch.tensor(expected))


def test_network_rejects_a_backbone_of_the_wrong_width():
    backbone = make_backbone("s4", d_input=2, d_model=8, n_layers=1, d_state=4)
    with pytest.raises(ValueError, match="d_input=2"):
        ForecastNetwork(backbone, n_channels=1, lookback=10, horizon=3, n_covariates=4)


def test_warmup_cosine_schedule():
    f = warmup_cosine(total=10, warmup=0.2, floor=0.0)
    assert [f(0), f(1)] == [0.5, 1.0]
    assert f(2) == 1.0 and abs(f(6) - 0.5) < 1e-12 and f(10) == 0.0
    tiny = warmup_cosine(total=2, warmup=0.1)  # fewer warm-up steps than one
    assert tiny(0) == 1.0 and tiny(1) == 1.0 and abs(tiny(2) - 0.01) < 1e-12
