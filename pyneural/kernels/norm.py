"""Normalisation kernels on NumPy arrays: ``layer_norm`` and ``batch_norm`` (forward and backward).

The wrappers check shapes and dtypes, reduce the input to the kernels' contiguous layouts (rows x dim
for layer_norm, (batch, channels, length) for batch_norm) and call the active backend. The
``*_forward`` functions also return the statistics their ``*_backward`` needs.
"""
from __future__ import annotations

import math
import operator
from typing import Sequence

import numpy as np

from .. import backend
from .. import dtypes as _dt
from .checks import FLOATS as _FLOATS
from .checks import as_numeric_array

__all__ = ["layer_norm", "layer_norm_forward", "layer_norm_backward", "batch_norm", "batch_norm_forward",
           "batch_norm_backward"]


def _float_input(op: str, x) -> np.ndarray:
    x = as_numeric_array(op, x, "x")
    return x if x.dtype in _FLOATS else x.astype(_dt.default_float)


def _param(op: str, name: str, a, shape: tuple, dtype: np.dtype, context: str) -> np.ndarray | None:
    """An optional per-feature array of the given shape, contiguous, in the input's dtype."""
    if a is None:
        return None
    a = as_numeric_array(op, a, name)
    if a.shape != shape:
        raise ValueError(f"{op}: {name} has shape {a.shape}; expected {shape} for {context}")
    return np.ascontiguousarray(a, dtype=dtype)


def _check_eps(op: str, eps) -> float:
    eps = float(eps)
    if not (np.isfinite(eps) and eps >= 0):
        raise ValueError(f"{op}: eps must be finite and >= 0, got {eps}")
    return eps


# ------------------------------------------------------------------------------------------ layer_norm

def _normalized_shape(op: str, normalized_shape, x_shape: tuple) -> tuple:
    if isinstance(normalized_shape, (int, np.integer)):
        normalized_shape = (normalized_shape,)
    try:
        shape = tuple(operator.index(s) for s in normalized_shape)
    except TypeError:
        raise TypeError(f"{op}: normalized_shape must be an int or a sequence of ints, got {normalized_shape!r}") \
            from None
    if not shape or len(shape) > len(x_shape) or x_shape[len(x_shape) - len(shape):] != shape:
        raise ValueError(f"{op}: normalized_shape {shape} does not match the trailing dimensions of "
                         f"input of shape {x_shape}")
    return shape


def layer_norm_forward(x, normalized_shape: int | Sequence[int], weight=None, bias=None,
                       eps: float = 1e-5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``layer_norm`` that also returns the per-row ``mean`` and ``rstd`` (shape ``x.shape[:-k]``) for backward."""
    op = "layer_norm"
    x = _float_input(op, x)
    shape = _normalized_shape(op, normalized_shape, x.shape)
    eps = _check_eps(op, eps)
    lead = x.shape[:x.ndim - len(shape)]
    dim = math.prod(shape)
    if dim == 0:
        raise ValueError(f"{op}: normalized_shape {shape} has no elements (input shape {x.shape})")
    context = f"normalized_shape {shape}"
    w = _param(op, "weight", weight, shape, x.dtype, context)
    b = _param(op, "bias", bias, shape, x.dtype, context)
    rows = math.prod(lead)
    x2 = np.ascontiguousarray(x).reshape(rows, dim)
    out = np.empty((rows, dim), x.dtype)
    mean = np.empty(rows, x.dtype)
    rstd = np.empty(rows, x.dtype)
    backend.kernel("layer_norm_forward")(x2, None if w is None else w.reshape(dim),
                                         None if b is None else b.reshape(dim), eps, out, mean, rstd)
    return out.reshape(x.shape), mean.reshape(lead), rstd.reshape(lead)


def layer_norm(x, normalized_shape: int | Sequence[int], weight=None, bias=None, eps: float = 1e-5) -> np.ndarray:
    """Normalise over the trailing ``normalized_shape`` dimensions of x: ``(x - mean) / sqrt(var + eps) * weight
    + bias`` (biased variance, as PyTorch); weight and bias have shape ``normalized_shape`` or are None."""
    return layer_norm_forward(x, normalized_shape, weight, bias, eps)[0]


def layer_norm_backward(grad, x, normalized_shape: int | Sequence[int], weight, mean, rstd,
                        needs: tuple[bool, bool, bool] = (True, True, True)) -> tuple:
    """Gradients ``(grad_x, grad_weight, grad_bias)`` of :func:`layer_norm_forward` for the output gradient
    ``grad``; ``needs`` says which to compute (the others are None). mean and rstd are the forward's."""
    op = "layer_norm_backward"
    x = _float_input(op, x)
    shape = _normalized_shape(op, normalized_shape, x.shape)
    grad = as_numeric_array(op, grad, "grad")
    if grad.shape != x.shape:
        raise ValueError(f"{op}: grad has shape {grad.shape}; expected the input's shape {x.shape}")
    dim = math.prod(shape)
    rows = x.size // dim if dim else 0
    lead = x.shape[:x.ndim - len(shape)]
    w = _param(op, "weight", weight, shape, x.dtype, f"normalized_shape {shape}")
    mean = _param(op, "mean", mean, lead, x.dtype, f"input of shape {x.shape}").reshape(rows)
    rstd = _param(op, "rstd", rstd, lead, x.dtype, f"input of shape {x.shape}").reshape(rows)
    gx = np.empty((rows, dim), x.dtype) if needs[0] else None
    gw = np.empty(dim, x.dtype) if needs[1] else None
    gb = np.empty(dim, x.dtype) if needs[2] else None
    backend.kernel("layer_norm_backward")(np.ascontiguousarray(grad, dtype=x.dtype).reshape(rows, dim),
                                          np.ascontiguousarray(x).reshape(rows, dim),
                                          None if w is None else w.reshape(dim), mean, rstd, gx, gw, gb)
    return (None if gx is None else gx.reshape(x.shape), None if gw is None else gw.reshape(shape),
            None if gb is None else gb.reshape(shape))


# ------------------------------------------------------------------------------------------ batch_norm

def _channels_view(op: str, x) -> tuple[np.ndarray, np.ndarray]:
    """x as a float array of at least 2 dims, and its contiguous (batch, channels, length) view."""
    x = _float_input(op, x)
    if x.ndim < 2:
        raise ValueError(f"{op}: expected input of shape (N, C) or (N, C, *), got shape {x.shape}")
    n, c = x.shape[:2]
    length = math.prod(x.shape[2:])
    return x, np.ascontiguousarray(x).reshape(n, c, length)


def batch_norm_forward(x, running_mean=None, running_var=None, weight=None, bias=None, training: bool = False,
                       momentum: float = 0.1, eps: float = 1e-5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``batch_norm`` that also returns the per-channel mean and (biased) variance it normalised with.

    training: the batch's statistics (one pass), and ``running_mean``/``running_var`` (if given) are
    updated in place as PyTorch does: ``r = (1 - momentum) * r + momentum * s``, with the UNBIASED batch
    variance for ``running_var``. Otherwise the running statistics are used.
    """
    op = "batch_norm"
    x, x3 = _channels_view(op, x)
    n, c, length = x3.shape
    eps = _check_eps(op, eps)
    context = f"input of shape {x.shape} ({c} channels)"
    for name, buffer in (("running_mean", running_mean), ("running_var", running_var)):
        if buffer is not None:
            if not isinstance(buffer, np.ndarray) and training:
                raise TypeError(f"{op}: {name} must be a numpy.ndarray (updated in place), got {type(buffer).__name__}")
            if np.shape(buffer) != (c,):
                raise ValueError(f"{op}: {name} has shape {np.shape(buffer)}; expected ({c},) for {context}")
    w = _param(op, "weight", weight, (c,), x.dtype, context)
    b = _param(op, "bias", bias, (c,), x.dtype, context)
    if training:
        if n * length == 1:
            raise ValueError(f"{op}: expected more than 1 value per channel when training, got input of shape "
                             f"{x.shape}")
        if momentum is None or not 0 <= float(momentum) <= 1:
            raise ValueError(f"{op}: momentum must be a float in [0, 1], got {momentum!r}")
        if n * length == 0:  # an empty batch, as PyTorch: empty output, running statistics unchanged
            return np.empty(x.shape, x.dtype), np.zeros(c, x.dtype), np.ones(c, x.dtype)
        mean = np.empty(c, x.dtype)
        var = np.empty(c, x.dtype)
        backend.kernel("batch_norm_stats")(x3, mean, var)
        count = n * length
        momentum = float(momentum)
        if running_mean is not None:
            if not running_mean.flags.writeable:
                raise ValueError(f"{op}: running_mean is read-only")
            running_mean[...] = (1 - momentum) * running_mean + momentum * mean.astype(np.float64)
        if running_var is not None:
            if not running_var.flags.writeable:
                raise ValueError(f"{op}: running_var is read-only")
            unbiased = var.astype(np.float64) * (count / (count - 1))
            running_var[...] = (1 - momentum) * running_var + momentum * unbiased
    else:
        if running_mean is None or running_var is None:
            raise ValueError(f"{op}: running_mean and running_var are required when training=False")
        mean = np.ascontiguousarray(running_mean, dtype=x.dtype)
        var = np.ascontiguousarray(running_var, dtype=x.dtype)
        if np.any(var < 0):
            raise ValueError(f"{op}: running_var has negative entries")
    out = np.empty((n, c, length), x.dtype)
    backend.kernel("batch_norm_apply")(x3, mean, var, w, b, eps, out)
    return out.reshape(x.shape), mean, var


def batch_norm(x, running_mean=None, running_var=None, weight=None, bias=None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> np.ndarray:
    """Batch normalisation over the channel axis 1 of x (N, C) or (N, C, *), PyTorch's ``F.batch_norm``:
    ``(x - mean[c]) / sqrt(var[c] + eps) * weight[c] + bias[c]`` (see :func:`batch_norm_forward`)."""
    return batch_norm_forward(x, running_mean, running_var, weight, bias, training, momentum, eps)[0]


def batch_norm_backward(grad, x, mean, var, weight=None, eps: float = 1e-5, training: bool = True,
                        needs: tuple[bool, bool, bool] = (True, True, True)) -> tuple:
    """Gradients ``(grad_x, grad_weight, grad_bias)`` of :func:`batch_norm_forward`, given the mean and
    variance it returned; ``needs`` says which to compute. training: the statistics are the batch's own,
    so the gradient flows through them too (the two-reduction form)."""
    op = "batch_norm_backward"
    x, x3 = _channels_view(op, x)
    n, c, length = x3.shape
    grad = as_numeric_array(op, grad, "grad")
    if grad.shape != x.shape:
        raise ValueError(f"{op}: grad has shape {grad.shape}; expected the input's shape {x.shape}")
    context = f"input of shape {x.shape} ({c} channels)"
    mean = _param(op, "mean", mean, (c,), x.dtype, context)
    var = _param(op, "var", var, (c,), x.dtype, context)
    w = _param(op, "weight", weight, (c,), x.dtype, context)
    gx = np.empty((n, c, length), x.dtype) if needs[0] else None
    gw = np.empty(c, x.dtype) if needs[1] else None
    gb = np.empty(c, x.dtype) if needs[2] else None
    backend.kernel("batch_norm_backward")(np.ascontiguousarray(grad, dtype=x.dtype).reshape(n, c, length), x3,
                                          mean, var, w, _check_eps(op, eps), bool(training), gx, gw, gb)
    return None if gx is None else gx.reshape(x.shape), gw, gb
