"""``embedding``: a row gather from a weight matrix, with a scatter-add backward."""
from __future__ import annotations

import operator
from typing import Any

import numpy as np

from .core import Tensor, result, tensor_arg

__all__ = ["embedding"]


def embedding(indices: Any, weight: Any, padding_idx: int | None = None) -> Tensor:
    """Rows of ``weight`` (num_embeddings, embedding_dim) at integer ``indices`` of any shape (PyTorch's
    ``F.embedding``): the result has shape ``indices.shape + (embedding_dim,)``.

    Backward adds each output row's gradient into its weight row (repeated indices accumulate); the
    ``padding_idx`` row (negative counts from the end) gets no gradient.
    """
    tw = tensor_arg(weight, "embedding")
    wd = tw.data
    idx = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {idx.dtype} (shape {idx.shape})")
    if wd.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape {wd.shape}")
    rows = wd.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= rows):
        bad = idx[(idx < 0) | (idx >= rows)].flat[0]
        raise IndexError(f"embedding: index {bad} is out of range for weight of shape {wd.shape} "
                         f"(expected 0 <= index < {rows}; indices of shape {idx.shape})")
    if padding_idx is not None:
        padding_idx = operator.index(padding_idx)
        if not -rows <= padding_idx < rows:
            raise ValueError(f"embedding: padding_idx {padding_idx} is out of range for weight of shape {wd.shape}")
        padding_idx %= rows
    out = np.take(wd, idx, axis=0)
    dim = wd.shape[1]

    def backward(g):
        flat = idx.reshape(-1)
        gw = np.zeros_like(wd)
        np.add.at(gw, flat, g.reshape(flat.size, dim))
        if padding_idx is not None:
            gw[padding_idx] = 0
        return (gw,)

    return result(out, backward, tw)
