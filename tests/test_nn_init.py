"""pn.nn.init (statistics against PyTorch's formulas, reproducibility) and gradient clipping."""
from __future__ import annotations

import math

import numpy as np
import pytest

import pyneural as pn
from pyneural import nn
from pyneural.nn import init

SHAPE = (300, 200, 3)  # fan_in 600, fan_out 900; 180000 draws make the statistics tight


def stats(t):
    d = t.data.astype(np.float64)
    return d.mean(), d.std(), d.min(), d.max()


def check_uniform(t, bound):
    mean, std, lo, hi = stats(t)
    assert -bound <= lo and hi <= bound and lo < -0.99 * bound and hi > 0.99 * bound
    assert abs(mean) < 0.01 * bound
    assert std == pytest.approx(bound / math.sqrt(3), rel=0.01)


def check_normal(t, std_expected, mean_expected=0.0):
    mean, std, _, _ = stats(t)
    assert abs(mean - mean_expected) < 0.01 * std_expected + 1e-12
    assert std == pytest.approx(std_expected, rel=0.01)


def test_calculate_gain_matches_torch_table():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")
    torch = pytest.importorskip("torch")
    for name, param in [("tanh", None), ("relu", None), ("leaky_relu", 0.2), ("selu", None), ("conv1d", None)]:
        assert init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_distributions(dtype):
    fan_in, fan_out = 600, 900
    t = pn.empty(SHAPE, dtype=dtype)
    assert init.uniform_(t, -0.5, 0.5) is t and t.dtype == dtype
    check_uniform(t, 0.5)
    init.normal_(t, 0.3, 2.0)
    check_normal(t, 2.0, 0.3)
    init.xavier_uniform_(t, gain=2.0)
    check_uniform(t, 2.0 * math.sqrt(6 / (fan_in + fan_out)))
    init.xavier_normal_(t)
    check_normal(t, math.sqrt(2 / (fan_in + fan_out)))
    init.kaiming_uniform_(t, nonlinearity="relu")
    check_uniform(t, math.sqrt(2) * math.sqrt(3 / fan_in))
    init.kaiming_uniform_(t, a=math.sqrt(5))  # Linear/Conv default: bound 1/sqrt(fan_in)
    check_uniform(t, 1 / math.sqrt(fan_in))
    init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")
    check_normal(t, math.sqrt(2 / fan_out))
    init.trunc_normal_(t, std=1.0, a=-1.0, b=1.5)
    _, _, lo, hi = stats(t)
    assert -1.0 <= lo and hi <= 1.5 and lo < -0.99 and hi > 1.49
    init.constant_(t, 0.25)
    assert (t.data == 0.25).all()
    init.zeros_(t)
    assert not t.data.any()
    init.ones_(t)
    assert (t.data == 1).all()


def test_orthogonal_and_eye():
    for shape in [(6, 4), (4, 6), (5, 2, 3)]:
        t = pn.empty(shape, dtype=pn.float64)
        init.orthogonal_(t, gain=2.0)
        flat = t.data.reshape(shape[0], -1)
        small = min(flat.shape)
        gram = flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T
        np.testing.assert_allclose(gram, 4.0 * np.eye(small), atol=1e-12)
    t = pn.empty(3, 4)
    init.eye_(t)
    np.testing.assert_array_equal(t.data, np.eye(3, 4))


def test_seeded_and_works_on_arrays():
    a, b = pn.empty(4, 5), np.empty((4, 5), np.float32)
    pn.manual_seed(3)
    init.kaiming_uniform_(a)
    pn.manual_seed(3)
    init.kaiming_uniform_(b)
    np.testing.assert_array_equal(a.data, b)
    pn.manual_seed(3)
    l1 = nn.Linear(7, 5)
    pn.manual_seed(3)
    l2 = nn.Linear(7, 5)
    np.testing.assert_array_equal(l1.weight.data, l2.weight.data)
    np.testing.assert_array_equal(l1.bias.data, l2.bias.data)


def test_bad_arguments():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(pn.empty(5))
    with pytest.raises(ValueError, match="mode 'fan_avg' not supported"):
        init.kaiming_normal_(pn.empty(3, 3), mode="fan_avg")
    with pytest.raises(TypeError, match="floating-point"):
        init.normal_(pn.zeros(3, dtype=pn.int64))
    with pytest.raises(TypeError, match="Tensor or a NumPy array"):
        init.zeros_([1.0, 2.0])
    with pytest.raises(ValueError, match="lower bound"):
        init.uniform_(pn.empty(3), 1.0, 0.0)


def test_linear_default_init_statistics():
    layer = nn.Linear(400, 500)
    bound = 1 / math.sqrt(400)
    check_uniform(layer.weight, bound)
    assert np.abs(layer.bias.data).max() <= bound and layer.bias.data.std() > 0.5 * bound / math.sqrt(3)


# ------------------------------------------------------------------------------------------ clipping

def make_grads(rng, dtype=np.float32):
    params = [nn.Parameter(np.zeros(s, dtype)) for s in [(3, 4), (5,), (2, 2, 2)]]
    for p in params:
        p.grad = pn.tensor(rng.standard_normal(p.shape).astype(dtype))
    return params


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(rng, norm_type, max_norm):
    torch = pytest.importorskip("torch")
    params = make_grads(rng)
    tparams = [torch.zeros(p.shape, requires_grad=True) for p in params]
    for tp, p in zip(tparams, params):
        tp.grad = torch.from_numpy(p.grad.data.copy())
    params.append(nn.Parameter(np.zeros(2, np.float32)))  # no grad: skipped
    total = nn.utils.clip_grad_norm_(params, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(tparams, max_norm, norm_type)
    assert total.shape == () and total.dtype == np.float32
    assert total.item() == pytest.approx(expected.item(), rel=1e-5)
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_reference(rng):
    params = make_grads(rng, np.float64)
    flat = np.concatenate([p.grad.data.ravel() for p in params])
    total = nn.utils.clip_grad_norm_(params, 1.0)
    assert total.item() == pytest.approx(np.linalg.norm(flat), rel=1e-12)
    clipped = np.concatenate([p.grad.data.ravel() for p in params])
    np.testing.assert_allclose(clipped, flat / (np.linalg.norm(flat) + 1e-6), rtol=1e-12)
    single = make_grads(rng)[0]
    before = single.grad.data.copy()
    assert nn.utils.clip_grad_norm_(single, 1e6).item() == pytest.approx(np.linalg.norm(before), rel=1e-5)
    np.testing.assert_array_equal(single.grad.data, before)  # below the limit: untouched
    assert nn.utils.clip_grad_norm_([], 1.0).item() == 0.0
    bad = make_grads(rng)
    bad[0].grad.data[0, 0] = np.nan
    with pytest.raises(RuntimeError, match="error_if_nonfinite"):
        nn.utils.clip_grad_norm_(bad, 1.0, error_if_nonfinite=True)
    with pytest.raises(ValueError, match="max_norm must be non-negative"):
        nn.utils.clip_grad_norm_(params, -1.0)
    with pytest.raises(ValueError, match="norm_type must be positive"):
        nn.utils.clip_grad_norm_(params, 1.0, norm_type=0)


def test_clip_grad_value(rng):
    params = make_grads(rng)
    before = [p.grad.data.copy() for p in params]
    nn.utils.clip_grad_value_(params, 0.5)
    for p, b in zip(params, before):
        np.testing.assert_array_equal(p.grad.data, np.clip(b, -0.5, 0.5))
    with pytest.raises(ValueError, match="clip_value must be non-negative"):
        nn.utils.clip_grad_value_(params, -1)
