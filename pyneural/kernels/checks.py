"""Argument checks shared by the kernel wrappers: every error names the op and the shapes."""
from __future__ import annotations

import numpy as np

from .. import dtypes as _dt

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def as_numeric_array(op: str, x, name: str = "x") -> np.ndarray:
    """``np.asarray(x)`` that rejects ragged, object, string and complex input with a clear error."""
    try:
        arr = np.asarray(x)
    except ValueError as exc:  # ragged nested sequences
        raise ValueError(f"{op}: {name} is not a rectangular array ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{op}: {name} has unsupported dtype {arr.dtype} (shape {arr.shape}); "
                        "expected bool, integer or floating point")
    return arr


def float_dtype(*arrays: np.ndarray) -> np.dtype:
    """The common float dtype of ``arrays`` (integers and bools compute in the default float dtype, float16 in
    float32): the dtype a kernel taking float32 or float64 runs in."""
    first = arrays[0].dtype
    if first in FLOATS and all(a.dtype == first for a in arrays[1:]):  # the common case: result_type costs ~1 us
        return first
    dtype = np.result_type(*[a.dtype if a.dtype.kind == "f" else _dt.default_float for a in arrays])
    return np.dtype(np.float32) if dtype.itemsize < 4 else dtype


def class_weight(op: str, weight, classes: int, dtype) -> np.ndarray | None:
    """A per-class weight (cross_entropy, nll_loss) as a C-contiguous (classes,) array of ``dtype``; None stays None."""
    if weight is None:
        return None
    w = as_numeric_array(op, weight, "weight")
    if w.shape != (classes,):
        raise ValueError(f"{op}: weight of shape {w.shape} does not match {classes} classes "
                         f"(expected shape ({classes},))")
    return np.ascontiguousarray(w, dtype=dtype)


def check_probability(op: str, p) -> float:
    """``p`` as a float, ValueError naming the op unless it is in [0, 1]."""
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: probability p must be in [0, 1], got {p}")
    return p
