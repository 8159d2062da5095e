"""Weight initialisation in place (PyTorch's ``torch.nn.init``), drawn from the library generator.

Each function writes into the storage of a Tensor (or NumPy array) and returns it; ``pn.manual_seed``
makes the draws reproducible. Fans and gains follow PyTorch: for a weight of shape (out, in, *kernel),
``fan_in = in * prod(kernel)`` and ``fan_out = out * prod(kernel)``.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..random import generator
from ..tensor import Tensor

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "zeros_", "ones_", "eye_",
           "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_"]

_LINEAR_GAIN_1 = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table: relu sqrt(2), tanh 5/3, selu 3/4, ...)."""
    if nonlinearity in _LINEAR_GAIN_1:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _storage(tensor: Any, op: str) -> np.ndarray:
    """The array to write into: a Tensor's storage or a floating NumPy array."""
    arr = tensor.data if isinstance(tensor, Tensor) else tensor
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"init.{op}: expected a Tensor or a NumPy array, got {type(tensor).__name__}")
    if arr.dtype.kind != "f":
        raise TypeError(f"init.{op}: needs a floating-point tensor, got dtype {arr.dtype}")
    return arr


def _fill(tensor: Any, values: np.ndarray | float, op: str) -> Any:
    _storage(tensor, op)[...] = values
    return tensor


def _calculate_fan_in_and_fan_out(tensor: Any) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of shape (out, in, *kernel); needs at least 2 dimensions."""
    shape = _storage(tensor, "fan").shape
    if len(shape) < 2:
        raise ValueError(f"init: fan in and fan out cannot be computed for a tensor with fewer than 2 "
                         f"dimensions (shape {shape})")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _fan(tensor: Any, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init: mode {mode!r} not supported, use 'fan_in' or 'fan_out'")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Any, a: float = 0.0, b: float = 1.0) -> Any:
    """Fill with U(a, b)."""
    if a > b:
        raise ValueError(f"init.uniform_: lower bound {a} is above upper bound {b}")
    arr = _storage(tensor, "uniform_")
    return _fill(tensor, generator().uniform(a, b, arr.shape), "uniform_")


def normal_(tensor: Any, mean: float = 0.0, std: float = 1.0) -> Any:
    """Fill with N(mean, std^2)."""
    if std < 0:
        raise ValueError(f"init.normal_: std must be non-negative, got {std}")
    arr = _storage(tensor, "normal_")
    return _fill(tensor, generator().normal(mean, std, arr.shape), "normal_")


def trunc_normal_(tensor: Any, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0) -> Any:
    """Fill with N(mean, std^2) restricted to [a, b] (rejection: redraw the values that fall outside)."""
    if a >= b:
        raise ValueError(f"init.trunc_normal_: a={a} must be below b={b}")
    arr = _storage(tensor, "trunc_normal_")
    values = generator().normal(mean, std, arr.shape)
    outside = (values < a) | (values > b)
    while outside.any():
        values[outside] = generator().normal(mean, std, int(outside.sum()))
        outside = (values < a) | (values > b)
    return _fill(tensor, values, "trunc_normal_")


def constant_(tensor: Any, val: float) -> Any:
    """Fill with ``val``."""
    return _fill(tensor, val, "constant_")


def zeros_(tensor: Any) -> Any:
    """Fill with zeros."""
    return _fill(tensor, 0.0, "zeros_")


def ones_(tensor: Any) -> Any:
    """Fill with ones."""
    return _fill(tensor, 1.0, "ones_")


def eye_(tensor: Any) -> Any:
    """Fill a 2-D tensor with the identity (ones on the main diagonal)."""
    arr = _storage(tensor, "eye_")
    if arr.ndim != 2:
        raise ValueError(f"init.eye_: only 2-D tensors are supported, got shape {arr.shape}")
    return _fill(tensor, np.eye(*arr.shape), "eye_")


def xavier_uniform_(tensor: Any, gain: float = 1.0) -> Any:
    """Glorot & Bengio (2010): U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor: Any, gain: float = 1.0) -> Any:
    """Glorot & Bengio (2010): N(0, std^2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(tensor: Any, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Any:
    """He et al. (2015): U(-b, b) with ``b = gain * sqrt(3 / fan)``, gain from ``calculate_gain(nonlinearity, a)``."""
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor  # PyTorch warns and leaves an empty tensor alone
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: Any, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Any:
    """He et al. (2015): N(0, std^2) with ``std = gain / sqrt(fan)``."""
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan))


def orthogonal_(tensor: Any, gain: float = 1.0) -> Any:
    """Saxe et al. (2013): a (semi-)orthogonal matrix from the QR decomposition of a Gaussian matrix,
    with the sign of R's diagonal folded in so the distribution is uniform; dimensions past the first are
    flattened."""
    arr = _storage(tensor, "orthogonal_")
    if arr.ndim < 2:
        raise ValueError(f"init.orthogonal_: only tensors with 2 or more dimensions are supported, got shape "
                         f"{arr.shape}")
    if arr.size == 0:
        return tensor
    rows, cols = arr.shape[0], arr.size // arr.shape[0]
    flat = generator().normal(0.0, 1.0, (rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(arr.shape), "orthogonal_")
