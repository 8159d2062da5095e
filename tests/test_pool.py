"""Pooling kernels and ops: NumPy float64 references, every backend and CPU variant, PyTorch parity, gradchecks."""
from __future__ import annotations

import math

import numpy as np
import pytest

import pyneural as pn
from pyneural.nn import functional as F


def _out(size, k, s, p, d, ceil):
    room = size + 2 * p - d * (k - 1) - 1
    out = (room + (s - 1 if ceil else 0)) // s + 1
    return out - 1 if ceil and (out - 1) * s >= size + p else out


def reference_max_pool(x, k, s, p, d, ceil):
    """Window maxima over -inf padding; the first NaN of a window wins. Returns (y, flat indices)."""
    n, c, h, w = x.shape
    oh, ow = _out(h, k[0], s[0], p[0], d[0], ceil), _out(w, k[1], s[1], p[1], d[1], ceil)
    y = np.empty((n, c, oh, ow))
    idx = np.empty((n, c, oh, ow), np.int64)
    for oy in range(oh):
        for ox in range(ow):
            taps = [(oy * s[0] - p[0] + i * d[0], ox * s[1] - p[1] + j * d[1])
                    for i in range(k[0]) for j in range(k[1])]
            taps = [(iy, ix) for iy, ix in taps if 0 <= iy < h and 0 <= ix < w]
            for a in range(n):
                for b in range(c):
                    values = np.array([x[a, b, iy, ix] for iy, ix in taps])
                    nan = np.flatnonzero(np.isnan(values))
                    best = nan[0] if nan.size else int(np.argmax(values))
                    y[a, b, oy, ox] = values[best]
                    idx[a, b, oy, ox] = taps[best][0] * w + taps[best][1]
    return y, idx


def reference_avg_pool(x, k, s, p, ceil, count_include_pad):
    n, c, h, w = x.shape
    oh, ow = _out(h, k[0], s[0], p[0], 1, ceil), _out(w, k[1], s[1], p[1], 1, ceil)
    y = np.empty((n, c, oh, ow))
    for oy in range(oh):
        for ox in range(ow):
            y0, x0 = oy * s[0] - p[0], ox * s[1] - p[1]
            y1, x1 = min(y0 + k[0], h + p[0]), min(x0 + k[1], w + p[1])
            padded = (y1 - y0) * (x1 - x0)
            y0, x0, y1, x1 = max(y0, 0), max(x0, 0), min(y1, h), min(x1, w)
            count = padded if count_include_pad else (y1 - y0) * (x1 - x0)
            y[:, :, oy, ox] = x[:, :, y0:y1, x0:x1].sum(axis=(2, 3)) / count
    return y


def reference_adaptive(x, oh, ow):
    h, w = x.shape[2:]
    y = np.empty(x.shape[:2] + (oh, ow))
    for oy in range(oh):
        for ox in range(ow):
            y0, y1 = oy * h // oh, math.ceil((oy + 1) * h / oh)
            x0, x1 = ox * w // ow, math.ceil((ox + 1) * w / ow)
            y[:, :, oy, ox] = x[:, :, y0:y1, x0:x1].mean(axis=(2, 3))
    return y


def _adjoint(forward, x, dy, eps=None):
    """Gradient of sum(forward(x) * dy) for a linear forward, column by column (exact for linear maps)."""
    grad = np.zeros(x.size)
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = 1
        grad[i] = (forward(e.reshape(x.shape)) * dy).sum()
    return grad.reshape(x.shape)


MAX_CASES = [  # kernel, stride, padding, dilation, ceil_mode
    ((2, 2), (2, 2), (0, 0), (1, 1), False),
    ((3, 3), (2, 2), (1, 1), (1, 1), False),
    ((3, 2), (2, 1), (1, 1), (1, 2), False),
    ((3, 3), (2, 2), (1, 1), (1, 1), True),
    ((2, 3), (3, 2), (1, 0), (2, 1), True),
    ((1, 1), (1, 1), (0, 0), (1, 1), False),
    ((3, 3), (50, 50), (0, 0), (1, 1), False),  # huge stride
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", MAX_CASES)
def test_max_pool2d_matches_reference(kernel_impl, case, dtype, rng):
    k, s, p, d, ceil = case
    x = rng.standard_normal((2, 3, 7, 9)).astype(dtype)
    x[0, 0, 1, 1] = np.nan
    x[1, 2, 3, 4] = x[1, 2, 3, 5]  # a tie: the first position wins
    want, want_idx = reference_max_pool(x.astype(np.float64), k, s, p, d, ceil)
    got, idx = pn.kernels.max_pool2d(x, k, s, p, d, ceil, return_indices=True)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, want.astype(dtype))
    np.testing.assert_array_equal(idx, want_idx)
    dy = rng.standard_normal(got.shape).astype(dtype)
    dx = pn.kernels.max_pool2d_backward(dy, idx, x.shape, k, s, p, d, ceil)
    want_dx = np.zeros((2, 3, 7 * 9))
    for a, b in np.ndindex(2, 3):
        np.add.at(want_dx[a, b], want_idx[a, b].ravel(), dy[a, b].ravel().astype(np.float64))
    np.testing.assert_allclose(dx, want_dx.reshape(x.shape), rtol=1e-6 if dtype == np.float32 else 1e-14)


VECTOR_CASES = [  # input, kernel, stride, padding, dilation, ceil_mode: rows of 4 to 45 outputs, stride 1 and 2
    ((2, 3, 24, 24), (2, 2), (2, 2), (0, 0), (1, 1), False),  # LeNet's first pooling
    ((2, 2, 8, 8), (2, 2), (2, 2), (0, 0), (1, 1), False),  # rows of 4: 16-byte vectors
    ((1, 3, 13, 37), (3, 3), (2, 2), (1, 1), (1, 1), False),  # padding: scalar borders around vector blocks
    ((1, 2, 11, 45), (3, 3), (1, 1), (1, 1), (1, 1), False),
    ((1, 2, 9, 41), (2, 3), (2, 2), (0, 1), (1, 2), False),  # dilated columns with stride 2
    ((1, 2, 10, 35), (3, 3), (2, 2), (0, 0), (1, 1), False),  # odd kernel: the last loads reach past the taps
    ((1, 2, 9, 33), (3, 3), (2, 2), (1, 1), (1, 1), True),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", VECTOR_CASES)
def test_max_pool2d_vector_paths_ties_and_nan(kernel_impl, case, dtype, rng):
    """Wide rows (whole vectors of outputs), values on a coarse grid (ties in most windows), several NaN
    (some sharing a window) and -inf: the first maximum and the first NaN of each window win."""
    shape, k, s, p, d, ceil = case
    x = rng.integers(-3, 3, shape).astype(dtype)
    flat = x.reshape(-1)
    flat[rng.choice(flat.size, 6, replace=False)] = np.nan
    flat[[5, 6, 7]] = np.nan  # neighbours: more than one NaN in a window
    flat[rng.choice(flat.size, 6, replace=False)] = -np.inf
    want, want_idx = reference_max_pool(x.astype(np.float64), k, s, p, d, ceil)
    got, idx = pn.kernels.max_pool2d(x, k, s, p, d, ceil, return_indices=True)
    np.testing.assert_array_equal(got, want.astype(dtype))
    np.testing.assert_array_equal(idx, want_idx)


def test_max_pool2d_batch_on_threads(kernel_impl, threads, rng):
    """A LeNet-sized batch, enough planes for two threads: every plane matches the reference."""
    x = rng.integers(-3, 3, (16, 6, 24, 24)).astype(np.float32)
    x[3, 2, 5, 7] = np.nan
    want, want_idx = reference_max_pool(x.astype(np.float64), (2, 2), (2, 2), (0, 0), (1, 1), False)
    got, idx = pn.kernels.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(got, want.astype(np.float32))
    np.testing.assert_array_equal(idx, want_idx)


AVG_CASES = [  # kernel, stride, padding, ceil_mode, count_include_pad
    ((2, 2), None, (0, 0), False, True),
    ((3, 3), (2, 2), (1, 1), False, True),
    ((3, 3), (2, 2), (1, 1), False, False),
    ((3, 2), (2, 1), (1, 1), True, True),
    ((3, 2), (2, 3), (1, 1), True, False),
    ((4, 4), (40, 40), (2, 2), False, True),  # huge stride
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", AVG_CASES)
def test_avg_pool2d_matches_reference(kernel_impl, case, dtype, rng):
    k, s, p, ceil, include = case
    x = rng.standard_normal((2, 3, 7, 9)).astype(dtype)
    stride = k if s is None else s
    want = reference_avg_pool(x.astype(np.float64), k, stride, p, ceil, include)
    got = pn.kernels.avg_pool2d(x, k, s, p, ceil, include)
    tol = dict(rtol=1e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(got, want, **tol)
    dy = rng.standard_normal(got.shape)
    want_dx = _adjoint(lambda e: reference_avg_pool(e, k, stride, p, ceil, include), x[:1, :1], dy[:1, :1])
    dx = pn.kernels.avg_pool2d_backward(dy.astype(dtype), x.shape, k, s, p, ceil, include)
    np.testing.assert_allclose(dx[:1, :1], want_dx, **tol)


@pytest.mark.parametrize("size", [(3, 4), (7, 9), (1, 1), (10, 5), (4, None)])
def test_adaptive_avg_pool2d_matches_reference(kernel_impl, size, rng):
    x = rng.standard_normal((2, 3, 7, 9))
    oh, ow = size[0], 9 if size[1] is None else size[1]
    want = reference_adaptive(x, oh, ow)
    got = pn.kernels.adaptive_avg_pool2d(x, size)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)
    dy = rng.standard_normal(got.shape)
    want_dx = _adjoint(lambda e: reference_adaptive(e, oh, ow), x[:1, :1], dy[:1, :1])
    np.testing.assert_allclose(pn.kernels.adaptive_avg_pool2d_backward(dy, x.shape)[:1, :1], want_dx, rtol=1e-13,
                               atol=1e-14)
    got32 = pn.kernels.adaptive_avg_pool2d(x.astype(np.float32), size)
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, want, rtol=1e-5, atol=1e-6)


def test_pooling_empty_batch_unbatched_and_threads(kernel_impl, threads, rng):
    empty = np.zeros((0, 3, 6, 6), np.float32)
    assert pn.kernels.max_pool2d(empty, 2).shape == (0, 3, 3, 3)
    assert pn.kernels.avg_pool2d(empty, 2).shape == (0, 3, 3, 3)
    assert pn.kernels.adaptive_avg_pool2d(empty, 2).shape == (0, 3, 2, 2)
    assert pn.kernels.max_pool2d_backward(np.zeros((0, 3, 3, 3)), np.zeros((0, 3, 3, 3), np.int64), empty.shape,
                                          2).shape == empty.shape
    x = rng.standard_normal((3, 40, 41))  # (C, H, W), big enough for two threads
    np.testing.assert_array_equal(pn.kernels.max_pool2d(x, 3, 2, 1), reference_max_pool(x[None], (3, 3), (2, 2),
                                                                                         (1, 1), (1, 1), False)[0][0])
    np.testing.assert_allclose(pn.kernels.avg_pool2d(x, 2), reference_avg_pool(x[None], (2, 2), (2, 2), (0, 0),
                                                                               False, True)[0], rtol=1e-13)


def test_pool_ops_gradcheck(rng):
    x = pn.tensor(rng.standard_normal((2, 3, 7, 8)), requires_grad=True)
    assert pn.autograd.gradcheck(lambda x: F.max_pool2d(x, 3, 2, 1), (x,))
    assert pn.autograd.gradcheck(lambda x: F.max_pool2d(x, (2, 3), (1, 2), (1, 1), dilation=(2, 1), ceil_mode=True),
                                 (x,))
    assert pn.autograd.gradcheck(lambda x: F.avg_pool2d(x, (3, 2), (2, 1), 1, ceil_mode=True,
                                                        count_include_pad=False), (x,))
    assert pn.autograd.gradcheck(lambda x: F.avg_pool2d(x, 2), (x,))
    assert pn.autograd.gradcheck(lambda x: F.adaptive_avg_pool2d(x, (3, None)), (x,))
    x3 = pn.tensor(rng.standard_normal((3, 5, 6)), requires_grad=True)
    assert pn.autograd.gradcheck(lambda x: F.max_pool2d(x, 2), (x3,))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pooling_matches_torch(backend, dtype, rng):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x = rng.standard_normal((2, 3, 9, 11)).astype(dtype)
    x[1, 1, 2, 2] = np.nan
    calls = [
        (lambda f, t: f.max_pool2d(t, 3, 2, 1), lambda t: tf.max_pool2d(t, 3, 2, 1)),
        (lambda f, t: f.max_pool2d(t, (2, 3), (2, 1), (1, 1), dilation=(1, 2), ceil_mode=True),
         lambda t: tf.max_pool2d(t, (2, 3), (2, 1), (1, 1), dilation=(1, 2), ceil_mode=True)),
        (lambda f, t: f.avg_pool2d(t, 3, 2, 1), lambda t: tf.avg_pool2d(t, 3, 2, 1)),
        (lambda f, t: f.avg_pool2d(t, 3, 2, 1, ceil_mode=True, count_include_pad=False),
         lambda t: tf.avg_pool2d(t, 3, 2, 1, ceil_mode=True, count_include_pad=False)),
        (lambda f, t: f.adaptive_avg_pool2d(t, (4, 5)), lambda t: tf.adaptive_avg_pool2d(t, (4, 5))),
    ]
    for ours, theirs in calls:
        tx = torch.tensor(x, requires_grad=True)
        ty = theirs(tx)
        dy = rng.standard_normal(tuple(ty.shape)).astype(dtype)
        ty.backward(torch.tensor(dy))
        px = pn.tensor(x, requires_grad=True)
        y = ours(F, px)
        y.backward(pn.tensor(dy))
        tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **tol)
        np.testing.assert_allclose(px.grad.numpy(), tx.grad.numpy(), **tol)
    y, idx = F.max_pool2d(pn.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), tf.max_pool2d(torch.tensor(x), 3, 2, 1, return_indices=True)[1].numpy())


@pytest.mark.parametrize("call, words", [
    (lambda: pn.kernels.max_pool2d(np.zeros((2, 3, 5)), 6), "larger than the padded input"),
    (lambda: pn.kernels.max_pool2d(np.zeros((2, 3, 5, 5)), 2, 0), "stride"),
    (lambda: pn.kernels.max_pool2d(np.zeros((2, 3, 5, 5)), 2, -1), "stride"),
    (lambda: pn.kernels.max_pool2d(np.zeros((2, 3, 5, 5)), 3, 1, -1), "padding"),
    (lambda: pn.kernels.max_pool2d(np.zeros((2, 3, 5, 5)), 2, 1, 2), "half of kernel_size"),
    (lambda: pn.kernels.max_pool2d(np.zeros((5, 5)), 2), "(5, 5)"),
    (lambda: pn.kernels.max_pool2d(np.zeros((1, 2, 3, 5, 5)), 2), "(1, 2, 3, 5, 5)"),
    (lambda: pn.kernels.max_pool2d(np.zeros((2, 3, 5, 5)), 0), "kernel_size"),
    (lambda: pn.kernels.avg_pool2d(np.zeros((2, 3, 4, 4)), 5), "larger than the padded input"),
    (lambda: pn.kernels.avg_pool2d(np.zeros((2, 3, 4, 4)), 2, (1, 0)), "stride"),
    (lambda: pn.kernels.adaptive_avg_pool2d(np.zeros((2, 3, 4, 4)), 0), "output_size"),
    (lambda: pn.kernels.adaptive_avg_pool2d(np.zeros((4, 4)), 2), "(4, 4)"),
    (lambda: pn.kernels.max_pool2d_backward(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 2), np.int64),
                                            (1, 1, 5, 5), 3), "grad_output"),
])
def test_pooling_bad_input_raises_in_wrapper(kernel_impl, call, words):
    with pytest.raises(ValueError, match="pool") as info:
        call()
    assert words in str(info.value)


def _raw_kernels():
    from pyneural.kernels_numba import pool as numba_pool
    return ([pn.backend.native()] if pn.backend.native() is not None else []) + [numba_pool]


def test_pooling_entries_validate_their_arguments():
    x, y = np.zeros((1, 2, 5, 5)), np.zeros((1, 2, 2, 2))
    idx = np.zeros(y.shape, np.int64)
    for m in _raw_kernels():
        for bad in [dict(kernel=(2, 2), stride=(0, 2)), dict(kernel=(2, 2), padding=(2, 0)),
                    dict(kernel=(6, 6)), dict(kernel=(4, 4))]:  # zero stride, big padding, too large, wrong out
            geo = (bad["kernel"], bad.get("stride", (2, 2)), bad.get("padding", (0, 0)))
            with pytest.raises(ValueError, match="max_pool2d"):
                m.max_pool2d(x, y, idx, *geo, (1, 1), False)
            with pytest.raises(ValueError, match="avg_pool2d"):
                m.avg_pool2d(x, y, *geo, False, True)
            with pytest.raises(ValueError, match="avg_pool2d_backward"):
                m.avg_pool2d_backward(y, x, *geo, False, True)
        with pytest.raises(ValueError, match="max_pool2d_backward"):  # an index outside the plane
            m.max_pool2d_backward(y, np.full(y.shape, 25, np.int64), x, (2, 2), (2, 2), (0, 0), (1, 1), False)
        with pytest.raises(TypeError, match="max_pool2d: indices .*int32"):  # a wrong dtype is a TypeError
            m.max_pool2d(x, y, idx.astype(np.int32), (2, 2), (2, 2), (0, 0), (1, 1), False)
        with pytest.raises(ValueError, match="pool"):
            m.adaptive_avg_pool2d(x, np.zeros((2, 2, 2, 2)))  # (N, C) differ
        with pytest.raises(ValueError, match="contiguous"):
            m.avg_pool2d(np.zeros((1, 2, 5, 10))[..., ::2], y, (2, 2), (2, 2), (0, 0), False, True)
        with pytest.raises((ValueError, TypeError), match="pool"):
            m.avg_pool2d(x.astype(np.float32), y, (2, 2), (2, 2), (0, 0), False, True)
