"""Numba element-wise losses and the NLL gather: the contracts of ``_C.loss_forward``, ``_C.loss_backward``,
``_C.nll_loss_forward`` and ``_C.nll_loss_backward``.

Sums accumulate in float64 per block of ``_BLOCK`` elements and the block sums are added in block order, so
the result does not depend on the thread count.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .checks import check_array, check_float, dims, optional

KINDS = {"mse": 0, "l1": 1, "smooth_l1": 2, "bce": 3, "bce_with_logits": 4}
_BLOCK = 16384
_BCE_EPS = float(np.float32(1e-12))  # PyTorch's EPSILON, a float32 constant


@njit(cache=True, inline="always")
def _log1p(u):
    """log(1 + u) for u >= -1 (Goldberg's correction of log(1 + u) rounded); faster than math.log1p here."""
    w = 1.0 + u
    return u if w == 1.0 else math.log(w) * u / (w - 1.0)


@njit(cache=True, inline="always")
def _value(kind, x, y, pw, beta):
    d = x - y
    if kind == 0:
        return d * d
    if kind == 1:
        return abs(d)
    if kind == 2:
        a = abs(d)
        return 0.5 * d * d / beta if a < beta else a - 0.5 * beta
    if kind == 3:
        lx = math.log(x) if x > 0 else (-math.inf if x == 0 else math.nan)
        l1x = _log1p(-x) if x < 1 else (-math.inf if x == 1 else math.nan)
        lx = -100.0 if lx < -100.0 else lx  # PyTorch's clamp; NaN stays NaN
        l1x = -100.0 if l1x < -100.0 else l1x
        return -(y * lx + (1.0 - y) * l1x)
    # (1 - y) x + lw log(1 + e^-x), the linear terms combined (x < 0: -pw y x) so no large terms cancel
    linear = -(pw * y) * x if x < 0 else (1.0 - y) * x
    return linear + (1.0 + (pw - 1.0) * y) * _log1p(math.exp(-abs(x)))


@njit(cache=True, inline="always")
def _slope(kind, x, y, pw, beta):
    d = x - y
    if kind == 0:
        return 2.0 * d
    if kind == 1:
        return 1.0 if d > 0 else (-1.0 if d < 0 else 0.0)  # 0 for NaN, as PyTorch
    if kind == 2:
        return -1.0 if d < -beta else (1.0 if d > beta else d / beta)
    if kind == 3:
        den = (1.0 - x) * x
        return d / (_BCE_EPS if den < _BCE_EPS else den)
    e = math.exp(-abs(x))
    sig = 1.0 / (1.0 + e) if x >= 0 else e / (1.0 + e)
    return (1.0 + (pw - 1.0) * y) * sig - pw * y


@njit(cache=True, inline="always")
def _block_sum(kind, x, y, w, pw, out, has_w, has_pw, has_out, beta):
    """Sum of one block's losses. Called with a literal ``kind``, so each kind gets its own loop (the cheap
    ones vectorise); the blocks are slices, so the indices are known to be non-negative."""
    acc = 0.0
    for i in range(x.size):
        v = _value(kind, x[i], y[i], pw[i] if has_pw else 1.0, beta)
        if has_w:
            v *= w[i]
        if has_out:
            out[i] = v
        acc += v
    return acc


@njit(parallel=True, cache=True, fastmath={"reassoc"})  # reassociating the block sums lets them vectorise
def _forward(kind, x, y, w, pw, out, has_w, has_pw, has_out, beta):
    n = x.size
    blocks = (n + _BLOCK - 1) // _BLOCK
    partial = np.zeros(blocks)
    for b in prange(blocks):
        lo, hi = b * _BLOCK, min(n, (b + 1) * _BLOCK)
        xs, ys = x[lo:hi], y[lo:hi]
        ws = w[lo:hi] if has_w else w
        pws = pw[lo:hi] if has_pw else pw
        outs = out[lo:hi] if has_out else out
        if kind == 0:
            partial[b] = _block_sum(0, xs, ys, ws, pws, outs, has_w, has_pw, has_out, beta)
        elif kind == 1:
            partial[b] = _block_sum(1, xs, ys, ws, pws, outs, has_w, has_pw, has_out, beta)
        elif kind == 2:
            partial[b] = _block_sum(2, xs, ys, ws, pws, outs, has_w, has_pw, has_out, beta)
        elif kind == 3:
            partial[b] = _block_sum(3, xs, ys, ws, pws, outs, has_w, has_pw, has_out, beta)
        else:
            partial[b] = _block_sum(4, xs, ys, ws, pws, outs, has_w, has_pw, has_out, beta)
    total = 0.0
    for b in range(blocks):
        total += partial[b]
    return total


@njit(cache=True, inline="always")
def _block_grad(kind, x, y, w, pw, g, out, has_w, has_pw, has_g, scale, beta):
    for i in range(x.size):
        v = _slope(kind, x[i], y[i], pw[i] if has_pw else 1.0, beta)
        if has_w:
            v *= w[i]
        out[i] = v * (g[i] if has_g else scale)


@njit(parallel=True, cache=True)
def _backward(kind, x, y, w, pw, g, out, has_w, has_pw, has_g, scale, beta):
    n = x.size
    blocks = (n + _BLOCK - 1) // _BLOCK
    for b in prange(blocks):
        lo, hi = b * _BLOCK, min(n, (b + 1) * _BLOCK)
        xs, ys, outs = x[lo:hi], y[lo:hi], out[lo:hi]
        ws = w[lo:hi] if has_w else w
        pws = pw[lo:hi] if has_pw else pw
        gs = g[lo:hi] if has_g else g
        if kind == 0:
            _block_grad(0, xs, ys, ws, pws, gs, outs, has_w, has_pw, has_g, scale, beta)
        elif kind == 1:
            _block_grad(1, xs, ys, ws, pws, gs, outs, has_w, has_pw, has_g, scale, beta)
        elif kind == 2:
            _block_grad(2, xs, ys, ws, pws, gs, outs, has_w, has_pw, has_g, scale, beta)
        elif kind == 3:
            _block_grad(3, xs, ys, ws, pws, gs, outs, has_w, has_pw, has_g, scale, beta)
        else:
            _block_grad(4, xs, ys, ws, pws, gs, outs, has_w, has_pw, has_g, scale, beta)


@njit(parallel=True, cache=True)
def _nll_forward(x, target, w, out, has_w, has_out, ignore_index):
    outer, classes, inner = x.shape
    rows = outer * inner
    block = 4096
    blocks = (rows + block - 1) // block
    partial = np.zeros((blocks, 2))
    for b in prange(blocks):
        s = 0.0
        sw = 0.0
        for r in range(b * block, min(rows, (b + 1) * block)):
            t = target[r]
            v = 0.0
            if t != ignore_index:
                wt = w[t] if has_w else 1.0
                v = -wt * x[r // inner, t, r % inner]
                sw += wt
            if has_out:
                out[r] = v
            s += v
        partial[b, 0] = s
        partial[b, 1] = sw
    s = 0.0
    sw = 0.0
    for b in range(blocks):
        s += partial[b, 0]
        sw += partial[b, 1]
    return s, sw


@njit(parallel=True, cache=True)
def _nll_backward(target, w, g, out, has_w, has_g, scale, ignore_index):
    outer, classes, inner = out.shape
    for o in prange(outer):
        out[o] = 0.0
        for i in range(inner):
            r = o * inner + i
            t = target[r]
            if t != ignore_index:
                out[o, t, i] = -(w[t] if has_w else 1.0) * (g[r] if has_g else scale)


def _kind(kind: str) -> int:
    if kind not in KINDS:
        raise ValueError(f"loss: unknown loss {kind!r}; expected mse, l1, smooth_l1, bce or bce_with_logits")
    return KINDS[kind]


def _optional(op, a, name, shape, dtype, output=False) -> tuple[np.ndarray, bool]:
    """(flat array, present) for an optional argument; an empty placeholder when it is None."""
    if a is not None:
        check_array(op, name, a, shape, dtype, output)
        a = a.reshape(-1)
    return optional(a, dtype)


def _check_pair(op: str, k: int, x, y, pos_weight, beta: float) -> None:
    check_float(op, x, "x")
    check_array(op, "x", x, x.shape, x.dtype)
    check_array(op, "y", y, x.shape, x.dtype)
    if pos_weight is not None and k != KINDS["bce_with_logits"]:
        raise ValueError(f"{op}: pos_weight is only for binary_cross_entropy_with_logits")
    if k == KINDS["smooth_l1"] and not beta >= 0:
        raise ValueError(f"{op}: beta must be >= 0, got {beta}")


def loss_forward(kind: str, x: np.ndarray, y: np.ndarray, weight=None, pos_weight=None, out=None,
                 beta: float = 1.0) -> float:
    """Element-wise loss of C-contiguous x against y (same shape and dtype), times weight; writes the
    per-element losses to out when given; returns their sum (float64)."""
    op = "loss_forward"
    k = _kind(kind)
    _check_pair(op, k, x, y, pos_weight, beta)
    w, has_w = _optional(op, weight, "weight", x.shape, x.dtype)
    pw, has_pw = _optional(op, pos_weight, "pos_weight", x.shape, x.dtype)
    o, has_out = _optional(op, out, "out", x.shape, x.dtype, True)
    if x.size == 0:
        return 0.0
    if k == KINDS["smooth_l1"] and beta == 0:
        k = KINDS["l1"]
    if has_out and any(np.may_share_memory(out, a) for a in (x, y, weight, pos_weight) if a is not None):
        raise ValueError(f"{op}: the loss output overlaps an input")
    return float(_forward(k, x.reshape(-1), y.reshape(-1), w, pw, o, has_w, has_pw, has_out, float(beta)))


def loss_backward(kind: str, x: np.ndarray, y: np.ndarray, weight, pos_weight, grad, scale: float, out: np.ndarray,
                  beta: float = 1.0) -> None:
    """out = d loss / d x times grad (reduction 'none') or the scalar scale (grad None)."""
    op = "loss_backward"
    k = _kind(kind)
    _check_pair(op, k, x, y, pos_weight, beta)
    w, has_w = _optional(op, weight, "weight", x.shape, x.dtype)
    pw, has_pw = _optional(op, pos_weight, "pos_weight", x.shape, x.dtype)
    g, has_g = _optional(op, grad, "grad", x.shape, x.dtype)
    check_array(op, "out", out, x.shape, x.dtype, True)
    if x.size == 0:
        return
    if k == KINDS["smooth_l1"] and beta == 0:
        k = KINDS["l1"]
    if any(np.may_share_memory(out, a) for a in (x, y, weight, pos_weight) if a is not None):
        raise ValueError(f"{op}: grad_x overlaps an input")
    if has_g and out.ctypes.data != grad.ctypes.data and np.may_share_memory(out, grad):
        raise ValueError(f"{op}: grad_x overlaps an input")
    _backward(k, x.reshape(-1), y.reshape(-1), w, pw, g, out.reshape(-1), has_w, has_pw, has_g, float(scale),
              float(beta))


def _check_targets(op: str, target: np.ndarray, classes: int, ignore_index: int) -> None:
    bad = (target != ignore_index) & ((target < 0) | (target >= classes))
    if bad.any():
        r = int(np.argmax(bad))
        raise ValueError(f"{op}: target {int(target[r])} at position {r} is out of range for {classes} classes "
                         f"(expected 0 <= target < {classes} or ignore_index={ignore_index})")


def nll_loss_forward(x: np.ndarray, target: np.ndarray, weight=None, out=None, ignore_index: int = -100) -> tuple:
    """-weight[t] x[o, t, i] for x (outer, classes, inner) and int64 targets (outer * inner,), into out when
    given; returns (sum of losses, sum of weight[t] over non-ignored targets)."""
    op = "nll_loss"
    outer, classes, inner = dims(op, x, "x", 3, "(outer, classes, inner)")
    check_float(op, x, "x")
    check_array(op, "x", x, x.shape, x.dtype)
    check_array(op, "target", target, (outer * inner,), np.int64)
    w, has_w = _optional(op, weight, "weight", (classes,), x.dtype)
    o, has_out = _optional(op, out, "out", (outer * inner,), x.dtype, True)
    _check_targets(op, target, classes, int(ignore_index))
    if outer * inner == 0:
        return 0.0, 0.0
    s, sw = _nll_forward(x, target, w, o, has_w, has_out, int(ignore_index))
    return float(s), float(sw)


def nll_loss_backward(target: np.ndarray, weight, grad, scale: float, out: np.ndarray,
                      ignore_index: int = -100) -> None:
    """out (outer, classes, inner) = 0, then out[o, t, i] = -weight[t] * (grad[r] or scale)."""
    op = "nll_loss_backward"
    outer, classes, inner = dims(op, out, "out", 3, "(outer, classes, inner)")
    check_float(op, out, "out")
    check_array(op, "out", out, out.shape, out.dtype, True)
    check_array(op, "target", target, (outer * inner,), np.int64)
    w, has_w = _optional(op, weight, "weight", (classes,), out.dtype)
    g, has_g = _optional(op, grad, "grad", (outer * inner,), out.dtype)
    _check_targets(op, target, classes, int(ignore_index))
    if out.size == 0:
        return
    _nll_backward(target, w, g, out, has_w, has_g, float(scale), int(ignore_index))
