"""Activations as differentiable ops on the element-wise activation kernels (forward and backward)."""
from __future__ import annotations

from typing import Any

from ..kernels.activation import SAVES_OUTPUT
from ..kernels.activation import activation as _activation
from ..kernels.activation import activation_backward as _activation_backward
from ..kernels.softmax import log_softmax as _log_softmax
from ..kernels.softmax import softmax as _softmax
from ..kernels.softmax import softmax_backward as _softmax_backward
from .core import Tensor, axis_alias, result, tensor_arg

__all__ = ["relu", "leaky_relu", "elu", "gelu", "silu", "sigmoid", "tanh", "softmax", "log_softmax"]


def _apply(kind: str, x: Any, alpha: float = 0.0) -> Tensor:
    tx = tensor_arg(x, kind)
    out = _activation(kind, tx.data, alpha)
    saved = out if kind in SAVES_OUTPUT else tx.data  # what the backward reads, as PyTorch saves it

    def backward(g):
        return (_activation_backward(kind, g, saved, alpha).reshape(saved.shape),)

    return result(out.reshape(tx.data.shape), backward, tx)


def relu(x: Any) -> Tensor:
    """``max(x, 0)``; NaN passes through; gradient 0 at 0 (PyTorch)."""
    return _apply("relu", x)


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """``x`` where positive, ``negative_slope * x`` elsewhere."""
    return _apply("leaky_relu", x, float(negative_slope))


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere."""
    return _apply("elu", x, float(alpha))


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """Exact GELU ``x * Phi(x)`` (erf-based); only ``approximate="none"`` is supported."""
    if approximate != "none":
        raise ValueError(f"gelu: approximate={approximate!r} is not supported; only 'none' (exact)")
    return _apply("gelu", x)


def silu(x: Any) -> Tensor:
    """``x * sigmoid(x)`` (swish)."""
    return _apply("silu", x)


def sigmoid(x: Any) -> Tensor:
    """``1 / (1 + exp(-x))``; backward from the output, as PyTorch."""
    return _apply("sigmoid", x)


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent; backward from the output, as PyTorch."""
    return _apply("tanh", x)




def _softmax_op(op: str, x: Any, axis: Any, dim: Any, log: bool) -> Tensor:
    axis, _ = axis_alias(op, axis, dim)
    tx = tensor_arg(x, op)
    axis = -1 if axis is None else axis
    out = _log_softmax(tx.data, axis) if log else _softmax(tx.data, axis)

    def backward(g):
        return (_softmax_backward(g, out, axis, log),)

    return result(out, backward, tx)


def softmax(x: Any, axis: Any = None, dim: Any = None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``axis`` (default -1; ``dim=`` accepted), stable for huge and -inf logits."""
    return _softmax_op("softmax", x, axis, dim, False)


def log_softmax(x: Any, axis: Any = None, dim: Any = None) -> Tensor:
    """``x - logsumexp(x)`` along ``axis`` (default -1; ``dim=`` accepted)."""
    return _softmax_op("log_softmax", x, axis, dim, True)
