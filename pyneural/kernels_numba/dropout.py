"""Numba dropout: the contract of ``_C.dropout_forward`` / ``_C.dropout_backward``, with the same
counter-based mask bit for bit (SplitMix64 of (seed, index); see csrc/cpu/dropout/dropout.h)."""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .checks import check_array, check_float

_BLOCK = 16384
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@njit(cache=True, inline="always")
def _splitmix64(seed, i):
    """SplitMix64's output for the state seed + (i + 1) * gamma (uint64 arithmetic wraps)."""
    z = seed + (i + np.uint64(1)) * _GAMMA
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(parallel=True, cache=True)
def _forward(x, out, mask, threshold, scale, seed):
    n = x.size
    blocks = (n + _BLOCK - 1) // _BLOCK
    zero = x.dtype.type(0)
    for b in prange(blocks):
        for i in range(b * _BLOCK, min(n, (b + 1) * _BLOCK)):
            keep = (_splitmix64(seed, np.uint64(i)) >> np.uint64(11)) >= threshold
            mask[i] = keep
            out[i] = x[i] * (scale if keep else zero)


@njit(parallel=True, cache=True)
def _backward(g, mask, out, scale):
    n = g.size
    blocks = (n + _BLOCK - 1) // _BLOCK
    zero = g.dtype.type(0)
    for b in prange(blocks):
        for i in range(b * _BLOCK, min(n, (b + 1) * _BLOCK)):
            out[i] = g[i] * (scale if mask[i] else zero)


def _check_p(op: str, p: float) -> None:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{op}: probability p must be in [0, 1), got {p}")


def dropout_forward(x: np.ndarray, out: np.ndarray, mask: np.ndarray, p: float, seed: int) -> None:
    """Inverted dropout: mask (uint8) from a SplitMix64 hash of (seed, index), kept with probability 1 - p;
    out = x * mask / (1 - p). Same mask for any thread count and in the native backend."""
    op = "dropout"
    check_float(op, x, "x")
    check_array(op, "x", x, x.shape, x.dtype)
    check_array(op, "out", out, x.shape, x.dtype, True)
    check_array(op, "mask", mask, x.shape, np.uint8, True)
    p = float(p)
    _check_p(op, p)
    seed = int(seed)
    if not 0 <= seed < 1 << 64:
        raise ValueError(f"{op}: seed must be in [0, 2**64), got {seed}")
    if x.size == 0:
        return
    if (out.ctypes.data != x.ctypes.data and np.may_share_memory(out, x)) or np.may_share_memory(mask, x) \
            or np.may_share_memory(mask, out):
        raise ValueError(f"{op}: the outputs overlap the input or each other")
    threshold = np.uint64(math.ceil(p * 9007199254740992.0))  # p 2^53 is exact
    _forward(x.reshape(-1), out.reshape(-1), mask.reshape(-1), threshold, x.dtype.type(1.0 / (1.0 - p)),
             np.uint64(seed))


def dropout_backward(grad: np.ndarray, mask: np.ndarray, p: float, out: np.ndarray) -> None:
    """out = grad * mask / (1 - p)."""
    op = "dropout_backward"
    check_float(op, grad, "grad")
    check_array(op, "grad", grad, grad.shape, grad.dtype)
    check_array(op, "mask", mask, grad.shape, np.uint8)
    check_array(op, "out", out, grad.shape, grad.dtype, True)
    p = float(p)
    _check_p(op, p)
    if grad.size == 0:
        return
    if (out.ctypes.data != grad.ctypes.data and np.may_share_memory(out, grad)) or np.may_share_memory(out, mask):
        raise ValueError(f"{op}: grad_x overlaps an input")
    _backward(grad.reshape(-1), mask.reshape(-1), out.reshape(-1), grad.dtype.type(1.0 / (1.0 - p)))
