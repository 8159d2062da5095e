"""Argument checks shared by the Numba kernels (the contracts of ``pyneural._C``): plain Python and NumPy.

As in the native bindings, a wrong type (not a NumPy array, wrong dtype) is a TypeError and a wrong value
(shape, layout, read-only output, overlapping arrays) a ValueError; every message names the op.
"""
from __future__ import annotations

import numpy as np

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def check_ndarray(op: str, a, name: str) -> None:
    """``a`` is a NumPy array, else a TypeError."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{op}: {name} must be a numpy.ndarray, got {type(a).__name__}")


def check_float(op: str, a, name: str = "x") -> None:
    """``a`` is a float32 or float64 NumPy array (the dtypes the kernels compute in), else a TypeError."""
    check_ndarray(op, a, name)
    if a.dtype not in FLOATS:
        raise TypeError(f"{op}: unsupported dtype {a.dtype}; expected float32 or float64")


def check_array(op: str, name: str, a, shape: tuple, dtype, writable: bool = False) -> None:
    """``a`` is a C-contiguous NumPy array of exactly ``shape`` and ``dtype`` (writeable when ``writable``)."""
    check_ndarray(op, a, name)
    if a.dtype != dtype:
        raise TypeError(f"{op}: {name} has dtype {a.dtype}, expected {np.dtype(dtype)}")
    if a.shape != tuple(shape):
        raise ValueError(f"{op}: {name} has shape {a.shape}, expected {tuple(shape)}")
    if not a.flags.c_contiguous:
        raise ValueError(f"{op}: {name} must be C-contiguous")
    if writable and not a.flags.writeable:
        raise ValueError(f"{op}: {name} is read-only")


def check_arrays(op: str, dtype: np.dtype, *named: tuple) -> None:
    """``dtype`` is float32 or float64, and each ``(name, array or None, shape, writable)`` passes
    :func:`check_array` with it (None: an absent optional array)."""
    if dtype not in FLOATS:
        raise TypeError(f"{op}: unsupported dtype {dtype}; expected float32 or float64")
    for name, a, shape, writable in named:
        if a is not None:
            check_array(op, name, a, shape, dtype, writable)


def check_disjoint(op: str, outputs: tuple, inputs: tuple) -> None:
    """Outputs (None or empty: absent) share memory neither with the inputs nor with each other."""
    outputs = [a for a in outputs if a is not None and a.size]
    inputs = [a for a in inputs if a is not None and a.size]
    for i, out in enumerate(outputs):
        if any(np.may_share_memory(out, a) for a in inputs):
            raise ValueError(f"{op}: an output array overlaps an input array")
        if any(np.may_share_memory(out, other) for other in outputs[i + 1:]):
            raise ValueError(f"{op}: two output arrays overlap each other")


def dims(op: str, a, name: str, ndim: int, layout: str) -> tuple:
    """The shape of ``a``, a NumPy array of ``ndim`` dimensions laid out as ``layout`` (e.g. "(rows, dim)")."""
    check_ndarray(op, a, name)
    if a.ndim != ndim:
        raise ValueError(f"{op}: {name} must be {ndim}-D {layout}, got shape {a.shape}")
    return a.shape


def optional(a, dtype, ndim: int = 1) -> tuple:
    """``(a, True)``, or for None ``(empty array, False)``: Numba specialises on None, and a 0-size
    placeholder of the same dtype and rank keeps one compiled signature per dtype."""
    return (a, True) if a is not None else (np.empty((0,) * ndim, dtype), False)
