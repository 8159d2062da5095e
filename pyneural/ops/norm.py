"""``layer_norm`` and ``batch_norm``: forward and backward on the normalisation kernels."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .. import kernels
from .core import Tensor, need, result, tensor_arg

__all__ = ["layer_norm", "batch_norm"]


def _grad_as(g: np.ndarray | None, t: Tensor | None) -> np.ndarray | None:
    """A gradient in its parent's dtype (parameters may differ in dtype from the input)."""
    return None if g is None else g.astype(t.data.dtype, copy=False)


def _buffer(b: Any) -> np.ndarray | None:
    """Running statistics: a Tensor's storage (updated in place) or an array."""
    return b.data if isinstance(b, Tensor) else b


def layer_norm(x: Any, normalized_shape: int | Sequence[int], weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Tensor:
    """Layer normalisation over the trailing ``normalized_shape`` dimensions (PyTorch's ``F.layer_norm``):
    ``(x - mean) / sqrt(var + eps) * weight + bias`` with the biased variance of each row."""
    tx = tensor_arg(x, "layer_norm")
    tw = None if weight is None else tensor_arg(weight, "layer_norm")
    tb = None if bias is None else tensor_arg(bias, "layer_norm")
    out, mean, rstd = kernels.layer_norm_forward(tx.data, normalized_shape, None if tw is None else tw.data,
                                                 None if tb is None else tb.data, eps)
    xd, wd = tx.data, None if tw is None else tw.data

    def backward(g):
        gx, gw, gb = kernels.layer_norm_backward(g, xd, normalized_shape, wd, mean, rstd,
                                                 (need(tx), need(tw), need(tb)))
        return _grad_as(gx, tx), _grad_as(gw, tw), _grad_as(gb, tb)

    return result(out, backward, tx, tw, tb)


def batch_norm(x: Any, running_mean: Any = None, running_var: Any = None, weight: Any = None, bias: Any = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation over axis 1 of x (N, C) or (N, C, *), PyTorch's ``F.batch_norm``.

    training: normalises with the batch's statistics and updates ``running_mean``/``running_var`` in
    place (``(1 - momentum) * r + momentum * s``, unbiased variance for ``running_var``); otherwise
    normalises with the running statistics.
    """
    tx = tensor_arg(x, "batch_norm")
    tw = None if weight is None else tensor_arg(weight, "batch_norm")
    tb = None if bias is None else tensor_arg(bias, "batch_norm")
    wd = None if tw is None else tw.data
    out, mean, var = kernels.batch_norm_forward(tx.data, _buffer(running_mean), _buffer(running_var), wd,
                                                None if tb is None else tb.data, training, momentum, eps)
    xd = tx.data

    def backward(g):
        gx, gw, gb = kernels.batch_norm_backward(g, xd, mean, var, wd, eps, training,
                                                 (need(tx), need(tw), need(tb)))
        return _grad_as(gx, tx), _grad_as(gw, tw), _grad_as(gb, tb)

    return result(out, backward, tx, tw, tb)
