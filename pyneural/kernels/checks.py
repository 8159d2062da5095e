"""Argument checks shared by the kernel wrappers: every error names the op and the shapes."""
from __future__ import annotations

import numpy as np

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
