"""Indexing ``t[...]``: basic (ints, slices, None, Ellipsis) and advanced (integer arrays, lists, tensors,
boolean masks), with NumPy semantics and a gradient that accumulates over repeated indices."""
from __future__ import annotations

from typing import Any

import numpy as np

from .core import Tensor, result, xp

__all__ = ["getitem"]


def _index(idx: Any) -> Any:
    """Tensors and lists in an index become arrays (a list is an integer/boolean array, as in NumPy)."""
    if isinstance(idx, Tensor):
        return idx.data
    if isinstance(idx, list):
        a = xp.asarray([i.data if isinstance(i, Tensor) else i for i in idx])
        return a.astype(xp.intp) if a.size == 0 else a
    if isinstance(idx, tuple):
        return tuple(_index(i) for i in idx)
    return idx


def _has_int_array(idx: Any) -> bool:
    """Integer arrays may repeat positions: their gradient needs xp.add.at instead of assignment."""
    parts = idx if isinstance(idx, tuple) else (idx,)
    return any(isinstance(p, np.ndarray) and p.dtype.kind != "b" for p in parts)


def getitem(x: Tensor, index: Any) -> Tensor:
    """``x[index]`` (NumPy semantics: basic indexing gives a view, advanced indexing a copy)."""
    t = type(index)
    idx = index if t is int or t is slice else _index(index)
    d = x.data
    try:
        out = d[idx]
    except IndexError as e:
        raise IndexError(f"getitem: {e} (indexing a tensor of shape {d.shape})") from None

    def backward(g):
        z = xp.zeros(d.shape, g.dtype)
        if _has_int_array(idx):
            xp.add.at(z, idx, g)  # repeated indices accumulate
        else:
            z[idx] = g
        return (z,)

    return result(out, backward, x)
