"""softmax / log_softmax along any axis and the fused softmax cross-entropy, on NumPy arrays."""
from __future__ import annotations

import math
import operator

import numpy as np

from .. import backend
from .activation import _float_contiguous
from .checks import as_numeric_array, class_weight

__all__ = ["softmax", "log_softmax", "softmax_backward", "cross_entropy", "cross_entropy_rows",
           "cross_entropy_rows_backward", "ce_layout", "ce_divisor", "check_reduction"]

REDUCTIONS = ("mean", "sum", "none")


def _axis(op: str, axis, ndim: int) -> int:
    try:
        a = operator.index(axis)
    except TypeError:
        raise TypeError(f"{op}: axis must be an int, got {axis!r}") from None
    if not -max(ndim, 1) <= a < max(ndim, 1):
        raise np.exceptions.AxisError(f"{op}: axis {a} is out of range for {ndim} dimensions")
    return a % max(ndim, 1)


def _to_rows(x: np.ndarray, axis: int) -> np.ndarray:
    """``x`` with ``axis`` last, as a C-contiguous (rows, n) array (a view when ``axis`` is already last)."""
    if x.ndim == 0:
        return x.reshape(1, 1)
    moved = np.moveaxis(x, axis, -1)
    return np.ascontiguousarray(moved).reshape(x.size // max(x.shape[axis], 1), x.shape[axis])


def _around(x: np.ndarray, axis: int) -> np.ndarray:
    """A contiguous ``x`` viewed as (outer, dim, inner) around ``axis`` (no copy); (rows, dim) when ``axis`` is last."""
    shape = x.shape or (1,)
    outer = math.prod(shape[:axis])
    inner = math.prod(shape[axis + 1:])
    return x.reshape((outer, shape[axis]) if inner == 1 else (outer, shape[axis], inner))


def _softmax(op: str, x, axis, log: bool) -> np.ndarray:
    xa = _float_contiguous(op, x)
    a = _axis(op, axis, xa.ndim)
    out = np.empty_like(xa)
    backend.kernel("softmax_forward")(_around(xa, a), _around(out, a), log)
    return out


def softmax(x, axis: int = -1) -> np.ndarray:
    """``exp(x) / sum(exp(x))`` along ``axis``, shifted by the maximum (stable for huge and -inf logits;
    a slice of all -inf gives NaN, as in PyTorch)."""
    return _softmax("softmax", x, axis, False)


def log_softmax(x, axis: int = -1) -> np.ndarray:
    """``x - logsumexp(x)`` along ``axis``."""
    return _softmax("log_softmax", x, axis, True)


def softmax_backward(grad, y, axis: int = -1, log: bool = False) -> np.ndarray:
    """Gradient of (log_)softmax along ``axis`` from the upstream ``grad`` and the forward's output ``y``."""
    op = "log_softmax_backward" if log else "softmax_backward"
    ya = _float_contiguous(op, y, "y")
    ga = np.asarray(grad)
    if ga.shape != ya.shape:
        raise ValueError(f"{op}: grad of shape {ga.shape} does not match y of shape {ya.shape}")
    ga = _float_contiguous(op, ga, "grad", ya.dtype)
    a = _axis(op, axis, ya.ndim)
    out = np.empty_like(ya)
    backend.kernel("softmax_backward")(_around(ga, a), _around(ya, a), _around(out, a), log)
    return out


def ce_layout(logits, target) -> tuple[np.ndarray, np.ndarray, tuple]:
    """logits (N, C, d1...) or (C,) and targets (N, d1...) or () -> (rows (M, C), targets (M,), target shape)."""
    x = _float_contiguous("cross_entropy", logits, "logits")
    t = np.asarray(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: target must hold integer class indices, got dtype {t.dtype} "
                        f"(shape {t.shape})")
    if x.ndim == 0:
        raise ValueError("cross_entropy: logits must have at least 1 dimension (classes), got a scalar")
    expected = x.shape[:1] + x.shape[2:] if x.ndim > 1 else ()
    if t.shape != expected:
        raise ValueError(f"cross_entropy: logits of shape {x.shape} expect target of shape {expected}, "
                         f"got {t.shape}")
    rows = _to_rows(x, 1 if x.ndim > 1 else 0)
    return rows, np.ascontiguousarray(t.reshape(-1), dtype=np.int64), t.shape


def cross_entropy_rows(rows: np.ndarray, target: np.ndarray, label_smoothing: float = 0.0,
                       ignore_index: int = -100, weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-row losses and logsumexps of C-contiguous logits (M, C) against int64 targets (M,), with optional
    class weights (C,) of the logits' dtype (PyTorch's rule, label smoothing included)."""
    loss = np.empty(rows.shape[0], rows.dtype)
    lse = np.empty(rows.shape[0], rows.dtype)
    backend.kernel("cross_entropy_forward")(rows, target, loss, lse, float(label_smoothing), int(ignore_index),
                                            weight)
    return loss, lse


def cross_entropy_rows_backward(rows: np.ndarray, target: np.ndarray, lse: np.ndarray, grad_loss: np.ndarray,
                                label_smoothing: float = 0.0, ignore_index: int = -100,
                                weight: np.ndarray | None = None) -> np.ndarray:
    """Gradient (M, C) of the per-row losses, each row scaled by ``grad_loss`` (M,)."""
    out = np.empty_like(rows)
    backend.kernel("cross_entropy_backward")(rows, target, lse, np.ascontiguousarray(grad_loss, rows.dtype), out,
                                             float(label_smoothing), int(ignore_index), weight)
    return out


def ce_divisor(target: np.ndarray, ignore_index: int, weight: np.ndarray | None) -> float:
    """The divisor of 'mean': the number of non-ignored targets, or the sum of their class weights."""
    keep = target != ignore_index
    if weight is None:
        return float(np.count_nonzero(keep))
    return float(weight[target[keep]].sum(dtype=np.float64))


def check_reduction(op: str, reduction: str) -> None:
    """ValueError unless ``reduction`` is mean, sum or none."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def cross_entropy(logits, target, weight=None, reduction: str = "mean", label_smoothing: float = 0.0,
                  ignore_index: int = -100) -> np.ndarray:
    """Softmax cross-entropy of logits (N, C, d1...) or (C,) against int64 class indices (N, d1...) or (),
    with optional per-class ``weight`` (C,).

    ``mean`` divides by the number of targets that are not ``ignore_index`` (by the sum of their weights when
    weighted; NaN when all are ignored), as PyTorch.
    """
    check_reduction("cross_entropy", reduction)
    rows, t, shape = ce_layout(logits, target)
    w = class_weight("cross_entropy", weight, rows.shape[1], rows.dtype)
    loss, _ = cross_entropy_rows(rows, t, label_smoothing, ignore_index, w)
    if reduction == "none":
        return loss.reshape(shape)
    total = loss.sum(dtype=np.float64)
    if reduction == "sum":
        return np.asarray(total, rows.dtype)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(total / np.float64(ce_divisor(t, ignore_index, w)), rows.dtype)
