"""Element-wise ops with NumPy broadcasting: arithmetic, unary math, comparisons, selection, casts."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import dtypes as _dt
from ..tensor import _make
from .core import Tensor, binary_args, const, floating, need, op_error, result, tensor_arg, unbroadcast, xp

__all__ = ["add", "sub", "mul", "div", "pow", "neg", "radd", "rsub", "rmul", "rdiv", "rpow",
           "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "clip", "clamp", "maximum", "minimum", "where",
           "astype", "clone", "lt", "le", "gt", "ge", "eq", "ne",
           "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not"]


# ------------------------------------------------------------------------------------------ arithmetic

def add(a: Any, b: Any) -> Tensor:
    """``a + b`` with broadcasting."""
    x, y, ta, tb = binary_args(a, b, "add")
    try:
        out = x + y
    except ValueError as e:
        raise op_error("add", e, x, y) from None

    def backward(g):
        return (unbroadcast(g, x.shape) if need(ta) else None, unbroadcast(g, y.shape) if need(tb) else None)

    return result(out, backward, ta, tb)


def sub(a: Any, b: Any) -> Tensor:
    """``a - b`` with broadcasting."""
    x, y, ta, tb = binary_args(a, b, "sub")
    try:
        out = x - y
    except ValueError as e:
        raise op_error("sub", e, x, y) from None

    def backward(g):
        return (unbroadcast(g, x.shape) if need(ta) else None, unbroadcast(-g, y.shape) if need(tb) else None)

    return result(out, backward, ta, tb)


def mul(a: Any, b: Any) -> Tensor:
    """``a * b`` with broadcasting."""
    x, y, ta, tb = binary_args(a, b, "mul")
    try:
        out = x * y
    except ValueError as e:
        raise op_error("mul", e, x, y) from None

    def backward(g):
        return (unbroadcast(g * y, x.shape) if need(ta) else None,
                unbroadcast(g * x, y.shape) if need(tb) else None)

    return result(out, backward, ta, tb)


def div(a: Any, b: Any) -> Tensor:
    """True division ``a / b`` (integer inputs give the default float dtype, as PyTorch)."""
    x, y, ta, tb = binary_args(a, b, "div")
    if x.dtype.kind != "f":
        x, y = floating(x), floating(y)
    try:
        out = x / y
    except ValueError as e:
        raise op_error("div", e, x, y) from None

    def backward(g):
        return (unbroadcast(g / y, x.shape) if need(ta) else None,
                unbroadcast(-g * out / y, y.shape) if need(tb) else None)

    return result(out, backward, ta, tb)


def pow(a: Any, b: Any) -> Tensor:
    """``a ** b`` with broadcasting. d/da is 0 where b == 0; d/db is 0 where a == 0 and b >= 0 (PyTorch)."""
    x, y, ta, tb = binary_args(a, b, "pow")
    try:
        out = x ** y
    except ValueError as e:
        raise op_error("pow", e, x, y) from None

    def backward(g):
        gx = gy = None
        if need(ta):
            if y.ndim == 0 and y == 2:  # the common square: skip the power
                d = 2 * x
            else:
                with np.errstate(divide="ignore", invalid="ignore"):
                    d = xp.where(y == 0, 0, y * x ** (y - 1))
            gx = unbroadcast(g * d, x.shape)
        if need(tb):
            with np.errstate(divide="ignore", invalid="ignore"):
                d = xp.where((x == 0) & (y >= 0), 0, out * xp.log(x))
            gy = unbroadcast(g * d, y.shape)
        return gx, gy

    return result(out, backward, ta, tb)


def radd(a: Tensor, b: Any) -> Tensor:
    """``b + a`` (reflected operator)."""
    return add(b, a)


def rsub(a: Tensor, b: Any) -> Tensor:
    """``b - a`` (reflected operator)."""
    return sub(b, a)


def rmul(a: Tensor, b: Any) -> Tensor:
    """``b * a`` (reflected operator)."""
    return mul(b, a)


def rdiv(a: Tensor, b: Any) -> Tensor:
    """``b / a`` (reflected operator)."""
    return div(b, a)


def rpow(a: Tensor, b: Any) -> Tensor:
    """``b ** a`` (reflected operator)."""
    return pow(b, a)


def neg(x: Tensor) -> Tensor:
    """``-x``."""
    return result(-x.data, lambda g: (-g,), x)


# ---------------------------------------------------------------------------------------- unary math

def exp(x: Any) -> Tensor:
    """Element-wise e**x."""
    x = tensor_arg(x, "exp")
    out = xp.exp(floating(x.data))
    return result(out, lambda g: (g * out,), x)


def log(x: Any) -> Tensor:
    """Natural logarithm."""
    x = tensor_arg(x, "log")
    d = floating(x.data)
    return result(xp.log(d), lambda g: (g / d,), x)


def sqrt(x: Any) -> Tensor:
    """Square root."""
    x = tensor_arg(x, "sqrt")
    out = xp.sqrt(floating(x.data))
    return result(out, lambda g: (g / (2 * out),), x)


def abs(x: Any) -> Tensor:
    """Absolute value; its gradient at 0 is 0 (PyTorch)."""
    x = tensor_arg(x, "abs")
    d = x.data
    return result(xp.abs(d), lambda g: (g * xp.sign(d),), x)


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent (the activation kernel; integer input gives the default float dtype)."""
    from .activation import tanh as _tanh
    return _tanh(x)


def sigmoid(x: Any) -> Tensor:
    """Logistic function 1 / (1 + e**-x), without overflow for large |x| (the activation kernel)."""
    from .activation import sigmoid as _sigmoid
    return _sigmoid(x)


def relu(x: Any) -> Tensor:
    """max(x, 0); its gradient at 0 is 0 (PyTorch). Float input runs on the activation kernel;
    integer input keeps its dtype, as in PyTorch."""
    x = tensor_arg(x, "relu")
    d = x.data
    if d.dtype.kind == "f":
        from .activation import relu as _relu
        return _relu(x)
    return result(xp.maximum(d, 0), lambda g: (g * (d > 0),), x)


def clip(x: Any, min: Any = None, max: Any = None) -> Tensor:
    """Limit values to ``[min, max]`` (either may be None; scalars or tensors, broadcast).

    The gradient passes to ``x`` where ``min <= x <= max``; tensor bounds get it where they are active.
    """
    x = tensor_arg(x, "clip")
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    d = x.data
    tlo = min if isinstance(min, Tensor) else None
    thi = max if isinstance(max, Tensor) else None
    lo = None if min is None else (min.data if tlo is not None else const(min, d.dtype, "clip"))
    hi = None if max is None else (max.data if thi is not None else const(max, d.dtype, "clip"))
    for bound in (lo, hi):  # promote x with each bound, then bring the bounds to that dtype
        if bound is not None and bound.dtype != d.dtype:
            d = d.astype(_dt.promote(d, bound))
    lo, hi = (None if b is None else b.astype(d.dtype, copy=False) for b in (lo, hi))
    try:
        out = d if lo is None else xp.maximum(d, lo)
        out = out if hi is None else xp.minimum(out, hi)
    except ValueError as e:
        raise op_error("clip", e, *(a for a in (d, lo, hi) if a is not None)) from None

    def backward(g):
        inside = True
        if lo is not None:
            inside = d >= lo
        if hi is not None:
            inside = inside & (d <= hi)
        return (unbroadcast(g * inside, d.shape) if need(x) else None,
                unbroadcast(g * (d < lo), lo.shape) if need(tlo) else None,
                unbroadcast(g * (d > hi), hi.shape) if need(thi) else None)

    return result(out, backward, x, tlo, thi)


clamp = clip


def maximum(a: Any, b: Any) -> Tensor:
    """Element-wise maximum; ties send half the gradient to each input (PyTorch)."""
    return _extremum("maximum", a, b, xp.maximum, xp.greater)


def minimum(a: Any, b: Any) -> Tensor:
    """Element-wise minimum; ties send half the gradient to each input (PyTorch)."""
    return _extremum("minimum", a, b, xp.minimum, xp.less)


def _extremum(op: str, a: Any, b: Any, fn: Callable, wins: Callable) -> Tensor:
    x, y, ta, tb = binary_args(a, b, op)
    try:
        out = fn(x, y)
    except ValueError as e:
        raise op_error(op, e, x, y) from None

    def backward(g):
        w = xp.where(x == y, 0.5, wins(x, y)).astype(g.dtype)  # x's share of the gradient
        return (unbroadcast(g * w, x.shape) if need(ta) else None,
                unbroadcast(g * (1 - w), y.shape) if need(tb) else None)

    return result(out, backward, ta, tb)


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """``a`` where ``condition`` is true, else ``b`` (all three broadcast)."""
    c = condition.data if isinstance(condition, Tensor) else xp.asarray(condition)
    if c.dtype != xp.bool_:
        c = c.astype(xp.bool_)
    x, y, ta, tb = binary_args(a, b, "where")
    try:
        out = xp.where(c, x, y)
    except ValueError as e:
        raise op_error("where", e, c, x, y) from None

    def backward(g):
        return (unbroadcast(xp.where(c, g, 0), x.shape) if need(ta) else None,
                unbroadcast(xp.where(c, 0, g), y.shape) if need(tb) else None)

    return result(out, backward, ta, tb)


# ---------------------------------------------------------------------------------------- copies, casts

def astype(x: Tensor, dtype: Any) -> Tensor:
    """Cast to ``dtype`` (returns ``x`` itself when it already has it). Gradients flow back through
    float-to-float casts; a cast to an integer or bool dtype leaves the graph."""
    dt = _dt.as_dtype(dtype, "astype")
    d = x.data
    if dt == d.dtype:
        return x
    out = d.astype(dt)
    if dt.kind != "f":
        return _make(out)
    return result(out, lambda g: (g,), x)  # the engine casts g back to x's dtype


def clone(x: Tensor) -> Tensor:
    """A copy of the data that stays in the graph (the gradient passes through)."""
    return result(x.data.copy(), lambda g: (g,), x)


# ------------------------------------------------------------------------- comparisons and bit logic

_OPERAND = (Tensor, np.ndarray, np.generic, int, float, bool, list, tuple)


def _no_grad_binary(op: str, fn: Callable) -> Callable:
    """Element-wise op with a non-differentiable (bool or integer) result."""

    def apply(a: Tensor, b: Any) -> Tensor:
        if not isinstance(b, _OPERAND):
            return NotImplemented  # e.g. t == None falls back to identity: False
        x, y = a.data, b.data if isinstance(b, Tensor) else b
        try:
            return _make(fn(x, y))
        except ValueError as e:
            raise op_error(op, e, x, y) from None

    apply.__name__ = apply.__qualname__ = op
    apply.__doc__ = f"Element-wise ``{op}`` (no gradient)."
    return apply


lt = _no_grad_binary("lt", xp.less)
le = _no_grad_binary("le", xp.less_equal)
gt = _no_grad_binary("gt", xp.greater)
ge = _no_grad_binary("ge", xp.greater_equal)
eq = _no_grad_binary("eq", xp.equal)
ne = _no_grad_binary("ne", xp.not_equal)
bitwise_and = _no_grad_binary("bitwise_and", xp.bitwise_and)
bitwise_or = _no_grad_binary("bitwise_or", xp.bitwise_or)
bitwise_xor = _no_grad_binary("bitwise_xor", xp.bitwise_xor)


def bitwise_not(x: Tensor) -> Tensor:
    """``~x``: logical not of bool tensors, bitwise not of integer tensors."""
    return _make(xp.invert(x.data))
