"""``dropout``: inverted dropout whose mask is a counter-based hash of a seed drawn from the library's generator."""
from __future__ import annotations

from typing import Any

from ..kernels.checks import check_probability
from ..kernels.dropout import dropout as _dropout
from ..kernels.dropout import dropout_backward as _dropout_backward
from .core import Tensor, floating, result, tensor_arg

__all__ = ["dropout"]


def dropout(x: Any, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)`` (PyTorch's
    ``F.dropout``), so the expected value is unchanged. The kernel hashes (seed, element index) into a uint8
    mask, the seed drawn from ``pyneural.random.generator()`` (reproducible under ``pn.manual_seed``, and the
    same mask on every backend and thread count); backward reuses the mask. Eval mode and ``p == 0`` return x.
    """
    p = check_probability("dropout", p)  # also in eval mode, as PyTorch
    tx = tensor_arg(x, "dropout")
    if not training or p == 0.0:
        return tx
    out, mask = _dropout(floating(tx.data), p)

    def backward(g):
        return (_dropout_backward(g, mask, p),)

    return result(out, backward, tx)
