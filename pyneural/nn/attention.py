"""``MultiheadAttention`` (PyTorch's parameters, masks and results) on the fused attention op."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..ops.attention import attention
from ..ops.core import tensor_arg
from ..ops.shape import concatenate
from ..tensor import Tensor
from . import functional as F
from . import init
from .linear import Linear, check_positive, empty_parameter
from .module import Module

__all__ = ["MultiheadAttention"]

_NAME = "MultiheadAttention"


def _mask_data(mask: Any) -> np.ndarray | None:
    if mask is None:
        return None
    m = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_ and m.dtype.kind != "f":
        raise TypeError(f"{_NAME}: masks must be bool or floating point, got dtype {m.dtype} (shape {m.shape})")
    return m


def _pad_source(m: np.ndarray | None) -> np.ndarray | None:
    """A mask with one more source position (last axis) that every query may attend to."""
    if m is None:
        return None
    return np.concatenate([m, np.zeros(m.shape[:-1] + (1,), m.dtype)], axis=-1)


def _as_float_mask(m: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """PyTorch's canonical mask: a bool mask (True = masked out) becomes -inf there and 0 elsewhere."""
    if m.dtype == np.bool_:
        return np.where(m, dtype.type(-np.inf), dtype.type(0))
    return m.astype(dtype, copy=False)


class MultiheadAttention(Module):
    """Multi-head attention (PyTorch's ``nn.MultiheadAttention``): ``out_proj(concat_h(attn_h))`` with
    ``attn_h = softmax(q_h k_h^T / sqrt(head_dim) + mask) v_h``.

    Parameters as PyTorch: ``in_proj_weight`` (3E, E) (or ``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim),
    ``v_proj_weight`` (E, vdim) when kdim/vdim differ from E), ``in_proj_bias`` (3E,), ``out_proj.weight``,
    ``out_proj.bias``; xavier-uniform in-projection and zero biases. Inputs are (L, N, E) (or (N, L, E) with
    ``batch_first``) or unbatched (L, E). ``add_bias_kv`` appends the learned ``bias_k``/``bias_v`` (1, 1, E) to the
    projected keys and values, ``add_zero_attn`` a zero key and value per head (each one more source position).

    Masks follow PyTorch: a bool ``attn_mask`` (L, S) or (N * num_heads, L, S) and a bool ``key_padding_mask``
    (N, S) mark with True the positions NOT to attend; float masks are added to the scores. One difference: a
    query that may attend to nothing gets zeros (PyTorch gives zeros with ``need_weights=False`` but NaN
    with ``need_weights=True``).
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        check_positive(_NAME, embed_dim=embed_dim, num_heads=num_heads)
        if embed_dim % num_heads:
            raise ValueError(f"{_NAME}: embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{_NAME}: dropout must be in [0, 1], got {dropout}")
        self.embed_dim, self.num_heads, self.dropout = int(embed_dim), int(num_heads), float(dropout)
        self.kdim = self.embed_dim if kdim is None else int(kdim)
        self.vdim = self.embed_dim if vdim is None else int(vdim)
        check_positive(_NAME, kdim=self.kdim, vdim=self.vdim)
        self.head_dim = self.embed_dim // self.num_heads
        self.batch_first = bool(batch_first)
        self._qkv_same_embed_dim = self.kdim == self.embed_dim and self.vdim == self.embed_dim
        e = self.embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = empty_parameter((3 * e, e), dtype, device)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = empty_parameter((e, e), dtype, device)
            self.k_proj_weight = empty_parameter((e, self.kdim), dtype, device)
            self.v_proj_weight = empty_parameter((e, self.vdim), dtype, device)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = empty_parameter((3 * e,), dtype, device)
        else:
            self.register_parameter("in_proj_bias", None)
        if add_bias_kv:
            self.bias_k = empty_parameter((1, 1, e), dtype, device)
            self.bias_v = empty_parameter((1, 1, e), dtype, device)
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = bool(add_zero_attn)
        self.out_proj = Linear(e, e, bias=bias, device=device, dtype=dtype)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """PyTorch's scheme: xavier-uniform in-projection, zero biases (out_proj.weight keeps Linear's init)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def _projection_weights(self) -> tuple:
        e = self.embed_dim
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            weights = (w[:e], w[e:2 * e], w[2 * e:])
        else:
            weights = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        b = self.in_proj_bias
        biases = (None, None, None) if b is None else (b[:e], b[e:2 * e], b[2 * e:])
        return weights, biases

    def _check(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: np.ndarray | None,
               attn_mask: np.ndarray | None) -> tuple:
        """Validate shapes; returns (batched, N, L, S)."""
        qs, ks, vs = query.shape, key.shape, value.shape
        shapes = f"query {qs}, key {ks}, value {vs}"
        if len(qs) not in (2, 3) or len(ks) != len(qs) or len(vs) != len(qs):
            raise ValueError(f"{_NAME}: query, key and value must all be 3-D (batched) or all 2-D (unbatched), "
                             f"got {shapes}")
        batched = len(qs) == 3
        if qs[-1] != self.embed_dim or ks[-1] != self.kdim or vs[-1] != self.vdim:
            raise ValueError(f"{_NAME}: expected last dimensions embed_dim={self.embed_dim} (query), "
                             f"kdim={self.kdim} (key), vdim={self.vdim} (value); got {shapes}")
        if batched:
            bdim, sdim = (0, 1) if self.batch_first else (1, 0)
            n, L, S = qs[bdim], qs[sdim], ks[sdim]
            if ks[bdim] != n or vs[bdim] != n:
                raise ValueError(f"{_NAME}: query, key and value must have the same batch size "
                                 f"(batch_first={self.batch_first}); got {shapes}")
            if vs[sdim] != S:
                raise ValueError(f"{_NAME}: key and value must have the same sequence length; got {shapes}")
        else:
            n, L, S = 1, qs[0], ks[0]
            if vs[0] != S:
                raise ValueError(f"{_NAME}: key and value must have the same sequence length; got {shapes}")
        if key_padding_mask is not None:
            want = (n, S) if batched else (S,)
            if key_padding_mask.shape != want:
                raise ValueError(f"{_NAME}: key_padding_mask must have shape {want} (batch, source length), "
                                 f"got {key_padding_mask.shape} for {shapes}")
        if attn_mask is not None:
            wants = [(L, S), (n * self.num_heads, L, S)] if batched else [(L, S), (self.num_heads, L, S)]
            if attn_mask.shape not in wants:
                raise ValueError(f"{_NAME}: attn_mask must have shape {wants[0]} or {wants[1]} "
                                 f"(num_heads={self.num_heads}), got {attn_mask.shape} for {shapes}")
        return batched, n, L, S

    def _split_heads(self, x: Tensor, batch_axis: int) -> Tensor:
        """(L, N, E) or (N, L, E) -> (N, num_heads, L, head_dim), a view."""
        shape = x.shape[:2] + (self.num_heads, self.head_dim)
        order = (1, 2, 0, 3) if batch_axis == 1 else (0, 2, 1, 3)
        return x.reshape(shape).permute(order)

    def forward(self, query: Any, key: Any, value: Any, key_padding_mask: Any = None, need_weights: bool = True,
                attn_mask: Any = None, average_attn_weights: bool = True, is_causal: bool = False) -> tuple:
        """Returns ``(output, weights)``: output shaped like query (with embed_dim features); weights
        (N, L, S) averaged over heads, or (N, num_heads, L, S) with ``average_attn_weights=False``
        (without the N for unbatched input), or None when ``need_weights`` is False.

        ``is_causal`` is only a hint, as in PyTorch: it needs ``attn_mask`` (the causal mask), which is used.
        """
        query, key, value = (tensor_arg(t, _NAME) for t in (query, key, value))
        kpm, am = _mask_data(key_padding_mask), _mask_data(attn_mask)
        if is_causal and am is None:
            raise ValueError(f"{_NAME}: is_causal=True needs attn_mask (the causal mask), as in PyTorch; "
                             "e.g. a bool mask np.triu(np.ones((L, L), bool), 1)")
        batched, n, L, S = self._check(query, key, value, kpm, am)
        bax = 0 if self.batch_first else 1  # the batch axis of query, key and value
        if not batched:  # unbatched (L, E): a batch of one on the batch axis
            query, key, value = (t.unsqueeze(bax) for t in (query, key, value))
            if kpm is not None:
                kpm = kpm[None]
        (wq, wk, wv), (bq, bk, bv) = self._projection_weights()
        q = self._split_heads(F.linear(query, wq, bq), bax)
        k, v = F.linear(key, wk, bk), F.linear(value, wv, bv)
        if self.bias_k is not None:  # one more source position: the learned bias key and value
            shape = (n, 1, self.embed_dim) if bax == 0 else (1, n, self.embed_dim)
            k = concatenate([k, self.bias_k.expand(shape)], axis=1 - bax)
            v = concatenate([v, self.bias_v.expand(shape)], axis=1 - bax)
            am, kpm, S = _pad_source(am), _pad_source(kpm), S + 1
        k, v = self._split_heads(k, bax), self._split_heads(v, bax)
        if self.add_zero_attn:  # one more source position: a zero key and value in every head
            k = concatenate([k, np.zeros(k.shape[:2] + (1, self.head_dim), k.dtype)], axis=2)
            v = concatenate([v, np.zeros(v.shape[:2] + (1, self.head_dim), v.dtype)], axis=2)
            am, kpm, S = _pad_source(am), _pad_source(kpm), S + 1
        mask = self._merged_mask(am, kpm, n, L, S, q.dtype)
        p = self.dropout if self.training else 0.0
        out, weights = attention(q, k, v, mask, p, need_weights=need_weights, op=_NAME)
        # (N, H, L, hd) -> (L, N, H, hd) or (N, L, H, hd) -> (..., E): the GEMM of out_proj reads it as rows
        out = out.permute((2, 0, 1, 3) if bax == 1 else (0, 2, 1, 3)).reshape(
            (L, n, self.embed_dim) if bax == 1 else (n, L, self.embed_dim))
        out = self.out_proj(out)
        if not batched:
            out = out.squeeze(bax)
        if weights is not None:
            if average_attn_weights:
                weights = weights.mean(axis=1)
            if not batched:
                weights = weights.squeeze(0)
        return out, weights

    def _merged_mask(self, am: np.ndarray | None, kpm: np.ndarray | None, n: int, L: int, S: int,
                     dtype: np.dtype) -> np.ndarray | None:
        """attn_mask and key_padding_mask as one mask for the attention op, broadcastable to (N, H, L, S):
        bool (True = attend) when both are bool, else additive float (bool parts become -inf)."""
        if am is not None and am.ndim == 3:
            am = am.reshape(n, self.num_heads, L, S)
        if kpm is not None:
            kpm = kpm.reshape(n, 1, 1, S)
        masks = [m for m in (am, kpm) if m is not None]
        if not masks:
            return None
        if all(m.dtype == np.bool_ for m in masks):
            return ~masks[0] if len(masks) == 1 else ~(masks[0] | masks[1])
        merged = _as_float_mask(masks[0], dtype)
        return merged if len(masks) == 1 else merged + _as_float_mask(masks[1], dtype)

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, "
                f"add_zero_attn={self.add_zero_attn}, batch_first={self.batch_first}")
