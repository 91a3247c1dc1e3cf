import copy
import pickle

import pytest
import torch
from torch import nn

from tsssm.exceptions import ParameterError
from tsssm.nn import (
    RMSNorm,
    make_backbone,
    make_norm,
    no_weight_decay,
    no_weight_decay_names,
    param_groups,
)
from tsssm.nn.mamba import MambaBlock


def test_param_groups_split_marked_and_1d_parameters():
    torch.manual_seed(0)
    block = MambaBlock(8, d_state=4)
    groups = param_groups(block, weight_decay=0.05)
    assert [g["weight_decay"] for g in groups] == [0.05, 0.0]
    decay = {id(p) for p in groups[0]["params"]}
    no_decay = {id(p) for p in groups[1]["params"]}
    assert {id(block.A_log), id(block.D), id(block.dt_proj.bias)} <= no_decay
    assert id(block.conv1d.bias) in no_decay  # 1-D
    assert {id(block.in_proj.weight), id(block.x_proj.weight), id(block.out_proj.weight),
            id(block.conv1d.weight), id(block.dt_proj.weight)} <= decay
    # A_log is 2-D: it is exempt only because it is marked.
    assert block.A_log.ndim == 2
    every = {id(p) for p in block.parameters()}
    assert decay | no_decay == every and not decay & no_decay
    torch.optim.AdamW(groups, lr=1e-3)  # the groups are accepted as they are


def test_param_groups_skips_frozen_and_leaves_out_empty_groups():
    lin = nn.Linear(3, 2, bias=False)
    assert param_groups(lin, 0.1) == [{"params": [lin.weight], "weight_decay": 0.1}]
    no_weight_decay(lin, "weight")
    assert param_groups(lin, 0.1) == [{"params": [lin.weight], "weight_decay": 0.0}]
    lin.weight.requires_grad_(False)
    assert param_groups(lin, 0.1) == []
    with pytest.raises(ParameterError, match="no parameter named 'wieght'"):
        no_weight_decay(lin, "wieght")


@pytest.mark.parametrize("how", ["deepcopy", "pickle", "to"])
def test_marks_survive_copies_and_conversions(how):
    torch.manual_seed(0)
    net = make_backbone("s5", d_input=2, d_model=4, n_layers=2, d_state=4)
    if how == "deepcopy":
        net = copy.deepcopy(net)
    elif how == "pickle":
        net = pickle.loads(pickle.dumps(net))
    else:
        net = net.to(torch.float64)
    names = no_weight_decay_names(net)
    for i in range(2):
        for p in ("log_Lambda_real", "Lambda_imag", "log_dt", "D"):
            assert f"layers.{i}.mixer.{p}" in names
        assert f"layers.{i}.mixer.B" not in names
    n_exempt = sum(len(g["params"]) for g in param_groups(net, 0.1) if g["weight_decay"] == 0)
    assert n_exempt == len(names)


def test_shared_parameter_appears_once():
    lin = nn.Linear(3, 3)
    net = nn.Sequential(lin, nn.ReLU(), lin)
    groups = param_groups(net, 0.1)
    assert sum(len(g["params"]) for g in groups) == 2


def test_param_groups_rejects_negative_decay():
    with pytest.raises(ParameterError, match="weight_decay"):
        param_groups(nn.Linear(2, 2), -1.0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_rmsnorm_matches_hand_formula(dtype):
    torch.manual_seed(0)
    norm = RMSNorm(5, eps=1e-6, dtype=dtype)
    with torch.no_grad():
        norm.weight.copy_(torch.arange(1.0, 6.0))
    x = torch.randn(3, 4, 5, dtype=dtype) * 7
    x64 = x.double()
    want = x64 / torch.sqrt((x64**2).mean(-1, keepdim=True) + 1e-6) * torch.arange(1.0, 6.0)
    out = norm(x)
    assert out.dtype == dtype
    torch.testing.assert_close(out.double(), want, rtol=1e-5, atol=1e-6)


def test_rmsnorm_zero_input_is_finite():
    assert torch.isfinite(RMSNorm(4)(torch.zeros(2, 4))).all()


def test_make_norm_options():
    assert isinstance(make_norm("rmsnorm", 4), RMSNorm)
    assert isinstance(make_norm("layernorm", 4), nn.LayerNorm)
    with pytest.raises(ParameterError, match="'norm' parameter of X must be one of"):
        make_norm("batchnorm", 4, owner="X")
