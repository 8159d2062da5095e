"""Numba embedding kernels: row gather and scatter-add backward (contracts of ``pyneural._C``).

weight / grad_weight (rows, dim), int64 indices (count,), out / grad (count, dim), all C-contiguous;
every index is range-checked. The backward gives each thread its own columns of grad_weight, so
repeated indices add up without races and in a fixed order.
"""
from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from .checks import FLOATS, check_ndarray


def _check(op: str, weight_like, indices, rows_like, names: tuple) -> tuple:
    w_name, rows_name = names
    for name, arr, ndim in ((w_name, weight_like, 2), ("indices", indices, 1), (rows_name, rows_like, 2)):
        check_ndarray(op, arr, name)
        if arr.ndim != ndim:
            raise ValueError(f"{op}: {name} must be a {ndim}-D numpy.ndarray, got shape {np.shape(arr)}")
        if not arr.flags.c_contiguous:
            raise ValueError(f"{op}: {name} must be C-contiguous")
    if weight_like.dtype not in FLOATS:
        raise TypeError(f"{op}: unsupported dtype {weight_like.dtype}; expected float32 or float64")
    if rows_like.dtype != weight_like.dtype:
        raise TypeError(f"{op}: {rows_name} has dtype {rows_like.dtype}, expected {weight_like.dtype}")
    if indices.dtype != np.int64:
        raise TypeError(f"{op}: indices has dtype {indices.dtype}, expected int64")
    return weight_like.shape


def _check_range(op: str, indices: np.ndarray, rows: int, dim: int) -> None:
    if indices.size:
        bad = np.flatnonzero((indices < 0) | (indices >= rows))
        if bad.size:
            raise ValueError(f"{op}: index {indices[bad[0]]} (at position {bad[0]}) is out of range for a weight "
                             f"of shape ({rows}, {dim})")


def embedding_forward(weight, indices, out) -> None:
    """out[i] = weight[indices[i]]: weight (rows, dim), int64 indices (count,), out (count, dim)."""
    op = "embedding"
    rows, dim = _check(op, weight, indices, out, ("weight", "out"))
    if out.shape != (indices.shape[0], dim):
        raise ValueError(f"embedding: out has shape {out.shape}, expected {(indices.shape[0], dim)}")
    if not out.flags.writeable:
        raise ValueError("embedding: out is read-only")
    _check_range(op, indices, rows, dim)
    if out.size and (np.may_share_memory(out, weight) or np.may_share_memory(out, indices)):
        raise ValueError("embedding: the output overlaps an input")
    _gather(weight, indices, out)


@njit(cache=True, parallel=True)
def _gather(weight, indices, out):
    for i in prange(indices.shape[0]):
        out[i, :] = weight[indices[i], :]


def embedding_backward(grad, indices, padding_idx: int, grad_weight) -> None:
    """grad_weight = 0, then grad_weight[indices[i]] += grad[i]; the padding_idx row (-1: none) stays zero."""
    op = "embedding_backward"
    rows, dim = _check(op, grad_weight, indices, grad, ("grad_weight", "grad"))
    if grad.shape != (indices.shape[0], dim):
        raise ValueError(f"embedding_backward: grad has shape {grad.shape}, expected {(indices.shape[0], dim)}")
    if not grad_weight.flags.writeable:
        raise ValueError("embedding_backward: grad_weight is read-only")
    _check_range(op, indices, rows, dim)
    if not -1 <= padding_idx < rows:
        raise ValueError(f"embedding_backward: padding_idx {padding_idx} is out of range for {rows} rows (-1 for none)")
    if grad_weight.size and (np.may_share_memory(grad_weight, grad) or np.may_share_memory(grad_weight, indices)):
        raise ValueError("embedding_backward: grad_weight overlaps an input")
    threads = numba.get_num_threads()
    slice_width = max(64, -(-dim // threads))
    _scatter_add(grad, indices, int(padding_idx), grad_weight, slice_width)


@njit(cache=True, parallel=True)
def _scatter_add(grad, indices, padding_idx, grad_weight, slice_width):
    dim = grad_weight.shape[1]
    slices = (dim + slice_width - 1) // slice_width
    for s in prange(slices):
        j0 = s * slice_width
        j1 = min(dim, j0 + slice_width)
        grad_weight[:, j0:j1] = 0
        for i in range(indices.shape[0]):
            row = indices[i]
            if row == padding_idx:
                continue
            for j in range(j0, j1):
                grad_weight[row, j] += grad[i, j]
