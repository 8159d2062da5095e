"""pn.nn layers against PyTorch: parameter names/shapes, forward and backward with weights copied from torch."""
from __future__ import annotations

import numpy as np
import pytest

import pyneural as pn
from pyneural import nn

torch = pytest.importorskip("torch")

TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}


def copy_from_torch(module, tmodule):
    """Load a torch module's state dict (as NumPy) into ours after checking names and shapes agree."""
    tsd = tmodule.state_dict()
    ours = module.state_dict()
    assert list(ours) == list(tsd)
    assert [v.shape for v in ours.values()] == [tuple(v.shape) for v in tsd.values()]
    module.load_state_dict({k: v.detach().numpy() for k, v in tsd.items()})


def check_parity(module, tmodule, x, dtype, grad_input=True):
    """Forward and backward (input and parameter gradients) of ``module`` against ``tmodule``."""
    copy_from_torch(module, tmodule)
    tol = TOL[dtype]
    tx = torch.tensor(x, requires_grad=grad_input and x.dtype.kind == "f")
    px = pn.tensor(x, requires_grad=grad_input and x.dtype.kind == "f")
    ty, py = tmodule(tx), module(px)
    np.testing.assert_allclose(py.data, ty.detach().numpy(), **tol)
    weights = np.random.default_rng(7).standard_normal(py.shape).astype(py.dtype)
    (ty * torch.from_numpy(weights)).sum().backward()
    (py * pn.tensor(weights)).sum().backward()
    if tx.requires_grad:
        np.testing.assert_allclose(px.grad.data, tx.grad.numpy(), **tol)
    tparams = dict(tmodule.named_parameters())
    for name, p in module.named_parameters():
        np.testing.assert_allclose(p.grad.data, tparams[name].grad.numpy(), err_msg=name, **tol)
    tbuffers = dict(tmodule.named_buffers())
    for name, b in module.named_buffers():  # e.g. running statistics updated by the forward pass
        np.testing.assert_allclose(b.data, tbuffers[name].numpy(), err_msg=name, **tol)
    return py


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(backend, rng, dtype, bias):
    tl = torch.nn.Linear(13, 7, bias=bias, dtype=TORCH_DTYPE[dtype])
    pl = nn.Linear(13, 7, bias=bias, dtype=dtype)
    assert pl.weight.dtype == dtype
    check_parity(pl, tl, rng.standard_normal((2, 5, 13)).astype(dtype), dtype)


def test_linear_bad_input():
    with pytest.raises(ValueError, match=r"Linear: input of shape \(4, 5\) does not end in in_features=3"):
        nn.Linear(3, 2)(pn.randn(4, 5))
    with pytest.raises(ValueError, match="in_features must be a non-negative int"):
        nn.Linear(-1, 2)
    with pytest.raises(TypeError, match="floating-point dtype"):
        nn.Linear(2, 2, dtype=pn.int64)


def test_flatten_unflatten_identity(rng):
    x = pn.tensor(rng.standard_normal((2, 3, 4, 5)))
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    np.testing.assert_array_equal(nn.Unflatten(2, (4, 5))(nn.Flatten(2)(x)).data, x.data)
    assert nn.Unflatten(-1, (5, 1))(x).shape == (2, 3, 4, 5, 1)
    with pytest.raises(ValueError, match="cannot split dim 1"):
        nn.Unflatten(1, (2, 2))(x)
    assert nn.Identity(3, foo=1)(x) is x
    assert repr(nn.Flatten()) == repr(torch.nn.Flatten())


ACTIVATIONS = [
    ("ReLU", (), {}), ("LeakyReLU", (0.2,), {}), ("LeakyReLU", (), {}), ("ELU", (0.7,), {}), ("GELU", (), {}),
    ("SiLU", (), {}), ("Sigmoid", (), {}), ("Tanh", (), {}),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,args,kwargs", ACTIVATIONS, ids=[f"{n}{a}{k}" for n, a, k in ACTIVATIONS])
def test_activations(backend, rng, dtype, name, args, kwargs):
    module, tmodule = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(module) == repr(tmodule)
    check_parity(module, tmodule, (rng.standard_normal((3, 4, 5)) * 3).astype(dtype), dtype)


def test_gelu_bad_approximate():
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        nn.GELU("fast")


def test_dropout_train_and_eval():
    layer = nn.Dropout(0.3)
    assert repr(layer) == repr(torch.nn.Dropout(0.3))
    x = pn.ones(200, 500, requires_grad=True)
    pn.manual_seed(5)
    y = layer(x)
    kept = y.data != 0
    assert abs(1 - kept.mean() - 0.3) < 0.01
    np.testing.assert_allclose(y.data[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, kept / 0.7, rtol=1e-6)  # gradient flows through the kept ones
    pn.manual_seed(5)
    np.testing.assert_array_equal(layer(x).data, y.data)  # seeded
    layer.eval()
    assert layer(x) is x or np.array_equal(layer(x).data, x.data)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding(rng, dtype, padding_idx):
    tmodule = torch.nn.Embedding(6, 4, padding_idx=padding_idx, dtype=TORCH_DTYPE[dtype])
    module = nn.Embedding(6, 4, padding_idx=padding_idx, dtype=dtype)
    assert repr(module) == repr(tmodule)
    if padding_idx is not None:
        assert not module.weight.data[padding_idx].any()
    idx = rng.integers(0, 6, (3, 5))
    idx[0, :3] = 5 if padding_idx == -1 else 2  # repeated and padding indices
    check_parity(module, tmodule, idx, dtype)
    with pytest.raises(IndexError, match="index 6 is out of range"):
        module(pn.tensor([[0, 6]]))
    with pytest.raises(ValueError, match="padding_idx 6 is out of range"):
        nn.Embedding(6, 4, padding_idx=6)


def test_embedding_init_statistics():
    weight = nn.Embedding(1000, 200).weight.data.astype(np.float64)
    assert abs(weight.mean()) < 0.01 and weight.std() == pytest.approx(1.0, rel=0.01)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,shape", [("BatchNorm1d", (6, 5)), ("BatchNorm1d", (4, 5, 3)),
                                        ("BatchNorm2d", (3, 5, 4, 3))])
@pytest.mark.parametrize("options", [{}, {"momentum": None}, {"affine": False}, {"track_running_stats": False},
                                     {"bias": False}], ids=["default", "cumulative", "no_affine", "no_stats",
                                                            "no_bias"])
def test_batch_norm(backend, rng, dtype, name, shape, options):
    tmodule = getattr(torch.nn, name)(5, dtype=TORCH_DTYPE[dtype], **options)
    module = getattr(nn, name)(5, dtype=dtype, **options)
    assert repr(module) == repr(tmodule)
    with torch.no_grad():  # non-trivial parameters and statistics
        for t in list(tmodule.parameters()) + [b for b in tmodule.buffers() if b.dtype.is_floating_point]:
            t.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, t.shape).astype(dtype)))
    for step in range(2):  # training: batch statistics, running statistics updated twice
        check_parity(module, tmodule, (rng.standard_normal(shape) * 2 + 1).astype(dtype), dtype)
        tmodule.zero_grad()
        module.zero_grad()
    if options.get("track_running_stats", True):
        assert int(module.num_batches_tracked.item()) == 2
    module.eval(), tmodule.eval()
    check_parity(module, tmodule, (rng.standard_normal(shape)).astype(dtype), dtype)


def test_batch_norm_bad_input():
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected 4-D input, got shape \(2, 3\)"):
        nn.BatchNorm2d(3)(pn.randn(2, 3))
    with pytest.raises(ValueError, match=r"has 4 channels, expected num_features=3"):
        nn.BatchNorm1d(3)(pn.randn(2, 4))
    with pytest.raises(ValueError, match="momentum must be in"):
        nn.BatchNorm1d(3, momentum=2.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,options", [(5, {}), ((4, 5), {}), ((4, 5), {"elementwise_affine": False}),
                                           (5, {"bias": False})], ids=["int", "tuple", "no_affine", "no_bias"])
def test_layer_norm(backend, rng, dtype, shape, options):
    tmodule = torch.nn.LayerNorm(shape, dtype=TORCH_DTYPE[dtype], **options)
    module = nn.LayerNorm(shape, dtype=dtype, **options)
    assert repr(module) == repr(tmodule)
    with torch.no_grad():
        for t in tmodule.parameters():
            t.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, t.shape).astype(dtype)))
    check_parity(module, tmodule, (rng.standard_normal((3, 4, 5)) * 2 + 1).astype(dtype), dtype)


CONVS = [
    ("Conv2d", (3, 4, 3), {}, (2, 3, 7, 6)),
    ("Conv2d", (4, 6, (3, 2)), {"stride": (2, 1), "padding": (1, 2), "dilation": (1, 2), "groups": 2}, (2, 4, 9, 8)),
    ("Conv2d", (3, 5, 1), {"bias": False}, (1, 3, 4, 5)),
    ("Conv1d", (3, 4, 3), {}, (2, 3, 11)),
    ("Conv1d", (4, 6, 3), {"stride": 2, "padding": 1, "dilation": 2, "groups": 2, "bias": False}, (2, 4, 13)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,args,kwargs,shape", CONVS, ids=[f"{c[0]}-{i}" for i, c in enumerate(CONVS)])
def test_conv(backend, rng, dtype, name, args, kwargs, shape):
    tmodule = getattr(torch.nn, name)(*args, dtype=TORCH_DTYPE[dtype], **kwargs)
    module = getattr(nn, name)(*args, dtype=dtype, **kwargs)
    assert repr(module) == repr(tmodule)
    check_parity(module, tmodule, rng.standard_normal(shape).astype(dtype), dtype)


def test_conv_default_init_statistics():
    conv = nn.Conv2d(16, 300, (5, 3), groups=2)
    fan_in = 8 * 15
    bound = 1 / np.sqrt(fan_in)
    w = conv.weight.data.astype(np.float64)
    assert w.shape == (300, 8, 5, 3) and -bound <= w.min() and w.max() <= bound and w.max() > 0.99 * bound
    assert w.std() == pytest.approx(bound / np.sqrt(3), rel=0.01)
    assert np.abs(conv.bias.data).max() <= bound


def test_conv_bad_arguments():
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="kernel_size must be an int or a tuple of 2 ints"):
        nn.Conv2d(3, 4, (3, 3, 3))
    with pytest.raises(ValueError, match="stride and dilation must be positive"):
        nn.Conv1d(3, 4, 3, stride=0)
    with pytest.raises(ValueError, match="padding_mode='zeros'"):
        nn.Conv2d(3, 4, 3, padding_mode="reflect")


POOLS = [
    ("MaxPool2d", (2,), {}), ("MaxPool2d", (3,), {"stride": 2, "padding": 1}),
    ("MaxPool2d", ((2, 3),), {"stride": (1, 2)}),
    ("MaxPool2d", (2,), {"dilation": 2, "ceil_mode": True}),
    ("AvgPool2d", (2,), {}), ("AvgPool2d", (3,), {"stride": 2, "padding": 1}),
    ("AvgPool2d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False}),
    ("AdaptiveAvgPool2d", (1,), {}), ("AdaptiveAvgPool2d", ((3, 2),), {}), ("AdaptiveAvgPool2d", ((4, None),), {}),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,args,kwargs", POOLS, ids=[f"{p[0]}-{i}" for i, p in enumerate(POOLS)])
def test_pool(backend, rng, dtype, name, args, kwargs):
    tmodule = getattr(torch.nn, name)(*args, **kwargs)
    module = getattr(nn, name)(*args, **kwargs)
    assert repr(module) == repr(tmodule)
    check_parity(module, tmodule, rng.standard_normal((2, 3, 7, 8)).astype(dtype), dtype)


def test_max_pool_return_indices(rng):
    x = rng.standard_normal((2, 3, 6, 5)).astype(np.float32)
    out, idx = nn.MaxPool2d(2, return_indices=True)(pn.tensor(x))
    tout, tidx = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(out.data, tout.numpy())
    np.testing.assert_array_equal(np.asarray(idx.data if hasattr(idx, "data") else idx), tidx.numpy())


def check_loss(module, tmodule, x, target, dtype):
    """Loss value and input gradient against PyTorch (the target is a constant)."""
    tol = TOL[dtype]
    tx, px = torch.tensor(x, requires_grad=True), pn.tensor(x, requires_grad=True)
    ty, py = tmodule(tx, torch.tensor(target)), module(px, pn.tensor(target))
    np.testing.assert_allclose(py.data, ty.detach().numpy(), **tol)
    weights = np.random.default_rng(7).standard_normal(py.shape).astype(py.dtype)
    (ty * torch.from_numpy(weights)).sum().backward()
    (py * pn.tensor(weights)).sum().backward()
    np.testing.assert_allclose(px.grad.data, tx.grad.numpy(), **tol)


REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,kwargs", [("MSELoss", {}), ("L1Loss", {}), ("SmoothL1Loss", {}),
                                         ("SmoothL1Loss", {"beta": 0.5})])
def test_regression_losses(backend, rng, dtype, reduction, name, kwargs):
    module = getattr(nn, name)(reduction=reduction, **kwargs)
    tmodule = getattr(torch.nn, name)(reduction=reduction, **kwargs)
    x, target = rng.standard_normal((4, 5)).astype(dtype), rng.standard_normal((4, 5)).astype(dtype)
    check_loss(module, tmodule, x, target, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kwargs", [{}, {"label_smoothing": 0.1}, {"ignore_index": 1}],
                         ids=["plain", "smoothing", "ignore"])
@pytest.mark.parametrize("shape", [(6, 5), (3, 5, 4)])
def test_cross_entropy_loss(backend, rng, dtype, reduction, kwargs, shape):
    module, tmodule = nn.CrossEntropyLoss(reduction=reduction, **kwargs), torch.nn.CrossEntropyLoss(reduction=reduction,
                                                                                                     **kwargs)
    x = (rng.standard_normal(shape) * 2).astype(dtype)
    target = rng.integers(0, 5, (shape[0],) + shape[2:])
    check_loss(module, tmodule, x, target, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ignore_index", [-100, 2])
def test_nll_loss(backend, rng, dtype, reduction, ignore_index):
    x = np.log(rng.dirichlet(np.ones(5), 6)).astype(dtype)
    target = rng.integers(0, 5, 6)
    target[:2] = 2
    check_loss(nn.NLLLoss(reduction=reduction, ignore_index=ignore_index),
               torch.nn.NLLLoss(reduction=reduction, ignore_index=ignore_index), x, target, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_losses(backend, rng, dtype, reduction):
    x = rng.uniform(0.05, 0.95, (4, 3)).astype(dtype)
    target = rng.uniform(0, 1, (4, 3)).astype(dtype)
    check_loss(nn.BCELoss(reduction=reduction), torch.nn.BCELoss(reduction=reduction), x, target, dtype)
    weight = rng.uniform(0.5, 2, 3).astype(dtype)
    check_loss(nn.BCELoss(pn.tensor(weight), reduction=reduction),
               torch.nn.BCELoss(torch.tensor(weight), reduction=reduction), x, target, dtype)
    logits = (rng.standard_normal((4, 3)) * 3).astype(dtype)
    check_loss(nn.BCEWithLogitsLoss(reduction=reduction), torch.nn.BCEWithLogitsLoss(reduction=reduction), logits,
               target, dtype)
    pos_weight = rng.uniform(0.5, 2, 3).astype(dtype)
    check_loss(nn.BCEWithLogitsLoss(weight, reduction=reduction, pos_weight=pos_weight),
               torch.nn.BCEWithLogitsLoss(torch.tensor(weight), reduction=reduction,
                                          pos_weight=torch.tensor(pos_weight)), logits, target, dtype)


def test_loss_bad_arguments():
    with pytest.raises(ValueError, match="reduction must be one of"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"weight of shape \(3,\) does not match 4 classes"):
        nn.CrossEntropyLoss(weight=np.ones(3))(pn.tensor(np.zeros((2, 4))), pn.tensor(np.array([0, 1])))
    with pytest.raises(ValueError, match="beta must be non-negative"):
        nn.SmoothL1Loss(beta=-1.0)


def test_loss_modules_in_a_model(rng):
    """A loss module composes with a model: its gradient reaches the parameters."""
    model = nn.Sequential(nn.Linear(4, 3))
    loss = nn.CrossEntropyLoss()(model(pn.tensor(rng.standard_normal((5, 4)).astype(np.float32))),
                                 pn.tensor(rng.integers(0, 3, 5)))
    loss.backward()
    assert loss.shape == () and model[0].weight.grad.data.any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("dim", [1, -1, 0])
def test_softmax_modules(backend, rng, dtype, name, dim):
    module, tmodule = getattr(nn, name)(dim), getattr(torch.nn, name)(dim)
    assert repr(module) == repr(tmodule)
    check_parity(module, tmodule, (rng.standard_normal((3, 4, 5)) * 3).astype(dtype), dtype)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="has 5 channels"):
        nn.Conv2d(3, 4, 3)(pn.randn(1, 5, 8, 8))
    with pytest.raises(ValueError, match="out of range for 3 classes"):
        nn.CrossEntropyLoss()(pn.randn(4, 3), pn.tensor([0, 1, 2, 3]))
    with pytest.raises(IndexError, match="out of range"):
        nn.Embedding(3, 2)(pn.tensor([3]))
    with pytest.raises(ValueError, match="normalized_shape"):
        nn.LayerNorm(4)(pn.randn(2, 5))


def make_cnn(lib):
    """The same small CNN in torch or pyneural (identical module names)."""
    return lib.Sequential(lib.Conv2d(1, 4, 3, padding=1), lib.BatchNorm2d(4), lib.ReLU(), lib.MaxPool2d(2),
                          lib.Conv2d(4, 6, 3), lib.GELU(), lib.AdaptiveAvgPool2d(2), lib.Flatten(),
                          lib.Dropout(0.0), lib.Linear(24, 10), lib.LayerNorm(10), lib.Linear(10, 3))


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_torch_cnn_state_dict_parity(backend, rng, training):
    tmodel, model = make_cnn(torch.nn), make_cnn(nn)
    assert repr(model) == repr(tmodel)
    tmodel.train(training), model.train(training)
    x = rng.standard_normal((5, 1, 10, 10)).astype(np.float32)
    check_parity(model, tmodel, x, np.float32)


def test_transfer_learning_freeze_and_replace_head(rng):
    tmodel = make_cnn(torch.nn)
    model = make_cnn(nn)
    model.load_state_dict({k: v.numpy() for k, v in tmodel.state_dict().items()})
    for layer in list(model)[:-1]:
        layer.requires_grad_(False)
    model[-1] = nn.Linear(10, 2)  # new head for a 2-class task
    frozen = {k: v.data.copy() for k, v in model.state_dict().items() if not k.startswith("11.")}
    x = pn.tensor(rng.standard_normal((8, 1, 10, 10)).astype(np.float32))
    target = pn.tensor(rng.integers(0, 2, 8))
    model.eval()  # frozen batch norm statistics too
    losses = []
    for _ in range(20):  # plain gradient descent on the trainable parameters
        model.zero_grad()
        loss = nn.CrossEntropyLoss()(model(x), target)
        loss.backward()
        losses.append(loss.item())
        for p in model.parameters():
            if p.requires_grad:
                p.data -= 0.1 * p.grad.data
    assert losses[-1] < losses[0]
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["11.weight", "11.bias"]
    for k, v in frozen.items():
        np.testing.assert_array_equal(model.state_dict()[k].data, v, err_msg=k)
