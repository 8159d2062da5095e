"""Element-wise activations: forward and backward against float64 references on every backend and CPU
variant, special values, gradchecks, PyTorch parity, bad input."""
from __future__ import annotations

import math

import numpy as np
import pytest

import pyneural as pn
import pyneural.nn.functional as F

mpmath = pytest.importorskip("mpmath")  # the GELU reference: math.erfc(-x / sqrt 2) loses digits in the tail


@np.vectorize
def gelu_cdf(x):
    with mpmath.workdps(40):
        return float(mpmath.erfc(-mpmath.mpf(float(x)) / mpmath.sqrt(2)) / 2)


@np.vectorize
def gelu_derivative(x):
    with mpmath.workdps(40):
        x = mpmath.mpf(float(x))
        return float(mpmath.erfc(-x / mpmath.sqrt(2)) / 2 + x * mpmath.exp(-x * x / 2) / mpmath.sqrt(2 * mpmath.pi))
SLOPE, ALPHA = 0.07, 1.3


def sigmoid64(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


# name -> (alpha, forward(x), backward(g, x, y)), all in float64
REFERENCE = {
    "relu": (0.0, lambda x: np.where(x < 0, 0.0, x), lambda g, x, y: np.where(x <= 0, 0.0, g)),
    "leaky_relu": (SLOPE, lambda x: np.where(x < 0, SLOPE * x, x), lambda g, x, y: np.where(x > 0, g, SLOPE * g)),
    "elu": (ALPHA, lambda x: np.where(x > 0, x, ALPHA * np.expm1(np.minimum(x, 0))),
            lambda g, x, y: np.where(x > 0, g, g * ALPHA * np.exp(np.minimum(x, 0)))),
    "gelu": (0.0, lambda x: x * gelu_cdf(x),
             lambda g, x, y: g * gelu_derivative(x)),
    "silu": (0.0, lambda x: x * sigmoid64(x),
             lambda g, x, y: g * sigmoid64(x) * (1 + x * (1 - sigmoid64(x)))),
    "sigmoid": (0.0, sigmoid64, lambda g, x, y: g * y * (1 - y)),
    "tanh": (0.0, np.tanh, lambda g, x, y: g * (1 - y * y)),
}
# float32 results within a few ulp of the float64 truth; float64 within ~1e-14
RTOL = {np.float32: 2e-6, np.float64: 2e-14}
ATOL = {np.float32: 1e-40, np.float64: 1e-300}  # subnormal results carry fewer digits


def sample(rng, n, dtype):
    """Values over many scales, with exact zeros and the tails where naive formulas lose accuracy."""
    scales = np.array([1e-6, 0.1, 1.0, 3.0, 10.0, 40.0])
    x = rng.standard_normal(n) * scales[rng.integers(0, len(scales), n)]
    x[:3] = [0.0, -0.0, 1e-30][:n]
    return x.astype(dtype)


@pytest.mark.parametrize("kind", list(REFERENCE))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 15, 1037])
def test_forward_and_backward_match_float64(kernel_impl, rng, kind, dtype, n):
    alpha, forward, backward = REFERENCE[kind]
    x = sample(rng, n, dtype)
    g = rng.standard_normal(n).astype(dtype)
    y = pn.kernels.activation.activation(kind, x, alpha)
    assert y.dtype == dtype and y.shape == x.shape
    x64 = x.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        expected = forward(x64)
    np.testing.assert_allclose(y, expected, rtol=RTOL[dtype], atol=ATOL[dtype])
    saved = y if kind in ("sigmoid", "tanh") else x
    dx = pn.kernels.activation.activation_backward(kind, g, saved, alpha)
    assert dx.dtype == dtype
    with np.errstate(over="ignore", invalid="ignore"):
        expected_dx = backward(g.astype(np.float64), x64, saved.astype(np.float64))
    # the backward formulas (1 - y^2, ...) carry an absolute error of a few ulp of |g| for any implementation
    bound = RTOL[dtype] * np.abs(expected_dx) + 4 * np.finfo(dtype).eps * np.abs(g) + ATOL[dtype]
    bad = ~(np.abs(dx - expected_dx) <= bound) & ~(np.isnan(dx) & np.isnan(expected_dx))
    assert not bad.any(), f"{kind} backward: {dx[bad][:5]} != {expected_dx[bad][:5]} at x = {x[bad][:5]}"


@pytest.mark.parametrize("kind", list(REFERENCE))
def test_multithreaded_large_array(kernel_impl, threads, rng, kind):
    alpha = REFERENCE[kind][0]
    x = sample(rng, 100_003, np.float32)
    y = pn.kernels.activation.activation(kind, x, alpha)  # big enough to be split over the threads
    pieces = [pn.kernels.activation.activation(kind, x[i:i + 9999], alpha) for i in range(0, x.size, 9999)]
    np.testing.assert_array_equal(y, np.concatenate(pieces))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_special_values(kernel_impl, dtype):
    x = np.array([np.nan, np.inf, -np.inf, 1e30, -1e30, 0.0], dtype)
    with np.errstate(all="raise"):  # no floating-point warnings from the kernels
        got = {kind: pn.kernels.activation.activation(kind, x, REFERENCE[kind][0]) for kind in REFERENCE}
    nan = np.nan
    expected = {
        "relu": [nan, np.inf, 0, 1e30, 0, 0], "leaky_relu": [nan, np.inf, -np.inf, 1e30, -SLOPE * 1e30, 0],
        "elu": [nan, np.inf, -ALPHA, 1e30, -ALPHA, 0], "gelu": [nan, np.inf, nan, 1e30, -0.0, 0],
        "silu": [nan, np.inf, nan, 1e30, -0.0, 0], "sigmoid": [nan, 1, 0, 1, 0, 0.5],
        "tanh": [nan, 1, -1, 1, -1, 0],
    }
    for kind, values in expected.items():
        np.testing.assert_array_equal(got[kind], np.array(values, dtype), err_msg=kind)


def test_sigmoid_and_tanh_tails_keep_relative_accuracy(kernel_impl):
    x = np.array([-80.0, -30.0, 1e-5, -1e-7], np.float32)
    np.testing.assert_allclose(pn.kernels.sigmoid(x), sigmoid64(x.astype(np.float64)), rtol=2e-6)
    np.testing.assert_allclose(pn.kernels.tanh(x), np.tanh(x.astype(np.float64)), rtol=2e-6)
    np.testing.assert_allclose(pn.kernels.gelu(np.array([-12.0, -5.0], np.float32)),
                               REFERENCE["gelu"][1](np.array([-12.0, -5.0])), rtol=2e-6)


def test_gelu_on_wide_data(kernel_impl, rng):
    """3 N(0, 1) data, where the AVX-512 variant uses piecewise polynomials in t = -min(|x|, 7.8725) (4th roots
    of the tails below t = -2) and redoes the lanes below -7.8725, NaN and infinities in closed form: every
    interval end, the ends of the pieces and values just past them, a vector of misses only, in place too."""
    x = rng.standard_normal(5001) * 3
    ends = np.arange(-31.5, 32.0) / 4  # the interval ends on both sides of 0
    x[:ends.size] = ends
    end = np.float32(7.8725)
    x[100:110] = [-end, np.nextafter(-end, -8), end, np.nextafter(end, 8), -2.0, -1.875, 1.875, 0.0, -0.0, 1e-30]
    x[[700, 1201, 1500, 2999, 3001]] = [np.nan, np.inf, -np.inf, -30.0, 100.0]
    x[3008:3024] = -9.0
    x = x.astype(np.float32)
    g = rng.standard_normal(x.size).astype(np.float32)
    x64 = x.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        want = REFERENCE["gelu"][1](x64)
        want_dx = REFERENCE["gelu"][2](g.astype(np.float64), x64, None)
    np.testing.assert_allclose(pn.kernels.gelu(x), want, rtol=RTOL[np.float32], atol=ATOL[np.float32])
    y = x.copy()
    pn.backend.kernel("activation_forward")("gelu", y, y, 0.0)
    np.testing.assert_allclose(y, want, rtol=RTOL[np.float32], atol=ATOL[np.float32])
    dx = pn.kernels.activation.activation_backward("gelu", g, x)
    bound = RTOL[np.float32] * np.abs(want_dx) + 4 * np.finfo(np.float32).eps * np.abs(g) + ATOL[np.float32]
    finite = np.isfinite(want_dx)
    assert (np.abs(dx - want_dx) <= bound)[finite].all()
    np.testing.assert_array_equal(dx[~finite], want_dx[~finite])  # NaN where x is NaN or +-inf (0 * inf)


def test_strided_and_integer_input(kernel_impl, rng):
    x = rng.standard_normal((7, 9))
    np.testing.assert_allclose(pn.kernels.gelu(x.T[::2]), REFERENCE["gelu"][1](x.T[::2]), rtol=1e-14)
    assert pn.kernels.relu(np.arange(-3, 3)).dtype == np.float32


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu", "gelu", "silu", "sigmoid", "tanh"])
def test_gradcheck(backend, rng, name):
    x = pn.tensor(rng.standard_normal((3, 5)) * 2, dtype=pn.float64, requires_grad=True)
    x.data[np.abs(x.data) < 1e-3] = 0.5  # keep away from the kinks of relu-like functions
    assert pn.autograd.gradcheck(getattr(F, name), (x,))


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu", "gelu", "silu", "sigmoid", "tanh"])
def test_torch_parity(backend, rng, name):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((4, 33)).astype(np.float32) * 4
    x[0, :3] = [0.0, np.nan, -np.nan]
    g = rng.standard_normal(x.shape).astype(np.float32)
    px = pn.tensor(x, requires_grad=True)
    py = getattr(F, name)(px)
    py.backward(pn.tensor(g))
    tx = torch.tensor(x, requires_grad=True)
    ty = getattr(torch.nn.functional, name)(tx)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(py.numpy(), ty.detach().numpy(), rtol=3e-6, atol=1e-6)
    np.testing.assert_allclose(px.grad.numpy(), tx.grad.numpy(), rtol=3e-6, atol=1e-6)


def test_integer_tensor_input_gives_float():
    y = F.relu(pn.tensor([-1, 2]))
    assert y.dtype == pn.float32 and y.tolist() == [0.0, 2.0]


def test_zero_dim_and_tensor_methods(backend):
    x = pn.tensor(0.5, dtype=pn.float64, requires_grad=True)
    y = x.tanh()
    assert y.shape == () and y.item() == pytest.approx(np.tanh(0.5), rel=1e-15)
    y.backward()
    assert x.grad.item() == pytest.approx(1 - np.tanh(0.5) ** 2, rel=1e-15)
    assert pn.tensor([-1, 3]).relu().dtype == pn.int64  # integer relu keeps its dtype, as in PyTorch


@pytest.mark.parametrize("impl", ["native", "numba"])
def test_raw_kernels_validate_their_arguments(impl):
    if impl not in pn.backend.available():
        pytest.skip(f"{impl} unavailable")
    if impl == "native":
        forward, backward = pn.backend.native().activation_forward, pn.backend.native().activation_backward
    else:
        from pyneural.kernels_numba.activation import activation_backward as backward
        from pyneural.kernels_numba.activation import activation_forward as forward
    x = np.zeros(10, np.float32)
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        forward("swish", x, np.empty_like(x))
    with pytest.raises(TypeError, match=r"relu_forward: out has dtype float64"):
        forward("relu", x, np.empty(10))
    with pytest.raises(ValueError, match=r"gelu_forward: out has shape \(9,\)"):
        forward("gelu", x, np.empty(9, np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        forward("tanh", np.zeros(20, np.float32)[::2], np.empty(10, np.float32))
    with pytest.raises(ValueError, match="read-only"):
        frozen = np.zeros(10, np.float32)
        frozen.flags.writeable = False
        forward("tanh", x, frozen)
    with pytest.raises(TypeError, match="unsupported dtype int64"):
        forward("relu", np.zeros(3, np.int64), np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="partially overlaps"):
        buf = np.zeros(11, np.float32)
        forward("relu", buf[:10], buf[1:])
    with pytest.raises(ValueError, match=r"sigmoid_backward: saved has shape \(3,\)"):
        backward("sigmoid", x, np.zeros(3, np.float32), np.empty_like(x))
    buf = np.arange(-2, 3, dtype=np.float64)
    forward("relu", buf, buf)  # exactly in place is allowed
    np.testing.assert_array_equal(buf, [0, 0, 0, 1, 2])


def test_wrapper_errors_name_the_op():
    with pytest.raises(ValueError, match="unknown activation"):
        pn.kernels.activation.activation("swish", np.zeros(3))
    with pytest.raises(ValueError, match=r"gelu_backward: grad of shape \(2,\) does not match saved of shape \(3,\)"):
        pn.kernels.activation.activation_backward("gelu", np.zeros(2), np.zeros(3))
    with pytest.raises(TypeError, match="tanh: x has unsupported dtype"):
        pn.kernels.tanh(np.array(["a"]))
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(pn.tensor([1.0]), approximate="tanh")
