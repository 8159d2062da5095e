"""``Linear``, ``Identity``, ``Flatten``, ``Unflatten``."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import dtypes as _dt
from ..tensor import Tensor, _check_device
from . import functional as F
from . import init
from .module import Module, Parameter

__all__ = ["Identity", "Linear", "Flatten", "Unflatten"]


def empty_parameter(shape: tuple, dtype: Any = None, device: Any = None) -> Parameter:
    """An uninitialised Parameter of a floating dtype (the layer's reset_parameters fills it)."""
    _check_device(device)
    dtype = _dt.default_float if dtype is None else _dt.as_dtype(dtype, "Parameter")
    if dtype.kind != "f":
        raise TypeError(f"parameters need a floating-point dtype, got {dtype}")
    return Parameter(np.empty(shape, dtype))


def check_non_negative(layer: str, **sizes: Any) -> None:
    """Sizes that may be zero (PyTorch allows empty Linear, Conv, Embedding and norm layers) must be ints >= 0."""
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{layer}: {name} must be a non-negative int, got {value!r}")


def check_positive(layer: str, **sizes: Any) -> None:
    """Sizes that must be at least 1 (heads, layers, groups, hidden sizes) must be ints > 0."""
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"{layer}: {name} must be a positive int, got {value!r}")


def fan_in_uniform_(bias: Parameter, fan_in: int) -> None:
    """PyTorch's default bias init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    init.uniform_(bias, -bound, bound)


class Identity(Module):
    """Returns its input (a placeholder, e.g. for a removed head); ignores constructor arguments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        return x


class Linear(Module):
    """``y = x @ weight.T + bias``: weight (out_features, in_features), bias (out_features,).

    Initialised as PyTorch: weight by ``kaiming_uniform_(a=sqrt(5))`` (i.e. U(+-1/sqrt(in_features))),
    bias U(+-1/sqrt(in_features)).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        check_non_negative("Linear", in_features=in_features, out_features=out_features)
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = empty_parameter((self.out_features, self.in_features), dtype, device)
        if bias:
            self.bias = empty_parameter((self.out_features,), dtype, device)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh weights with PyTorch's default scheme."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in_uniform_(self.bias, self.in_features)

    def forward(self, x: Any) -> Tensor:
        shape = getattr(x, "shape", None)
        if shape is not None and (len(shape) == 0 or shape[-1] != self.in_features):
            raise ValueError(f"Linear: input of shape {tuple(shape)} does not end in in_features={self.in_features}")
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    """Merge dimensions ``start_dim..end_dim`` into one (default: all but the batch dimension)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size``."""

    def __init__(self, dim: int, unflattened_size: tuple) -> None:
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape
        d = self.dim % len(shape) if -len(shape) <= self.dim < len(shape) else None
        if d is None or math.prod(self.unflattened_size) != shape[d]:
            raise ValueError(f"Unflatten: cannot split dim {self.dim} of shape {shape} into {self.unflattened_size}")
        return x.reshape(shape[:d] + self.unflattened_size + shape[d + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
