"""Scaled dot-product attention as one autograd node on the GEMM and softmax kernels.

Forward: ``S = (Q * scale) K^T`` (batched GEMM on a transposed view of K, no copy), the mask applied to S in
place, ``P = softmax(S)`` (softmax kernel), optional dropout on P, ``O = P V`` (batched GEMM). Backward:
``dV = P^T dO``, ``dP = dO V^T``, ``dS`` from the softmax-backward kernel, ``dQ = dS K * scale``,
``dK = dS^T (Q * scale)``; broadcast batch dimensions are summed back. No Python loop over the batch.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import kernels
from ..kernels.dropout import dropout as _dropout
from ..kernels.dropout import dropout_backward as _dropout_backward
from ..kernels.softmax import softmax_backward as _softmax_backward
from .core import Tensor, need, result, tensor_arg, unbroadcast, xp

__all__ = ["scaled_dot_product_attention", "attention"]

_OP = "scaled_dot_product_attention"


def _shapes(*arrays: Any) -> str:
    return ", ".join(str(tuple(a.shape)) for a in arrays)


def _check_inputs(op: str, q: np.ndarray, k: np.ndarray, v: np.ndarray) -> tuple:
    """Validate (..., L, E) / (..., S, E) / (..., S, Ev); returns the broadcast batch shape of the scores."""
    names = "query, key, value"
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ValueError(f"{op}: {names} need at least 2 dimensions (..., L, E), (..., S, E), (..., S, Ev); "
                         f"got shapes {_shapes(q, k, v)}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"{op}: query and key must have the same embedding size E (last dim); "
                         f"got shapes {_shapes(q, k)}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"{op}: key and value must have the same sequence length S (dim -2); "
                         f"got shapes {_shapes(k, v)}")
    try:
        return np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(f"{op}: batch dimensions of {names} cannot be broadcast; "
                         f"got shapes {_shapes(q, k, v)}") from None


def _mask_array(op: str, mask: Any, scores_shape: tuple) -> np.ndarray:
    """The mask as an array broadcastable to the scores (..., L, S); ValueError naming both shapes otherwise."""
    m = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_ and m.dtype.kind != "f":
        raise TypeError(f"{op}: attn_mask must be bool or floating point, got dtype {m.dtype} (shape {m.shape})")
    try:
        np.broadcast_shapes(m.shape, scores_shape)
    except ValueError:
        raise ValueError(f"{op}: attn_mask of shape {m.shape} cannot be broadcast to the attention scores of "
                         f"shape {scores_shape} (..., L, S)") from None
    if m.ndim == 0:
        raise ValueError(f"{op}: attn_mask must have at least the (L, S) dimensions of the scores "
                         f"{scores_shape}, got a scalar")
    return m


def _forward(op: str, qd: np.ndarray, kd: np.ndarray, vd: np.ndarray, mask: np.ndarray | None,
             dropout_p: float, is_causal: bool, scale: float | None) -> tuple:
    """Forward on checked arrays -> (out, P (softmax), P after dropout, dropout mask or None, q * scale,
    k, v (in the common dtype), scale)."""
    dtype = np.result_type(qd.dtype, kd.dtype, vd.dtype)
    if dtype.kind != "f":
        raise TypeError(f"{op}: query, key and value must be floating point, got dtypes "
                        f"{qd.dtype}, {kd.dtype}, {vd.dtype}")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{op}: dropout_p must be in [0, 1], got {dropout_p}")
    if is_causal and mask is not None:
        raise ValueError(f"{op}: pass either attn_mask or is_causal=True, not both (as PyTorch)")
    qd, kd, vd = (a.astype(dtype, copy=False) for a in (qd, kd, vd))
    L, S, E = qd.shape[-2], kd.shape[-2], qd.shape[-1]
    scale = 1.0 / math.sqrt(E) if scale is None else float(scale)
    qs = qd * dtype.type(scale)  # scaling Q (L x E) is cheaper than scaling the scores (L x S) when S > E
    scores = kernels.matmul(qs, xp.swapaxes(kd, -1, -2))  # a fresh (batch..., L, S) array we may edit in place
    keep = dead = None
    if is_causal:  # top-left aligned lower triangle, as PyTorch
        keep = np.tril(np.ones((L, S), bool))
    elif mask is not None:
        full = np.broadcast_shapes(scores.shape, mask.shape)
        if full != scores.shape:  # the mask adds batch dimensions
            scores = np.broadcast_to(scores, full).copy()
        if mask.dtype == np.bool_:
            keep = mask
        else:
            scores += mask.astype(dtype, copy=False)
            dead = np.isneginf(mask).all(axis=-1)
    if keep is not None:
        np.copyto(scores, -np.inf, where=~keep)
        dead = ~keep.any(axis=-1)
    p = kernels.softmax(scores, -1)
    if dead is not None and dead.any():  # fully masked rows: zeros (PyTorch's safe softmax), not NaN
        np.copyto(p, 0, where=dead[..., None])
    pd, drop = (p, None) if dropout_p == 0.0 else _dropout(p, dropout_p)  # the library's seeded dropout kernel
    out = kernels.matmul(pd, vd)
    return out, p, pd, drop, qs, kd, vd, scale


def attention(query: Any, key: Any, value: Any, attn_mask: Any = None, dropout_p: float = 0.0,
              is_causal: bool = False, scale: float | None = None, need_weights: bool = False,
              op: str = _OP) -> tuple:
    """:func:`scaled_dot_product_attention` that also returns the attention weights.

    Returns ``(output, weights)``: ``weights`` (..., L, S) is P after dropout (as ``nn.MultiheadAttention``
    returns it), a Tensor with its own backward to query and key (``None`` unless ``need_weights``). Both
    results share one forward pass.
    """
    tq, tk, tv = tensor_arg(query, op), tensor_arg(key, op), tensor_arg(value, op)
    qd, kd, vd = tq.data, tk.data, tv.data
    batch = _check_inputs(op, qd, kd, vd)
    mask = tm = None
    if attn_mask is not None:
        mask = _mask_array(op, attn_mask, batch + (qd.shape[-2], kd.shape[-2]))
        if isinstance(attn_mask, Tensor) and mask.dtype != np.bool_:
            tm = attn_mask  # a float mask is added to the scores: it has a gradient
    dropout_p = float(dropout_p)
    out, p, pd, drop, qs, kd, vd, scale = _forward(op, qd, kd, vd, mask, dropout_p, bool(is_causal), scale)
    qshape, kshape, vshape = qd.shape, kd.shape, vd.shape

    def scores_backward(gpd: np.ndarray) -> tuple:
        """Gradients of q, k and a float mask from the gradient of P after dropout."""
        gpd = unbroadcast(gpd, p.shape)
        if drop is not None:
            gpd = _dropout_backward(gpd, drop, dropout_p)
        gs = _softmax_backward(gpd, p, -1)
        gq = gk = None
        if need(tq):
            gq = kernels.matmul(gs, kd)
            gq *= gq.dtype.type(scale)
            gq = unbroadcast(gq, qshape)
        if need(tk):
            gk = unbroadcast(kernels.matmul(xp.swapaxes(gs, -1, -2), qs), kshape)
        gm = unbroadcast(gs, tm.shape).astype(tm.dtype, copy=False) if need(tm) else None
        return gq, gk, gm

    def backward(g):
        gv = unbroadcast(kernels.matmul(xp.swapaxes(pd, -1, -2), g), vshape) if need(tv) else None
        gq = gk = gm = None
        if need(tq) or need(tk) or need(tm):
            gq, gk, gm = scores_backward(kernels.matmul(g, xp.swapaxes(vd, -1, -2)))
        return gq, gk, gv, gm

    output = result(out, backward, tq, tk, tv, tm)
    if not need_weights:
        return output, None
    weights = result(pd, lambda g: scores_backward(g), tq, tk, tm)
    return output, weights


def scaled_dot_product_attention(query: Any, key: Any, value: Any, attn_mask: Any = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None) -> Tensor:
    """``softmax(query @ key^T * scale + mask) @ value`` (PyTorch's ``F.scaled_dot_product_attention``).

    query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev); batch dimensions broadcast.
    ``attn_mask`` broadcasts to (..., L, S): bool, True = the position takes part; float, added to the
    scores. ``is_causal`` masks with the top-left lower triangle (not together with ``attn_mask``).
    ``scale`` defaults to ``1 / sqrt(E)``. A fully masked row gives zeros and zero gradients, as PyTorch.
    ``dropout_p`` > 0 drops attention weights with the library's dropout kernel (seeded by ``pn.manual_seed``);
    like PyTorch's function it applies whenever ``dropout_p`` > 0, so pass 0 outside training.
    """
    return attention(query, key, value, attn_mask, dropout_p, is_causal, scale)[0]
