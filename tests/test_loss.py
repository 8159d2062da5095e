"""nll, mse, l1, smooth_l1 and binary cross-entropy (with and without logits): PyTorch parity of values and
gradients for every reduction, gradchecks, PyTorch's clamping and bad input."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import pyneural as pn
import pyneural.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def run_both(name, x, y, kwargs, grad_target=True, torch_kwargs=None):
    """Loss value and gradients from pyneural and from PyTorch, for float64 inputs."""
    px, py = pn.tensor(x, requires_grad=True), pn.tensor(y, requires_grad=grad_target)
    pl = getattr(F, name)(px, py, **kwargs)
    g = np.random.default_rng(0).standard_normal(pl.shape)
    pl.backward(pn.tensor(g))
    tx, ty = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=grad_target)
    tl = getattr(TF, name)(tx, ty, **(torch_kwargs or kwargs))
    tl.backward(torch.tensor(g))
    np.testing.assert_allclose(pl.numpy(), tl.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(px.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    if grad_target:
        np.testing.assert_allclose(py.grad.numpy(), ty.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name,kwargs", [("mse_loss", {}), ("l1_loss", {}), ("smooth_l1_loss", {}),
                                         ("smooth_l1_loss", {"beta": 0.3}), ("smooth_l1_loss", {"beta": 0.0})])
def test_regression_losses_match_torch(rng, reduction, name, kwargs):
    x = rng.standard_normal((5, 7))
    y = rng.standard_normal((5, 7))
    y[0, 0] = x[0, 0]  # equal values: gradient 0 for l1
    run_both(name, x, y, dict(kwargs, reduction=reduction))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_matches_torch(rng, reduction):
    x = rng.uniform(0.01, 0.99, (4, 9))
    x[0, :2] = [0.0, 1.0]  # log clamped at -100, as in PyTorch
    y = rng.uniform(0, 1, (4, 9))
    w = rng.uniform(0.5, 2, (9,))
    run_both("binary_cross_entropy", x, y, {"reduction": reduction, "weight": pn.tensor(w)},
             torch_kwargs={"reduction": reduction, "weight": torch.tensor(w)})


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("with_pos_weight", [False, True])
def test_bce_with_logits_matches_torch(rng, reduction, with_pos_weight):
    x = rng.standard_normal((6, 5)) * 10
    x[0, :2] = [800.0, -800.0]  # stable for huge logits
    y = rng.uniform(0, 1, (6, 5))
    pw = rng.uniform(0.5, 3, (5,))
    kwargs = {"reduction": reduction, "pos_weight": pn.tensor(pw) if with_pos_weight else None}
    tkw = {"reduction": reduction, "pos_weight": torch.tensor(pw) if with_pos_weight else None}
    run_both("binary_cross_entropy_with_logits", x, y, kwargs, torch_kwargs=tkw)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5), (4,)])
def test_nll_loss_matches_torch(rng, reduction, shape):
    x = rng.standard_normal(shape)
    tshape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    t = rng.integers(0, shape[1] if len(shape) > 1 else shape[0], tshape)
    if len(shape) > 1:
        t.reshape(-1)[::3] = -100
    px = pn.tensor(x, requires_grad=True)
    pl = F.nll_loss(px, pn.tensor(t), reduction=reduction)
    g = rng.standard_normal(pl.shape)
    pl.backward(pn.tensor(g))
    tx = torch.tensor(x, requires_grad=True)
    tl = TF.nll_loss(tx, torch.tensor(t), reduction=reduction)
    tl.backward(torch.tensor(g))
    np.testing.assert_allclose(pl.numpy(), tl.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(px.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


def test_log_softmax_then_nll_equals_cross_entropy(rng):
    x = pn.tensor(rng.standard_normal((5, 6)))
    t = pn.tensor(rng.integers(0, 6, 5))
    np.testing.assert_allclose(F.nll_loss(F.log_softmax(x, dim=1), t).item(), F.cross_entropy(x, t).item(),
                               rtol=1e-6)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "smooth_l1_loss", "binary_cross_entropy_with_logits"])
def test_gradcheck(rng, name):
    x = pn.tensor(rng.standard_normal((3, 4)), dtype=pn.float64, requires_grad=True)
    y = pn.tensor(rng.uniform(0, 1, (3, 4)), dtype=pn.float64, requires_grad=True)
    assert pn.autograd.gradcheck(lambda a, b: getattr(F, name)(a, b), (x, y))


def test_bad_input():
    with pytest.raises(ValueError, match=r"mse_loss: input of shape \(3,\) and target of shape \(4,\)"):
        F.mse_loss(pn.tensor(np.zeros(3)), pn.tensor(np.zeros(4)))
    with pytest.raises(ValueError, match="reduction"):
        F.l1_loss(pn.tensor(np.zeros(3)), pn.tensor(np.zeros(3)), reduction="max")
    with pytest.raises(ValueError, match="probabilities"):
        F.binary_cross_entropy(pn.tensor(np.array([1.5])), pn.tensor(np.array([1.0])))
    with pytest.raises(ValueError, match="nll_loss: target 5 at position 1 is out of range for 4 classes"):
        F.nll_loss(pn.tensor(np.zeros((2, 4))), pn.tensor(np.array([0, 5])))
    with pytest.raises(ValueError, match="beta"):
        F.smooth_l1_loss(pn.tensor(np.zeros(3)), pn.tensor(np.zeros(3)), beta=-1.0)
    with pytest.raises(ValueError, match="probabilities"):  # NaN is not a probability either (as PyTorch)
        F.binary_cross_entropy(pn.tensor(np.array([np.nan, 0.5])), pn.tensor(np.array([1.0, 0.0])))
    for fn in (F.binary_cross_entropy, F.binary_cross_entropy_with_logits):  # no broadcasting, as PyTorch
        with pytest.raises(ValueError, match=r"target of shape \(4,\) must have the shape of input \(4, 1\)"):
            fn(pn.tensor(np.full((4, 1), 0.5)), pn.tensor(np.ones(4)))


# ------------------------------------------------------------------- kernels against a NumPy float64 reference
from pyneural import kernels as K  # noqa: E402
from pyneural.kernels import loss as KL  # noqa: E402
from pyneural.kernels.checks import class_weight  # noqa: E402
from pyneural.kernels.softmax import cross_entropy_rows, cross_entropy_rows_backward  # noqa: E402

KINDS = ["mse", "l1", "smooth_l1", "bce", "bce_with_logits"]
EPS32 = float(np.float32(1e-12))


def ref_value(kind, x, y, pw=None, beta=1.0):
    """Per-element loss in float64 (PyTorch's definitions)."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    d = x - y
    with np.errstate(all="ignore"):
        if kind == "mse":
            return d * d
        if kind == "l1" or (kind == "smooth_l1" and beta == 0):
            return np.abs(d)
        if kind == "smooth_l1":
            return np.where(np.abs(d) < beta, 0.5 * d * d / beta, np.abs(d) - 0.5 * beta)
        if kind == "bce":
            return -(y * np.maximum(np.log(x), -100) + (1 - y) * np.maximum(np.log1p(-x), -100))
        pw = 1.0 if pw is None else pw.astype(np.float64)
        sp = np.logaddexp(0, -x)  # log(1 + e^-x)
        return (1 - y) * x + (1 + (pw - 1) * y) * sp


def ref_slope(kind, x, y, pw=None, beta=1.0):
    x, y = x.astype(np.float64), y.astype(np.float64)
    d = x - y
    with np.errstate(all="ignore"):
        if kind == "mse":
            return 2 * d
        if kind == "l1" or (kind == "smooth_l1" and beta == 0):
            return np.where(d > 0, 1.0, np.where(d < 0, -1.0, 0.0))
        if kind == "smooth_l1":
            return np.where(d < -beta, -1.0, np.where(d > beta, 1.0, d / beta))
        if kind == "bce":
            return d / np.maximum((1 - x) * x, EPS32)
        pw = 1.0 if pw is None else pw.astype(np.float64)
        sig = 0.5 * (1 + np.tanh(0.5 * x))
        return (1 + (pw - 1) * y) * sig - pw * y


def loss_inputs(rng, kind, n, dtype):
    if kind == "bce":
        x = rng.uniform(0.001, 0.999, n)
        y = rng.uniform(0, 1, n)
    elif kind == "bce_with_logits":
        x = rng.standard_normal(n) * 8
        y = rng.uniform(0, 1, n)
    else:
        x, y = rng.standard_normal(n), rng.standard_normal(n)
        y[::5] = x[::5]  # exact ties: l1's zero gradient
    return x.astype(dtype), y.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 7, 1001, 40_003])
@pytest.mark.parametrize("kind,beta", [("mse", 1.0), ("l1", 1.0), ("smooth_l1", 0.7), ("smooth_l1", 0.0),
                                       ("bce", 1.0), ("bce_with_logits", 1.0)])
def test_loss_kernels_match_float64(kernel_impl, threads, rng, kind, beta, n, dtype):
    x, y = loss_inputs(rng, kind, n, dtype)
    w = rng.uniform(0.2, 2, n).astype(dtype)
    pw = rng.uniform(0.5, 3, n).astype(dtype) if kind == "bce_with_logits" else None
    rtol = 1e-12 if dtype == np.float64 else 2e-6
    atol = 1e-300 if dtype == np.float64 else 1e-30
    v = ref_value(kind, x, y, pw, beta) * w
    s = ref_slope(kind, x, y, pw, beta) * w
    none = KL.elementwise_loss(kind, x, y, w, pw, "none", beta)
    assert none.dtype == dtype and none.shape == (n,)
    np.testing.assert_allclose(none, v, rtol=rtol, atol=atol)
    total = KL.elementwise_loss(kind, x, y, w, pw, "sum", beta)
    assert total.dtype == dtype and total.shape == ()
    np.testing.assert_allclose(total, v.sum(), rtol=rtol * 10, atol=1e-12)
    np.testing.assert_allclose(KL.elementwise_loss(kind, x, y, w, pw, "mean", beta), v.mean(), rtol=rtol * 10,
                               atol=1e-12)
    g = rng.standard_normal(n).astype(dtype)
    # gradients like sigmoid(x) - y cancel: judge them against the largest one (norm-wise) as well
    gatol = (1e-14 if dtype == np.float64 else 1e-6) * np.abs(s).max()
    np.testing.assert_allclose(KL.elementwise_loss_backward(kind, x, y, g, w, pw, "none", beta), s * g,
                               rtol=rtol * 10, atol=gatol * np.abs(g).max())
    np.testing.assert_allclose(KL.elementwise_loss_backward(kind, x, y, 1.5, w, pw, "sum", beta), s * 1.5,
                               rtol=rtol * 10, atol=gatol * 1.5)
    np.testing.assert_allclose(KL.elementwise_loss_backward(kind, x, y, 1.5, None, pw, "mean", beta),
                               ref_slope(kind, x, y, pw, beta) * 1.5 / n, rtol=rtol * 10, atol=gatol * 1.5 / n * 10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_logarithms_over_every_binade(kernel_impl, rng, dtype):
    """bce with targets 1 and 0 is -log(x) and -log1p(-x): x from subnormals (where the clamp at -100 has not
    yet set in) to 1, with the mantissas where the logarithm changes its split (0.75, 1/sqrt 2, 1, 1.5)."""
    x = np.exp(rng.uniform(np.log(4e-44), 0, 20_000))
    binades = 2.0 ** -np.arange(1, 140)
    x = np.concatenate([x, binades, binades * 0.75, binades * 1.5, binades * np.sqrt(0.5), binades * 1.0000001])
    x = x[(x > 0) & (x < 1)].astype(dtype)
    x = x[x > 0]
    x64 = x.astype(np.float64)
    rtol = 2e-6 if dtype == np.float32 else 2e-15
    got = KL.elementwise_loss("bce", x, np.ones_like(x), reduction="none")
    np.testing.assert_allclose(got, -np.maximum(np.log(x64), -100), rtol=rtol)
    got = KL.elementwise_loss("bce", x, np.zeros_like(x), reduction="none")
    np.testing.assert_allclose(got, -np.maximum(np.log1p(-x64), -100), rtol=rtol, atol=1e-300)


@pytest.mark.parametrize("kind", ["mse", "bce_with_logits", "bce"])
def test_float32_mean_of_ten_million_matches_float64(kernel_impl, kind):
    rng = np.random.default_rng(5)
    n = 10**7 + 1
    x, y = loss_inputs(rng, kind, n, np.float32)
    ref = ref_value(kind, x, y).mean()
    got = KL.elementwise_loss(kind, x, y, reduction="mean")
    assert got.dtype == np.float32
    assert abs(float(got) / ref - 1) < 1e-6


def test_sums_do_not_depend_on_the_thread_count(kernel_impl, rng):
    x, y = loss_inputs(rng, "bce_with_logits", 100_001, np.float32)
    values = []
    for t in (1, 2):
        previous = pn.get_num_threads()
        pn.set_num_threads(t)
        try:
            values.append(KL.elementwise_loss("bce_with_logits", x, y, reduction="sum"))
        finally:
            pn.set_num_threads(previous)
    assert values[0] == values[1]


def test_loss_kernels_extreme_inputs(kernel_impl):
    # bce at exactly 0 and 1: each log clamped at -100, the gradient's denominator at PyTorch's EPSILON
    x = np.array([0.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    y = np.array([0.0, 1.0, 0.0, 1.0, 0.3, 0.3])
    np.testing.assert_allclose(KL.elementwise_loss("bce", x, y, reduction="none"), [0, 100, 100, 0, 30, 70],
                               rtol=1e-12)
    np.testing.assert_allclose(KL.elementwise_loss_backward("bce", x, y, 1.0, reduction="sum"),
                               (x - y) / EPS32, rtol=1e-12)
    # logits +-100 and +-800: finite, no overflow
    x = np.array([100.0, -100.0, 800.0, -800.0, 100.0, -100.0, 800.0, -800.0])
    y = np.array([1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0])
    for dtype in (np.float32, np.float64):
        v = KL.elementwise_loss("bce_with_logits", x.astype(dtype), y.astype(dtype), reduction="none")
        np.testing.assert_allclose(v, [0, 0, 0, 0, 100, 100, 800, 800], rtol=1e-6, atol=1e-30)
        gr = KL.elementwise_loss_backward("bce_with_logits", x.astype(dtype), y.astype(dtype), 1.0, reduction="sum")
        np.testing.assert_allclose(gr, [0, 0, 0, 0, 1, -1, 1, -1], atol=1e-30)
    # NaN propagates into the loss; l1's gradient at NaN is 0 (PyTorch's sign), smooth_l1's NaN
    x = np.array([np.nan, 1.0, 2.0])
    y = np.array([0.0, 1.0, 0.5])
    for kind in ("mse", "l1", "smooth_l1", "bce_with_logits"):
        v = KL.elementwise_loss(kind, x, y, reduction="none")
        assert np.isnan(v[0]) and np.isfinite(v[1:]).all(), kind
        assert np.isnan(KL.elementwise_loss(kind, x, y, reduction="mean")), kind
    assert KL.elementwise_loss_backward("l1", x, y, 1.0, reduction="sum")[0] == 0
    assert np.isnan(KL.elementwise_loss_backward("smooth_l1", x, y, 1.0, reduction="sum")[0])
    assert np.isnan(KL.elementwise_loss_backward("mse", x, y, 1.0, reduction="sum")[0])
    assert np.isnan(KL.elementwise_loss("bce", np.array([np.nan, 0.5]), np.array([1.0, 1.0]), reduction="sum"))


@pytest.mark.parametrize("kind", KINDS)
def test_empty_inputs(kernel_impl, kind):
    x = np.zeros((0, 3))
    assert np.isnan(KL.elementwise_loss(kind, x, x, reduction="mean"))
    assert KL.elementwise_loss(kind, x, x, reduction="sum") == 0
    assert KL.elementwise_loss(kind, x, x, reduction="none").shape == (0, 3)
    assert KL.elementwise_loss_backward(kind, x, x, 1.0, reduction="mean").shape == (0, 3)


def ref_nll(x, t, w, ignore_index):
    """Per-position loss and weight of x (N, C, d...) at targets (N, d...), float64."""
    xm = np.moveaxis(x.astype(np.float64), 1, -1).reshape(-1, x.shape[1])
    tf = t.reshape(-1)
    keep = tf != ignore_index
    safe = np.where(keep, tf, 0)
    wt = np.where(keep, 1.0 if w is None else w.astype(np.float64)[safe], 0.0)
    return -wt * xm[np.arange(tf.size), safe], wt


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1,), (7,), (5, 3), (4, 7, 3, 5), (600, 11)])
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_kernels_match_float64(kernel_impl, threads, rng, shape, weighted, dtype):
    x = rng.standard_normal(shape).astype(dtype)
    classes = shape[1] if len(shape) > 1 else shape[0]
    tshape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    t = rng.integers(0, classes, tshape)
    if t.ndim:
        t.reshape(-1)[::4] = -1
    w = rng.uniform(0.2, 2, classes).astype(dtype) if weighted else None
    xr = x[None] if len(shape) == 1 else x
    loss, wt = ref_nll(xr, np.asarray(t).reshape(xr.shape[:1] + xr.shape[2:]), w, -1)
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(K.nll_loss(x, t, w, "none", ignore_index=-1), loss.reshape(tshape), rtol=rtol)
    np.testing.assert_allclose(K.nll_loss(x, t, w, "sum", ignore_index=-1), loss.sum(), rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(K.nll_loss(x, t, w, "mean", ignore_index=-1), loss.sum() / wt.sum(), rtol=rtol)
    # backward: scatter of -w[t] * g at the targets
    x3, tt, _ = KL.nll_layout("nll_loss", x, t)
    wk = class_weight("nll_loss", w, x3.shape[1], x3.dtype)
    g = rng.standard_normal(tt.size)
    expect = _scatter(x3.shape, tt, w, 1.0) * g.reshape(x3.shape[0], 1, x3.shape[2])
    got = KL.nll_backward(x3.shape, tt, wk, g.astype(dtype), "none", 0.0, x3.dtype, -1)
    np.testing.assert_allclose(got, expect, rtol=rtol)
    got = KL.nll_backward(x3.shape, tt, wk, 2.0, "mean", float(wt.sum()), x3.dtype, -1)
    np.testing.assert_allclose(got, _scatter(x3.shape, tt, w, 2.0 / wt.sum()), rtol=rtol)


def _scatter(shape3, tt, w, scale):
    out = np.zeros(shape3)
    for r in range(tt.size):
        if tt[r] != -1:
            o, i = divmod(r, shape3[2])
            out[o, tt[r], i] = -(1.0 if w is None else w[tt[r]]) * scale
    return out


def ref_ce_rows(x, t, w, eps, ignore_index):
    """Per-row weighted, label-smoothed cross-entropy and its gradient (float64), PyTorch's formula."""
    x = x.astype(np.float64)
    C = x.shape[1]
    w = np.ones(C) if w is None else w.astype(np.float64)
    lse = np.logaddexp.reduce(x, axis=1)
    logp = x - lse[:, None]
    keep = t != ignore_index
    safe = np.where(keep, t, 0)
    wt = w[safe]
    loss = (1 - eps) * wt * -logp[np.arange(len(t)), safe] + eps / C * -(logp * w).sum(1)
    p = np.exp(logp)
    onehot = np.eye(C)[safe]
    grad = ((1 - eps) * wt + eps / C * w.sum())[:, None] * p - (1 - eps) * wt[:, None] * onehot - eps / C * w
    return np.where(keep, loss, 0), np.where(keep[:, None], grad, 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows,classes", [(1, 1), (7, 5), (33, 19), (300, 131)])
@pytest.mark.parametrize("eps", [0.0, 0.25])
def test_weighted_cross_entropy_rows_match_float64(kernel_impl, threads, rng, rows, classes, eps, dtype):
    x = (rng.standard_normal((rows, classes)) * 3).astype(dtype)
    t = rng.integers(0, classes, rows)
    t[::3] = -100
    w = rng.uniform(0.2, 2, classes).astype(dtype)
    loss_ref, grad_ref = ref_ce_rows(x, t, w, eps, -100)
    loss, lse = cross_entropy_rows(x, t, eps, -100, w)
    rtol = 1e-11 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(loss, loss_ref, rtol=rtol, atol=rtol)
    g = rng.standard_normal(rows).astype(dtype)
    grad = cross_entropy_rows_backward(x, t, lse, g, eps, -100, w)
    np.testing.assert_allclose(grad, grad_ref * g[:, None], rtol=rtol, atol=rtol)


# ------------------------------------------------------------------------ PyTorch parity with weight= et al.

@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5), (4,)])
@pytest.mark.parametrize("weighted,ignore", [(False, False), (True, False), (True, True)])
def test_cross_entropy_weight_matches_torch(backend, rng, reduction, smoothing, shape, weighted, ignore):
    x = rng.standard_normal(shape)
    C = shape[1] if len(shape) > 1 else shape[0]
    tshape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    t = rng.integers(0, C, tshape)
    if ignore and t.ndim:
        t.reshape(-1)[::3] = 1  # ignore_index=1: one class is skipped
    w = rng.uniform(0.3, 2, C) if weighted else None
    kw = {"reduction": reduction, "label_smoothing": smoothing, "ignore_index": 1 if ignore else -100}
    px = pn.tensor(x, requires_grad=True)
    pl = F.cross_entropy(px, pn.tensor(t), weight=None if w is None else pn.tensor(w), **kw)
    g = rng.standard_normal(pl.shape)
    pl.backward(pn.tensor(g))
    tx = torch.tensor(x, requires_grad=True)
    tl = TF.cross_entropy(tx, torch.tensor(t), weight=None if w is None else torch.tensor(w), **kw)
    tl.backward(torch.tensor(g))
    np.testing.assert_allclose(pl.numpy(), tl.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(px.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    # the layer holds the weight as a buffer
    layer = pn.nn.CrossEntropyLoss(weight=None if w is None else pn.tensor(w), **kw)
    np.testing.assert_allclose(layer(pn.tensor(x), pn.tensor(t)).numpy(), tl.detach().numpy(), rtol=1e-10,
                               atol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5), (4,)])
def test_nll_loss_weight_matches_torch(backend, rng, reduction, shape):
    x = rng.standard_normal(shape)
    C = shape[1] if len(shape) > 1 else shape[0]
    tshape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    t = rng.integers(0, C, tshape)
    if t.ndim:
        t.reshape(-1)[::3] = -100
    w = rng.uniform(0.3, 2, C)
    px = pn.tensor(x, requires_grad=True)
    pl = pn.nn.NLLLoss(weight=pn.tensor(w), reduction=reduction)(px, pn.tensor(t))
    g = rng.standard_normal(pl.shape)
    pl.backward(pn.tensor(g))
    tx = torch.tensor(x, requires_grad=True)
    tl = TF.nll_loss(tx, torch.tensor(t), weight=torch.tensor(w), reduction=reduction)
    tl.backward(torch.tensor(g))
    np.testing.assert_allclose(pl.numpy(), tl.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(px.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


def test_all_ignored_mean_is_nan_like_torch(backend):
    x = np.zeros((2, 3))
    t = np.array([-100, -100])
    for w in (None, np.ones(3)):
        for fn, tfn in ((F.cross_entropy, TF.cross_entropy), (F.nll_loss, TF.nll_loss)):
            ours = fn(pn.tensor(x), pn.tensor(t), weight=None if w is None else pn.tensor(w)).item()
            theirs = tfn(torch.tensor(x), torch.tensor(t), weight=None if w is None else torch.tensor(w)).item()
            assert np.isnan(ours) and np.isnan(theirs)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "smooth_l1_loss"])
def test_broadcast_target_matches_torch(backend, rng, reduction, name):
    x = rng.uniform(0.05, 0.95, (4, 5))
    y = rng.uniform(0.05, 0.95, (5,))
    with warnings.catch_warnings(record=True) as caught:  # PyTorch warns too
        warnings.simplefilter("always")
        run_both(name, x, y, {"reduction": reduction})
    assert any(f"{name}: target of shape (5,) differs from input of shape (4, 5)" in str(w.message) for w in caught)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_weight_and_pos_weight_broadcast_match_torch(backend, rng, reduction):
    x = rng.standard_normal((3, 4, 5)) * 4
    y = rng.uniform(0, 1, (3, 4, 5))
    w = rng.uniform(0.5, 2, (4, 1))
    pw = rng.uniform(0.5, 3, (5,))
    run_both("binary_cross_entropy_with_logits", x, y,
             {"reduction": reduction, "weight": pn.tensor(w), "pos_weight": pn.tensor(pw)},
             torch_kwargs={"reduction": reduction, "weight": torch.tensor(w), "pos_weight": torch.tensor(pw)})


def test_gradchecks_with_weights(backend, rng):
    x = pn.tensor(rng.standard_normal((4, 5, 3)), requires_grad=True)
    t = pn.tensor(rng.integers(0, 5, (4, 3)))
    w = pn.tensor(rng.uniform(0.3, 2, 5))
    assert pn.autograd.gradcheck(lambda a: F.cross_entropy(a, t, weight=w, label_smoothing=0.3), (x,))
    assert pn.autograd.gradcheck(lambda a: F.nll_loss(a, t, weight=w), (x,))
    p = pn.tensor(rng.uniform(0.1, 0.9, (3, 4)), requires_grad=True)
    y = pn.tensor(rng.uniform(0, 1, (3, 4)), requires_grad=True)
    assert pn.autograd.gradcheck(lambda a, b: F.binary_cross_entropy(a, b, weight=pn.tensor(np.arange(1.0, 5))),
                                 (p, y))
    assert pn.autograd.gradcheck(
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=pn.tensor(np.arange(1.0, 5))), (p, y))


def test_bad_weights_and_targets(kernel_impl):
    x = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"cross_entropy: weight of shape \(3,\) does not match 4 classes"):
        F.cross_entropy(pn.tensor(x), pn.tensor(np.array([0, 1, 2])), weight=pn.tensor(np.ones(3)))
    with pytest.raises(ValueError, match=r"nll_loss: weight of shape \(4, 1\) does not match 4 classes"):
        F.nll_loss(pn.tensor(x), pn.tensor(np.array([0, 1, 2])), weight=pn.tensor(np.ones((4, 1))))
    with pytest.raises(ValueError, match="nll_loss: target -3 at position 2 is out of range for 4 classes"):
        K.nll_loss(x, np.array([0, 1, -3]))
    with pytest.raises(ValueError, match="target 4 at position 0 is out of range for 4 classes"):
        F.cross_entropy(pn.tensor(x), pn.tensor(np.array([4, 1, 2])), weight=pn.tensor(np.ones(4)))
    with pytest.raises(ValueError, match=r"pos_weight of shape \(3,\) cannot be broadcast"):
        F.binary_cross_entropy_with_logits(pn.tensor(x), pn.tensor(x), pos_weight=pn.tensor(np.ones(3)))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: weight of shape \(2,\) cannot be broadcast"):
        F.binary_cross_entropy(pn.tensor(x), pn.tensor(x), weight=pn.tensor(np.ones(2)))
    with pytest.raises(TypeError, match="nll_loss: target must hold integer class indices"):
        K.nll_loss(x, np.zeros(3))
    # the kernels check their own arguments
    fwd = pn.backend.kernel("loss_forward")
    with pytest.raises(ValueError, match=r"loss_forward: y has shape \(3, 5\), expected \(3, 4\)"):
        fwd("mse", x, np.zeros((3, 5)), None, None, None, 1.0)
    with pytest.raises(ValueError, match="unknown loss 'huber'"):
        fwd("huber", x, x, None, None, None, 1.0)
    with pytest.raises(ValueError, match="pos_weight is only for binary_cross_entropy_with_logits"):
        fwd("mse", x, x, None, x, None, 1.0)
    with pytest.raises(ValueError, match="beta must be >= 0"):
        fwd("smooth_l1", x, x, None, None, None, -1.0)
    with pytest.raises(ValueError, match=r"nll_loss: weight has shape \(3,\), expected \(4,\)"):
        pn.backend.kernel("nll_loss_forward")(x.reshape(3, 4, 1), np.zeros(3, np.int64), np.ones(3), None, -100)
    with pytest.raises(ValueError, match=r"weight of shape \(3,\) does not match logits of shape \(3, 4\)"):
        pn.backend.kernel("cross_entropy_forward")(x, np.zeros(3, np.int64), np.empty(3), np.empty(3), 0.0, -100,
                                                   np.ones(3))


def test_kernels_raise_type_error_for_wrong_types(kernel_impl):
    """DESIGN.md: a wrong type (wrong dtype, not an array) is a TypeError on every implementation alike."""
    fwd, bwd = pn.backend.kernel("loss_forward"), pn.backend.kernel("loss_backward")
    x = np.zeros((3, 4))
    with pytest.raises(TypeError, match="loss_forward: unsupported dtype int64; expected float32 or float64"):
        fwd("mse", x.astype(np.int64), x.astype(np.int64), None, None, None, 1.0)
    with pytest.raises(TypeError, match="loss_forward: y has dtype float32, expected float64"):
        fwd("mse", x, x.astype(np.float32), None, None, None, 1.0)
    with pytest.raises(TypeError, match="loss_backward: out has dtype float32, expected float64"):
        bwd("mse", x, x, None, None, None, 1.0, np.empty((3, 4), np.float32), 1.0)
    with pytest.raises(TypeError, match="loss_forward"):
        fwd("mse", x, x.tolist(), None, None, None, 1.0)
    with pytest.raises(TypeError, match="nll_loss: target has dtype int32, expected int64"):
        pn.backend.kernel("nll_loss_forward")(x.reshape(3, 4, 1), np.zeros(3, np.int32), None, None, -100)


@pytest.mark.parametrize("kind", KINDS)
def test_scalar_inputs_keep_their_shape(kernel_impl, kind):
    x, y = np.array(0.3), np.array(0.6)
    v = KL.elementwise_loss(kind, x, y, reduction="none")
    assert v.shape == () and np.isclose(v, ref_value(kind, x, y))
    gr = KL.elementwise_loss_backward(kind, x, y, np.array(2.0), reduction="none")
    assert gr.shape == () and np.isclose(gr, 2 * ref_slope(kind, x, y))


@pytest.mark.parametrize("dtype,lo", [(np.float32, -45), (np.float64, -323)])
def test_bce_logs_over_the_whole_range(kernel_impl, dtype, lo):
    """-log x (y = 1) and -log(1 - x) (y = 0) for x from the smallest subnormal to 1, clamped at 100."""
    x = np.logspace(lo, 0, 20001).astype(dtype)
    x = x[(x > 0) & (x <= 1)]
    rtol = 1e-15 if dtype == np.float64 else 3e-7
    x64 = x.astype(np.float64)
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(KL.elementwise_loss("bce", x, np.ones_like(x), reduction="none"),
                                   np.minimum(-np.log(x64), 100), rtol=rtol, atol=0)
        np.testing.assert_allclose(KL.elementwise_loss("bce", x, np.zeros_like(x), reduction="none"),
                                   np.minimum(-np.log1p(-x64), 100), rtol=rtol * 2, atol=0)
