"""Shape ops (views where NumPy can make them) and joining: reshape, transpose, expand, concatenate, stack."""
from __future__ import annotations

import functools
import math
from typing import Any, Sequence

from .. import dtypes as _dt
from ..tensor import _to_array
from .core import Tensor, axis_alias, canon_axis, need, result, shape_args, unbroadcast, xp

__all__ = ["reshape", "view", "flatten", "squeeze", "unsqueeze", "transpose", "permute", "reverse_dims",
           "expand", "contiguous", "concatenate", "cat", "stack"]


def reshape(x: Tensor, *shape: Any) -> Tensor:
    """Same data in a new shape (ints or one tuple; one -1 is inferred). A view when NumPy can make one."""
    shape = shape_args("reshape", shape)
    d = x.data
    try:
        out = d.reshape(shape)
    except ValueError:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {d.shape} ({d.size} elements) "
                         f"into {shape}") from None
    return result(out, lambda g: (g.reshape(d.shape),), x)


#: PyTorch's ``view``: here the same as :func:`reshape` (it copies where a view is impossible, never raises for that).
view = reshape


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions ``start_dim..end_dim`` (inclusive) into one; a 0-d tensor becomes shape (1,)."""
    s = x.data.shape
    if not s:
        return reshape(x, 1)
    a = canon_axis("flatten", start_dim, len(s), s)
    b = canon_axis("flatten", end_dim, len(s), s)
    if a > b:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {s}")
    return reshape(x, s[:a] + (math.prod(s[a:b + 1]),) + s[b + 1:])


def squeeze(x: Tensor, axis: Any = None, *, dim: Any = None) -> Tensor:
    """Remove size-1 dimensions: all of them, or those in ``axis`` (an int or a tuple). As PyTorch, a
    named dimension whose size is not 1 is left alone (NumPy would raise)."""
    axis, _ = axis_alias("squeeze", axis, dim)
    s = x.data.shape
    if axis is None:
        drop = {i for i, n in enumerate(s) if n == 1}
    else:
        axes = axis if isinstance(axis, (tuple, list)) else (axis,)
        drop = {a for a in (canon_axis("squeeze", a, len(s), s) for a in axes) if s[a] == 1}
    return reshape(x, tuple(n for i, n in enumerate(s) if i not in drop))


def unsqueeze(x: Tensor, dim: Any = None, *, axis: Any = None) -> Tensor:
    """Insert a size-1 dimension at position ``dim`` (``-1`` appends)."""
    a, _ = axis_alias("unsqueeze", axis, dim)
    if a is None:
        raise TypeError("unsqueeze: missing the dim argument")
    s = x.data.shape
    a = canon_axis("unsqueeze", a, len(s) + 1, s)
    return reshape(x, s[:a] + (1,) + s[a:])


def transpose(x: Tensor, dim0: Any = None, dim1: Any = None) -> Tensor:
    """Swap two dimensions (PyTorch); with no arguments reverse them all (NumPy's ``transpose()``)."""
    if dim0 is None and dim1 is None:
        return reverse_dims(x)
    if dim0 is None or dim1 is None:
        raise TypeError("transpose: pass two dims to swap (use permute for a full permutation)")
    s = x.data.shape
    a = canon_axis("transpose", dim0, len(s), s)
    b = canon_axis("transpose", dim1, len(s), s)
    return result(xp.swapaxes(x.data, a, b), lambda g: (xp.swapaxes(g, a, b),), x)


def permute(x: Tensor, *dims: Any) -> Tensor:
    """Reorder dimensions: ``permute(2, 0, 1)`` or ``permute((2, 0, 1))``."""
    s = x.data.shape
    dims = tuple(canon_axis("permute", a, len(s), s) for a in shape_args("permute", dims))
    if sorted(dims) != list(range(len(s))):
        raise ValueError(f"permute: {dims} is not a permutation of the {len(s)} dims of shape {s}")
    inverse = tuple(xp.argsort(dims))
    return result(xp.transpose(x.data, dims), lambda g: (xp.transpose(g, inverse),), x)


def reverse_dims(x: Tensor) -> Tensor:
    """All dimensions in reverse order (``.T``)."""
    return permute(x, tuple(range(x.data.ndim - 1, -1, -1)))


def expand(x: Tensor, *sizes: Any) -> Tensor:
    """Broadcast to ``sizes`` without copying (a read-only view); ``-1`` keeps a dimension, new dims
    may be added in front. The gradient is summed back over the expanded dimensions."""
    sizes = shape_args("expand", sizes)
    s = x.data.shape
    lead = len(sizes) - len(s)
    target = []
    for i, n in enumerate(sizes):
        old = s[i - lead] if i >= lead else None
        if n == -1 and old is not None:
            n = old
        if n < 0 or (old is not None and old != 1 and old != n):
            raise ValueError(f"expand: cannot expand a tensor of shape {s} to {sizes}")
        target.append(n)
    if lead < 0:
        raise ValueError(f"expand: cannot expand a tensor of shape {s} to fewer dims {sizes}")
    return result(xp.broadcast_to(x.data, tuple(target)), lambda g: (unbroadcast(g, s),), x)


def contiguous(x: Tensor) -> Tensor:
    """``x`` if its storage is C-contiguous, else a contiguous copy (gradient passes through)."""
    if x.data.flags.c_contiguous:
        return x
    return result(xp.ascontiguousarray(x.data), lambda g: (g,), x)


def _join_args(op: str, tensors: Sequence) -> tuple:
    """Tensor operands (None for constants) and arrays promoted to one dtype."""
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: expected a list or tuple of tensors, got {type(tensors).__name__}")
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty sequence of tensors")
    ts = tuple(t if isinstance(t, Tensor) else None for t in tensors)
    arrs = [t.data if isinstance(t, Tensor) else _to_array(t, copy=False, op=op) for t in tensors]
    dt = functools.reduce(_dt.promote_types, [a.dtype for a in arrs])
    return ts, [a if a.dtype == dt else a.astype(dt) for a in arrs]


def concatenate(tensors: Sequence, axis: int | None = None, *, dim: Any = None) -> Tensor:
    """Join tensors along an existing axis (default 0; all other dims must match)."""
    axis, _ = axis_alias("concatenate", axis, dim)
    ts, arrs = _join_args("concatenate", tensors)
    shapes = [a.shape for a in arrs]
    if any(len(s) != len(shapes[0]) or not s for s in shapes):
        raise ValueError(f"concatenate: tensors need the same number (>0) of dims, got shapes {shapes}")
    ax = canon_axis("concatenate", axis or 0, len(shapes[0]), shapes[0])
    if any(s[:ax] + s[ax + 1:] != shapes[0][:ax] + shapes[0][ax + 1:] for s in shapes):
        raise ValueError(f"concatenate: shapes {shapes} must match except along axis {ax}")
    out = xp.concatenate(arrs, axis=ax)
    splits = xp.cumsum([s[ax] for s in shapes])[:-1]

    def backward(g):
        return tuple(p if need(t) else None for t, p in zip(ts, xp.split(g, splits, axis=ax)))

    return result(out, backward, *ts)


cat = concatenate


def stack(tensors: Sequence, axis: int | None = None, *, dim: Any = None) -> Tensor:
    """Join same-shape tensors along a new axis (default 0)."""
    axis, _ = axis_alias("stack", axis, dim)
    ts, arrs = _join_args("stack", tensors)
    shapes = [a.shape for a in arrs]
    if any(s != shapes[0] for s in shapes):
        raise ValueError(f"stack: all tensors need the same shape, got shapes {shapes}")
    ax = canon_axis("stack", axis or 0, len(shapes[0]) + 1, shapes[0])
    out = xp.stack(arrs, axis=ax)
    pick = (slice(None),) * ax

    def backward(g):
        return tuple(g[pick + (i,)] if need(t) else None for i, t in enumerate(ts))

    return result(out, backward, *ts)
