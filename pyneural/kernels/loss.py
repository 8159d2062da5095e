"""Element-wise losses (mse, l1, smooth_l1, binary cross-entropy with and without logits) and the negative
log-likelihood gather, on NumPy arrays through the active backend.

The kernels take C-contiguous operands of one shape and dtype: a target, weight or pos_weight that only
broadcasts to the input is materialised at the broadcast shape first. ``mean`` and ``sum`` come straight from
the kernel's float64 sum (the per-element array is never built).
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from .checks import as_numeric_array, class_weight, float_dtype
from .softmax import check_reduction

__all__ = ["LOSSES", "loss_operands", "loss_forward", "loss_backward", "elementwise_loss",
           "elementwise_loss_backward", "nll_layout", "nll_forward", "nll_backward", "nll_loss"]

# kernel kind -> the op name used in error messages
LOSSES = {"mse": "mse_loss", "l1": "l1_loss", "smooth_l1": "smooth_l1_loss", "bce": "binary_cross_entropy",
          "bce_with_logits": "binary_cross_entropy_with_logits"}


def _kind(kind: str) -> str:
    if kind not in LOSSES:
        raise ValueError(f"loss: unknown loss {kind!r}; expected one of {tuple(LOSSES)}")
    return LOSSES[kind]


def loss_operands(kind: str, input, target, weight=None, pos_weight=None) -> tuple:
    """``(x, y, w, pw)``: C-contiguous arrays of the broadcast shape of input and target and one float dtype
    (w, pw None when not given). Broadcast operands are materialised; matching ones are used as they are."""
    op = _kind(kind)
    x, y = as_numeric_array(op, input, "input"), as_numeric_array(op, target, "target")
    try:
        shape = np.broadcast_shapes(x.shape, y.shape)
    except ValueError:
        raise ValueError(f"{op}: input of shape {x.shape} and target of shape {y.shape} cannot be broadcast") from None
    extra = {}
    for name, a in (("weight", weight), ("pos_weight", pos_weight)):
        if a is not None:
            a = as_numeric_array(op, a, name)
            try:
                if np.broadcast_shapes(a.shape, shape) != shape:
                    raise ValueError
            except ValueError:
                raise ValueError(f"{op}: {name} of shape {a.shape} cannot be broadcast to the loss shape "
                                 f"{shape} (input {x.shape}, target {y.shape})") from None
            extra[name] = a
    dtype = float_dtype(x, y)

    def full(a: np.ndarray) -> np.ndarray:
        if a.shape != shape:
            a = np.broadcast_to(a, shape)
        return np.asarray(a, dtype=dtype, order="C")  # keeps 0-d arrays 0-d (ascontiguousarray would not)

    w, pw = extra.get("weight"), extra.get("pos_weight")
    return full(x), full(y), None if w is None else full(w), None if pw is None else full(pw)


def loss_forward(kind: str, x: np.ndarray, y: np.ndarray, w, pw, reduction: str, beta: float = 1.0) -> np.ndarray:
    """The loss of prepared operands (:func:`loss_operands`): per element ('none') or reduced (0-d)."""
    check_reduction(_kind(kind), reduction)
    fn = backend.kernel("loss_forward")
    if reduction == "none":
        out = np.empty_like(x)
        fn(kind, x, y, w, pw, out, float(beta))
        return out
    total = fn(kind, x, y, w, pw, None, float(beta))
    if reduction == "sum":
        return np.asarray(total, x.dtype)
    return np.asarray(total / x.size if x.size else math.nan, x.dtype)  # an empty mean is NaN, as PyTorch


def loss_backward(kind: str, x: np.ndarray, y: np.ndarray, w, pw, grad, reduction: str,
                  beta: float = 1.0) -> np.ndarray:
    """d loss / d x of prepared operands, given the upstream gradient of the result of :func:`loss_forward`
    (a scalar for 'mean'/'sum', an array of x's shape for 'none')."""
    op = _kind(kind)
    check_reduction(op, reduction)
    out = np.empty_like(x)
    if reduction == "none":
        g = np.asarray(grad)
        if g.shape != x.shape:
            raise ValueError(f"{op}: grad of shape {g.shape} does not match the loss of shape {x.shape}")
        backend.kernel("loss_backward")(kind, x, y, w, pw, np.asarray(g, x.dtype, order="C"), 0.0, out, float(beta))
        return out
    g = float(np.asarray(grad).reshape(()))
    scale = g if reduction == "sum" else (g / x.size if x.size else math.nan)
    backend.kernel("loss_backward")(kind, x, y, w, pw, None, scale, out, float(beta))
    return out


def elementwise_loss(kind: str, input, target, weight=None, pos_weight=None, reduction: str = "mean",
                     beta: float = 1.0) -> np.ndarray:
    """``kind`` in mse, l1, smooth_l1 (``beta``), bce, bce_with_logits (``pos_weight``) of input against target,
    times ``weight``, reduced as PyTorch (an empty mean is NaN)."""
    x, y, w, pw = loss_operands(kind, input, target, weight, pos_weight)
    return loss_forward(kind, x, y, w, pw, reduction, beta)


def elementwise_loss_backward(kind: str, input, target, grad, weight=None, pos_weight=None, reduction: str = "mean",
                              beta: float = 1.0) -> np.ndarray:
    """Gradient of :func:`elementwise_loss` for ``input``, at the broadcast shape of input and target."""
    x, y, w, pw = loss_operands(kind, input, target, weight, pos_weight)
    return loss_backward(kind, x, y, w, pw, grad, reduction, beta)


# ---- negative log-likelihood ----

def nll_layout(op: str, log_probs, target) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Input (N, C, d1...) or (C,) and integer targets (N, d1...) or () -> (x (outer, C, inner), a C-contiguous
    view when the input is; int64 targets (outer * inner,); target shape)."""
    x = as_numeric_array(op, log_probs, "input")
    if x.dtype.kind != "f" or x.dtype.itemsize < 4:
        x = x.astype(float_dtype(x))
    t = np.asarray(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices, got dtype {t.dtype} (shape {t.shape})")
    if x.ndim == 0:
        raise ValueError(f"{op}: input must have at least 1 dimension (classes), got a scalar")
    expected = x.shape[:1] + x.shape[2:] if x.ndim > 1 else ()
    if t.shape != expected:
        raise ValueError(f"{op}: input of shape {x.shape} expects target of shape {expected}, got {t.shape}")
    outer = x.shape[0] if x.ndim > 1 else 1
    classes = x.shape[1] if x.ndim > 1 else x.shape[0]
    inner = math.prod(x.shape[2:])
    x3 = np.ascontiguousarray(x).reshape(outer, classes, inner)
    return x3, np.ascontiguousarray(t.reshape(-1), dtype=np.int64), t.shape


def nll_forward(x3: np.ndarray, t: np.ndarray, w, reduction: str, ignore_index: int = -100) -> tuple:
    """(loss, divisor): the loss per position ('none', shape (outer * inner,)) or reduced (0-d), and the sum of
    the weights of the non-ignored targets (the divisor of 'mean')."""
    check_reduction("nll_loss", reduction)
    out = np.empty(t.shape[0], x3.dtype) if reduction == "none" else None
    total, divisor = backend.kernel("nll_loss_forward")(x3, t, w, out, int(ignore_index))
    if reduction == "none":
        return out, divisor
    if reduction == "sum":
        return np.asarray(total, x3.dtype), divisor
    with np.errstate(invalid="ignore", divide="ignore"):  # no target counted: NaN, as PyTorch
        return np.asarray(np.float64(total) / np.float64(divisor), x3.dtype), divisor


def nll_backward(shape3: tuple, t: np.ndarray, w, grad, reduction: str, divisor: float, dtype,
                 ignore_index: int = -100) -> np.ndarray:
    """Gradient (outer, C, inner) of :func:`nll_forward` given the upstream gradient of its loss."""
    out = np.empty(shape3, dtype)
    if reduction == "none":
        g = np.ascontiguousarray(np.asarray(grad, dtype).reshape(-1))
        backend.kernel("nll_loss_backward")(t, w, g, 0.0, out, int(ignore_index))
    else:
        g = float(np.asarray(grad).reshape(()))
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = g if reduction == "sum" else float(np.float64(g) / np.float64(divisor))
        backend.kernel("nll_loss_backward")(t, w, None, scale, out, int(ignore_index))
    return out


def nll_loss(log_probs, target, weight=None, reduction: str = "mean", ignore_index: int = -100) -> np.ndarray:
    """``-weight[t] * log_probs[n, t, ...]`` for input (N, C, d1...) or (C,) and class indices (N, d1...);
    'mean' divides by the summed weights of the non-ignored targets, as PyTorch."""
    x3, t, shape = nll_layout("nll_loss", log_probs, target)
    loss, _ = nll_forward(x3, t, class_weight("nll_loss", weight, x3.shape[1], x3.dtype), reduction, ignore_index)
    return loss.reshape(shape) if reduction == "none" else loss
