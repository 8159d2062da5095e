"""``dropout``: inverted dropout with the library's seeded generator."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..random import generator
from .core import Tensor, floating, result, tensor_arg, xp

__all__ = ["dropout"]


def dropout(x: Any, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)`` (PyTorch's
    ``F.dropout``), so the expected value is unchanged. The mask comes from ``pyneural.random.generator()``
    (reproducible under ``pn.manual_seed``) and is reused by backward. Eval mode and ``p == 0`` return x.
    """
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability p must be in [0, 1], got {p}")
    tx = tensor_arg(x, "dropout")
    if not training or p == 0.0:
        return tx
    xd = floating(tx.data)
    if p == 1.0:
        keep = xp.zeros(xd.shape, bool)
        scale = xd.dtype.type(0)
    else:  # a one-byte mask is what the graph keeps for backward
        keep = generator().random(xd.shape, dtype=np.float32 if xd.dtype == np.float32 else np.float64) >= p
        scale = xd.dtype.type(1.0 / (1.0 - p))
    out = xd * keep
    out *= scale

    def backward(g):
        gx = g * keep
        gx *= scale
        return (gx,)

    return result(out, backward, tx)
