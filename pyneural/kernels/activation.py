"""Element-wise activations on NumPy arrays (forward and backward) through the active backend."""
from __future__ import annotations

import numpy as np

from .. import backend
from .. import dtypes as _dt
from .checks import as_numeric_array

__all__ = ["relu", "leaky_relu", "elu", "gelu", "silu", "sigmoid", "tanh", "activation", "activation_backward",
           "SAVES_OUTPUT"]

KINDS = ("relu", "leaky_relu", "elu", "gelu", "silu", "sigmoid", "tanh")
SAVES_OUTPUT = ("sigmoid", "tanh")  # their backward reads the forward's output; the others read its input


def _float_contiguous(op: str, x, name: str = "x", dtype=None) -> np.ndarray:
    """``x`` as a C-contiguous float array (integer input computes in the default float dtype)."""
    arr = as_numeric_array(op, x, name)
    if dtype is None:
        dtype = arr.dtype if arr.dtype.kind == "f" and arr.dtype.itemsize >= 4 else _dt.default_float
        if arr.dtype == np.float16:
            dtype = np.dtype(np.float32)
    return np.asarray(arr, dtype=dtype, order="C")  # keeps 0-d arrays 0-d (ascontiguousarray would not)


def activation(kind: str, x, alpha: float = 0.0) -> np.ndarray:
    """``f(x)`` for ``kind`` in relu, leaky_relu (alpha = negative_slope), elu (alpha), gelu, silu, sigmoid, tanh."""
    if kind not in KINDS:
        raise ValueError(f"activation: unknown activation {kind!r}; expected one of {KINDS}")
    xc = _float_contiguous(kind, x)
    out = np.empty_like(xc)
    backend.kernel("activation_forward")(kind, xc, out, float(alpha))
    return out


def activation_backward(kind: str, grad, saved, alpha: float = 0.0) -> np.ndarray:
    """``grad * f'(.)``: ``saved`` is the forward's output for sigmoid and tanh, its input for the others."""
    if kind not in KINDS:
        raise ValueError(f"activation_backward: unknown activation {kind!r}; expected one of {KINDS}")
    s = _float_contiguous(f"{kind}_backward", saved, "saved")
    g = np.asarray(grad)
    if g.shape != s.shape:
        raise ValueError(f"{kind}_backward: grad of shape {g.shape} does not match saved of shape {s.shape}")
    g = _float_contiguous(f"{kind}_backward", g, "grad", s.dtype)
    out = np.empty_like(s)
    backend.kernel("activation_backward")(kind, g, s, out, float(alpha))
    return out


def relu(x) -> np.ndarray:
    """``max(x, 0)`` (NaN passes through)."""
    return activation("relu", x)


def leaky_relu(x, negative_slope: float = 0.01) -> np.ndarray:
    """``x`` where positive, ``negative_slope * x`` elsewhere."""
    return activation("leaky_relu", x, negative_slope)


def elu(x, alpha: float = 1.0) -> np.ndarray:
    """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere."""
    return activation("elu", x, alpha)


def gelu(x) -> np.ndarray:
    """Exact GELU ``x * Phi(x)`` (erf-based, accurate in both tails)."""
    return activation("gelu", x)


def silu(x) -> np.ndarray:
    """``x * sigmoid(x)``."""
    return activation("silu", x)


def sigmoid(x) -> np.ndarray:
    """``1 / (1 + exp(-x))`` without overflow for large ``|x|``."""
    return activation("sigmoid", x)


def tanh(x) -> np.ndarray:
    """Hyperbolic tangent."""
    return activation("tanh", x)
