"""Numba GEMM: ``out[i] = a[i] @ b[i]`` over a batch, any strides (contract of ``_C.gemm``)."""
from __future__ import annotations

import numpy as np
from numba import njit, prange

_ROWS = 4  # rows of ``out`` accumulated together, so each row of b is loaded once per block


@njit(parallel=True, cache=True, fastmath=False)
def _gemm(a, b, out):
    batch, m, k = a.shape
    n = b.shape[2]
    blocks = (m + _ROWS - 1) // _ROWS
    for task in prange(batch * blocks):
        bi = task // blocks
        i0 = (task % blocks) * _ROWS
        i1 = min(i0 + _ROWS, m)
        acc = np.zeros((_ROWS, n), dtype=out.dtype)
        for p in range(k):
            b_row = b[bi, p]
            for i in range(i0, i1):
                a_ip = a[bi, i, p]
                acc_row = acc[i - i0]
                for j in range(n):
                    acc_row[j] += a_ip * b_row[j]
        for i in range(i0, i1):
            for j in range(n):
                out[bi, i, j] = acc[i - i0, j]


def gemm(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """Batched ``out[i] = a[i] @ b[i]``: a (batch, m, k), b (batch, k, n), out (batch, m, n), one float dtype."""
    if a.ndim != 3 or b.ndim != 3 or out.ndim != 3:
        raise ValueError(f"gemm: expected 3-D arrays, got a{a.shape}, b{b.shape}, out{out.shape}")
    batch, m, k = a.shape
    if b.shape != (batch, k, b.shape[2]) or out.shape != (batch, m, b.shape[2]):
        raise ValueError(f"gemm: shapes a{a.shape}, b{b.shape}, out{out.shape} do not match")
    if not (a.dtype == b.dtype == out.dtype) or a.dtype not in (np.float32, np.float64):
        raise TypeError(f"gemm: expected one float32/float64 dtype, got {a.dtype}, {b.dtype}, {out.dtype}")
    if not out.flags.writeable:
        raise ValueError("gemm: out is read-only")
    if out.size == 0:
        return
    if b.strides[2] != b.itemsize:  # the inner loop walks rows of b: make them unit-stride
        b = np.ascontiguousarray(b)
    _gemm(a, b, out)
