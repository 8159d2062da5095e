"""Tensor dtypes: plain NumPy dtype objects, so ``pn.float32 == np.float32`` and NumPy dtypes just work.

Promotion follows PyTorch, which differs from NumPy in two places:
- category wins: int64 + float32 -> float32 (NumPy: float64);
- a 0-d operand of the same category does not widen a dimensioned one: float32[n] + float64[] -> float32.
Python scalars never widen a tensor of their category (float32 * 2.0 -> float32); a float scalar turns an
integer/bool tensor into the default float dtype (int64 * 0.5 -> float32).
"""
from __future__ import annotations

from typing import Any

import numpy as np

float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int8 = np.dtype(np.int8)
int16 = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)

#: dtype of tensors made from Python floats (and of float results of integer inputs).
default_float = float32

# kind -> category rank: bool < integer < floating
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}


def as_dtype(dtype: Any, op: str = "dtype") -> np.dtype:
    """Normalise a dtype given as a pyneural/NumPy dtype, a NumPy scalar type or a string.

    Raises TypeError for what tensors cannot hold (object, strings, complex, datetimes).
    """
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{op}: {dtype!r} is not a dtype") from None
    if dt.kind not in _CATEGORY:
        raise TypeError(f"{op}: unsupported dtype {dt} (tensors hold bool, integer or floating data)")
    return dt


def is_floating(dtype: np.dtype) -> bool:
    """True for floating dtypes (the only ones that may require grad)."""
    return dtype.kind == "f"


def promote_types(da: np.dtype, db: np.dtype) -> np.dtype:
    """Result dtype of two tensor dtypes by category (bool < integer < floating), then NumPy's rules."""
    if da == db:
        return da
    ca, cb = _CATEGORY[da.kind], _CATEGORY[db.kind]
    if ca != cb:
        return da if ca > cb else db
    return np.result_type(da, db)


_promote_cache: dict = {}


def promote(a: np.ndarray, b: np.ndarray) -> np.dtype:
    """Result dtype of a binary op between arrays ``a`` and ``b`` (PyTorch rules, see module doc)."""
    da, db = a.dtype, b.dtype
    if da == db:
        return da
    key = (da, db, a.ndim == 0, b.ndim == 0)
    dt = _promote_cache.get(key)
    if dt is None:
        if key[2] != key[3] and _CATEGORY[da.kind] == _CATEGORY[db.kind]:
            dt = db if key[2] else da  # same category: the dimensioned operand keeps its dtype
        else:
            dt = promote_types(da, db)
        _promote_cache[key] = dt
    return dt


def scalar_dtype(value: bool | int | float, tensor_dtype: np.dtype) -> np.dtype:
    """dtype a Python scalar takes when combined with a tensor of ``tensor_dtype``."""
    if isinstance(value, bool):
        return bool_ if tensor_dtype.kind == "b" else tensor_dtype
    if isinstance(value, int):
        return int64 if tensor_dtype.kind == "b" else tensor_dtype
    if isinstance(value, float):
        return tensor_dtype if tensor_dtype.kind == "f" else default_float
    raise TypeError(f"unsupported scalar {value!r} of type {type(value).__name__}")
