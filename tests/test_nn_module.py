"""pn.nn.Module, Parameter and containers: registration, traversal, state dicts, modes, freezing, repr."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import pyneural as pn
from pyneural import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.scale = nn.Parameter(np.ones(4, np.float32))
        self.register_buffer("count", np.zeros((), np.int64))
        self.register_buffer("cache", np.zeros(2, np.float32), persistent=False)
        self.note = "plain attribute"

    def forward(self, x):
        return self.fc(x) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(Block(), nn.Flatten())
        self.heads = nn.ModuleList([nn.Linear(4, 2), nn.Linear(4, 1, bias=False)])

    def forward(self, x):
        h = self.body(x)
        return [head(h) for head in self.heads]


def test_registration_and_names():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["body.0.scale", "body.0.fc.weight", "body.0.fc.bias", "heads.0.weight", "heads.0.bias",
                     "heads.1.weight"]
    assert [n for n, _ in net.named_buffers()] == ["body.0.count", "body.0.cache"]
    assert list(net.state_dict()) == ["body.0.scale", "body.0.count", "body.0.fc.weight", "body.0.fc.bias",
                                      "heads.0.weight", "heads.0.bias", "heads.1.weight"]
    assert [n for n, _ in net.named_modules()] == ["", "body", "body.0", "body.0.fc", "body.1", "heads",
                                                   "heads.0", "heads.1"]
    assert [n for n, _ in net.named_children()] == ["body", "heads"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in net.parameters())
    assert net.body[0].note == "plain attribute" and "note" not in net.body[0]._parameters
    assert net.get_submodule("body.0.fc") is net.body[0].fc
    with pytest.raises(AttributeError, match="no sub-module 'nope'"):
        net.get_submodule("body.nope")
    with pytest.raises(AttributeError, match="has no attribute 'missing'"):
        net.missing


def test_setattr_rules():
    m = nn.Linear(2, 3)
    with pytest.raises(TypeError, match="cannot assign ndarray as parameter 'weight'"):
        m.weight = np.zeros((3, 2))
    m.bias = None  # a declared parameter may become None
    assert m.bias is None and [n for n, _ in m.named_parameters()] == ["weight"]
    m.weight = nn.Parameter(np.zeros((3, 2), np.float32))
    assert m.weight.data.sum() == 0
    del m.weight
    assert "weight" not in m._parameters

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.zeros(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()


def test_shared_parameter_listed_once():
    fc = nn.Linear(3, 3)
    seq = nn.Sequential(fc, fc)
    assert len(list(seq.parameters())) == 2
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_parameter_is_a_tensor_sharing_storage():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    p = nn.Parameter(a)
    assert isinstance(p, pn.Tensor) and p.requires_grad and p.data is a
    assert not nn.Parameter(a, requires_grad=False).requires_grad
    assert repr(p).startswith("Parameter containing:\ntensor(")
    y = (p * 2).sum()
    assert type(p * 2) is pn.Tensor
    y.backward()
    np.testing.assert_array_equal(p.grad.data, np.full((2, 3), 2, np.float32))


def test_state_dict_round_trip_and_copy_in_place():
    pn.manual_seed(0)
    a, b = Net(), Net()
    weight_before = b.body[0].fc.weight
    storage_before = weight_before.data
    b.body[0].count.data[...] = 7
    b.load_state_dict(a.state_dict())
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and va.dtype == vb.dtype
        np.testing.assert_array_equal(va.data, vb.data)
    assert b.body[0].fc.weight is weight_before and b.body[0].fc.weight.data is storage_before
    assert int(b.body[0].count.item()) == 0
    # state_dict values share storage with the module but are detached
    sd = a.state_dict()
    assert sd["heads.0.weight"].data is a.heads[0].weight.data and not sd["heads.0.weight"].requires_grad
    assert a.state_dict(keep_vars=True)["heads.0.weight"] is a.heads[0].weight
    # NumPy arrays are accepted, float64 values go into the float32 parameters
    arrays = {k: v.data.astype(np.float64) + 1 if v.dtype.kind == "f" else v.data for k, v in a.state_dict().items()}
    b.load_state_dict(arrays)
    np.testing.assert_allclose(b.heads[1].weight.data, a.heads[1].weight.data + 1, rtol=1e-6)
    assert b.heads[1].weight.dtype == np.float32


def test_load_state_dict_strict_errors_leave_the_module_untouched():
    net = Net()
    good = {k: v.data.copy() for k, v in net.state_dict().items()}
    before = {k: v.data.copy() for k, v in net.state_dict().items()}
    missing = {k: v + 1 for k, v in good.items() if k != "heads.1.weight"}
    with pytest.raises(ValueError, match=r"Missing key\(s\) in state_dict: 'heads.1.weight'"):
        net.load_state_dict(missing)
    extra = dict({k: v + 1 for k, v in good.items()}, **{"heads.2.weight": np.zeros(3)})
    with pytest.raises(ValueError, match=r"Unexpected key\(s\) in state_dict: 'heads.2.weight'"):
        net.load_state_dict(extra)
    wrong = dict({k: v + 1 for k, v in good.items()}, **{"heads.0.weight": np.zeros((3, 4), np.float32)})
    with pytest.raises(ValueError, match=r"size mismatch for heads.0.weight: copying a param with shape \(3, 4\) "
                                         r"from checkpoint, the shape in current model is \(2, 4\)"):
        net.load_state_dict(wrong)
    with pytest.raises(ValueError, match="size mismatch"):
        net.load_state_dict(wrong, strict=False)  # shapes are checked even when not strict
    bad_dtype = dict(good, **{"body.0.scale": np.ones(4, np.complex64)})
    with pytest.raises(ValueError, match="dtype mismatch for body.0.scale"):
        net.load_state_dict(bad_dtype)
    with pytest.raises(TypeError, match="dict-like"):
        net.load_state_dict([1, 2])
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.data, before[k])
    result = net.load_state_dict(missing, strict=False)
    assert result.missing_keys == ["heads.1.weight"] and result.unexpected_keys == []
    result = net.load_state_dict(extra, strict=False)
    assert result.missing_keys == [] and result.unexpected_keys == ["heads.2.weight"]


def test_non_persistent_buffer_not_in_state_dict():
    block = Block()
    assert "cache" not in block.state_dict() and "count" in block.state_dict()
    assert [n for n, _ in block.named_buffers()] == ["count", "cache"]


def test_train_eval_propagate():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.heads.eval()
    assert net.training and not net.heads[0].training and net.body[0].fc.training


def test_freezing_stops_gradients():
    net = Net()
    net.body.requires_grad_(False)
    x = pn.randn(5, 3)
    out = net(x)
    (out[0].sum() + out[1].sum()).backward()
    for name, p in net.named_parameters():
        if name.startswith("body"):
            assert not p.requires_grad and p.grad is None, name
        else:
            assert p.requires_grad and p.grad is not None, name
    net.requires_grad_(False)
    out = net(x)
    assert not out[0].requires_grad


def test_zero_grad():
    net = Net()
    out = net(pn.randn(2, 3))
    (out[0].sum() + out[1].sum()).backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.data.any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_to_casts_in_place():
    net = Net()
    params = list(net.parameters())
    assert net.to(pn.float64) is net
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert net.body[0].count.dtype == np.int64  # integer buffers keep their dtype
    assert net.body[0].cache.dtype == np.float64
    assert net(pn.randn(2, 3, dtype=pn.float64))[0].dtype == np.float64
    net.to("cpu").float()
    assert all(p.dtype == np.float32 for p in net.parameters())
    with pytest.raises(TypeError, match="floating point"):
        net.to(pn.int64)
    with pytest.raises(ValueError, match="unknown device"):
        net.to(device="tpu")


def test_repr_matches_pytorch_layout():
    net = nn.Sequential(nn.Linear(3, 4), nn.Sequential(nn.Identity(), nn.Flatten()))
    assert repr(net) == ("Sequential(\n"
                         "  (0): Linear(in_features=3, out_features=4, bias=True)\n"
                         "  (1): Sequential(\n"
                         "    (0): Identity()\n"
                         "    (1): Flatten(start_dim=1, end_dim=-1)\n"
                         "  )\n"
                         ")")


def test_sequential_and_module_list():
    a, b, c = nn.Linear(3, 3), nn.Identity(), nn.Linear(3, 2)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and seq[0] is a and seq[-1] is c and list(seq) == [a, b, c]
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and list(sub) == [b, c]
    x = pn.randn(4, 3)
    np.testing.assert_allclose(seq(x).data, c(a(x)).data, rtol=1e-6)
    with pytest.raises(IndexError, match="out of range"):
        seq[3]
    del seq[1]
    assert list(seq._modules) == ["0", "1"] and seq[1] is c
    seq.append(nn.Identity())
    assert len(seq) == 3
    named = nn.Sequential(OrderedDict(first=a, second=c))
    assert list(named.state_dict()) == ["first.weight", "first.bias", "second.weight", "second.bias"]

    ml = nn.ModuleList([a])
    ml.append(c)
    ml += [b]
    ml.insert(0, nn.Identity())
    assert len(ml) == 4 and ml[1] is a and ml[-1] is b
    assert [n for n, _ in ml.named_parameters()] == ["1.weight", "1.bias", "2.weight", "2.bias"]
    del ml[0]
    assert ml[0] is a and list(ml._modules) == ["0", "1", "2"]
    with pytest.raises(TypeError, match="indices must be integers"):
        ml["x"]
    md = nn.ModuleDict({"enc": a, "dec": c})
    assert "enc" in md and md["dec"] is c and list(md.state_dict())[0] == "enc.weight"


def test_torch_state_dict_loads():
    torch = pytest.importorskip("torch")
    tnet = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3))
    pnet = nn.Sequential(nn.Linear(5, 7), nn.Identity(), nn.Linear(7, 3))
    tsd = tnet.state_dict()
    assert list(tsd) == list(pnet.state_dict())
    assert [tuple(v.shape) for v in tsd.values()] == [v.shape for v in pnet.state_dict().values()]
    pnet.load_state_dict({k: v.numpy() for k, v in tsd.items()})
    np.testing.assert_array_equal(pnet[0].weight.data, tsd["0.weight"].numpy())
    pnet[0].weight.data[...] = 0
    pnet.load_state_dict(tsd)  # torch tensors themselves convert through numpy.asarray
    np.testing.assert_array_equal(pnet[0].weight.data, tsd["0.weight"].numpy())
    with pytest.raises(ValueError, match="cannot convert a Parameter"):
        pnet.load_state_dict(tnet.state_dict(keep_vars=True))  # torch parameters that require grad
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    expected = tnet[2](tnet[0](torch.from_numpy(x))).detach().numpy()  # both without activation
    np.testing.assert_allclose(pnet(pn.tensor(x)).data, expected, rtol=1e-5, atol=1e-6)


def test_train_eval_switch_dropout_and_batch_norm_inside_containers():
    pn.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5))
    x = pn.randn(16, 4)
    model.eval()
    first, second = model(x), model(x)
    np.testing.assert_array_equal(first.data, second.data)  # deterministic, running statistics used
    assert int(model[1].num_batches_tracked.item()) == 0 and not model[1].running_mean.data.any()
    model.train()
    a, b = model(x), model(x)
    assert not np.array_equal(a.data, b.data)  # dropout masks differ
    assert int(model[1].num_batches_tracked.item()) == 2 and model[1].running_mean.data.any()


def test_deepcopy_is_independent():
    import copy

    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    clone = copy.deepcopy(model)
    assert isinstance(clone[0].weight, nn.Parameter) and clone[0].weight.requires_grad
    clone[0].weight.data[...] = 0
    assert model[0].weight.data.any()
    assert list(clone.state_dict()) == list(model.state_dict())


def test_public_names():
    for name in nn.__all__:
        assert hasattr(nn, name), name
    expected = {"Module", "Parameter", "Sequential", "ModuleList", "Linear", "init", "utils", "functional"}
    assert expected <= set(nn.__all__)


def test_state_dict_survives_a_checkpoint_file(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    model(pn.randn(5, 3))  # running statistics move away from their defaults
    path = tmp_path / "model.safetensors"
    pn.save(model.state_dict(), path)
    fresh = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    fresh.load_state_dict(pn.load(path))
    for (k, a), (_, b) in zip(model.state_dict().items(), fresh.state_dict().items()):
        assert a.dtype == b.dtype, k
        np.testing.assert_array_equal(a.data, b.data, err_msg=k)


def test_attribute_reads_follow_every_change():
    """Registered entries are mirrored for fast attribute reads; every change must keep them in step."""
    m = nn.Linear(2, 3)
    assert m.weight is m._parameters["weight"]
    new = nn.Parameter(np.zeros((3, 2), np.float32))
    m.weight = new
    assert m.weight is new
    m.bias = None
    assert m.bias is None and m._parameters["bias"] is None
    m.register_buffer("stat", np.ones(2))
    m.stat = np.zeros(2)
    assert isinstance(m.stat, pn.Tensor) and m.stat is m._buffers["stat"] and not m.stat.data.any()
    del m.stat
    with pytest.raises(AttributeError):
        m.stat
    seq = nn.Sequential(nn.Identity(), nn.Linear(2, 2), nn.Tanh())
    last = seq[2]
    del seq[0]
    assert getattr(seq, "1") is last and not hasattr(seq, "2")
    ml = nn.ModuleList([nn.Identity(), nn.Tanh()])
    first = nn.ReLU()
    ml.insert(0, first)
    assert getattr(ml, "0") is first and ml[0] is first and len(ml) == 3
    md = nn.ModuleDict({"items": nn.Identity(), "enc": nn.Tanh()})
    assert callable(md.items) and list(md.items())[0][0] == "items"  # methods win over child names
    del md["enc"]
    assert not hasattr(md, "enc")
