"""Losses as differentiable ops: the fused softmax cross-entropy, the NLL gather and the element-wise losses
(mse, l1, smooth_l1, binary cross-entropy with and without logits), each one kernel forward and one backward,
with PyTorch's reductions and per-class weights."""
from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ..kernels.checks import class_weight
from ..kernels.loss import (LOSSES, loss_backward, loss_forward, loss_operands, nll_backward, nll_forward,
                            nll_layout)
from ..kernels.softmax import ce_divisor, ce_layout, check_reduction, cross_entropy_rows, cross_entropy_rows_backward
from .core import Tensor, need, result, tensor_arg, unbroadcast, xp

__all__ = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits"]


def _data(a: Any) -> Any:
    return a.data if isinstance(a, Tensor) else a


def _classes_last(grad_rows: np.ndarray, xshape: tuple) -> np.ndarray:
    """Rows (M, C) with the class axis last back to the input layout (N, C, d1...) or (C,)."""
    if len(xshape) == 1:
        return grad_rows.reshape(xshape)
    moved = xshape[:1] + xshape[2:] + xshape[1:2]
    return np.moveaxis(grad_rows.reshape(moved), -1, 1)


def cross_entropy(logits: Any, target: Any, weight: Any = None, reduction: str = "mean",
                  label_smoothing: float = 0.0, ignore_index: int = -100) -> Tensor:
    """Softmax cross-entropy of logits (N, C, d1...) or (C,) against int64 class indices (N, d1...) or (),
    with optional per-class ``weight`` (C,) (PyTorch's semantics, label smoothing included).

    One fused kernel computes each row's log-sum-exp and weighted loss; the backward recomputes the softmax
    from the saved log-sum-exp (no (N, C) probabilities kept). ``mean`` divides by the number of non-ignored
    targets, or by the sum of their weights when weighted.
    """
    check_reduction("cross_entropy", reduction)
    tx = tensor_arg(logits, "cross_entropy")
    rows, tr, shape = ce_layout(tx.data, _data(target))
    w = class_weight("cross_entropy", _data(weight), rows.shape[1], rows.dtype)
    loss, lse = cross_entropy_rows(rows, tr, label_smoothing, ignore_index, w)
    divisor = ce_divisor(tr, ignore_index, w) if reduction == "mean" else 1.0
    if reduction == "none":
        out = loss.reshape(shape)
    elif reduction == "sum":
        out = xp.asarray(loss.sum(dtype=np.float64), rows.dtype)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):  # nothing counted: NaN, as in PyTorch
            out = xp.asarray(loss.sum(dtype=np.float64) / np.float64(divisor), rows.dtype)
    xshape = tx.data.shape

    def backward(g):
        if reduction == "none":
            per_row = np.asarray(g, rows.dtype).reshape(-1)
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                scale = g if reduction == "sum" else np.float64(g) / np.float64(divisor)
            per_row = np.full(rows.shape[0], scale, rows.dtype)
        grad_rows = cross_entropy_rows_backward(rows, tr, lse, per_row, label_smoothing, ignore_index, w)
        return (_classes_last(grad_rows, xshape),)

    return result(out, backward, tx)


def nll_loss(log_probs: Any, target: Any, weight: Any = None, reduction: str = "mean",
             ignore_index: int = -100) -> Tensor:
    """``-weight[t] * log_probs[n, t, ...]`` for input (N, C, d1...) or (C,) and class indices (N, d1...) or ();
    ``mean`` divides by the summed weights of the non-ignored targets (their count without weights)."""
    check_reduction("nll_loss", reduction)
    tx = tensor_arg(log_probs, "nll_loss")
    x3, t, shape = nll_layout("nll_loss", tx.data, _data(target))
    w = class_weight("nll_loss", _data(weight), x3.shape[1], x3.dtype)
    loss, divisor = nll_forward(x3, t, w, reduction, ignore_index)
    out = loss.reshape(shape) if reduction == "none" else loss
    xshape = tx.data.shape

    def backward(g):
        return (nll_backward(x3.shape, t, w, g, reduction, divisor, x3.dtype, ignore_index).reshape(xshape),)

    return result(out, backward, tx)


def _per_element(g: Any, reduction: str, shape: tuple, dtype) -> np.ndarray:
    """The upstream gradient of each element of the unreduced loss."""
    if reduction == "none":
        return np.asarray(g, dtype)
    n = math.prod(shape)
    scale = np.asarray(g, np.float64) / n if reduction == "mean" and n else (np.nan if reduction == "mean" else g)
    return np.broadcast_to(np.asarray(scale, dtype), shape)


def _elementwise(kind: str, input: Any, target: Any, reduction: str, weight: Any = None, pos_weight: Any = None,
                 beta: float = 1.0, target_grad=None) -> Tensor:
    """One loss kernel forward, one backward for the input; ``target_grad(x, y, w, pw)`` gives the target's
    gradient per unit upstream gradient (None: minus the input's, for the difference losses)."""
    op = LOSSES[kind]
    check_reduction(op, reduction)
    ti, tt = tensor_arg(input, op), tensor_arg(target, op)
    if kind in ("bce", "bce_with_logits") and ti.data.shape != tt.data.shape:  # PyTorch rejects, not broadcasts
        raise ValueError(f"{op}: target of shape {tt.data.shape} must have the shape of input {ti.data.shape}")
    x, y, w, pw = loss_operands(kind, ti.data, tt.data, _data(weight), _data(pos_weight))
    if kind in ("mse", "l1", "smooth_l1") and ti.data.shape != tt.data.shape:
        warnings.warn(f"{op}: target of shape {tt.data.shape} differs from input of shape {ti.data.shape}; they are "
                      "broadcast, which is likely not intended (PyTorch warns the same)", UserWarning, stacklevel=3)
    out = loss_forward(kind, x, y, w, pw, reduction, beta)
    xshape, yshape = ti.data.shape, tt.data.shape

    def backward(g):
        gx = loss_backward(kind, x, y, w, pw, g, reduction, beta) if need(ti) or target_grad is None else None
        gy = None
        if need(tt):
            if target_grad is None:
                gy = unbroadcast(-gx, yshape)
            else:
                with np.errstate(all="ignore"):
                    gy = unbroadcast((_per_element(g, reduction, x.shape, x.dtype) * target_grad(x, y, w, pw))
                                     .astype(x.dtype, copy=False), yshape)
        return (unbroadcast(gx, xshape) if need(ti) else None, gy)

    return result(out, backward, ti, tt)


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """``(input - target) ** 2``, reduced."""
    return _elementwise("mse", input, target, reduction)


def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """``|input - target|``, reduced (gradient 0 where they are equal, and at NaN, as PyTorch)."""
    return _elementwise("l1", input, target, reduction)


def smooth_l1_loss(input: Any, target: Any, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """Huber-like loss: ``0.5 d^2 / beta`` where ``|d| < beta``, ``|d| - beta / 2`` elsewhere (beta=0: l1)."""
    if not beta >= 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    return _elementwise("smooth_l1", input, target, reduction, beta=float(beta))


def _weighted(w: np.ndarray | None, v: np.ndarray) -> np.ndarray:
    return v if w is None else v * w


def binary_cross_entropy(input: Any, target: Any, weight: Any = None, reduction: str = "mean") -> Tensor:
    """``-w (y log x + (1 - y) log(1 - x))`` of probabilities ``x``; each log clamped at -100 as PyTorch."""
    ti = tensor_arg(input, "binary_cross_entropy")
    d = ti.data
    if d.size and not np.all((d >= 0) & (d <= 1)):  # NaN fails too, as in PyTorch
        raise ValueError(f"binary_cross_entropy: input (shape {d.shape}) must hold probabilities in [0, 1]")

    def target_grad(x, y, w, pw):  # unclamped, as PyTorch
        return _weighted(w, np.log1p(-x) - np.log(x))

    return _elementwise("bce", ti, target, reduction, weight=weight, target_grad=target_grad)


def binary_cross_entropy_with_logits(input: Any, target: Any, weight: Any = None, reduction: str = "mean",
                                     pos_weight: Any = None) -> Tensor:
    """``binary_cross_entropy(sigmoid(x), y)`` computed stably from logits; ``pos_weight`` scales the positive
    term, ``weight`` each element (both broadcast against the loss, as PyTorch)."""
    def target_grad(x, y, w, pw):
        if pw is None:
            return _weighted(w, -x)
        softplus_neg = np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0)  # log(1 + e^-x) without overflow
        return _weighted(w, -x + (pw - 1) * softplus_neg)

    return _elementwise("bce_with_logits", input, target, reduction, weight=weight, pos_weight=pos_weight,
                        target_grad=target_grad)
