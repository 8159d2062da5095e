"""Embedding kernels on NumPy arrays: row gather and its scatter-add backward."""
from __future__ import annotations

import numpy as np

from .. import backend
from .checks import FLOATS as _FLOATS

__all__ = ["embedding", "embedding_backward"]


def _indices(op: str, indices, rows: int, weight_shape: tuple) -> np.ndarray:
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be integers, got dtype {idx.dtype} (shape {idx.shape})")
    if idx.size and (idx.min() < 0 or idx.max() >= rows):
        bad = idx[(idx < 0) | (idx >= rows)].flat[0]
        raise IndexError(f"{op}: index {bad} is out of range for weight of shape {weight_shape} "
                         f"(expected 0 <= index < {rows}; indices of shape {idx.shape})")
    return idx


def _weight(op: str, weight) -> np.ndarray:
    w = np.asarray(weight)
    if w.ndim != 2:
        raise ValueError(f"{op}: weight must be 2-D (num_embeddings, embedding_dim), got shape {w.shape}")
    if w.dtype not in _FLOATS:
        raise TypeError(f"{op}: weight has dtype {w.dtype}; expected float32 or float64")
    return w


def embedding(weight, indices) -> np.ndarray:
    """Rows of weight (num_embeddings, embedding_dim) at integer indices of any shape:
    the result has shape ``indices.shape + (embedding_dim,)``. Out-of-range indices raise IndexError."""
    w = _weight("embedding", weight)
    idx = _indices("embedding", indices, w.shape[0], w.shape)
    out = np.empty(idx.shape + (w.shape[1],), w.dtype)
    backend.kernel("embedding_forward")(np.ascontiguousarray(w), idx.reshape(-1).astype(np.int64, copy=False),
                                        out.reshape(idx.size, w.shape[1]))
    return out


def embedding_backward(grad, indices, num_embeddings: int, padding_idx: int | None = None) -> np.ndarray:
    """Gradient of :func:`embedding` for its weight: zeros (num_embeddings, embedding_dim) into which each
    row of grad (``indices.shape + (embedding_dim,)``) is added at its index (repeats add up); the
    ``padding_idx`` row (non-negative, or None) gets nothing."""
    op = "embedding_backward"
    grad = np.asarray(grad)
    if grad.dtype not in _FLOATS:
        raise TypeError(f"{op}: grad has dtype {grad.dtype}; expected float32 or float64")
    idx = _indices(op, indices, num_embeddings, (num_embeddings, grad.shape[-1] if grad.ndim else 0))
    if grad.shape[:-1] != idx.shape or grad.ndim != idx.ndim + 1:
        raise ValueError(f"{op}: grad of shape {grad.shape} does not fit indices of shape {idx.shape}")
    dim = grad.shape[-1]
    if padding_idx is not None and not 0 <= padding_idx < num_embeddings:
        raise ValueError(f"{op}: padding_idx {padding_idx} is out of range for {num_embeddings} embeddings")
    grad_weight = np.empty((num_embeddings, dim), grad.dtype)
    backend.kernel("embedding_backward")(np.ascontiguousarray(grad).reshape(idx.size, dim),
                                         idx.reshape(-1).astype(np.int64, copy=False),
                                         -1 if padding_idx is None else int(padding_idx), grad_weight)
    return grad_weight
