"""Tensor creation: from data, filled, ranges, identity and random (from the library-wide generator).

Sizes are given PyTorch-style, as ints (``zeros(2, 3)``) or one sequence (``zeros((2, 3))``). Every function
takes ``dtype=None`` (the default float dtype unless the data says otherwise), ``requires_grad=False`` and
``device="cpu"``.
"""
from __future__ import annotations

import operator
from typing import Any

import numpy as np

from .. import dtypes as _dt
from .. import random as _random
from ..tensor import Tensor, _check_device, _check_requires_grad, _make, _to_array
from .core import shape_args

__all__ = ["tensor", "as_tensor", "from_numpy", "zeros", "ones", "empty", "full", "arange", "linspace", "eye",
           "rand", "randn", "randint", "randperm", "zeros_like", "ones_like", "empty_like", "full_like"]


def _new(op: str, arr: np.ndarray, requires_grad: bool, device: Any) -> Tensor:
    _check_device(device)
    if requires_grad:
        _check_requires_grad(arr.dtype, op)
    return _make(arr, bool(requires_grad))


def _size(op: str, size: tuple) -> tuple:
    shape = shape_args(op, size)
    if any(n < 0 for n in shape):
        raise ValueError(f"{op}: negative dimension in size {shape}")
    return shape


def _float_dtype(op: str, dtype: Any) -> np.dtype:
    dt = _dt.default_float if dtype is None else _dt.as_dtype(dtype, op)
    return dt


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False, device: Any = "cpu") -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, scalars, NumPy arrays, tensors).

    Python floats give float32, ints int64, bools bool; NumPy data keeps its dtype (float64 stays float64).
    Ragged lists raise ValueError; strings, None and other objects TypeError.
    """
    return _new("tensor", _to_array(data, dtype, copy=True), requires_grad, device)


def as_tensor(data: Any, dtype: Any = None, device: Any = "cpu") -> Tensor:
    """Like :func:`tensor` but shares memory with a NumPy array (or returns a tensor) when no cast is needed."""
    if isinstance(data, Tensor) and (dtype is None or _dt.as_dtype(dtype, "as_tensor") == data.dtype):
        _check_device(device)
        return data
    return _new("as_tensor", _to_array(data, dtype, copy=False, op="as_tensor"), False, device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` (changes to one show in the other)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return _make(_to_array(array, copy=False, op="from_numpy"))


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = "cpu") -> Tensor:
    """A tensor of zeros."""
    return _new("zeros", np.zeros(_size("zeros", size), _float_dtype("zeros", dtype)), requires_grad, device)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = "cpu") -> Tensor:
    """A tensor of ones."""
    return _new("ones", np.ones(_size("ones", size), _float_dtype("ones", dtype)), requires_grad, device)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = "cpu") -> Tensor:
    """An uninitialised tensor."""
    return _new("empty", np.empty(_size("empty", size), _float_dtype("empty", dtype)), requires_grad, device)


def full(size: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False,
         device: Any = "cpu") -> Tensor:
    """A tensor filled with ``fill_value``; its dtype follows the value (float -> float32, int -> int64)."""
    value = _to_array(fill_value, dtype, copy=False, op="full")
    if value.ndim:
        raise ValueError(f"full: fill_value must be a scalar, got shape {value.shape}")
    shape = _size("full", size if isinstance(size, (tuple, list)) else (size,))
    return _new("full", np.full(shape, value, value.dtype), requires_grad, device)


def arange(start: Any, end: Any = None, step: Any = 1, *, dtype: Any = None, requires_grad: bool = False,
           device: Any = "cpu") -> Tensor:
    """Values ``start, start+step, ...`` below ``end`` (``arange(n)`` is ``0..n-1``). All-integer
    arguments give int64, otherwise the default float dtype."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    integral = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (start, end, step))
    dt = (_dt.int64 if integral else _dt.default_float) if dtype is None else _dt.as_dtype(dtype, "arange")
    arr = np.arange(start, end, step, dtype=np.int64 if integral else np.float64).astype(dt, copy=False)
    return _new("arange", arr, requires_grad, device)


def linspace(start: float, end: float, steps: int, *, dtype: Any = None, requires_grad: bool = False,
             device: Any = "cpu") -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    steps = operator.index(steps)
    if steps < 0:
        raise ValueError(f"linspace: number of steps must be non-negative, got {steps}")
    arr = np.linspace(start, end, steps).astype(_float_dtype("linspace", dtype))
    return _new("linspace", arr, requires_grad, device)


def eye(n: int, m: int | None = None, *, dtype: Any = None, requires_grad: bool = False,
        device: Any = "cpu") -> Tensor:
    """An ``n x m`` identity matrix (``m = n`` by default)."""
    return _new("eye", np.eye(n, m, dtype=_float_dtype("eye", dtype)), requires_grad, device)


def _gen(generator: np.random.Generator | None) -> np.random.Generator:
    return _random.generator() if generator is None else generator


def _random_float(op: str, dtype: Any) -> np.dtype:
    dt = _float_dtype(op, dtype)
    if dt not in (_dt.float32, _dt.float64):
        raise TypeError(f"{op}: dtype must be float32 or float64, got {dt}")
    return dt


def rand(*size: Any, dtype: Any = None, generator: np.random.Generator | None = None,
         requires_grad: bool = False, device: Any = "cpu") -> Tensor:
    """Uniform samples in [0, 1) from the library-wide generator (or ``generator``)."""
    arr = _gen(generator).random(_size("rand", size), dtype=_random_float("rand", dtype))
    return _new("rand", arr, requires_grad, device)


def randn(*size: Any, dtype: Any = None, generator: np.random.Generator | None = None,
          requires_grad: bool = False, device: Any = "cpu") -> Tensor:
    """Standard normal samples from the library-wide generator (or ``generator``)."""
    arr = _gen(generator).standard_normal(_size("randn", size), dtype=_random_float("randn", dtype))
    return _new("randn", arr, requires_grad, device)


def randint(low: int, high: Any = None, size: Any = None, *, dtype: Any = None,
            generator: np.random.Generator | None = None, device: Any = "cpu") -> Tensor:
    """Integers uniform in ``[low, high)``: ``randint(high, size)`` or ``randint(low, high, size)`` (int64)."""
    if size is None:
        if not isinstance(high, (tuple, list)):
            raise TypeError("randint: missing size (call randint(high, size) or randint(low, high, size))")
        low, high, size = 0, low, high
    shape = _size("randint", size if isinstance(size, (tuple, list)) else (size,))
    if high <= low:
        raise ValueError(f"randint: empty range [{low}, {high})")
    dt = _dt.int64 if dtype is None else _dt.as_dtype(dtype, "randint")
    return _new("randint", _gen(generator).integers(low, high, shape).astype(dt, copy=False), False, device)


def randperm(n: int, *, dtype: Any = None, generator: np.random.Generator | None = None,
             device: Any = "cpu") -> Tensor:
    """A random permutation of ``0..n-1`` (int64)."""
    dt = _dt.int64 if dtype is None else _dt.as_dtype(dtype, "randperm")
    return _new("randperm", _gen(generator).permutation(operator.index(n)).astype(dt), False, device)


def _like(op: str, x: Any, dtype: Any) -> tuple:
    d = x.data if isinstance(x, Tensor) else np.asarray(x)
    return d.shape, (d.dtype if dtype is None else _dt.as_dtype(dtype, op))


def zeros_like(x: Any, dtype: Any = None, requires_grad: bool = False, device: Any = "cpu") -> Tensor:
    """Zeros with the shape (and by default the dtype) of ``x``."""
    return _new("zeros_like", np.zeros(*_like("zeros_like", x, dtype)), requires_grad, device)


def ones_like(x: Any, dtype: Any = None, requires_grad: bool = False, device: Any = "cpu") -> Tensor:
    """Ones with the shape (and by default the dtype) of ``x``."""
    return _new("ones_like", np.ones(*_like("ones_like", x, dtype)), requires_grad, device)


def empty_like(x: Any, dtype: Any = None, requires_grad: bool = False, device: Any = "cpu") -> Tensor:
    """Uninitialised, with the shape (and by default the dtype) of ``x``."""
    return _new("empty_like", np.empty(*_like("empty_like", x, dtype)), requires_grad, device)


def full_like(x: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False,
              device: Any = "cpu") -> Tensor:
    """``fill_value`` everywhere, with the shape (and by default the dtype) of ``x``."""
    shape, dt = _like("full_like", x, dtype)
    return _new("full_like", np.full(shape, fill_value, dt), requires_grad, device)
