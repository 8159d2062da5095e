"""Reductions. They take NumPy's ``axis`` (None, an int or a tuple) and ``keepdims``, with PyTorch's
``dim``/``keepdim`` accepted as aliases; ``keepdims`` and the variance correction are keyword-only so a
positional PyTorch-style call cannot be misread."""
from __future__ import annotations

import math
from collections import namedtuple
from typing import Any, Callable

import numpy as np

from ..tensor import _make
from .core import Tensor, axis_alias, canon_axes, canon_axis, floating, result, xp
from .elementwise import maximum, minimum

__all__ = ["sum", "mean", "var", "std", "max", "min", "argmax", "argmin", "MaxResult", "MinResult"]

#: what ``max(dim=...)`` / ``min(dim=...)`` return, like ``torch.return_types.max``.
MaxResult = namedtuple("MaxResult", ["values", "indices"])
MinResult = namedtuple("MinResult", ["values", "indices"])


def _expand(g: np.ndarray, shape: tuple, axes: tuple, keepdims: bool) -> np.ndarray:
    """Broadcast the gradient of a reduction back over the reduced axes."""
    if not keepdims:
        g = g.reshape(tuple(1 if i in axes else s for i, s in enumerate(shape)))
    return xp.broadcast_to(g, shape)


def _count(shape: tuple, axes: tuple) -> int:
    return math.prod(shape[a] for a in axes)


def sum(x: Tensor, axis: Any = None, *, keepdims: bool | None = None, dim: Any = None,
        keepdim: bool | None = None) -> Tensor:
    """Sum over ``axis`` (all axes by default). Bool and integer tensors sum to int64."""
    axis, keep = axis_alias("sum", axis, dim, keepdims, keepdim)
    d = x.data
    axes = canon_axes("sum", axis, d.shape)
    out = d.sum(axis=axes, keepdims=keep, dtype=xp.int64 if d.dtype.kind in "biu" else None)
    return result(out, lambda g: (_expand(g, d.shape, axes, keep),), x)


def mean(x: Tensor, axis: Any = None, *, keepdims: bool | None = None, dim: Any = None,
         keepdim: bool | None = None) -> Tensor:
    """Mean over ``axis``. Integer and bool tensors give the default float dtype."""
    axis, keep = axis_alias("mean", axis, dim, keepdims, keepdim)
    d = floating(x.data)
    axes = canon_axes("mean", axis, d.shape)
    out = d.mean(axis=axes, keepdims=keep)
    n = _count(d.shape, axes)
    return result(out, lambda g: (_expand(g / n, d.shape, axes, keep),), x)


def _correction(op: str, correction: Any, unbiased: Any, ddof: Any) -> float:
    given = [v for v in (correction, unbiased, ddof) if v is not None]
    if len(given) > 1:
        raise TypeError(f"{op}: pass only one of correction=, unbiased= and ddof=")
    if unbiased is not None:
        return 1 if unbiased else 0
    return 1 if not given else given[0]


def var(x: Tensor, axis: Any = None, *, correction: float | None = None, unbiased: bool | None = None,
        ddof: float | None = None, keepdims: bool | None = None, dim: Any = None,
        keepdim: bool | None = None) -> Tensor:
    """Variance ``sum((x - mean)**2) / (N - correction)``; ``correction=1`` by default (PyTorch).
    ``unbiased=`` (PyTorch) and ``ddof=`` (NumPy) are accepted instead."""
    axis, keep = axis_alias("var", axis, dim, keepdims, keepdim)
    c = _correction("var", correction, unbiased, ddof)
    d = floating(x.data)
    axes = canon_axes("var", axis, d.shape)
    out = d.var(axis=axes, ddof=c, keepdims=keep)
    n = _count(d.shape, axes)

    def backward(g):
        return (_expand(g * (2 / (n - c)), d.shape, axes, keep) * (d - d.mean(axis=axes, keepdims=True)),)

    return result(out, backward, x)


def std(x: Tensor, axis: Any = None, *, correction: float | None = None, unbiased: bool | None = None,
        ddof: float | None = None, keepdims: bool | None = None, dim: Any = None,
        keepdim: bool | None = None) -> Tensor:
    """Standard deviation, the square root of :func:`var` (same arguments)."""
    axis, keep = axis_alias("std", axis, dim, keepdims, keepdim)
    c = _correction("std", correction, unbiased, ddof)
    d = floating(x.data)
    axes = canon_axes("std", axis, d.shape)
    out = d.std(axis=axes, ddof=c, keepdims=keep)
    n = _count(d.shape, axes)

    def backward(g):
        return (_expand(g / (out * (n - c)), d.shape, axes, keep) * (d - d.mean(axis=axes, keepdims=True)),)

    return result(out, backward, x)


def _extreme(op: str, x: Tensor, axis: Any, dim: Any, keepdims: Any, keepdim: Any, fn: Callable,
             argfn: Callable, other: Callable, named: type) -> Any:
    if isinstance(axis, Tensor):  # PyTorch's max(other)
        return other(x, axis)
    d = x.data
    if dim is not None:  # PyTorch call: (values, indices) along one dim
        if axis is not None:
            raise TypeError(f"{op}: got both axis= and dim= (aliases: pass one)")
        return _select(op, x, dim, keepdims, keepdim, argfn, named)
    axis, keep = axis_alias(op, axis, None, keepdims, keepdim)
    axes = canon_axes(op, axis, d.shape)
    if d.size == 0:
        raise ValueError(f"{op}: cannot reduce an empty tensor of shape {d.shape}")
    out = fn(d, axis=axes, keepdims=keep)

    def backward(g):  # split evenly between ties (torch.amax)
        hit = d == _expand(out, d.shape, axes, keep)
        return (_expand(g, d.shape, axes, keep) * hit / hit.sum(axis=axes, keepdims=True),)

    return result(out, backward, x)


def _select(op: str, x: Tensor, dim: Any, keepdims: Any, keepdim: Any, argfn: Callable, named: type) -> Any:
    d = x.data
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{op}: dim= takes one int (use axis= to reduce several axes)")
    ax = canon_axis(op, dim, d.ndim, d.shape)
    _, keep = axis_alias(op, None, None, keepdims, keepdim)
    if d.shape[ax] == 0:
        raise ValueError(f"{op}: cannot reduce an empty dimension {ax} of shape {d.shape}")
    idx = argfn(d, axis=ax, keepdims=True)
    values = xp.take_along_axis(d, idx, ax)
    if not keep:
        values, idx = values.squeeze(ax), idx.squeeze(ax)

    def backward(g):  # the whole gradient goes to the selected element
        z = xp.zeros(d.shape, g.dtype)
        xp.put_along_axis(z, idx if keep else xp.expand_dims(idx, ax), g if keep else xp.expand_dims(g, ax), ax)
        return (z,)

    return named(result(values, backward, x), _make(idx))


def max(x: Tensor, axis: Any = None, *, keepdims: bool | None = None, dim: Any = None,
        keepdim: bool | None = None) -> Any:
    """Maximum over ``axis`` (all by default), NumPy/``torch.amax`` style: ties share the gradient evenly.

    With PyTorch's ``dim=`` keyword it returns ``(values, indices)`` like ``torch.max(x, dim)`` (the gradient
    goes to the returned index); ``max(other_tensor)`` is :func:`maximum`.
    """
    return _extreme("max", x, axis, dim, keepdims, keepdim, xp.max, xp.argmax, maximum, MaxResult)


def min(x: Tensor, axis: Any = None, *, keepdims: bool | None = None, dim: Any = None,
        keepdim: bool | None = None) -> Any:
    """Minimum over ``axis``; see :func:`max`."""
    return _extreme("min", x, axis, dim, keepdims, keepdim, xp.min, xp.argmin, minimum, MinResult)


def _arg(op: str, fn: Callable, x: Tensor, axis: Any, dim: Any, keepdims: Any, keepdim: Any) -> Tensor:
    axis, keep = axis_alias(op, axis, dim, keepdims, keepdim)
    d = x.data
    if axis is not None:
        if isinstance(axis, (tuple, list)):
            raise TypeError(f"{op}: axis must be one int or None")
        axis = canon_axis(op, axis, d.ndim, d.shape)
    if d.size == 0:
        raise ValueError(f"{op}: empty tensor of shape {d.shape}")
    return _make(fn(d, axis=axis, keepdims=keep).astype(xp.int64, copy=False))


def argmax(x: Tensor, axis: Any = None, *, keepdims: bool | None = None, dim: Any = None,
           keepdim: bool | None = None) -> Tensor:
    """Index (int64) of the maximum along ``axis``, or into the flattened tensor when ``axis`` is None."""
    return _arg("argmax", xp.argmax, x, axis, dim, keepdims, keepdim)


def argmin(x: Tensor, axis: Any = None, *, keepdims: bool | None = None, dim: Any = None,
           keepdim: bool | None = None) -> Tensor:
    """Index (int64) of the minimum; see :func:`argmax`."""
    return _arg("argmin", xp.argmin, x, axis, dim, keepdims, keepdim)
