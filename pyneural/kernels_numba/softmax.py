"""Softmax, log-softmax and softmax cross-entropy over rows: the contracts of ``_C.softmax_*`` and
``_C.cross_entropy_*``."""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .activation import _exp
from .checks import check_float, check_ndarray


@njit(cache=True, inline="always")
def _row_max(x):
    m = x.dtype.type(-np.inf)  # in x's dtype, so float32 rows take the vectorised float32 exp
    for v in x:
        if v > m:  # NaN is skipped here; it reaches the result through the sum of exponentials
            m = v
    return m


@njit(cache=True, inline="always")
def _exp_into(x, m, e):
    """e = exp(x - m) element-wise: a loop of its own, without the sum, so that it vectorises."""
    for c in range(x.size):
        e[c] = _exp(x[c] - m)


@njit(cache=True, inline="always")
def _sum(a):
    """Sum in float64 with four independent partial sums: one running sum is bound by the add latency."""
    s0 = s1 = s2 = s3 = 0.0
    n4 = a.size // 4 * 4
    for c in range(0, n4, 4):
        s0 += a[c]
        s1 += a[c + 1]
        s2 += a[c + 2]
        s3 += a[c + 3]
    for c in range(n4, a.size):
        s0 += a[c]
    return (s0 + s1) + (s2 + s3)


@njit(cache=True, inline="always")
def _row_sum_exp(x, m):
    e = np.empty_like(x)
    _exp_into(x, m, e)
    return _sum(e)


@njit(parallel=True, cache=True)
def _forward(x, out, log):
    rows, cols = x.shape
    for r in prange(rows):
        m = _row_max(x[r])
        if log:
            shift = m + math.log(_row_sum_exp(x[r], m))
            for c in range(cols):
                out[r, c] = x[r, c] - shift
        else:
            _exp_into(x[r], m, out[r])
            s = _sum(out[r])
            inv = 1.0 / s if s != 0 else math.inf
            for c in range(cols):
                out[r, c] = out[r, c] * inv


@njit(parallel=True, cache=True)
def _backward(g, y, out, log):
    rows, cols = g.shape
    for r in prange(rows):
        acc = 0.0
        if log:
            for c in range(cols):
                acc += g[r, c]
            for c in range(cols):
                out[r, c] = g[r, c] - _exp(y[r, c]) * acc
        else:
            for c in range(cols):
                acc += g[r, c] * y[r, c]
            for c in range(cols):
                out[r, c] = y[r, c] * (g[r, c] - acc)


@njit(parallel=True, cache=True)
def _forward_columns(x, out, log):
    """Softmax along axis 1 of a contiguous (outer, dim, inner) array."""
    outer, dim, inner = x.shape
    for o in prange(outer):
        m = np.full(inner, -np.inf)
        s = np.zeros(inner)
        for d in range(dim):
            for j in range(inner):
                if x[o, d, j] > m[j]:
                    m[j] = x[o, d, j]
        for d in range(dim):
            for j in range(inner):
                e = math.exp(x[o, d, j] - m[j])
                if not log:
                    out[o, d, j] = e
                s[j] += e
        for j in range(inner):
            s[j] = m[j] + math.log(s[j]) if log else 1.0 / s[j]
        for d in range(dim):
            for j in range(inner):
                out[o, d, j] = x[o, d, j] - s[j] if log else out[o, d, j] * s[j]


@njit(parallel=True, cache=True)
def _backward_columns(g, y, out, log):
    outer, dim, inner = g.shape
    for o in prange(outer):
        acc = np.zeros(inner)
        for d in range(dim):
            for j in range(inner):
                acc[j] += g[o, d, j] if log else g[o, d, j] * y[o, d, j]
        for d in range(dim):
            for j in range(inner):
                if log:
                    out[o, d, j] = g[o, d, j] - math.exp(y[o, d, j]) * acc[j]
                else:
                    out[o, d, j] = y[o, d, j] * (g[o, d, j] - acc[j])


@njit(parallel=True, cache=True)
def _ce_forward(x, target, loss, lse, eps, ignore_index, w, has_w):
    """With class weights w: loss = (1 - eps) w[t] (lse - x[t]) + eps / C (sum(w) lse - w . x)."""
    rows, classes = x.shape
    wsum = 0.0
    if has_w:
        for c in range(classes):
            wsum += w[c]
    for r in prange(rows):
        m = _row_max(x[r])
        lr = m + math.log(_row_sum_exp(x[r], m))
        lse[r] = lr
        t = target[r]
        if t == ignore_index:
            loss[r] = 0.0
            continue
        if has_w:
            value = (1.0 - eps) * w[t] * (lr - x[r, t])
            if eps != 0.0:
                dot = 0.0
                for c in range(classes):
                    dot += w[c] * x[r, c]
                value += eps / classes * (wsum * lr - dot)
        else:
            value = lr - (1.0 - eps) * x[r, t]
            if eps != 0.0:
                total = 0.0
                for c in range(classes):
                    total += x[r, c]
                value -= eps / classes * total
        loss[r] = value


@njit(parallel=True, cache=True)
def _ce_backward(x, target, lse, grad_loss, out, eps, ignore_index, w, has_w):
    """grad = g (a softmax - (1 - eps) w[t] onehot(t) - eps / C w), a = (1 - eps) w[t] + eps / C sum(w)."""
    rows, classes = x.shape
    wsum = 0.0
    if has_w:
        for c in range(classes):
            wsum += w[c]
    for r in prange(rows):
        t = target[r]
        if t == ignore_index:
            for c in range(classes):
                out[r, c] = 0.0
            continue
        g = grad_loss[r]
        wt = w[t] if has_w else 1.0
        floor = g * eps / classes
        a = g * ((1.0 - eps) * wt + eps / classes * wsum) if has_w else g
        for c in range(classes):
            out[r, c] = _exp(x[r, c] - lse[r]) * a - (floor * w[c] if has_w else floor)
        out[r, t] -= g * (1.0 - eps) * wt


def _check(op: str, x: np.ndarray, name: str, ndim: int, output: bool = False) -> None:
    check_ndarray(op, x, name)
    if x.ndim != ndim:
        raise ValueError(f"{op}: {name} must be {ndim}-D, got shape {x.shape}")
    if not x.flags.c_contiguous:
        raise ValueError(f"{op}: {name} of shape {x.shape} must be C-contiguous")
    if output and not x.flags.writeable:
        raise ValueError(f"{op}: {name} is read-only")


def _check_layout(op: str, x: np.ndarray) -> None:
    check_ndarray(op, x, "x")
    if x.ndim not in (2, 3):
        raise ValueError(f"{op}: expected a 2-D (rows, cols) or 3-D (outer, dim, inner) array, got shape {x.shape}")


def _check_same(op: str, x: np.ndarray, like: np.ndarray, name: str, like_name: str) -> None:
    if x.dtype != like.dtype:
        raise TypeError(f"{op}: {name} has dtype {x.dtype}, {like_name} has {like.dtype}")
    if x.shape != like.shape:
        raise ValueError(f"{op}: {name} has shape {x.shape}, {like_name} has shape {like.shape}")


def _same_start(a: np.ndarray, b: np.ndarray) -> bool:
    return a.__array_interface__["data"][0] == b.__array_interface__["data"][0]


def softmax_forward(x: np.ndarray, out: np.ndarray, log: bool = False) -> None:
    """``out`` = softmax (or log_softmax) along the rows of a C-contiguous (rows, cols) float array, or
    along axis 1 of an (outer, dim, inner) one; out may be x."""
    op = "log_softmax" if log else "softmax"
    _check_layout(op, x)
    _check(op, x, "x", x.ndim)
    _check(op, out, "out", x.ndim, True)
    _check_same(op, out, x, "out", "x")
    check_float(op, x, "x")
    if x.size == 0:
        return
    if not _same_start(x, out) and np.may_share_memory(x, out):
        raise ValueError(f"{op}: output partially overlaps the input")
    if x.ndim == 3:
        _forward_columns(x, out, bool(log))
    else:
        _forward(x, out, bool(log))


def softmax_backward(grad: np.ndarray, y: np.ndarray, out: np.ndarray, log: bool = False) -> None:
    """Gradient of softmax (or log_softmax) rows from the upstream grad and the forward's output y."""
    op = "log_softmax_backward" if log else "softmax_backward"
    _check_layout(op, grad)
    _check(op, grad, "grad", grad.ndim)
    _check(op, y, "y", grad.ndim)
    _check(op, out, "out", grad.ndim, True)
    _check_same(op, y, grad, "y", "grad")
    _check_same(op, out, grad, "out", "grad")
    check_float(op, grad, "grad")
    if grad.size == 0:
        return
    if not _same_start(grad, out) and np.may_share_memory(grad, out):
        raise ValueError(f"{op}: output partially overlaps grad")
    if np.may_share_memory(y, out):
        raise ValueError(f"{op}: output overlaps the saved softmax")
    if grad.ndim == 3:
        _backward_columns(grad, y, out, bool(log))
    else:
        _backward(grad, y, out, bool(log))


def _check_targets(op: str, logits: np.ndarray, target: np.ndarray, ignore_index: int) -> None:
    _check(op, target, "target", 1)
    if target.dtype != np.int64:
        raise TypeError(f"{op}: target must be int64 class indices, got dtype {target.dtype}")
    if target.shape[0] != logits.shape[0]:
        raise ValueError(f"{op}: target of shape {target.shape} does not match logits of shape {logits.shape}")
    classes = logits.shape[1]
    bad = (target != ignore_index) & ((target < 0) | (target >= classes))
    if bad.any():
        r = int(np.argmax(bad))
        raise ValueError(f"cross_entropy: target {int(target[r])} at position {r} is out of range for {classes} "
                         f"classes (expected 0 <= target < {classes} or ignore_index={ignore_index})")


def _check_row_vector(op: str, x: np.ndarray, logits: np.ndarray, name: str, output: bool = False) -> None:
    _check(op, x, name, 1, output)
    if x.dtype != logits.dtype:
        raise TypeError(f"{op}: {name} has dtype {x.dtype}, logits have {logits.dtype}")
    if x.shape[0] != logits.shape[0]:
        raise ValueError(f"{op}: {name} of shape {x.shape} does not match logits of shape {logits.shape}")


def _check_smoothing(op: str, label_smoothing: float) -> None:
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")


def _class_weight(op: str, weight, logits: np.ndarray) -> tuple[np.ndarray, bool]:
    """The per-class weight (C,) of the logits' dtype (an empty placeholder when None) and whether it is given."""
    if weight is None:
        return np.empty(0, logits.dtype), False
    _check(op, weight, "weight", 1)
    if weight.dtype != logits.dtype:
        raise TypeError(f"{op}: weight has dtype {weight.dtype}, logits have {logits.dtype}")
    if weight.shape[0] != logits.shape[1]:
        raise ValueError(f"{op}: weight of shape {weight.shape} does not match logits of shape {logits.shape} "
                         "(one weight per class)")
    return weight, True


def cross_entropy_forward(logits: np.ndarray, target: np.ndarray, loss: np.ndarray, lse: np.ndarray,
                          label_smoothing: float = 0.0, ignore_index: int = -100, weight=None) -> None:
    """Per-row softmax cross-entropy: logits (N, C), int64 target (N,), optional class weight (C,); writes
    loss (N,) and logsumexp (N,)."""
    op = "cross_entropy"
    _check(op, logits, "logits", 2)
    check_float(op, logits, "logits")
    _check_row_vector(op, loss, logits, "loss", True)
    _check_row_vector(op, lse, logits, "lse", True)
    _check_smoothing(op, label_smoothing)
    _check_targets(op, logits, target, ignore_index)
    w, has_w = _class_weight(op, weight, logits)
    if logits.shape[0] == 0:
        return
    if logits.shape[1] == 0:
        raise ValueError(f"{op}: logits have 0 classes for {logits.shape[0]} targets")
    for a, b in ((loss, logits), (lse, logits), (loss, lse), (loss, target), (lse, target)):
        if np.may_share_memory(a, b):
            raise ValueError(f"{op}: outputs overlap the inputs or each other")
    _ce_forward(logits, target, loss, lse, float(label_smoothing), int(ignore_index), w, has_w)


def cross_entropy_backward(logits: np.ndarray, target: np.ndarray, lse: np.ndarray, grad_loss: np.ndarray,
                           out: np.ndarray, label_smoothing: float = 0.0, ignore_index: int = -100,
                           weight=None) -> None:
    """out (N, C) = gradient of the per-row losses scaled by grad_loss (N,); ignored rows get 0."""
    op = "cross_entropy_backward"
    _check(op, logits, "logits", 2)
    check_float(op, logits, "logits")
    _check_row_vector(op, lse, logits, "lse")
    _check_row_vector(op, grad_loss, logits, "grad_loss")
    _check(op, out, "out", 2, True)
    _check_same(op, out, logits, "out", "logits")
    _check_smoothing(op, label_smoothing)
    _check_targets(op, logits, target, ignore_index)
    w, has_w = _class_weight(op, weight, logits)
    if out.size == 0:
        return
    for a in (target, lse, grad_loss):
        if np.may_share_memory(out, a):
            raise ValueError(f"{op}: grad overlaps an input")
    if not _same_start(out, logits) and np.may_share_memory(out, logits):
        raise ValueError(f"{op}: grad overlaps an input")
    _ce_backward(logits, target, lse, grad_loss, out, float(label_smoothing), int(ignore_index), w, has_w)
