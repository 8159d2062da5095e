"""``matmul`` and ``linear`` (GEMM with a fused bias + activation epilogue) on NumPy arrays."""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from .checks import FLOATS as _FLOATS
from .checks import as_numeric_array

__all__ = ["matmul", "linear", "ACTIVATIONS"]

ACTIVATIONS = (None, "relu", "gelu", "sigmoid", "tanh")


def _merged(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    """``x`` reshaped to ``shape`` as a view of the same memory, or None if that needs a copy."""
    view = x.reshape(shape)
    return view if x.size == 0 or np.may_share_memory(view, x) else None


def matmul(a, b, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b`` with NumPy's rules (1-D operands, broadcast batch dimensions) through the active backend.

    float32 and float64 run on pyneural's GEMM (mixed inputs promote); integer and bool inputs
    use NumPy. Any strides, transposed views included, are handled without copies.
    """
    if type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 == b.ndim:
        # the common case with the least overhead: the 2-D kernel checks dtypes, shapes and out itself;
        # what it refuses (integers, mixed dtypes, misaligned shapes) goes the general way, which promotes
        # or raises the error
        try:
            return backend.kernel("matmul")(a, b, out)
        except (TypeError, ValueError):
            pass
    a = as_numeric_array("matmul", a, "a")
    b = as_numeric_array("matmul", b, "b")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must have at least one dimension, got shapes {a.shape} and {b.shape}")
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned: "
                         f"{a2.shape[-1]} (last dim of a) != {b2.shape[-2]} (dim {b.ndim - 2 if b.ndim > 1 else 0} of b)")
    try:
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch dimensions of shapes {a.shape} and {b.shape} cannot be broadcast") from None
    m, k, n = a2.shape[-2], a2.shape[-1], b2.shape[-1]
    shape = batch + (m, n)
    result_shape = shape[:-2] + ((m,) if a.ndim > 1 else ()) + ((n,) if b.ndim > 1 else ())
    dtype = np.result_type(a.dtype, b.dtype)

    if dtype not in _FLOATS:
        result = np.matmul(a, b)
        if out is None:
            return result
        _check_out(out, result_shape, dtype)
        out[...] = result
        return out

    if out is None:
        result = np.empty(result_shape, dtype)
    else:
        _check_out(out, result_shape, dtype)
        result = out
        if np.may_share_memory(out, a) or np.may_share_memory(out, b):  # the kernel must not read what it writes
            a2, b2 = a2.copy(), b2.copy()
    c = result.reshape(shape) if result.ndim != len(shape) else result  # only adds unit dims: a view
    a2, b2 = a2.astype(dtype, copy=False), b2.astype(dtype, copy=False)
    gemm = backend.kernel("gemm")
    if a2.shape[:-2] == b2.shape[:-2] and len(batch) <= 1:  # no broadcasting to undo: call directly
        if not batch:
            a2, b2, c = a2[None], b2[None], c[None]
        gemm(a2, b2, c)
        return result
    if b2.ndim == 2:  # (..., m, k) @ (k, n) is one GEMM over all the rows of a
        c2 = _merged(c, (1, -1, n))
        if c2 is not None:
            gemm(a2.reshape(1, -1, k), b2[None], c2)  # a view when a's leading dims merge, else a copy
            return result
    total = math.prod(batch)
    a3 = np.broadcast_to(a2, batch + (m, k)).reshape(total, m, k)  # broadcast dims keep stride 0 when they merge
    b3 = np.broadcast_to(b2, batch + (k, n)).reshape(total, k, n)
    c3 = _merged(c, (total, m, n))
    if c3 is not None:
        gemm(a3, b3, c3)
    else:  # an out= whose batch dims do not merge: one call per batch element
        for index, c_index in zip(range(total), np.ndindex(*batch)):
            gemm(a3[index][None], b3[index][None], c[c_index][None])
    return result


def linear(x, w, b=None, activation: str | None = None) -> np.ndarray:
    """``act(x @ w.T + b)`` in one pass: x (..., in_features), w (out_features, in_features), b (out_features,).

    The bias and the activation (None, "relu", "gelu" (exact, erf), "sigmoid", "tanh") are applied by
    the GEMM's epilogue while each output tile is still in cache. float32/float64; mixed inputs promote.
    """
    x = as_numeric_array("linear", x, "x")
    w = as_numeric_array("linear", w, "w")
    if activation not in ACTIVATIONS:
        raise ValueError(f"linear: unknown activation {activation!r}; expected one of {ACTIVATIONS}")
    if w.ndim != 2 or x.ndim < 1 or x.shape[-1] != w.shape[1]:
        raise ValueError(f"linear: x of shape {x.shape} and weight of shape {w.shape} do not fit: expected "
                         "x (..., in_features) and weight (out_features, in_features)")
    dtypes = [x.dtype, w.dtype]
    if b is not None:
        b = as_numeric_array("linear", b, "bias")
        if b.shape != (w.shape[0],):
            raise ValueError(f"linear: bias has shape {b.shape}; expected ({w.shape[0]},) for weight {w.shape}")
        dtypes.append(b.dtype)
    dtype = x.dtype if len(set(dtypes)) == 1 else np.result_type(*dtypes)  # result_type: ~1 us
    if dtype not in _FLOATS:
        dtype = np.dtype(np.float32)  # integer inputs compute in the default float dtype
    count = math.prod(x.shape[:-1])
    rows = x.reshape(1, count, x.shape[-1]).astype(dtype, copy=False)  # leading dims as rows: a view when possible
    out = np.empty(x.shape[:-1] + (w.shape[0],), dtype)
    bias = None if b is None else b.astype(dtype, copy=False)
    backend.kernel("gemm")(rows, w.astype(dtype, copy=False).T[None], out.reshape(1, count, w.shape[0]), bias,
                           activation)
    return out


def _check_out(out, shape: tuple[int, ...], dtype: np.dtype) -> None:
    if not isinstance(out, np.ndarray):
        raise TypeError(f"matmul: out must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != shape or out.dtype != dtype:
        raise ValueError(f"matmul: out has shape {out.shape} and dtype {out.dtype}; "
                         f"expected shape {shape} and dtype {dtype}")
    if not out.flags.writeable:
        raise ValueError("matmul: out is read-only")
