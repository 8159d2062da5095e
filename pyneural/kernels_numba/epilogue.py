"""Bias + activation applied to a GEMM result (the epilogue of ``_C.gemm``), as one parallel pass."""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

ACTIVATIONS = {None: 0, "none": 0, "relu": 1, "gelu": 2, "sigmoid": 3, "tanh": 4}


@njit(cache=True, inline="always")
def activate(v, code):
    if code == 1:
        return v if not v < 0 else 0.0  # NaN passes through, as in PyTorch
    if code == 2:
        return 0.5 * v * (1.0 + math.erf(v * 0.7071067811865476))
    if code == 3:
        return 1.0 / (1.0 + math.exp(-v))
    if code == 4:
        return math.tanh(v)
    return v


@njit(parallel=True, cache=True)
def _epilogue(out, bias, has_bias, code):
    batch, m, n = out.shape
    for task in prange(batch * m):
        row = out[task // m, task % m]
        for j in range(n):
            v = row[j] + bias[j] if has_bias else row[j]
            row[j] = activate(v, code)


def check_epilogue(out: np.ndarray, bias: np.ndarray | None, activation: str | None) -> None:
    """Validate the epilogue's arguments before the product is computed."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"gemm: unknown activation {activation!r}; expected none, relu, gelu, sigmoid or tanh")
    if bias is not None:
        if bias.ndim != 1 or bias.shape[0] != out.shape[2]:
            raise ValueError(f"gemm: bias must have shape ({out.shape[2]},), got {bias.shape}")
        if bias.dtype != out.dtype:
            raise TypeError(f"gemm: bias dtype {bias.dtype} differs from out's")
        if np.may_share_memory(bias, out):
            raise ValueError("gemm: output overlaps the bias")


def apply_epilogue(out: np.ndarray, bias: np.ndarray | None, activation: str | None) -> None:
    """``out = act(out + bias)`` in place; out (batch, m, n), bias (n,) of out's dtype, or None."""
    code = ACTIVATIONS[activation]
    if (bias is None and code == 0) or out.size == 0:
        return
    _epilogue(out, out[0, 0, :0] if bias is None else bias, bias is not None, code)
