"""``linear``: ``x @ weight.T + bias`` on the fused GEMM kernel, with its backward on the same kernel."""
from __future__ import annotations

from typing import Any

from .. import kernels
from .core import Tensor, need, result, tensor_arg

__all__ = ["linear"]


def linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """``x @ weight.T + bias``: x (..., in_features), weight (out_features, in_features), bias (out_features,).

    Forward is one GEMM whose output pass adds the bias; backward is two GEMMs on transposed views
    (``dx = dy @ W``, ``dW = dy.T @ x``) and a sum for the bias.
    """
    tx, tw = tensor_arg(x, "linear"), tensor_arg(weight, "linear")
    tb = None if bias is None else tensor_arg(bias, "linear")
    xd, wd = tx.data, tw.data
    out = kernels.linear(xd, wd, None if tb is None else tb.data)

    def backward(g):
        rows = g.reshape(-1, g.shape[-1])
        gx = kernels.matmul(rows, wd).reshape(xd.shape) if need(tx) else None
        gw = kernels.matmul(rows.T, xd.reshape(-1, xd.shape[-1])) if need(tw) else None
        gb = rows.sum(axis=0) if need(tb) else None
        return gx, gw, gb

    return result(out, backward, tx, tw, tb)
