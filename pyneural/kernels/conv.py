"""``conv2d`` and its backward on NumPy arrays (NCHW, PyTorch's conventions), through the active backend."""
from __future__ import annotations

import numpy as np

from .. import backend
from .checks import FLOATS as _FLOATS
from .checks import as_numeric_array
from .matmul import ACTIVATIONS

__all__ = ["conv2d", "conv2d_backward", "conv_output_size", "pair"]


def pair(op: str, name: str, value, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints as ``(h, w)``, each at least ``minimum`` (ValueError/TypeError otherwise)."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if min(items) < minimum:
        raise ValueError(f"{op}: {name} must be {'positive' if minimum > 0 else 'non-negative'}, got {value!r}")
    return int(items[0]), int(items[1])


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """PyTorch's output length along one axis; below 1 when the kernel does not fit the padded input."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _geometry(op: str, x_shape: tuple, w_shape: tuple, stride, padding, dilation, groups) -> tuple:
    """Checked ``(stride, padding, dilation, groups, (oh, ow))`` of a convolution of x by weight."""
    stride = pair(op, "stride", stride, 1)
    padding = pair(op, "padding", padding, 0)
    dilation = pair(op, "dilation", dilation, 1)
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ValueError(f"{op}: expected input (N, C, H, W) and weight (K, C/groups, kh, kw), got shapes "
                         f"{x_shape} and {w_shape}")
    c, k = x_shape[1], w_shape[0]
    if c % groups or k % groups:
        raise ValueError(f"{op}: groups={groups} must divide the input channels ({c}) and the output channels "
                         f"({k}); input {x_shape}, weight {w_shape}")
    if w_shape[1] * groups != c:
        raise ValueError(f"{op}: input {x_shape} has {c} channels but weight {w_shape} with groups={groups} "
                         f"expects {w_shape[1] * groups}")
    if min(w_shape[2:]) < 1:
        raise ValueError(f"{op}: weight {w_shape} has an empty kernel")
    out = tuple(conv_output_size(x_shape[2 + i], w_shape[2 + i], stride[i], padding[i], dilation[i]) for i in (0, 1))
    if min(out) < 1:
        span = tuple(dilation[i] * (w_shape[2 + i] - 1) + 1 for i in (0, 1))
        raise ValueError(f"{op}: kernel of extent {span} (weight {w_shape}, dilation {dilation}) is larger than "
                         f"the padded input {tuple(x_shape[2 + i] + 2 * padding[i] for i in (0, 1))} "
                         f"(input {x_shape}, padding {padding})")
    return stride, padding, dilation, int(groups), out


def _float_dtype(*arrays: np.ndarray) -> np.dtype:
    dtype = np.result_type(*arrays)
    return dtype if dtype in _FLOATS else np.dtype(np.float32)  # integer inputs compute in the default float


def _dense(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=dtype)


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups: int = 1,
           activation: str | None = None) -> np.ndarray:
    """PyTorch's ``conv2d`` (a cross-correlation) with an optional fused activation: ``act(conv(x, w) + b)``.

    x (N, C, H, W), w (K, C/groups, kh, kw), b (K,) or None; stride, padding (zeros) and dilation are
    ints or (h, w) pairs. Returns (N, K, oh, ow) in the promoted float dtype (float32 or float64).
    """
    x = as_numeric_array("conv2d", x, "x")
    w = as_numeric_array("conv2d", w, "weight")
    if activation not in ACTIVATIONS:
        raise ValueError(f"conv2d: unknown activation {activation!r}; expected one of {ACTIVATIONS}")
    stride, padding, dilation, groups, (oh, ow) = _geometry("conv2d", x.shape, w.shape, stride, padding, dilation,
                                                            groups)
    arrays = [x, w]
    if b is not None:
        b = as_numeric_array("conv2d", b, "bias")
        if b.shape != (w.shape[0],):
            raise ValueError(f"conv2d: bias has shape {b.shape}; expected ({w.shape[0]},) for weight {w.shape}")
        arrays.append(b)
    dtype = _float_dtype(*arrays)
    out = np.empty((x.shape[0], w.shape[0], oh, ow), dtype)
    backend.kernel("conv2d")(_dense(x, dtype), _dense(w, dtype), None if b is None else _dense(b, dtype), out,
                             stride, padding, dilation, groups, activation)
    return out


def conv2d_backward(grad_output, x, w, stride=1, padding=0, dilation=1, groups: int = 1, bias: bool = True,
                    need_input: bool = True, need_weight: bool = True) -> tuple:
    """Gradients of ``conv2d(x, w, b, ...)`` given ``grad_output`` (N, K, oh, ow).

    Returns ``(grad_x, grad_w, grad_b)``; each is None when not asked for (``need_input``,
    ``need_weight``, ``bias``).
    """
    grad_output = as_numeric_array("conv2d_backward", grad_output, "grad_output")
    x = as_numeric_array("conv2d_backward", x, "x")
    w = as_numeric_array("conv2d_backward", w, "weight")
    stride, padding, dilation, groups, (oh, ow) = _geometry("conv2d_backward", x.shape, w.shape, stride, padding,
                                                            dilation, groups)
    expected = (x.shape[0], w.shape[0], oh, ow)
    if grad_output.shape != expected:
        raise ValueError(f"conv2d_backward: grad_output has shape {grad_output.shape}; expected {expected} for "
                         f"input {x.shape} and weight {w.shape}")
    dtype = _float_dtype(grad_output, x, w)
    dy = _dense(grad_output, dtype)
    geometry = (stride, padding, dilation, groups)
    grad_x = grad_w = grad_b = None
    if need_input:
        grad_x = np.empty(x.shape, dtype)
        backend.kernel("conv2d_backward_data")(dy, _dense(w, dtype), grad_x, *geometry)
    if need_weight or bias:
        grad_w = np.empty(w.shape, dtype)
        grad_b = np.empty(w.shape[0], dtype) if bias else None
        if need_weight:
            backend.kernel("conv2d_backward_weight")(_dense(x, dtype), dy, grad_w, grad_b, *geometry)
        else:
            grad_b[...] = dy.sum(axis=(0, 2, 3), dtype=np.float64)
            grad_w = None
    return grad_x, grad_w, grad_b
