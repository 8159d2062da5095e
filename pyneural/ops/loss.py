"""Losses as differentiable ops: the fused softmax cross-entropy kernel, and the element-wise losses
(nll, mse, l1, smooth_l1, binary cross-entropy with and without logits) with PyTorch's reductions."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..kernels.softmax import ce_layout, check_reduction, cross_entropy_rows, cross_entropy_rows_backward
from .core import Tensor, floating, need, result, tensor_arg, unbroadcast, xp

__all__ = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits"]


def _reduce(loss: np.ndarray, reduction: str, dtype) -> tuple[np.ndarray, Any]:
    """The reduced loss and ``scale(g)`` giving the per-element upstream gradient."""
    if reduction == "none":
        return loss.astype(dtype, copy=False), lambda g: g
    if reduction == "sum":
        return xp.asarray(loss.sum(), dtype), lambda g: xp.broadcast_to(g, loss.shape)
    n = loss.size
    with np.errstate(invalid="ignore", divide="ignore"):  # an empty mean is NaN, as in PyTorch
        value = xp.asarray(loss.sum() / n if n else np.nan, dtype)
    return value, lambda g: xp.broadcast_to(g / n, loss.shape)


def cross_entropy(logits: Any, target: Any, reduction: str = "mean", label_smoothing: float = 0.0,
                  ignore_index: int = -100) -> Tensor:
    """Softmax cross-entropy of logits (N, C, d1...) or (C,) against int64 class indices (N, d1...) or ().

    One fused kernel computes each row's log-sum-exp and loss; the backward recomputes the softmax from
    the saved log-sum-exp (no (N, C) probabilities kept). ``mean`` averages over the non-ignored targets.
    """
    check_reduction("cross_entropy", reduction)
    tx = tensor_arg(logits, "cross_entropy")
    t = target.data if isinstance(target, Tensor) else target
    rows, tr, shape = ce_layout(tx.data, t)
    loss, lse = cross_entropy_rows(rows, tr, label_smoothing, ignore_index)
    count = np.count_nonzero(tr != ignore_index)
    if reduction == "none":
        out = loss.reshape(shape)
    elif reduction == "sum":
        out = xp.asarray(loss.sum(dtype=np.float64), rows.dtype)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):  # all ignored: NaN, as in PyTorch
            out = xp.asarray(loss.sum(dtype=np.float64) / count, rows.dtype)
    xshape = tx.data.shape

    def backward(g):
        if reduction == "none":
            per_row = np.asarray(g, rows.dtype).reshape(-1)
        else:
            scale = g if reduction == "sum" else g / count if count else g * np.nan
            per_row = np.full(rows.shape[0], scale, rows.dtype)
        grad_rows = cross_entropy_rows_backward(rows, tr, lse, per_row, label_smoothing, ignore_index)
        if len(xshape) == 1:
            return (grad_rows.reshape(xshape),)
        moved = xshape[:1] + xshape[2:] + xshape[1:2]
        return (np.moveaxis(grad_rows.reshape(moved), -1, 1),)

    return result(out, backward, tx)


def nll_loss(log_probs: Any, target: Any, reduction: str = "mean", ignore_index: int = -100) -> Tensor:
    """``-log_probs[n, target[n]]`` for input (N, C, d1...) or (C,); mean over the non-ignored targets."""
    check_reduction("nll_loss", reduction)
    tx = tensor_arg(log_probs, "nll_loss")
    t = target.data if isinstance(target, Tensor) else target
    rows, tr, shape = ce_layout(tx.data, t)
    classes = rows.shape[1]
    keep = tr != ignore_index
    bad = keep & ((tr < 0) | (tr >= classes))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"nll_loss: target {int(tr[i])} at position {i} is out of range for {classes} classes "
                         f"(expected 0 <= target < {classes} or ignore_index={ignore_index})")
    safe = np.where(keep, tr, 0)
    picked = rows[np.arange(rows.shape[0]), safe]
    loss = np.where(keep, -picked, 0).astype(rows.dtype)
    count = np.count_nonzero(keep)
    if reduction == "none":
        out = loss.reshape(shape)
    elif reduction == "sum":
        out = xp.asarray(loss.sum(), rows.dtype)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            out = xp.asarray(loss.sum() / count, rows.dtype)
    xshape = tx.data.shape

    def backward(g):
        if reduction == "none":
            w = np.asarray(g, rows.dtype).reshape(-1)
        else:
            w = np.full(rows.shape[0], g if reduction == "sum" else (g / count if count else np.nan), rows.dtype)
        grad_rows = np.zeros_like(rows)
        grad_rows[np.arange(rows.shape[0]), safe] = np.where(keep, -w, 0)
        if len(xshape) == 1:
            return (grad_rows.reshape(xshape),)
        return (np.moveaxis(grad_rows.reshape(xshape[:1] + xshape[2:] + xshape[1:2]), -1, 1),)

    return result(out, backward, tx)


def _pair(op: str, input: Any, target: Any) -> tuple:
    """Input and target tensors as float arrays of one dtype; their shapes must broadcast."""
    ti, tt = tensor_arg(input, op), tensor_arg(target, op)
    x, y = floating(ti.data), floating(tt.data)
    dtype = np.result_type(x.dtype, y.dtype)
    x, y = x.astype(dtype, copy=False), y.astype(dtype, copy=False)
    try:
        np.broadcast_shapes(x.shape, y.shape)
    except ValueError:
        raise ValueError(f"{op}: input of shape {x.shape} and target of shape {y.shape} cannot be broadcast") from None
    return ti, tt, x, y, dtype


def _elementwise_loss(op: str, input: Any, target: Any, reduction: str, fn) -> Tensor:
    """``fn(x, y) -> (loss, dloss/dx, dloss/dy)`` reduced as PyTorch; gradients un-broadcast to each operand."""
    check_reduction(op, reduction)
    ti, tt, x, y, dtype = _pair(op, input, target)
    with np.errstate(all="ignore"):
        loss, dx, dy = fn(x, y)
    out, scale = _reduce(loss, reduction, dtype)

    def backward(g):
        gs = scale(g)
        return (unbroadcast((gs * dx).astype(dtype, copy=False), x.shape) if need(ti) else None,
                unbroadcast((gs * dy).astype(dtype, copy=False), y.shape) if need(tt) else None)

    return result(out, backward, ti, tt)


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """``(input - target) ** 2``, reduced."""
    def fn(x, y):
        d = x - y
        return d * d, 2 * d, -2 * d
    return _elementwise_loss("mse_loss", input, target, reduction, fn)


def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """``|input - target|``, reduced (gradient 0 where they are equal, as PyTorch)."""
    def fn(x, y):
        d = x - y
        s = np.sign(d)
        return np.abs(d), s, -s
    return _elementwise_loss("l1_loss", input, target, reduction, fn)


def smooth_l1_loss(input: Any, target: Any, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """Huber-like loss: ``0.5 d^2 / beta`` where ``|d| < beta``, ``|d| - beta / 2`` elsewhere (beta=0: l1)."""
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")

    def fn(x, y):
        d = x - y
        a = np.abs(d)
        if beta == 0:
            return a, np.sign(d), -np.sign(d)
        small = a < beta
        loss = np.where(small, 0.5 * d * d / beta, a - 0.5 * beta)
        grad = np.where(small, d / beta, np.sign(d))
        return loss, grad, -grad
    return _elementwise_loss("smooth_l1_loss", input, target, reduction, fn)


def _weighted(op: str, loss_fn, input, target, weight, reduction):
    if weight is None:
        return _elementwise_loss(op, input, target, reduction, loss_fn)
    tw = tensor_arg(weight, op)
    w = floating(tw.data)

    def fn(x, y):
        loss, dx, dy = loss_fn(x, y)
        return loss * w, dx * w, dy * w
    return _elementwise_loss(op, input, target, reduction, fn)


def binary_cross_entropy(input: Any, target: Any, weight: Any = None, reduction: str = "mean") -> Tensor:
    """``-(y log x + (1 - y) log(1 - x))`` of probabilities ``x``; each log clamped at -100 as PyTorch."""
    ti = tensor_arg(input, "binary_cross_entropy")
    d = ti.data
    if d.size and (np.nanmin(d) < 0 or np.nanmax(d) > 1):
        raise ValueError(f"binary_cross_entropy: input (shape {d.shape}) must hold probabilities in [0, 1]")

    def fn(x, y):
        log_x = np.maximum(np.log(x), -100)
        log_1mx = np.maximum(np.log1p(-x), -100)
        loss = -(y * log_x + (1 - y) * log_1mx)
        dx = (x - y) / np.maximum((1 - x) * x, float(np.float32(1e-12)))  # PyTorch's EPSILON (a float32)
        return loss, dx, np.log1p(-x) - np.log(x)  # target gradient unclamped, as PyTorch
    return _weighted("binary_cross_entropy", fn, ti, target, weight, reduction)


def binary_cross_entropy_with_logits(input: Any, target: Any, weight: Any = None, reduction: str = "mean",
                                     pos_weight: Any = None) -> Tensor:
    """``binary_cross_entropy(sigmoid(x), y)`` computed stably from logits; ``pos_weight`` scales positives."""
    pw = None if pos_weight is None else floating(tensor_arg(pos_weight, "binary_cross_entropy_with_logits").data)

    def fn(x, y):
        softplus_neg = np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0)  # log(1 + e^-x) without overflow
        e = np.exp(-np.abs(x))
        sig = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
        if pw is None:
            return (1 - y) * x + softplus_neg, sig - y, -x
        lw = 1 + (pw - 1) * y
        return (1 - y) * x + lw * softplus_neg, (1 - y) - lw * (1 - sig), -x + (pw - 1) * softplus_neg
    return _weighted("binary_cross_entropy_with_logits", fn, input, target, weight, reduction)
