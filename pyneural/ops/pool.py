"""Pooling ops (max, average, adaptive average) with their backward rules on the pooling kernels."""
from __future__ import annotations

from typing import Any

from .. import kernels
from .core import Tensor, floating, result, tensor_arg

__all__ = ["max_pool2d", "avg_pool2d", "adaptive_avg_pool2d"]


def max_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """PyTorch's ``max_pool2d`` on (N, C, H, W) or (C, H, W): padding counts as -inf, NaN propagates.

    The gradient goes to the (first) maximum of each window. With ``return_indices`` also returns the
    flat positions of the maxima (an int64 Tensor), as PyTorch does.
    """
    tx = tensor_arg(x, "max_pool2d")
    xd = floating(tx.data)
    geometry = (kernel_size, stride, padding, dilation, ceil_mode)
    out, indices = kernels.max_pool2d(xd, *geometry, return_indices=True)

    def backward(g):
        return (kernels.max_pool2d_backward(g, indices, xd.shape, *geometry),)

    y = result(out, backward, tx)
    return (y, tensor_arg(indices, "max_pool2d")) if return_indices else y


def avg_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """PyTorch's ``avg_pool2d`` on (N, C, H, W) or (C, H, W); padding zeros count unless ``count_include_pad=False``."""
    tx = tensor_arg(x, "avg_pool2d")
    xd = floating(tx.data)
    geometry = (kernel_size, stride, padding, ceil_mode, count_include_pad)
    out = kernels.avg_pool2d(xd, *geometry)

    def backward(g):
        return (kernels.avg_pool2d_backward(g, xd.shape, *geometry),)

    return result(out, backward, tx)


def adaptive_avg_pool2d(x: Any, output_size: Any) -> Tensor:
    """PyTorch's ``adaptive_avg_pool2d``: means over windows [floor(i H / oh), ceil((i + 1) H / oh))."""
    tx = tensor_arg(x, "adaptive_avg_pool2d")
    xd = floating(tx.data)
    out = kernels.adaptive_avg_pool2d(xd, output_size)

    def backward(g):
        return (kernels.adaptive_avg_pool2d_backward(g, xd.shape),)

    return result(out, backward, tx)
