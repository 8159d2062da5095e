"""conv2d / conv1d kernels and ops: a direct-loop float64 reference, every backend and CPU variant, PyTorch parity."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import pyneural as pn
from pyneural.nn import functional as F

TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-11, atol=1e-11)}


def reference_conv2d(x, w, b, stride, padding, dilation, groups):
    """Direct loops over the kernel taps in float64: y[n, k, oy, ox] = sum_{c, i, j} w[k, c, i, j] x[n, c, iy, ix]."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    n, c, h, wd = x.shape
    k, cg, kh, kw = w.shape
    xp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    xp[:, :, ph:ph + h, pw:pw + wd] = x
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, k, oh, ow))
    kg = k // groups
    for g in range(groups):
        for i in range(kh):
            for j in range(kw):
                patch = xp[:, g * cg:(g + 1) * cg, i * dh:i * dh + sh * (oh - 1) + 1:sh,
                           j * dw:j * dw + sw * (ow - 1) + 1:sw]
                y[:, g * kg:(g + 1) * kg] += np.einsum("ncyx,kc->nkyx", patch, w[g * kg:(g + 1) * kg, :, i, j])
    if b is not None:
        y += np.asarray(b, np.float64)[None, :, None, None]
    return y


def reference_backward(x, w, dy, stride, padding, dilation, groups):
    """(dx, dw, db) of reference_conv2d by the same loops, each tap's contribution transposed."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    n, c, h, wd = x.shape
    k, cg, kh, kw = w.shape
    oh, ow = dy.shape[2:]
    xp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    xp[:, :, ph:ph + h, pw:pw + wd] = x
    dxp = np.zeros_like(xp)
    gw = np.zeros(w.shape)
    kg = k // groups
    for g in range(groups):
        for i in range(kh):
            for j in range(kw):
                window = (slice(None), slice(g * cg, (g + 1) * cg), slice(i * dh, i * dh + sh * (oh - 1) + 1, sh),
                          slice(j * dw, j * dw + sw * (ow - 1) + 1, sw))
                dyg = dy[:, g * kg:(g + 1) * kg]
                dxp[window] += np.einsum("nkyx,kc->ncyx", dyg, w[g * kg:(g + 1) * kg, :, i, j])
                gw[g * kg:(g + 1) * kg, :, i, j] = np.einsum("nkyx,ncyx->kc", dyg, xp[window])
    return dxp[:, :, ph:ph + h, pw:pw + wd], gw, dy.sum(axis=(0, 2, 3))


def _data(rng, x_shape, w_shape, dtype):
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    return x, w, b


def _pairs(v):
    return v if isinstance(v, tuple) else (v, v)


# (x shape, weight shape, stride, padding, dilation, groups): odd sizes, rectangular kernels, 1x1, groups,
# depthwise, asymmetric stride/padding/dilation, a kernel the size of the padded input
CASES = [
    ((2, 3, 7, 9), (4, 3, 3, 3), 1, 1, 1, 1),
    ((3, 4, 8, 5), (6, 2, 3, 2), (2, 1), (0, 2), (1, 2), 2),
    ((2, 5, 6, 7), (7, 5, 1, 1), 1, 0, 1, 1),
    ((2, 6, 5, 5), (9, 2, 1, 1), 1, 0, 1, 3),
    ((1, 2, 5, 5), (3, 2, 5, 5), 3, 2, 1, 1),
    ((2, 4, 9, 8), (4, 1, 3, 3), 2, 1, 1, 4),
    ((1, 3, 11, 6), (5, 3, 2, 4), (3, 2), (1, 0), (3, 1), 1),
    ((2, 2, 6, 6), (3, 2, 1, 1), 2, 1, 1, 1),
    ((1, 1, 4, 4), (2, 1, 6, 6), 1, 1, 1, 1),
    ((2, 3, 7, 7), (5, 3, 3, 3), 100, 0, 1, 1),  # a stride far larger than the input
    ((3, 2, 8, 8), (4, 2, 1, 1), 1, 0, 1, 1),  # 1x1 with few channels: weight gradient from per-image sums of x
    # few input channels, unit column stride: the direct forward (channel blocks, vector tails, dilation)
    ((2, 2, 9, 21), (5, 2, 3, 3), (2, 1), (2, 2), (2, 3), 1),
    ((1, 2, 6, 40), (11, 2, 3, 3), 1, 1, 1, 1),
    # more input channels, output rows of 32 (whole vector blocks in every variant): direct forward too
    ((2, 5, 7, 32), (6, 5, 3, 3), 1, 1, 1, 1),
    # channel blocks of 12 (6) then one of 8 (4) or 4 (2): remainders 5 and 2
    ((1, 2, 6, 40), (29, 2, 3, 3), 1, 1, 1, 1),
    ((1, 5, 5, 32), (14, 5, 3, 3), 1, 1, 1, 1),
    ((1, 8, 9, 34), (4, 8, 2, 3), (2, 1), (1, 0), (2, 1), 1),
    # rows of 16 and 8 pixels: one vector long in some variant and dtype (1-vector blocks of more channels)
    ((2, 4, 6, 16), (9, 4, 3, 3), 1, 1, 1, 1),
    ((1, 6, 5, 8), (17, 6, 3, 3), 1, 1, 1, 1),
    ((2, 3, 5, 16), (5, 3, 3, 3), 1, 1, 1, 1),
    ((1, 4, 3, 18), (13, 4, 3, 3), 1, 0, 1, 1),  # one output row: blocks of one row
    # few input channels, unit column stride: the direct weight gradient (5-tap rows, 24-pixel rows in
    # half-width vectors, 7 taps in blocks of 4, 2 taps padded to a block, row tails masked)
    ((3, 1, 12, 28), (6, 1, 5, 5), 1, 0, 1, 1),
    ((2, 1, 9, 13), (7, 1, 2, 7), 1, (1, 3), (2, 1), 1),
    ((2, 2, 6, 11), (3, 2, 4, 2), (2, 1), (0, 1), (1, 2), 1),
    # deeper kernels, rows of whole vectors, small weights: the direct weight gradient too (LeNet's second layer)
    ((2, 6, 12, 12), (16, 6, 5, 5), 1, 0, 1, 1),
    ((2, 4, 9, 16), (3, 4, 3, 5), 1, (1, 2), 1, 1),
    ((1, 16, 6, 20), (24, 16, 3, 5), 1, 0, 1, 1),  # 5-tap rows with sums past 256 KiB
    # rows of 8, 4 and 2 pixels: half a vector in some variant and dtype (blocks of 4 rows; fewer rows: one)
    ((2, 8, 7, 10), (5, 8, 3, 3), 1, (1, 0), 1, 1),
    ((1, 6, 9, 6), (7, 6, 3, 3), 1, 0, 1, 1),
    ((2, 5, 6, 4), (3, 5, 2, 3), (2, 1), 0, 1, 1),
    ((1, 4, 3, 10), (9, 4, 2, 3), 1, 0, 1, 1),
    # unit stride, dilation, more padding on one axis: the data gradient as a flipped-kernel convolution
    ((1, 16, 7, 32), (4, 16, 3, 3), 1, (1, 2), (2, 2), 1),
    ((2, 16, 5, 16), (3, 16, 3, 3), 1, 1, 1, 1),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES)
def test_conv2d_forward_and_backward_match_reference(kernel_impl, case, dtype, rng):
    x_shape, w_shape, stride, padding, dilation, groups = case
    x, w, b = _data(rng, x_shape, w_shape, dtype)
    geometry = (_pairs(stride), _pairs(padding), _pairs(dilation), groups)
    want = reference_conv2d(x.astype(np.float64), w.astype(np.float64), b, *geometry)
    got = pn.kernels.conv2d(x, w, b, stride, padding, dilation, groups)
    assert got.dtype == dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, **TOL[dtype])
    dy = rng.standard_normal(want.shape).astype(dtype)
    gx, gw, gb = pn.kernels.conv2d_backward(dy, x, w, stride, padding, dilation, groups)
    for got_grad, want_grad in zip((gx, gw, gb), reference_backward(x.astype(np.float64), w.astype(np.float64),
                                                                      dy.astype(np.float64), *geometry)):
        assert got_grad.dtype == dtype
        np.testing.assert_allclose(got_grad, want_grad, **TOL[dtype])


# every stride/padding/dilation/groups combination PyTorch accepts on one small input, sampled to stay fast
GRID = [combo for combo in itertools.product([1, 2, 3], [0, 1, 2], [1, 2], [1, 2, 4], [(1, 1), (3, 3), (2, 3)])
        if combo[1] <= 2 and (5 + 2 * combo[1] - combo[2] * (combo[4][0] - 1) - 1) >= 0
        and (6 + 2 * combo[1] - combo[2] * (combo[4][1] - 1) - 1) >= 0]


@pytest.mark.parametrize("combo", GRID[::3], ids=str)
def test_conv2d_grid_matches_reference(kernel_impl, combo, rng):
    stride, padding, dilation, groups, kernel = combo
    x, w, b = _data(rng, (2, 4, 5, 6), (8, 4 // groups) + kernel, np.float64)
    geometry = ((stride,) * 2, (padding,) * 2, (dilation,) * 2, groups)
    np.testing.assert_allclose(pn.kernels.conv2d(x, w, b, stride, padding, dilation, groups),
                               reference_conv2d(x, w, b, *geometry), rtol=1e-11, atol=1e-11)
    dy = rng.standard_normal(reference_conv2d(x, w, b, *geometry).shape)
    for got, want in zip(pn.kernels.conv2d_backward(dy, x, w, stride, padding, dilation, groups),
                         reference_backward(x, w, dy, *geometry)):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("x_shape", [(2, 3, 6, 5), (2, 3, 6, 13), (2, 3, 6, 8), (2, 3, 5, 4)],
                         ids=["im2col", "direct", "direct8", "direct4"])
@pytest.mark.parametrize("activation", [None, "relu", "gelu", "sigmoid", "tanh"])
def test_conv2d_fused_activation(kernel_impl, activation, x_shape, rng):
    from scipy.special import erf
    x, w, b = _data(rng, x_shape, (4, 3, 3, 3), np.float64)
    z = reference_conv2d(x, w, b, (1, 1), (1, 1), (1, 1), 1)
    want = {None: z, "relu": np.maximum(z, 0), "gelu": 0.5 * z * (1 + erf(z / np.sqrt(2))),
            "sigmoid": 1 / (1 + np.exp(-z)), "tanh": np.tanh(z)}[activation]
    np.testing.assert_allclose(pn.kernels.conv2d(x, w, b, padding=1, activation=activation), want,
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("x_shape, w_shape", [((9, 8, 64, 64), (3, 8, 3, 3)),     # few channels, many pixels
                                              ((5, 64, 12, 12), (4, 64, 3, 3))])  # many channels, few pixels
def test_conv2d_many_images_in_chunks(kernel_impl, threads, x_shape, w_shape, rng):
    # enough images that the column buffers hold only a chunk of the batch at a time
    x, w, b = _data(rng, x_shape, w_shape, np.float64)
    want = reference_conv2d(x, w, b, (1, 1), (1, 1), (1, 1), 1)
    np.testing.assert_allclose(pn.kernels.conv2d(x, w, b, padding=1), want, rtol=1e-11, atol=1e-11)
    dy = rng.standard_normal(want.shape)
    for got, ref in zip(pn.kernels.conv2d_backward(dy, x, w, padding=1),
                        reference_backward(x, w, dy, (1, 1), (1, 1), (1, 1), 1)):
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10)


def test_conv2d_empty_batch_nan_and_partial_gradients(kernel_impl, rng):
    x, w, b = _data(rng, (0, 3, 5, 5), (4, 3, 3, 3), np.float32)
    assert pn.kernels.conv2d(x, w, b).shape == (0, 4, 3, 3)
    gx, gw, gb = pn.kernels.conv2d_backward(np.zeros((0, 4, 3, 3), np.float32), x, w)
    assert gx.shape == x.shape and not gw.any() and not gb.any()
    x, w, b = _data(rng, (1, 2, 6, 6), (3, 2, 3, 3), np.float64)
    x[0, 1, 0, 0] = np.nan
    y = pn.kernels.conv2d(x, w, b, padding=1)
    assert np.isnan(y[0, :, :2, :2]).all() and not np.isnan(y[0, :, 3:, 3:]).any()
    for shape in ((1, 2, 6, 6), (1, 2, 6, 16), (1, 40, 6, 16)):  # im2col + GEMM and both direct paths
        xr = rng.standard_normal(shape)
        xr[0, 1, 0, 0] = np.nan
        yr = pn.kernels.conv2d(xr, rng.standard_normal((3, shape[1], 3, 3)), padding=1, activation="relu")
        assert np.isnan(yr[0, :, :2, :2]).all() and not np.isnan(yr[0, :, 3:, 3:]).any()
    gx, gw, gb = pn.kernels.conv2d_backward(np.ones_like(y), x, w, padding=1, bias=False, need_input=False)
    assert gx is None and gb is None
    assert np.isnan(gw[:, 1, :2, :2]).all() and not np.isnan(gw[:, 1, 2]).any() and not np.isnan(gw[:, 0]).any()  # taps that read the NaN pixel


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_shape, w_shape, padding", [((2, 1, 7, 13), (5, 1, 3, 5), 0),
                                                      ((1, 3, 6, 11), (4, 3, 3, 3), 1),
                                                      ((2, 2, 5, 30), (9, 2, 2, 3), 0)])
def test_conv2d_weight_gradient_nan_and_inf_only_where_read(kernel_impl, x_shape, w_shape, padding, dtype, rng):
    """NaN and Inf pixels at row ends and starts reach exactly the weight-gradient taps that read them (the
    vector lanes past an output row must not multiply them by zero)."""
    x, w, _ = _data(rng, x_shape, w_shape, dtype)
    x[0, 0, 1, -1] = np.nan
    x[-1, -1, 2, -1] = np.inf
    x[0, -1, 0, 0] = -np.inf
    geometry = ((1, 1), (padding, padding), (1, 1), 1)
    dy = rng.standard_normal(reference_conv2d(np.zeros(x_shape), w, None, *geometry).shape).astype(dtype)
    with np.errstate(invalid="ignore"):
        want = reference_backward(x.astype(np.float64), w.astype(np.float64), dy.astype(np.float64), *geometry)[1]
    _, gw, _ = pn.kernels.conv2d_backward(dy, x, w, padding=padding, need_input=False)
    np.testing.assert_array_equal(np.isnan(gw), np.isnan(want))
    assert np.isnan(want).any() and not np.isnan(want).all()
    np.testing.assert_allclose(gw[~np.isnan(want)], want[~np.isnan(want)], **TOL[dtype])


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation", [
    ((2, 3, 7, 13), (4, 3, 3, 3), 1, 2, 1),
    ((1, 6, 12, 12), (16, 6, 5, 5), 1, 0, 1),
    ((2, 2, 9, 20), (3, 2, 3, 2), (2, 1), (1, 1), (1, 3)),
])
def test_conv2d_data_gradient_nan_only_where_read(kernel_impl, x_shape, w_shape, stride, padding, dilation, rng):
    """A NaN and an Inf in dy reach exactly the input pixels whose windows include them (the gathered col2im
    masks the lanes that read neighbouring output columns)."""
    x, w, _ = _data(rng, x_shape, w_shape, np.float64)
    geometry = (_pairs(stride), _pairs(padding), _pairs(dilation), 1)
    dy = rng.standard_normal(reference_conv2d(x, w, None, *geometry).shape)
    dy[0, 1, 1, -1] = np.nan
    dy[-1, 0, -1, 0] = np.inf
    with np.errstate(invalid="ignore"):
        want = reference_backward(x, w, dy, *geometry)[0]
    gx, _, _ = pn.kernels.conv2d_backward(dy, x, w, stride, padding, dilation, need_weight=False, bias=False)
    np.testing.assert_array_equal(np.isnan(gx), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(gx), np.isinf(want))
    finite = np.isfinite(want)
    assert not finite.all() and finite.any()
    np.testing.assert_allclose(gx[finite], want[finite], rtol=1e-11, atol=1e-11)


def test_conv2d_backward_without_weight_gradient(kernel_impl, rng):
    x, w, _ = _data(rng, (2, 3, 5, 5), (4, 3, 3, 3), np.float64)
    dy = rng.standard_normal((2, 4, 3, 3))
    gx, gw, gb = pn.kernels.conv2d_backward(dy, x, w, need_weight=False)
    want = reference_backward(x, w, dy, (1, 1), (0, 0), (1, 1), 1)
    assert gw is None
    np.testing.assert_allclose(gx, want[0], rtol=1e-12)
    np.testing.assert_allclose(gb, want[2], rtol=1e-12)


def test_conv2d_integer_and_strided_inputs(kernel_impl, rng):
    x = rng.integers(-3, 4, (2, 3, 6, 6))
    w = rng.integers(-3, 4, (4, 3, 2, 2))
    got = pn.kernels.conv2d(x, w)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, reference_conv2d(x, w, None, (1, 1), (0, 0), (1, 1), 1), atol=1e-5)
    xs = rng.standard_normal((2, 6, 7, 12))[:, ::2, :, ::2]  # non-contiguous views
    ws = rng.standard_normal((4, 3, 3, 3)).transpose(0, 1, 3, 2)
    np.testing.assert_allclose(pn.kernels.conv2d(xs, ws), reference_conv2d(xs, ws, None, (1, 1), (0, 0), (1, 1), 1),
                               rtol=1e-12, atol=1e-12)


BAD = [
    (dict(x=(2, 3, 5, 5), w=(4, 2, 3, 3)), "channels"),
    (dict(x=(2, 4, 5, 5), w=(6, 2, 3, 3), groups=3), "groups"),
    (dict(x=(2, 4, 5, 5), w=(5, 2, 3, 3), groups=2), "groups"),
    (dict(x=(2, 3, 5, 5), w=(4, 3, 7, 3)), "larger than the padded input"),
    (dict(x=(2, 3, 5, 5), w=(4, 3, 3, 3), dilation=3), "larger than the padded input"),
    (dict(x=(2, 3, 5, 5), w=(4, 3, 3, 3), stride=0), "stride"),
    (dict(x=(2, 3, 5, 5), w=(4, 3, 3, 3), stride=(1, -1)), "stride"),
    (dict(x=(2, 3, 5, 5), w=(4, 3, 3, 3), padding=-1), "padding"),
    (dict(x=(2, 3, 5, 5), w=(4, 3, 3, 3), groups=0), "groups"),
    (dict(x=(3, 5, 5), w=(4, 3, 3, 3)), "shape"),
    (dict(x=(2, 3, 5, 5), w=(4, 3, 3)), "shape"),
]


@pytest.mark.parametrize("bad", BAD, ids=lambda b: b[1])
def test_conv2d_bad_input_raises_in_wrapper(kernel_impl, bad):
    spec, words = bad
    kwargs = {k: v for k, v in spec.items() if k not in ("x", "w")}
    with pytest.raises(ValueError, match="conv2d") as info:
        pn.kernels.conv2d(np.zeros(spec["x"]), np.zeros(spec["w"]), **kwargs)
    assert words in str(info.value) or str(spec["x"]) in str(info.value)


def _raw_kernels():
    natives = [pn.backend.native()] if pn.backend.native() is not None else []
    from pyneural.kernels_numba import conv as numba_conv
    return natives + [numba_conv]


@pytest.mark.parametrize("bad", [
    dict(x=(2, 3, 5, 5), w=(4, 2, 3, 3), y=(2, 4, 3, 3)),                    # channel mismatch
    dict(x=(2, 4, 5, 5), w=(6, 2, 3, 3), y=(2, 6, 3, 3), groups=3),          # groups do not divide
    dict(x=(2, 3, 5, 5), w=(4, 3, 7, 3), y=(2, 4, 1, 3)),                    # kernel too large
    dict(x=(2, 3, 5, 5), w=(4, 3, 3, 3), y=(2, 4, 3, 3), stride=(0, 1)),     # zero stride
    dict(x=(2, 3, 5, 5), w=(4, 3, 3, 3), y=(2, 4, 3, 3), padding=(-1, 0)),   # negative padding
    dict(x=(2, 3, 5, 5), w=(4, 3, 3, 3), y=(2, 4, 4, 3)),                    # wrong output size
    dict(x=(2, 3, 5), w=(4, 3, 3, 3), y=(2, 4, 3, 3)),                       # wrong rank
    dict(x=(2, 3, 5, 5), w=(4, 3, 3, 3), y=(2, 4, 3, 3), dilation=(1, 0)),   # zero dilation
])
def test_conv2d_entries_validate_their_arguments(bad):
    geometry = (bad.get("stride", (1, 1)), bad.get("padding", (0, 0)), bad.get("dilation", (1, 1)), bad.get("groups", 1))
    x, w, y = (np.zeros(bad[key]) for key in ("x", "w", "y"))
    for module in _raw_kernels():
        with pytest.raises(ValueError, match="conv2d"):
            module.conv2d(x, w, None, y, *geometry)
        with pytest.raises(ValueError, match="conv2d_backward"):
            module.conv2d_backward_data(y, w, x, *geometry)
        with pytest.raises(ValueError, match="conv2d_backward"):
            module.conv2d_backward_weight(x, y, w, None, *geometry)


def test_conv2d_entries_reject_mixed_dtypes_and_views():
    x, w, y = np.zeros((1, 2, 4, 4)), np.zeros((3, 2, 3, 3)), np.zeros((1, 3, 2, 2))
    geometry = ((1, 1), (0, 0), (1, 1), 1)
    for module in _raw_kernels():
        with pytest.raises(TypeError, match="conv2d"):  # a wrong dtype is a TypeError on every backend
            module.conv2d(x.astype(np.float32), w, None, y, *geometry)
        with pytest.raises(ValueError, match="contiguous"):
            module.conv2d(np.zeros((1, 2, 4, 8))[..., ::2], w, None, y, *geometry)
        with pytest.raises(ValueError, match="bias"):
            module.conv2d(x, w, np.zeros(4), y, *geometry)
        with pytest.raises(TypeError, match="bias"):
            module.conv2d(x, w, np.zeros(3, np.float32), y, *geometry)


def test_conv_ops_gradcheck(rng):
    x = pn.tensor(rng.standard_normal((2, 4, 6, 5)), requires_grad=True)
    w = pn.tensor(rng.standard_normal((6, 2, 3, 2)), requires_grad=True)
    b = pn.tensor(rng.standard_normal(6), requires_grad=True)
    assert pn.autograd.gradcheck(lambda x, w, b: F.conv2d(x, w, b, (2, 1), (1, 0), (1, 2), 2), (x, w, b))
    x1 = pn.tensor(rng.standard_normal((2, 3, 9)), requires_grad=True)
    w1 = pn.tensor(rng.standard_normal((4, 3, 3)), requires_grad=True)
    assert pn.autograd.gradcheck(lambda x, w: F.conv1d(x, w, None, 2, 1, 2), (x1, w1))
    x3 = pn.tensor(rng.standard_normal((3, 5, 5)), requires_grad=True)  # unbatched
    assert pn.autograd.gradcheck(lambda x, w: F.conv2d(x, w, padding=1), (x3, pn.tensor(rng.standard_normal((2, 3, 3, 3)), requires_grad=True)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES[:8])
def test_conv2d_matches_torch(backend, case, dtype, rng):
    torch = pytest.importorskip("torch")
    x_shape, w_shape, stride, padding, dilation, groups = case
    x, w, b = _data(rng, x_shape, w_shape, dtype)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, stride, padding, dilation, groups)
    dy = rng.standard_normal(tuple(ty.shape)).astype(dtype)
    ty.backward(torch.tensor(dy))
    px, pw_, pb = (pn.tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.conv2d(px, pw_, pb, stride, padding, dilation, groups)
    y.backward(pn.tensor(dy))
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **tol)
    for ours, theirs in ((px, tx), (pw_, tw), (pb, tb)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), **tol)


def test_conv1d_matches_torch(backend, rng):
    torch = pytest.importorskip("torch")
    x, w, b = _data(rng, (3, 4, 17), (6, 2, 3), np.float64)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv1d(tx, tw, tb, 2, 2, 3, 2)
    ty.sum().backward()
    px, pw_, pb = (pn.tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.conv1d(px, pw_, pb, 2, 2, 3, 2)
    y.sum().backward()
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    for ours, theirs in ((px, tx), (pw_, tw), (pb, tb)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="conv1d"):
        F.conv1d(pn.tensor(x), pn.tensor(w[:, :, :, None]))
