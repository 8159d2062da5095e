"""``linear``: ``act(x @ weight.T + bias)`` on the fused GEMM kernel, with its backward on the same kernel."""
from __future__ import annotations

from typing import Any

from .. import kernels
from ..kernels.activation import activation_backward
from .core import Tensor, need, result, tensor_arg

__all__ = ["linear"]

# activations whose derivative follows from their output, so the pre-activation need not be kept
FUSABLE_ACTIVATIONS = ("relu", "sigmoid", "tanh")


def linear(x: Any, weight: Any, bias: Any = None, activation: str | None = None) -> Tensor:
    """``act(x @ weight.T + bias)``: x (..., in_features), weight (out_features, in_features), bias (out_features,).

    Forward is one GEMM whose output pass adds the bias and applies ``activation`` (None, or one of
    ``FUSABLE_ACTIVATIONS``); backward multiplies by the activation's derivative, taken from the output,
    then runs two GEMMs on transposed views (``dx = dz @ W``, ``dW = dz.T @ x``) and a sum for the bias.
    """
    if activation is not None and activation not in FUSABLE_ACTIVATIONS:
        raise ValueError(f"linear: activation must be None or one of {FUSABLE_ACTIVATIONS}, got {activation!r}")
    tx, tw = tensor_arg(x, "linear"), tensor_arg(weight, "linear")
    tb = None if bias is None else tensor_arg(bias, "linear")
    xd, wd = tx.data, tw.data
    out = kernels.linear(xd, wd, None if tb is None else tb.data, activation)

    def backward(g):
        if activation is not None:  # relu's derivative from the output: out > 0 exactly where z > 0
            g = activation_backward(activation, g, out)
        rows = g.reshape(-1, g.shape[-1])
        gx = kernels.matmul(rows, wd).reshape(xd.shape) if need(tx) else None
        gw = kernels.matmul(rows.T, xd.reshape(-1, xd.shape[-1])) if need(tw) else None
        gb = rows.sum(axis=0) if need(tb) else None
        return gx, gw, gb

    return result(out, backward, tx, tw, tb)
