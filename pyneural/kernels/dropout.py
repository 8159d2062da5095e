"""Dropout on NumPy arrays through the active backend.

The mask is a hash of (seed, element index) (a SplitMix64 counter-based generator), so it is the same on
every backend and thread count; the seed comes from the library's generator, so ``pn.manual_seed`` makes
dropout reproducible.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..random import generator
from .checks import as_numeric_array, check_probability, float_dtype

__all__ = ["dropout", "dropout_backward"]


def _float_c(op: str, x, name: str) -> np.ndarray:
    a = as_numeric_array(op, x, name)
    return np.asarray(a, dtype=a.dtype if a.dtype.kind == "f" and a.itemsize >= 4 else float_dtype(a), order="C")


def dropout(x, p: float = 0.5, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(out, mask)``: each element kept with probability ``1 - p`` and scaled by ``1 / (1 - p)``; mask is
    uint8 (1 = kept). ``seed`` (an int in [0, 2**64)) is drawn from ``pyneural.random.generator()`` when None."""
    p = check_probability("dropout", p)
    xa = _float_c("dropout", x, "x")
    if seed is None:
        seed = int(generator().integers(0, 2**64, dtype=np.uint64))
    if p == 1.0:
        return np.zeros_like(xa), np.zeros(xa.shape, np.uint8)
    out, mask = np.empty_like(xa), np.empty(xa.shape, np.uint8)
    backend.kernel("dropout_forward")(xa, out, mask, p, int(seed))
    return out, mask


def dropout_backward(grad, mask: np.ndarray, p: float) -> np.ndarray:
    """``grad * mask / (1 - p)`` (zeros when p == 1)."""
    p = check_probability("dropout_backward", p)
    g = _float_c("dropout_backward", grad, "grad")
    m = np.asarray(mask)
    if m.shape != g.shape or m.dtype != np.uint8:
        raise ValueError(f"dropout_backward: mask of shape {m.shape} and dtype {m.dtype} does not fit grad of "
                         f"shape {g.shape} (expected uint8)")
    if p == 1.0:
        return np.zeros_like(g)
    out = np.empty_like(g)
    backend.kernel("dropout_backward")(g, np.asarray(m, order="C"), p, out)
    return out
