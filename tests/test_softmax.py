"""softmax / log_softmax along any axis and the fused softmax cross-entropy: float64 references on every
backend and CPU variant, extreme logits, gradchecks, PyTorch parity, bad input."""
from __future__ import annotations

import numpy as np
import pytest

import pyneural as pn
import pyneural.nn.functional as F
from pyneural.kernels.softmax import cross_entropy_rows, cross_entropy_rows_backward, softmax_backward

RTOL = {np.float32: 2e-6, np.float64: 1e-14}


def softmax64(x, axis):
    x = x.astype(np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax64(x, axis):
    x = x.astype(np.float64)
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,axis", [((1, 1), -1), ((5, 37), -1), ((3, 130), 1), ((4, 7, 9), 1), ((6, 5, 3), 0),
                                        ((17,), 0)])
def test_forward_and_backward_match_float64(kernel_impl, rng, dtype, shape, axis):
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    y = pn.kernels.softmax(x, axis)
    ly = pn.kernels.log_softmax(x, axis)
    assert y.dtype == dtype and y.shape == shape
    np.testing.assert_allclose(y, softmax64(x, axis), rtol=RTOL[dtype], atol=RTOL[dtype] * 1e-3)
    np.testing.assert_allclose(ly, log_softmax64(x, axis), rtol=RTOL[dtype], atol=4 * RTOL[dtype])
    y64, g64 = softmax64(x, axis), g.astype(np.float64)
    expected = y64 * (g64 - (g64 * y64).sum(axis=axis, keepdims=True))
    got = softmax_backward(g, y, axis)
    np.testing.assert_allclose(got, expected, rtol=10 * RTOL[dtype], atol=10 * RTOL[dtype])
    expected_log = g64 - y64 * g64.sum(axis=axis, keepdims=True)
    got_log = softmax_backward(g, ly, axis, log=True)
    np.testing.assert_allclose(got_log, expected_log, rtol=10 * RTOL[dtype], atol=10 * RTOL[dtype])


def test_multithreaded_rows(kernel_impl, threads, rng):
    x = rng.standard_normal((3001, 67)).astype(np.float32)
    np.testing.assert_allclose(pn.kernels.softmax(x), softmax64(x, -1), rtol=2e-6, atol=1e-9)
    np.testing.assert_allclose(pn.kernels.log_softmax(x), log_softmax64(x, -1), rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("log", [False, True])
def test_inner_axis_in_chunks_over_threads(kernel_impl, threads, rng, log):
    x = rng.standard_normal((3, 37, 601)) * 4  # inner 601: several chunks of positions per slice
    g = rng.standard_normal(x.shape)
    y = (pn.kernels.log_softmax if log else pn.kernels.softmax)(x, 1)
    y64 = softmax64(x, 1)
    # log_softmax = x - shift cancels: its error is a few ulp of |x| (~5 here), not of the result
    np.testing.assert_allclose(y, log_softmax64(x, 1) if log else y64, rtol=1e-13, atol=1e-14 if log else 1e-15)
    expected = g - y64 * g.sum(1, keepdims=True) if log else y64 * (g - (g * y64).sum(1, keepdims=True))
    np.testing.assert_allclose(softmax_backward(g, y, 1, log), expected, rtol=1e-12, atol=1e-14)
    assert pn.kernels.softmax(np.float64(3.0)) == 1.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_logits(kernel_impl, dtype):
    big = np.finfo(dtype).max
    x = np.array([[big, big / 2, 0.0], [-np.inf, 0.0, 1.0], [-np.inf, -np.inf, -np.inf], [np.nan, 0.0, 1.0]], dtype)
    with np.errstate(all="raise"):
        y = pn.kernels.softmax(x)
        ly = pn.kernels.log_softmax(x)
    np.testing.assert_array_equal(y[0], [1, 0, 0])
    np.testing.assert_allclose(y[1], softmax64(np.array([[-np.inf, 0, 1]]), -1)[0], rtol=RTOL[dtype])
    assert np.isnan(y[2]).all() and np.isnan(ly[2]).all()  # as in PyTorch
    assert np.isnan(y[3]).all() and np.isnan(ly[3]).all()
    assert ly[1, 0] == -np.inf and ly[0, 0] == 0


def test_empty(kernel_impl):
    assert pn.kernels.softmax(np.zeros((0, 5), np.float32)).shape == (0, 5)
    assert pn.kernels.log_softmax(np.zeros((3, 0))).shape == (3, 0)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gradcheck(backend, rng, name, axis):
    x = pn.tensor(rng.standard_normal((3, 4, 5)), dtype=pn.float64, requires_grad=True)
    assert pn.autograd.gradcheck(lambda t: getattr(F, name)(t, axis) * pn.tensor(np.arange(60.0).reshape(3, 4, 5)),
                                 (x,))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_torch_parity_and_dim_alias(backend, rng, name):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((4, 6, 5)).astype(np.float32) * 10
    g = rng.standard_normal(x.shape).astype(np.float32)
    px = pn.tensor(x, requires_grad=True)
    py = getattr(F, name)(px, dim=1)
    py.backward(pn.tensor(g))
    tx = torch.tensor(x, requires_grad=True)
    ty = getattr(torch.nn.functional, name)(tx, dim=1)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(py.numpy(), ty.detach().numpy(), rtol=2e-6, atol=2e-6)
    np.testing.assert_allclose(px.grad.numpy(), tx.grad.numpy(), rtol=2e-5, atol=2e-6)


def ce_reference(x, t, smoothing, ignore_index):
    """Per-row float64 loss and gradient of the smoothed cross-entropy (rows (M, C), targets (M,))."""
    lp = log_softmax64(x, -1)
    classes = x.shape[1]
    keep = t != ignore_index
    onehot = np.zeros_like(lp)
    onehot[np.arange(len(t))[keep], t[keep]] = 1
    q = (1 - smoothing) * onehot + smoothing / classes
    loss = np.where(keep, -(q * lp).sum(1), 0)
    grad = np.where(keep[:, None], np.exp(lp) - q, 0)
    return loss, grad


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows,classes", [(1, 1), (7, 3), (33, 130), (5, 1000)])
@pytest.mark.parametrize("smoothing", [0.0, 0.15])
def test_cross_entropy_rows_match_float64(kernel_impl, rng, dtype, rows, classes, smoothing):
    x = (rng.standard_normal((rows, classes)) * 4).astype(dtype)
    t = rng.integers(0, classes, rows)
    t[::3] = -100
    loss, lse = cross_entropy_rows(x, t, smoothing)
    ref_loss, ref_grad = ce_reference(x, t, smoothing, -100)
    np.testing.assert_allclose(loss, ref_loss, rtol=RTOL[dtype], atol=10 * RTOL[dtype])
    w = rng.standard_normal(rows).astype(dtype)
    grad = cross_entropy_rows_backward(x, t, lse, w, smoothing)
    np.testing.assert_allclose(grad, ref_grad * w[:, None], rtol=10 * RTOL[dtype], atol=10 * RTOL[dtype])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(6, 5), (3, 4, 2, 3), (7,)])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_torch_parity(backend, rng, reduction, shape, smoothing):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal(shape).astype(np.float32) * 3
    tshape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    t = rng.integers(0, shape[1] if len(shape) > 1 else shape[0], tshape)
    if len(shape) > 1:
        t.reshape(-1)[::4] = 2  # a class ignored below
    g = rng.standard_normal(tshape if reduction == "none" else ()).astype(np.float32)
    px = pn.tensor(x, requires_grad=True)
    loss = F.cross_entropy(px, pn.tensor(t), reduction=reduction, label_smoothing=smoothing, ignore_index=2)
    loss.backward(pn.tensor(g))
    tx = torch.tensor(x, requires_grad=True)
    tl = torch.nn.functional.cross_entropy(tx, torch.tensor(t), reduction=reduction, label_smoothing=smoothing,
                                           ignore_index=2)
    tl.backward(torch.tensor(g))
    np.testing.assert_allclose(loss.numpy(), tl.detach().numpy(), rtol=2e-6, atol=1e-6)
    np.testing.assert_allclose(px.grad.numpy(), tx.grad.numpy(), rtol=2e-5, atol=1e-6)


def test_cross_entropy_all_ignored_mean_is_nan(backend):
    loss = F.cross_entropy(pn.tensor(np.zeros((2, 3))), pn.tensor(np.array([-100, -100])))
    assert np.isnan(loss.item())


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_gradcheck(backend, rng, smoothing):
    x = pn.tensor(rng.standard_normal((4, 5, 2)), dtype=pn.float64, requires_grad=True)
    t = pn.tensor(np.array([[0, 4], [-100, 3], [2, 2], [1, -100]]))
    assert pn.autograd.gradcheck(lambda v: F.cross_entropy(v, t, label_smoothing=smoothing), (x,))


@pytest.mark.parametrize("impl", ["native", "numba"])
def test_raw_kernels_validate_targets_and_shapes(impl):
    if impl not in pn.backend.available():
        pytest.skip(f"{impl} unavailable")
    if impl == "native":
        k = pn.backend.native()
    else:
        import pyneural.kernels_numba.softmax as k
    x = np.zeros((3, 4), np.float32)
    loss, lse = np.empty(3, np.float32), np.empty(3, np.float32)
    with pytest.raises(ValueError, match=r"cross_entropy: target 4 at position 1 is out of range for 4 classes"):
        k.cross_entropy_forward(x, np.array([0, 4, 1]), loss, lse)
    with pytest.raises(ValueError, match=r"target -1 at position 0"):
        k.cross_entropy_backward(x, np.array([-1, 0, 1]), lse, loss, np.empty_like(x))
    with pytest.raises(TypeError, match="target must be int64"):
        k.cross_entropy_forward(x, np.array([0, 1, 1], np.int32), loss, lse)
    with pytest.raises(ValueError, match=r"target of shape \(2,\) does not match logits of shape \(3, 4\)"):
        k.cross_entropy_forward(x, np.array([0, 1]), loss, lse)
    with pytest.raises(ValueError, match="label_smoothing"):
        k.cross_entropy_forward(x, np.array([0, 1, 1]), loss, lse, 1.5)
    with pytest.raises(ValueError, match=r"softmax: out has shape \(3, 5\), x has shape \(3, 4\)"):
        k.softmax_forward(x, np.empty((3, 5), np.float32))
    with pytest.raises(ValueError, match="must be C-contiguous"):
        k.softmax_forward(x.T, np.empty((4, 3), np.float32))
    with pytest.raises(ValueError, match="partially overlaps"):
        buf = np.zeros((5, 4), np.float32)
        k.softmax_forward(buf[:3], buf[1:4])
    with pytest.raises(TypeError, match="unsupported dtype int64"):
        k.softmax_forward(np.zeros((2, 2), np.int64), np.zeros((2, 2), np.int64))


def test_wrapper_errors_name_the_op():
    with pytest.raises(ValueError, match=r"cross_entropy: logits of shape \(3, 4\) expect target of shape \(3,\)"):
        F.cross_entropy(pn.tensor(np.zeros((3, 4))), pn.tensor(np.zeros(4, np.int64)))
    with pytest.raises(TypeError, match="integer class indices"):
        F.cross_entropy(pn.tensor(np.zeros((3, 4))), pn.tensor(np.zeros(3)))
    with pytest.raises(ValueError, match="out of range for 4 classes"):
        F.cross_entropy(pn.tensor(np.zeros((3, 4))), pn.tensor(np.array([0, 9, 1])))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(pn.tensor(np.zeros((3, 4))), pn.tensor(np.array([0, 1, 1])), reduction="avg")
    with pytest.raises(np.exceptions.AxisError, match="softmax: axis 2"):
        F.softmax(pn.tensor(np.zeros((3, 4))), 2)
