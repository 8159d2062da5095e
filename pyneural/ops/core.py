"""Helpers shared by every op: graph recording, operand coercion, un-broadcasting, axis arguments."""
from __future__ import annotations

import operator
from typing import Any, Callable

import numpy as np

from .. import dtypes as _dt
from ..autograd import _mode
from ..tensor import Tensor, _make, _to_array, xp

__all__ = ["xp", "Tensor", "result", "need", "tensor_arg", "const", "binary_args", "op_error", "unbroadcast",
           "axis_alias", "canon_axis", "canon_axes", "shape_args", "floating"]


def result(out: Any, backward: Callable, *parents: Tensor | None) -> Tensor:
    """Wrap an op's output; record ``(backward, parents)`` when grad mode is on and a parent needs grad.

    ``backward(g)`` returns one gradient (array or None) per parent; ``None`` parents are constants.
    """
    if _mode.enabled:
        for p in parents:
            if p is not None and p._rg:
                return _make(out, True, (backward, parents))
    return _make(out)


def need(t: Tensor | None) -> bool:
    """Whether a parent needs its gradient computed."""
    return t is not None and t._rg


def tensor_arg(x: Any, op: str) -> Tensor:
    """The function forms (``pn.exp(x)``) also accept arrays, lists and scalars."""
    return x if isinstance(x, Tensor) else _make(_to_array(x, copy=False, op=op))


def floating(a: np.ndarray) -> np.ndarray:
    """Float data for ops that are only defined on reals (integer inputs -> the default float)."""
    return a if a.dtype.kind == "f" else a.astype(_dt.default_float)


def const(v: Any, dtype: np.dtype, op: str) -> np.ndarray:
    """A non-Tensor operand as an array: Python scalars take the tensor's dtype category rules."""
    t = type(v)
    if t is float or t is int or t is bool:
        return xp.asarray(v, _dt.scalar_dtype(v, dtype))
    return _to_array(v, copy=False, op=op)


def binary_args(a: Any, b: Any, op: str) -> tuple:
    """``(x, y, ta, tb)``: operand arrays promoted to a common dtype and the Tensor operands
    (None where an operand is a constant: a Python scalar, an array or a list)."""
    if isinstance(a, Tensor):
        ta, x = a, a.data
        if isinstance(b, Tensor):
            tb, y = b, b.data
        else:
            tb, y = None, const(b, x.dtype, op)
    else:
        ta, tb = None, b if isinstance(b, Tensor) else None
        y = b.data if tb is not None else _to_array(b, copy=False, op=op)
        x = const(a, y.dtype, op)
    if x.dtype is not y.dtype:
        dt = _dt.promote(x, y)
        if x.dtype != dt:
            x = x.astype(dt)
        if y.dtype != dt:
            y = y.astype(dt)
    return x, y, ta, tb


def op_error(op: str, err: Exception, *arrays: Any) -> Exception:
    """Rewrite a NumPy error as one naming the op and the operand shapes."""
    shapes = [np.shape(a) for a in arrays]
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        return ValueError(f"{op}: shapes {' and '.join(map(str, shapes))} cannot be broadcast")
    return type(err)(f"{op}: {err} (shapes {' and '.join(map(str, shapes))})")


def unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum a gradient over the axes that broadcasting added or stretched, so it has ``shape``."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape) if s == 1 and g.shape[i + lead] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


# ------------------------------------------------------------------------------------ axis arguments

def axis_alias(op: str, axis: Any, dim: Any, keepdims: Any = None, keepdim: Any = None) -> tuple:
    """Resolve NumPy's ``axis``/``keepdims`` against PyTorch's ``dim``/``keepdim`` -> ``(axis, keepdims)``."""
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{op}: got both axis= and dim= (aliases: pass one)")
        axis = dim
    if keepdim is not None:
        if keepdims is not None:
            raise TypeError(f"{op}: got both keepdims= and keepdim= (aliases: pass one)")
        keepdims = keepdim
    return axis, bool(keepdims)


def canon_axis(op: str, axis: Any, ndim: int, shape: tuple | None = None) -> int:
    """A single axis as a non-negative int; AxisError (an IndexError and a ValueError) when out of range."""
    try:
        a = operator.index(axis)
    except TypeError:
        raise TypeError(f"{op}: axis must be an int, got {axis!r}") from None
    if not -ndim <= a < ndim:
        where = f"a tensor of shape {shape}" if shape is not None else f"{ndim} dimensions"
        raise np.exceptions.AxisError(f"{op}: axis {a} is out of range for {where} "
                                      f"(expected {-ndim} <= axis < {ndim})")
    return a % ndim


def canon_axes(op: str, axis: Any, shape: tuple) -> tuple:
    """Reduction axes (None = all, an int or a tuple/list) as a tuple of non-negative ints."""
    if axis is None:
        return tuple(range(len(shape)))
    if isinstance(axis, (tuple, list)):
        axes = tuple(canon_axis(op, a, len(shape), shape) for a in axis)
        if len(set(axes)) != len(axes):
            raise ValueError(f"{op}: repeated axis in {tuple(axis)} for a tensor of shape {shape}")
        return axes
    return (canon_axis(op, axis, len(shape), shape),)


def shape_args(op: str, args: tuple) -> tuple:
    """Sizes given PyTorch-style, as ints ``f(2, 3)`` or one sequence ``f((2, 3))``, as a tuple of ints."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    try:
        return tuple(operator.index(s) for s in args)
    except TypeError:
        raise TypeError(f"{op}: sizes must be ints, got {args!r}") from None
