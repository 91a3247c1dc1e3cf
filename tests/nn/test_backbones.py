import pytest
import torch

from tsssm.exceptions import DataError, ParameterError
from tsssm.nn import (
    HybridBackbone,
    MambaBackbone,
    S4Backbone,
    S5Backbone,
    make_backbone,
)

from ._util import TOL, assert_all_grads, run_steps

SMALL = {
    "s4": {"d_state": 8},
    "s5": {"d_state": 8, "blocks": 2, "discretization": "bilinear"},
    "mamba": {"d_state": 4},
    # attention at layers 1 and 3, MoE after every layer
    "hybrid": {"d_state": 4, "attn_every": 2, "n_heads": 2, "n_experts": 3, "moe_every": 1},
}


def _make(name, dtype=torch.float64, **kw):
    args = {"d_input": 3, "d_model": 8, "n_layers": 4, "dropout": 0.2, **SMALL[name], **kw}
    return make_backbone(name, dtype=dtype, **args)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", ["s4", "s5", "mamba", "hybrid"])
def test_step_reproduces_forward(name, dtype):
    torch.manual_seed(0)
    net = _make(name, dtype).eval()  # eval: dropout off
    x = torch.randn(2, 24, 3, dtype=dtype)
    with torch.no_grad():
        y = net(x)
        assert y.shape == (2, 24, 8) and y.dtype == dtype
        torch.testing.assert_close(run_steps(net, x), y, **TOL[dtype])


def test_hybrid_step_with_preallocated_cache():
    torch.manual_seed(0)
    net = _make("hybrid").eval()
    x = torch.randn(2, 10, 3, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(run_steps(net, x, max_len=10), net(x), **TOL[torch.float64])


@pytest.mark.parametrize("name", ["s4", "s5", "mamba", "hybrid"])
def test_gradients_reach_every_parameter(name):
    torch.manual_seed(0)
    net = _make(name, dtype=torch.float32, norm="layernorm")
    y = net(torch.randn(4, 16, 3))
    loss = y.pow(2).mean()
    if name == "hybrid":
        loss = loss + 0.01 * net.aux_loss
    loss.backward()
    assert_all_grads(net)


@pytest.mark.parametrize("name", ["s4", "s5", "mamba", "hybrid"])
def test_large_inputs_stay_finite(name):
    torch.manual_seed(0)
    net = _make(name, dtype=torch.float32).eval()
    x = torch.randn(2, 16, 3) * 1e5
    with torch.no_grad():
        assert torch.isfinite(net(x)).all()
        assert torch.isfinite(run_steps(net, x[:, :4])).all()


def test_dropout_is_active_in_training_only():
    torch.manual_seed(0)
    net = _make("s4", dropout=0.5)
    x = torch.randn(2, 8, 3, dtype=torch.float64)
    net.train()
    assert not torch.allclose(net(x), net(x))
    net.eval()
    torch.testing.assert_close(net(x), net(x))


def test_hybrid_layout():
    net = HybridBackbone(2, d_model=8, n_layers=8, d_state=4, n_experts=4, n_heads=2)
    mixers = net.layer_kinds[0::2]
    ffn = net.layer_kinds[1::2]
    assert [i for i, k in enumerate(mixers) if k == "attention"] == [2, 6]
    assert [i for i, k in enumerate(ffn) if k == "moe"] == [1, 3, 5, 7]
    dense = HybridBackbone(2, d_model=8, n_layers=2, d_state=4)
    assert dense.layer_kinds == ["mamba", "mlp", "mamba", "mlp"]
    assert float(dense.aux_loss) == 0.0


def test_factory_and_errors():
    assert isinstance(make_backbone("s4", d_input=1, d_model=4, n_layers=1, d_state=4),
                      S4Backbone)
    assert isinstance(make_backbone("s5", d_input=1, d_model=4, n_layers=1, d_state=4),
                      S5Backbone)
    assert isinstance(make_backbone("mamba", d_input=1, d_model=4, n_layers=1), MambaBackbone)
    with pytest.raises(ParameterError, match="'name' parameter of make_backbone"):
        make_backbone("lstm", d_input=1)
    with pytest.raises(TypeError, match="d_stat"):
        make_backbone("mamba", d_input=1, d_stat=4)  # typos are not swallowed
    net = make_backbone("mamba", d_input=3, d_model=4, n_layers=1)
    with pytest.raises(DataError, match="d_input=3"):
        net(torch.randn(2, 5, 2))
    with pytest.raises(DataError, match="allocate_state"):
        net.step(torch.randn(2, 3), [])
    with pytest.raises(ParameterError, match="n_layers"):
        make_backbone("s4", d_input=1, n_layers=0)
    with pytest.raises(ParameterError, match="norm"):
        make_backbone("s4", d_input=1, norm="batchnorm")


@pytest.mark.parametrize("name", ["s4", "s5", "mamba", "hybrid"])
def test_forward_with_state_primes_step(name):
    """Priming on a context in one pass, then stepping, equals forward on everything."""
    torch.manual_seed(0)
    dtype = torch.float64
    net = _make(name, dtype).eval()
    x = torch.randn(2, 12, 3, dtype=dtype)
    with torch.no_grad():
        full = net(x)
        # a context shorter than the Mamba convolution window exercises its zero padding
        for cut in (2, 9):
            y, state = net.forward_with_state(x[:, :cut])
            torch.testing.assert_close(y, full[:, :cut], **TOL[dtype])
            ys = []
            for t in range(cut, 12):
                y_t, state = net.step(x[:, t], state)
                ys.append(y_t)
            torch.testing.assert_close(torch.stack(ys, 1), full[:, cut:], **TOL[dtype])


def test_hybrid_forward_with_state_preallocated_cache():
    torch.manual_seed(0)
    net = _make("hybrid").eval()
    x = torch.randn(2, 12, 3, dtype=torch.float64)
    with torch.no_grad():
        _, state = net.forward_with_state(x[:, :8], max_len=12)
        ys = []
        for t in range(8, 12):
            y_t, state = net.step(x[:, t], state)
            ys.append(y_t)
        torch.testing.assert_close(torch.stack(ys, 1), net(x)[:, 8:], **TOL[torch.float64])
        with pytest.raises(DataError, match="max_len=4"):
            net.forward_with_state(x[:, :8], max_len=4)
