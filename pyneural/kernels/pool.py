"""Pooling on NumPy arrays (NCHW or CHW, PyTorch's semantics), forward and backward, through the active backend."""
from __future__ import annotations

import numpy as np

from .. import backend
from .checks import FLOATS as _FLOATS
from .checks import as_numeric_array
from .conv import pair

__all__ = ["max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward", "adaptive_avg_pool2d",
           "adaptive_avg_pool2d_backward", "pool_output_size"]


def pool_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1,
                     ceil_mode: bool = False) -> int:
    """PyTorch's pooled length along one axis; below 1 when the window does not fit the padded input."""
    room = size + 2 * padding - dilation * (kernel - 1) - 1
    if room < 0:
        return -1
    out = (room + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:  # the last window must start inside
        out -= 1
    return out


def _input(op: str, x) -> tuple[np.ndarray, tuple]:
    """x as a C-contiguous float (N, C, H, W) array, and the shape the result takes ((C, H, W) stays 3-D)."""
    x = as_numeric_array(op, x, "x")
    if x.ndim not in (3, 4):
        raise ValueError(f"{op}: expected input of shape (N, C, H, W) or (C, H, W), got {x.shape}")
    if min(x.shape[-2:]) < 1:
        raise ValueError(f"{op}: input {x.shape} has an empty plane")
    dtype = x.dtype if x.dtype in _FLOATS else np.dtype(np.float32)
    return np.ascontiguousarray(x if x.ndim == 4 else x[None], dtype=dtype), x.shape


def _window(op: str, x_shape: tuple, kernel_size, stride, padding, dilation, ceil_mode) -> tuple:
    """Checked (kernel, stride, padding, dilation, (oh, ow)) of a pooling window over planes of x_shape."""
    kernel = pair(op, "kernel_size", kernel_size, 1)
    stride = kernel if stride is None or stride == () or stride == [] else pair(op, "stride", stride, 1)
    padding = pair(op, "padding", padding, 0)
    dilation = pair(op, "dilation", dilation, 1)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{op}: padding {padding} must be at most half of kernel_size {kernel}")
    h, w = x_shape[-2:]
    out = (pool_output_size(h, kernel[0], stride[0], padding[0], dilation[0], ceil_mode),
           pool_output_size(w, kernel[1], stride[1], padding[1], dilation[1], ceil_mode))
    if min(out) < 1:
        raise ValueError(f"{op}: window {kernel} (dilation {dilation}) is larger than the padded input "
                         f"{(h + 2 * padding[0], w + 2 * padding[1])} (input {x_shape}, padding {padding})")
    return kernel, stride, padding, dilation, out


def _grad(op: str, g: np.ndarray, shape: tuple, x4: tuple, out_hw: tuple, dtype) -> np.ndarray:
    """grad_output as a C-contiguous (N, C, oh, ow) array of dtype, checked against the forward's shapes."""
    expected = tuple(shape[:-2]) + tuple(out_hw)
    if g.shape != expected:
        raise ValueError(f"{op}: grad_output has shape {g.shape}; expected {expected} for input {shape}")
    return np.ascontiguousarray(g.reshape(x4[:2] + tuple(out_hw)), dtype=dtype)


def _input_shape(op: str, input_shape) -> tuple[tuple, tuple]:
    shape = tuple(int(s) for s in input_shape)
    if len(shape) not in (3, 4) or min(shape[-2:]) < 1:
        raise ValueError(f"{op}: input_shape must be (N, C, H, W) or (C, H, W) with non-empty planes, got {shape}")
    return (shape if len(shape) == 4 else (1,) + shape), shape


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """Window maxima (padding counts as -inf; NaN propagates). x (N, C, H, W) or (C, H, W).

    Returns the pooled array, and with ``return_indices`` also the int64 flat positions (h * W + w)
    of each maximum in its plane, as PyTorch's ``return_indices`` gives them (what backward needs).
    """
    x4, shape = _input("max_pool2d", x)
    kernel, stride, padding, dilation, (oh, ow) = _window("max_pool2d", shape, kernel_size, stride, padding,
                                                          dilation, bool(ceil_mode))
    out = np.empty(x4.shape[:2] + (oh, ow), x4.dtype)
    indices = np.empty(out.shape, np.int64)
    backend.kernel("max_pool2d")(x4, out, indices, kernel, stride, padding, dilation, bool(ceil_mode))
    if len(shape) == 3:
        out, indices = out[0], indices[0]
    return (out, indices) if return_indices else out


def max_pool2d_backward(grad_output, indices, input_shape, kernel_size, stride=None, padding=0, dilation=1,
                        ceil_mode: bool = False) -> np.ndarray:
    """Gradient of max_pool2d with respect to its input: grad_output added at the recorded maxima."""
    op = "max_pool2d_backward"
    x4, shape = _input_shape(op, input_shape)
    g = as_numeric_array(op, grad_output, "grad_output")
    dtype = g.dtype if g.dtype in _FLOATS else np.dtype(np.float32)
    kernel, stride, padding, dilation, out_hw = _window(op, shape, kernel_size, stride, padding, dilation,
                                                        bool(ceil_mode))
    g = _grad(op, g, shape, x4, out_hw, dtype)
    idx = np.asarray(indices)
    if idx.dtype != np.int64 or idx.size != g.size:
        raise ValueError(f"{op}: indices must be int64 of the output's shape {g.shape}, got {idx.dtype} {idx.shape}")
    dx = np.empty(x4, dtype)
    backend.kernel(op)(g, np.ascontiguousarray(idx.reshape(g.shape)), dx, kernel, stride, padding, dilation,
                       bool(ceil_mode))
    return dx.reshape(shape)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> np.ndarray:
    """Window means; with ``count_include_pad`` (PyTorch's default) padding zeros count in the divisor."""
    x4, shape = _input("avg_pool2d", x)
    kernel, stride, padding, _, (oh, ow) = _window("avg_pool2d", shape, kernel_size, stride, padding, 1,
                                                   bool(ceil_mode))
    out = np.empty(x4.shape[:2] + (oh, ow), x4.dtype)
    backend.kernel("avg_pool2d")(x4, out, kernel, stride, padding, bool(ceil_mode), bool(count_include_pad))
    return out[0] if len(shape) == 3 else out


def avg_pool2d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                        count_include_pad: bool = True) -> np.ndarray:
    """Gradient of avg_pool2d with respect to its input."""
    op = "avg_pool2d_backward"
    x4, shape = _input_shape(op, input_shape)
    g = as_numeric_array(op, grad_output, "grad_output")
    dtype = g.dtype if g.dtype in _FLOATS else np.dtype(np.float32)
    kernel, stride, padding, _, out_hw = _window(op, shape, kernel_size, stride, padding, 1, bool(ceil_mode))
    dx = np.empty(x4, dtype)
    backend.kernel(op)(_grad(op, g, shape, x4, out_hw, dtype), dx, kernel, stride, padding, bool(ceil_mode),
                       bool(count_include_pad))
    return dx.reshape(shape)


def _adaptive_size(op: str, output_size, shape: tuple) -> tuple[int, int]:
    """(oh, ow) from an int or a pair whose None entries keep the input's size."""
    items = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size, output_size)
    if len(items) != 2:
        raise TypeError(f"{op}: output_size must be an int or a pair, got {output_size!r}")
    size = tuple(shape[-2 + i] if v is None else v for i, v in enumerate(items))
    return pair(op, "output_size", size, 1)


def adaptive_avg_pool2d(x, output_size) -> np.ndarray:
    """Average pooling to ``output_size`` (int or (H, W), None keeps that size) with PyTorch's windows."""
    x4, shape = _input("adaptive_avg_pool2d", x)
    oh, ow = _adaptive_size("adaptive_avg_pool2d", output_size, shape)
    out = np.empty(x4.shape[:2] + (oh, ow), x4.dtype)
    backend.kernel("adaptive_avg_pool2d")(x4, out)
    return out[0] if len(shape) == 3 else out


def adaptive_avg_pool2d_backward(grad_output, input_shape) -> np.ndarray:
    """Gradient of adaptive_avg_pool2d with respect to its input (the output size is grad_output's)."""
    op = "adaptive_avg_pool2d_backward"
    x4, shape = _input_shape(op, input_shape)
    g = as_numeric_array(op, grad_output, "grad_output")
    dtype = g.dtype if g.dtype in _FLOATS else np.dtype(np.float32)
    if g.ndim != len(shape) or g.shape[:-2] != shape[:-2] or min(g.shape[-2:]) < 1:
        raise ValueError(f"{op}: grad_output has shape {g.shape}, which does not fit input {shape}")
    dx = np.empty(x4, dtype)
    backend.kernel(op)(_grad(op, g, shape, x4, g.shape[-2:], dtype), dx)
    return dx.reshape(shape)
