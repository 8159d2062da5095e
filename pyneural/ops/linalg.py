"""Matrix products: ``matmul`` (through ``pyneural.kernels``) and ``einsum``."""
from __future__ import annotations

import string
from typing import Any

import numpy as np

from .. import dtypes as _dt
from .. import kernels
from ..tensor import _to_array
from .core import Tensor, binary_args, need, result, unbroadcast, xp

__all__ = ["matmul", "rmatmul", "einsum"]


def matmul(a: Any, b: Any) -> Tensor:
    """``a @ b`` with ``xp.matmul`` semantics (1-D operands, batch dims broadcast), through ``pyneural.kernels``
    (which also raises for mismatched shapes)."""
    x, y, ta, tb = binary_args(a, b, "matmul")
    out = kernels.matmul(x, y)

    def backward(g):
        # lift 1-D operands to matrices, as matmul does, and put the dropped dims back into g
        x2 = x[None, :] if x.ndim == 1 else x
        y2 = y[:, None] if y.ndim == 1 else y
        if y.ndim == 1:
            g = g[..., None]
        if x.ndim == 1:
            g = xp.expand_dims(g, -2)
        gx = gy = None
        if need(ta):  # transposed views, never copies: the kernels take strides
            gx = unbroadcast(kernels.matmul(g, xp.swapaxes(y2, -1, -2)), x2.shape).reshape(x.shape)
        if need(tb):
            gy = unbroadcast(kernels.matmul(xp.swapaxes(x2, -1, -2), g), y2.shape).reshape(y.shape)
        return gx, gy

    return result(out, backward, ta, tb)


def rmatmul(a: Tensor, b: Any) -> Tensor:
    """``b @ a`` (reflected operator)."""
    return matmul(b, a)


_LETTERS = string.ascii_letters


def _parse(subscripts: str, shapes: list) -> tuple:
    """Explicit form of an einsum spec: ``(input subscripts, output subscript)`` with ``...`` replaced by
    letters (right-aligned across operands) and the implicit output (``'ij,jk'``) spelled out."""
    s = subscripts.replace(" ", "")
    lhs, arrow, out = s.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(shapes):
        raise ValueError(f"einsum {subscripts!r}: {len(ins)} operand subscripts for {len(shapes)} operands")
    for sub in ins + [out]:
        if any(c not in _LETTERS for c in sub.replace("...", "")):
            raise ValueError(f"einsum {subscripts!r}: subscripts must be letters, ',' '->' and '...'")
    free = [c for c in _LETTERS if c not in s]
    n_ell = 0
    for sub, shape in zip(ins, shapes):
        named = len(sub.replace("...", ""))
        if "..." in sub:
            n_ell = max(n_ell, len(shape) - named)
        if len(shape) < named or ("..." not in sub and len(shape) != named):
            raise ValueError(f"einsum {subscripts!r}: subscripts {sub!r} do not fit an operand of shape {shape}")
    ell = "".join(free[:n_ell])
    for k, (sub, shape) in enumerate(zip(ins, shapes)):
        n = len(shape) - len(sub.replace("...", ""))  # this operand's broadcast dims take the last n letters
        ins[k] = sub.replace("...", ell[n_ell - n:])
    if arrow:
        out = out.replace("...", ell)
    else:  # implicit output: the broadcast dims, then the letters used once, in sorted order
        letters = "".join(ins)
        out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ell))
    return ins, out


def einsum(subscripts: str, *operands: Any) -> Tensor:
    """Einstein summation (``xp.einsum`` subscripts, including ``...``, repeated letters for diagonals and
    the implicit output), differentiable in every operand."""
    if not isinstance(subscripts, str):
        raise TypeError("einsum: the first argument must be a subscripts string (the interleaved "
                        "operand/sublist form is not supported)")
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError(f"einsum {subscripts!r}: no operands")
    ts = tuple(o if isinstance(o, Tensor) else None for o in operands)
    arrs = [o.data if isinstance(o, Tensor) else _to_array(o, copy=False, op="einsum") for o in operands]
    dt = arrs[0].dtype
    for a in arrs[1:]:
        dt = _dt.promote_types(dt, a.dtype)
    arrs = [a if a.dtype == dt else a.astype(dt) for a in arrs]
    ins, out_sub = _parse(subscripts, [a.shape for a in arrs])
    opt = len(arrs) > 1  # contraction order + BLAS; pointless for one operand
    try:
        out = xp.einsum(",".join(ins) + "->" + out_sub, *arrs, optimize=opt)
    except ValueError as e:
        raise ValueError(f"einsum {subscripts!r}: {e} (operand shapes "
                         f"{', '.join(str(a.shape) for a in arrs)})") from None
    sizes: dict = {}
    for sub, a in zip(ins, arrs):
        for c, n in zip(sub, a.shape):
            sizes[c] = max(sizes.get(c, 1), n)

    def grad_of(i: int, g: np.ndarray) -> np.ndarray:
        sub, a = ins[i], arrs[i]
        uniq = "".join(dict.fromkeys(sub))
        others = [j for j in range(len(arrs)) if j != i]
        avail = set(out_sub).union(*(ins[j] for j in others))
        keep = "".join(c for c in uniq if c in avail)
        spec = ",".join([out_sub] + [ins[j] for j in others]) + "->" + keep
        gi = xp.einsum(spec, g, *(arrs[j] for j in others), optimize=opt)
        if len(keep) < len(uniq):  # letters summed only inside this operand: the gradient is constant along them
            gi = xp.broadcast_to(gi.reshape([sizes[c] if c in keep else 1 for c in uniq]),
                                 [sizes[c] for c in uniq])
        if len(uniq) < len(sub):  # repeated letters (a diagonal): scatter onto it
            grid = xp.indices([sizes[c] for c in uniq], sparse=True)
            z = xp.zeros([sizes[c] for c in sub], g.dtype)
            z[tuple(grid[uniq.index(c)] for c in sub)] = gi
            gi = z
        return unbroadcast(gi, a.shape)  # operand dims of size 1 that broadcast

    def backward(g):
        return tuple(grad_of(i, g) if need(t) else None for i, t in enumerate(ts))

    return result(out, backward, *ts)
