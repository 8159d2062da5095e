"""``conv1d`` and ``conv2d``: forward on the conv kernel (im2col + GEMM), backward on its two gradient kernels."""
from __future__ import annotations

from typing import Any

from .. import kernels
from ..kernels.conv import pair
from .core import Tensor, need, result, tensor_arg

__all__ = ["conv1d", "conv2d"]


def conv2d(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
           groups: int = 1) -> Tensor:
    """PyTorch's ``conv2d``: x (N, C, H, W) or (C, H, W), weight (K, C/groups, kh, kw), bias (K,) or None.

    stride, padding (zeros) and dilation are ints or (h, w) pairs. Differentiable in x, weight and bias.
    """
    tx, tw = tensor_arg(x, "conv2d"), tensor_arg(weight, "conv2d")
    tb = None if bias is None else tensor_arg(bias, "conv2d")
    xd = tx.data
    if xd.ndim == 3:  # unbatched input, as PyTorch accepts
        xd = xd[None]
    elif xd.ndim != 4:
        raise ValueError(f"conv2d: expected input of shape (N, C, H, W) or (C, H, W), got {tx.shape}")
    return _conv(tx, tw, tb, xd, tw.data, tx.data.shape, tw.data.shape, stride, padding, dilation, groups)


def conv1d(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
           groups: int = 1) -> Tensor:
    """PyTorch's ``conv1d``: x (N, C, L) or (C, L), weight (K, C/groups, k), bias (K,) or None.

    Runs as a conv2d of height 1 (same kernels, no copies).
    """
    tx, tw = tensor_arg(x, "conv1d"), tensor_arg(weight, "conv1d")
    tb = None if bias is None else tensor_arg(bias, "conv1d")
    xd, wd = tx.data, tw.data
    if xd.ndim not in (2, 3) or wd.ndim != 3:
        raise ValueError(f"conv1d: expected input (N, C, L) or (C, L) and weight (K, C/groups, k), got shapes "
                         f"{tx.shape} and {tw.shape}")
    xd = (xd[None] if xd.ndim == 2 else xd)[:, :, None, :]
    as_pair = {name: (1,) + (_single("conv1d", name, value),)
               for name, value in (("stride", stride), ("padding", padding), ("dilation", dilation))}
    as_pair["padding"] = (0, as_pair["padding"][1])
    return _conv(tx, tw, tb, xd, wd[:, :, None, :], tx.data.shape, wd.shape, as_pair["stride"], as_pair["padding"],
                 as_pair["dilation"], groups)


def _single(op: str, name: str, value: Any) -> Any:
    """A 1-D size given as an int or a 1-tuple."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise TypeError(f"{op}: {name} must be an int or a 1-tuple, got {value!r}")
        return value[0]
    return value


def _conv(tx: Tensor, tw: Tensor, tb: Tensor | None, x4, w4, x_shape: tuple, w_shape: tuple, stride, padding,
          dilation, groups) -> Tensor:
    """The 4-D convolution of x4 by w4; results and gradients take the shapes of the caller's x and weight."""
    b = None if tb is None else tb.data
    y = kernels.conv2d(x4, w4, b, stride, padding, dilation, groups)
    out_shape = y.shape[:2] + y.shape[3:] if len(w_shape) == 3 else y.shape
    if len(x_shape) == len(w_shape) - 1:  # unbatched
        out_shape = out_shape[1:]

    def backward(g):
        gx, gw, gb = kernels.conv2d_backward(g.reshape(y.shape), x4, w4, stride, padding, dilation, groups,
                                             bias=need(tb), need_input=need(tx), need_weight=need(tw))
        return (None if gx is None else gx.reshape(x_shape), None if gw is None else gw.reshape(w_shape), gb)

    return result(y.reshape(out_shape), backward, tx, tw, tb)
