"""layer_norm and batch_norm: kernels against float64 references on every backend and CPU variant,
gradchecks, PyTorch parity (outputs, gradients, running statistics) and bad-input errors."""
from __future__ import annotations

import numpy as np
import pytest

import pyneural as pn
from pyneural import kernels as K

F = pn.nn.functional
TOL = {np.float32: 2e-5, np.float64: 1e-12}


# ------------------------------------------------------------------------------------------ references

def layer_norm_reference(x, k, w, b, g, eps=1e-5):
    """Forward and (gx, gw, gb) in float64 for normalisation over the last k dims."""
    x = x.astype(np.float64)
    axes = tuple(range(x.ndim - k, x.ndim))
    lead = tuple(range(x.ndim - k))
    mu = x.mean(axes, keepdims=True)
    inv = 1 / np.sqrt(x.var(axes, keepdims=True) + eps)
    xh = (x - mu) * inv
    wd = np.ones(x.shape[x.ndim - k:]) if w is None else w.astype(np.float64)
    out = xh * wd + (0 if b is None else b.astype(np.float64))
    g = g.astype(np.float64)
    gxh = g * wd
    gx = inv * (gxh - gxh.mean(axes, keepdims=True) - xh * (gxh * xh).mean(axes, keepdims=True))
    return out, gx, (g * xh).sum(lead), g.sum(lead)


def batch_norm_reference(x, w, b, g, mean=None, var=None, eps=1e-5):
    """Forward and (gx, gw, gb) in float64; training (batch statistics) when mean/var are None."""
    x = x.astype(np.float64)
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    training = mean is None
    mu = x.mean(axes) if training else mean.astype(np.float64)
    vr = x.var(axes) if training else var.astype(np.float64)
    inv = (1 / np.sqrt(vr + eps)).reshape(shape)
    xh = (x - mu.reshape(shape)) * inv
    wd = np.ones(x.shape[1]) if w is None else w.astype(np.float64)
    out = xh * wd.reshape(shape) + (0 if b is None else b.astype(np.float64).reshape(shape))
    g = g.astype(np.float64)
    gxh = g * wd.reshape(shape)
    if training:
        gx = inv * (gxh - gxh.mean(axes, keepdims=True) - xh * (gxh * xh).mean(axes, keepdims=True))
    else:
        gx = gxh * inv
    return out, gx, (g * xh).sum(axes), g.sum(axes)


def assert_close(got, want, dtype, scale=1.0):
    tol = TOL[dtype] * scale
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


# ------------------------------------------------------------------------------------------ layer_norm

LAYER_CASES = [((7, 33), 1), ((3, 5, 17), 1), ((4, 3, 5), 2), ((2, 1, 130), 1), ((1, 1), 1), ((6, 3, 4, 5), 3)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,k", LAYER_CASES)
@pytest.mark.parametrize("affine", ["both", "weight", "bias", "none"])
def test_layer_norm_kernel_matches_reference(kernel_impl, rng, dtype, shape, k, affine):
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    norm_shape = shape[len(shape) - k:]
    w = rng.standard_normal(norm_shape).astype(dtype) if affine in ("both", "weight") else None
    b = rng.standard_normal(norm_shape).astype(dtype) if affine in ("both", "bias") else None
    g = rng.standard_normal(shape).astype(dtype)
    out, mean, rstd = K.layer_norm_forward(x, norm_shape, w, b)
    ref, gx_ref, gw_ref, gb_ref = layer_norm_reference(x, k, w, b, g)
    assert out.shape == shape and out.dtype == dtype and mean.shape == shape[:len(shape) - k]
    assert_close(out, ref, dtype)
    gx, gw, gb = K.layer_norm_backward(g, x, norm_shape, w, mean, rstd)
    assert gx.dtype == dtype and gw.shape == norm_shape
    assert_close(gx, gx_ref, dtype, scale=4)
    assert_close(gw, gw_ref, dtype, scale=4)
    assert_close(gb, gb_ref, dtype, scale=4)


def test_layer_norm_threads_and_partial_needs(kernel_impl, threads, rng):
    """Enough work (over 2 MFLOP) to run on two threads."""
    x = rng.standard_normal((450, 771))
    w, b, g = rng.standard_normal(771), rng.standard_normal(771), rng.standard_normal((450, 771))
    out, mean, rstd = K.layer_norm_forward(x, 771, w, b)
    ref, gx_ref, gw_ref, gb_ref = layer_norm_reference(x, 1, w, b, g)
    assert_close(out, ref, np.float64)
    gx, gw, gb = K.layer_norm_backward(g, x, 771, w, mean, rstd, (False, True, False))
    assert gx is None and gb is None
    assert_close(gw, gw_ref, np.float64, scale=100)
    gx, gw, gb = K.layer_norm_backward(g, x, (771,), w, mean, rstd, (True, False, True))
    assert gw is None
    assert_close(gx, gx_ref, np.float64, scale=100)
    assert_close(gb, gb_ref, np.float64, scale=100)


def test_layer_norm_large_offset_is_accurate(kernel_impl, rng):
    """|mean| >> std: the variance must not cancel away in float32."""
    x = (1e4 + rng.standard_normal((5, 300))).astype(np.float32)
    ref = layer_norm_reference(x, 1, None, None, x)[0]
    np.testing.assert_allclose(K.layer_norm(x, 300), ref, rtol=0, atol=5e-3)  # x itself is rounded by 5e-4


def test_layer_norm_empty_batch(kernel_impl):
    x = np.zeros((0, 4), np.float32)
    out, mean, rstd = K.layer_norm_forward(x, 4, np.ones(4, np.float32))
    assert out.shape == (0, 4) and mean.shape == (0,)
    gx, gw, gb = K.layer_norm_backward(x, x, 4, np.ones(4, np.float32), mean, rstd)
    assert gx.shape == (0, 4) and np.array_equal(gw, np.zeros(4)) and np.array_equal(gb, np.zeros(4))


def test_layer_norm_gradcheck(backend, rng):
    x = pn.tensor(rng.standard_normal((3, 2, 5)), requires_grad=True)
    w = pn.tensor(rng.standard_normal((2, 5)), requires_grad=True)
    b = pn.tensor(rng.standard_normal((2, 5)), requires_grad=True)
    assert pn.autograd.gradcheck(lambda x, w, b: F.layer_norm(x, (2, 5), w, b, eps=1e-3), (x, w, b))
    assert pn.autograd.gradcheck(lambda x: F.layer_norm(x, 5), (x,))


def test_layer_norm_matches_torch(backend, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((4, 3, 9)).astype(np.float32)
    w = rng.standard_normal(9).astype(np.float32)
    b = rng.standard_normal(9).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    px, pw, pb = (pn.tensor(a, requires_grad=True) for a in (x, w, b))
    out = F.layer_norm(px, 9, pw, pb)
    out.backward(pn.tensor(g))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    tout = torch.nn.functional.layer_norm(tx, (9,), tw, tb)
    tout.backward(torch.tensor(g))
    for mine, theirs in ((out, tout), (px.grad, tx.grad), (pw.grad, tw.grad), (pb.grad, tb.grad)):
        np.testing.assert_allclose(np.asarray(mine), theirs.detach().numpy(), rtol=1e-5, atol=1e-5)


def test_layer_norm_bad_input(backend):
    x = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match=r"layer_norm: normalized_shape \(5,\) does not match .*\(3, 4\)"):
        K.layer_norm(x, 5)
    with pytest.raises(ValueError, match=r"layer_norm: weight has shape \(3,\); expected \(4,\)"):
        K.layer_norm(x, 4, np.ones(3))
    with pytest.raises(ValueError, match="layer_norm: eps"):
        K.layer_norm(x, 4, eps=-1)
    with pytest.raises(TypeError, match="layer_norm: normalized_shape"):
        K.layer_norm(x, "4")


def test_layer_norm_kernel_validates_its_arguments(kernel_impl):
    """The backend kernels (C++ entry points and Numba twins) check their own arguments."""
    kernel = pn.backend.kernel("layer_norm_forward")
    x = np.zeros((3, 4), np.float32)
    out, mean, rstd = np.empty((3, 4), np.float32), np.empty(3, np.float32), np.empty(3, np.float32)
    with pytest.raises(ValueError, match=r"layer_norm: out has shape \(3, 5\)"):
        kernel(x, None, None, 1e-5, np.empty((3, 5), np.float32), mean, rstd)
    with pytest.raises(TypeError, match="layer_norm: weight has dtype float64"):
        kernel(x, np.ones(4), None, 1e-5, out, mean, rstd)
    with pytest.raises(ValueError, match="layer_norm: an output array overlaps an input array"):
        kernel(x, None, None, 1e-5, x, mean, rstd)
    with pytest.raises(ValueError, match="C-contiguous"):
        kernel(np.zeros((4, 3), np.float32).T, None, None, 1e-5, out, mean, rstd)
    with pytest.raises(ValueError, match="eps"):
        kernel(x, None, None, float("nan"), out, mean, rstd)
    with pytest.raises(ValueError, match="layer_norm_backward: grad_weight has shape"):
        pn.backend.kernel("layer_norm_backward")(x, x, None, mean, rstd, None, np.empty(5, np.float32), None)


# ------------------------------------------------------------------------------------------ batch_norm

BATCH_SHAPES = [(7, 5), (9, 300), (4, 3, 5), (3, 4, 5, 6), (2, 3, 1, 1), (5, 2, 2100)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", BATCH_SHAPES)
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_training_kernel_matches_reference(kernel_impl, rng, dtype, shape, affine):
    c = shape[1]
    x = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    w = rng.standard_normal(c).astype(dtype) if affine else None
    b = rng.standard_normal(c).astype(dtype) if affine else None
    g = rng.standard_normal(shape).astype(dtype)
    running_mean, running_var = np.full(c, 0.5), np.full(c, 2.0)
    out, mean, var = K.batch_norm_forward(x, running_mean, running_var, w, b, training=True, momentum=0.2)
    ref, gx_ref, gw_ref, gb_ref = batch_norm_reference(x, w, b, g)
    assert out.shape == shape and out.dtype == dtype
    assert_close(out, ref, dtype)
    axes = (0,) + tuple(range(2, x.ndim))
    count = x.size // c
    xd = x.astype(np.float64)
    np.testing.assert_allclose(running_mean, 0.8 * 0.5 + 0.2 * xd.mean(axes), rtol=TOL[dtype])
    np.testing.assert_allclose(running_var, 0.8 * 2.0 + 0.2 * xd.var(axes) * count / (count - 1), rtol=TOL[dtype])
    gx, gw, gb = K.batch_norm_backward(g, x, mean, var, w, training=True)
    assert_close(gx, gx_ref, dtype, scale=4)
    assert gw.shape == (c,) and gb.shape == (c,)
    assert_close(gw, gw_ref, dtype, scale=20)
    assert_close(gb, gb_ref, dtype, scale=20)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7, 5), (4, 3, 5), (3, 4, 5, 6)])
def test_batch_norm_eval_kernel_matches_reference(kernel_impl, rng, dtype, shape):
    c = shape[1]
    x = rng.standard_normal(shape).astype(dtype)
    w, b = rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype)
    running_mean, running_var = rng.standard_normal(c), rng.random(c) + 0.5
    g = rng.standard_normal(shape).astype(dtype)
    saved = running_mean.copy(), running_var.copy()
    out, mean, var = K.batch_norm_forward(x, running_mean, running_var, w, b, training=False)
    assert np.array_equal(running_mean, saved[0]) and np.array_equal(running_var, saved[1])
    ref, gx_ref, gw_ref, gb_ref = batch_norm_reference(x, w, b, g, running_mean.astype(dtype),
                                                       running_var.astype(dtype))
    assert_close(out, ref, dtype)
    gx, gw, gb = K.batch_norm_backward(g, x, mean, var, w, training=False)
    assert_close(gx, gx_ref, dtype, scale=4)
    assert_close(gw, gw_ref, dtype, scale=20)
    assert_close(gb, gb_ref, dtype, scale=20)


def test_batch_norm_threads(kernel_impl, threads, rng):
    """Enough work (over 2 MFLOP) to run on two threads, over channel blocks and over channels."""
    for shape in [(1300, 600), (80, 6, 41, 37)]:
        x = rng.standard_normal(shape)
        c = shape[1]
        w, b, g = rng.standard_normal(c), rng.standard_normal(c), rng.standard_normal(shape)
        out, mean, var = K.batch_norm_forward(x, None, None, w, b, training=True)
        ref, gx_ref, gw_ref, gb_ref = batch_norm_reference(x, w, b, g)
        assert_close(out, ref, np.float64, scale=10)
        gx, gw, gb = K.batch_norm_backward(g, x, mean, var, w, training=True)
        assert_close(gx, gx_ref, np.float64, scale=100)
        assert_close(gw, gw_ref, np.float64, scale=1000)
        assert_close(gb, gb_ref, np.float64, scale=1000)


def test_batch_norm_large_offset_is_accurate(kernel_impl, rng):
    """|mean| >> std, in float32: one-pass statistics must not cancel."""
    x = (-3e4 + rng.standard_normal((64, 3, 50))).astype(np.float32)
    out, mean, var = K.batch_norm_forward(x, training=True)
    xd = x.astype(np.float64)
    np.testing.assert_allclose(var, xd.var((0, 2)), rtol=1e-5)
    np.testing.assert_allclose(mean, xd.mean((0, 2)), rtol=1e-7)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradcheck(backend, rng, training):
    x = pn.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)
    w = pn.tensor(rng.standard_normal(2), requires_grad=True)
    b = pn.tensor(rng.standard_normal(2), requires_grad=True)
    running_mean, running_var = rng.standard_normal(2), rng.random(2) + 0.5

    def fn(x, w, b):  # fresh copies: the running stats must not drift between finite-difference calls
        return F.batch_norm(x, running_mean.copy(), running_var.copy(), w, b, training=training, eps=1e-3)

    assert pn.autograd.gradcheck(fn, (x, w, b))
    assert pn.autograd.gradcheck(lambda x: F.batch_norm(x, None, None, training=True), (x,))


@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5, 2)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_matches_torch_over_several_steps(backend, rng, shape, affine):
    torch = pytest.importorskip("torch")
    c = shape[1]
    bn = torch.nn.BatchNorm1d(c, affine=affine) if len(shape) == 2 else torch.nn.BatchNorm2d(c, affine=affine)
    w = rng.standard_normal(c).astype(np.float32) if affine else None
    b = rng.standard_normal(c).astype(np.float32) if affine else None
    if affine:
        with torch.no_grad():
            bn.weight.copy_(torch.tensor(w))
            bn.bias.copy_(torch.tensor(b))
    pw = None if w is None else pn.tensor(w, requires_grad=True)
    pb = None if b is None else pn.tensor(b, requires_grad=True)
    running_mean, running_var = np.zeros(c, np.float32), np.ones(c, np.float32)
    for step in range(4):
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(np.float32)
        g = rng.standard_normal(shape).astype(np.float32)
        px = pn.tensor(x, requires_grad=True)
        out = F.batch_norm(px, running_mean, running_var, pw, pb, training=True, momentum=0.1, eps=1e-5)
        out.backward(pn.tensor(g))
        tx = torch.tensor(x, requires_grad=True)
        bn.zero_grad()
        tout = bn(tx)
        tout.backward(torch.tensor(g))
        np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(px.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
        if affine:
            np.testing.assert_allclose(pw.grad.numpy(), bn.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(pb.grad.numpy(), bn.bias.grad.numpy(), rtol=1e-4, atol=1e-4)
            pw.grad = pb.grad = None
        np.testing.assert_allclose(running_mean, bn.running_mean.numpy(), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(running_var, bn.running_var.numpy(), rtol=1e-6, atol=1e-6)
    bn.eval()
    x = rng.standard_normal(shape).astype(np.float32)
    out = F.batch_norm(pn.tensor(x), running_mean, running_var, pw, pb, training=False)
    np.testing.assert_allclose(out.numpy(), bn(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-5)


def test_batch_norm_running_stats_in_tensors(backend, rng):
    """Running statistics held by Tensors (module buffers) are updated in place too."""
    rm, rv = pn.zeros(3), pn.ones(3)
    x = rng.standard_normal((5, 3)).astype(np.float32)
    F.batch_norm(pn.tensor(x), rm, rv, training=True)
    np.testing.assert_allclose(rm.numpy(), 0.1 * x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(rv.numpy(), 0.9 + 0.1 * x.var(0, ddof=1), rtol=1e-5)


def test_batch_norm_bad_input(backend):
    x = np.zeros((4, 3, 2), np.float32)
    with pytest.raises(ValueError, match=r"batch_norm: expected more than 1 value per channel .*\(1, 3\)"):
        K.batch_norm(np.zeros((1, 3)), training=True)
    with pytest.raises(ValueError, match=r"batch_norm: running_mean has shape \(4,\); expected \(3,\)"):
        K.batch_norm(x, np.zeros(4), np.ones(3))
    with pytest.raises(ValueError, match="running_mean and running_var are required"):
        K.batch_norm(x, None, None, training=False)
    with pytest.raises(ValueError, match=r"batch_norm: expected input of shape \(N, C\) or \(N, C, \*\), got shape \(3,\)"):
        K.batch_norm(np.zeros(3), np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match=r"batch_norm: weight has shape \(2,\); expected \(3,\)"):
        K.batch_norm(x, np.zeros(3), np.ones(3), weight=np.ones(2))
    with pytest.raises(ValueError, match="momentum"):
        K.batch_norm(x, np.zeros(3), np.ones(3), training=True, momentum=None)
    with pytest.raises(ValueError, match="running_var has negative"):
        K.batch_norm(x, np.zeros(3), -np.ones(3))


def test_batch_norm_kernel_validates_its_arguments(kernel_impl):
    x = np.zeros((4, 3, 2), np.float32)
    mean, var = np.zeros(3, np.float32), np.ones(3, np.float32)
    stats, apply = pn.backend.kernel("batch_norm_stats"), pn.backend.kernel("batch_norm_apply")
    with pytest.raises(ValueError, match=r"batch_norm: x must be 3-D"):
        stats(np.zeros((4, 3), np.float32), mean, var)
    with pytest.raises(ValueError, match=r"batch_norm: mean has shape \(4,\), expected \(3,\)"):
        stats(x, np.zeros(4, np.float32), var)
    with pytest.raises(TypeError, match="batch_norm: out has dtype float64"):
        apply(x, mean, var, None, None, 1e-5, np.empty((4, 3, 2)))
    with pytest.raises(ValueError, match="batch_norm: an output array overlaps an input array"):
        apply(x, mean, var, None, None, 1e-5, x)
    with pytest.raises(ValueError, match="batch_norm: mean is read-only|batch_norm: mean must be"):
        ro = np.zeros(3, np.float32)
        ro.flags.writeable = False
        stats(x, ro, var)
    with pytest.raises(ValueError, match="batch_norm_backward: grad has shape"):
        pn.backend.kernel("batch_norm_backward")(np.zeros((4, 3, 3), np.float32), x, mean, var, None, 1e-5, True,
                                                 None, None, None)


def test_batch_norm_empty_batch(kernel_impl):
    """As PyTorch: an empty batch gives an empty output, leaves the running statistics alone, and zero
    parameter gradients."""
    running_mean, running_var = np.full(3, 0.5), np.full(3, 2.0)
    x = pn.tensor(np.zeros((0, 3, 4), np.float32), requires_grad=True)
    w, b = pn.ones(3, requires_grad=True), pn.zeros(3, requires_grad=True)
    out = F.batch_norm(x, running_mean, running_var, w, b, training=True)
    assert out.shape == (0, 3, 4)
    assert np.array_equal(running_mean, np.full(3, 0.5)) and np.array_equal(running_var, np.full(3, 2.0))
    out.sum().backward()
    assert x.grad.shape == (0, 3, 4)
    assert np.array_equal(w.grad.numpy(), np.zeros(3)) and np.array_equal(b.grad.numpy(), np.zeros(3))
    assert F.batch_norm(pn.zeros((0, 3)), running_mean, running_var).shape == (0, 3)


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)])
def test_nan_propagates_to_its_channel_or_row_only(kernel_impl, shape):
    x = np.arange(np.prod(shape), dtype=np.float64).reshape(shape) % 7
    x[(1, 1) + (2,) * (len(shape) - 2)] = np.nan
    out = K.batch_norm(x, training=True)
    assert np.isnan(out[:, 1]).all() and not np.isnan(out[:, [0, 2]]).any()
    g = np.ones(shape)
    _, mean, var = K.batch_norm_forward(x, training=True)
    gx, gw, gb = K.batch_norm_backward(g, x, mean, var, np.ones(3), training=True)
    assert np.isnan(gx[:, 1]).all() and not np.isnan(gx[:, [0, 2]]).any() and np.isnan(gw[1])
    rows = x.reshape(-1, shape[-1])
    out = K.layer_norm(rows, shape[-1])
    bad = np.isnan(rows).any(axis=1)
    assert np.isnan(out[bad]).all() and not np.isnan(out[~bad]).any()
