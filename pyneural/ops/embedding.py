"""``embedding``: a row gather from a weight matrix, with a scatter-add backward."""
from __future__ import annotations

import operator
from typing import Any

import numpy as np

from .. import kernels
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
    idx = indices.data if isinstance(indices, Tensor) else np.asarray(indices)
    if wd.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape {wd.shape}")
    rows = wd.shape[0]
    if padding_idx is not None:
        padding_idx = operator.index(padding_idx)
        if not -rows <= padding_idx < rows:
            raise ValueError(f"embedding: padding_idx {padding_idx} is out of range for weight of shape {wd.shape}")
        padding_idx %= rows
    out = kernels.embedding(wd, idx)

    def backward(g):
        return (kernels.embedding_backward(g, idx, rows, padding_idx),)

    return result(out, backward, tw)
