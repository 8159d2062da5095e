"""``TransformerEncoderLayer``, ``TransformerEncoder`` (PyTorch's names and semantics) and ``PositionalEncoding``."""
from __future__ import annotations

import copy
import math
from typing import Any, Callable

import numpy as np

from .. import dtypes as _dt
from ..ops.linear import linear as fused_linear
from ..tensor import Tensor
from . import functional as F
from .attention import MultiheadAttention
from .containers import ModuleList
from .dropout import Dropout
from .linear import Linear, check_positive
from .module import Module
from .norm import LayerNorm

__all__ = ["TransformerEncoderLayer", "TransformerEncoder", "PositionalEncoding"]

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each with dropout, a residual connection and LayerNorm
    (PyTorch's ``nn.TransformerEncoderLayer``; sub-modules ``self_attn, linear1, dropout, linear2, norm1, norm2,
    dropout1, dropout2``).

    ``norm_first=False`` (post-norm): ``x = norm1(x + sa(x)); x = norm2(x + ff(x))``; ``norm_first=True``
    (pre-norm): ``x = x + sa(norm1(x)); x = x + ff(norm2(x))``. ``activation`` is "relu", "gelu" or a callable;
    relu runs fused into the GEMM of ``linear1``.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable = "relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        check_positive("TransformerEncoderLayer", d_model=d_model, nhead=nhead, dim_feedforward=dim_feedforward)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            device=device, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, device=device, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, device=device, dtype=dtype)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        if isinstance(activation, str):
            if activation not in _ACTIVATIONS:
                raise ValueError(f"TransformerEncoderLayer: activation should be 'relu' or 'gelu' or a callable, "
                                 f"got {activation!r}")
            self.activation = _ACTIVATIONS[activation]
        elif callable(activation):
            self.activation = activation  # a Module here is registered as a child, as in PyTorch
        else:
            raise TypeError(f"TransformerEncoderLayer: activation must be 'relu', 'gelu' or a callable, "
                            f"got {type(activation).__name__}")
        self.batch_first = bool(batch_first)

    def forward(self, src: Any, src_mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool = False) -> Tensor:
        """src (L, N, d_model), (N, L, d_model) with ``batch_first``, or unbatched (L, d_model); masks as
        :class:`MultiheadAttention` (``is_causal`` is a hint that needs ``src_mask``)."""
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x: Any, attn_mask: Any, key_padding_mask: Any, is_causal: bool) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x: Any) -> Tensor:
        if self.activation is F.relu:  # bias and relu in the GEMM's epilogue
            h = fused_linear(x, self.linear1.weight, self.linear1.bias, "relu")
        else:
            h = self.activation(self.linear1(x))
        return self.dropout2(self.linear2(self.dropout(h)))


class TransformerEncoder(Module):
    """A stack of ``num_layers`` deep copies of ``encoder_layer`` (``layers.0``, ``layers.1``, ...) and an
    optional final ``norm`` (PyTorch's ``nn.TransformerEncoder``).

    ``enable_nested_tensor`` and ``mask_check`` are accepted for PyTorch compatibility and change nothing:
    pyneural always computes padded positions (as PyTorch does without nested tensors).
    """

    def __init__(self, encoder_layer: Module, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True) -> None:
        super().__init__()
        if not isinstance(encoder_layer, Module):
            raise TypeError(f"TransformerEncoder: encoder_layer must be a Module, got {type(encoder_layer).__name__}")
        check_positive("TransformerEncoder", num_layers=num_layers)
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = int(num_layers)
        self.norm = norm
        self.enable_nested_tensor, self.mask_check = enable_nested_tensor, mask_check

    def forward(self, src: Any, mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool | None = None) -> Tensor:
        """Each layer in turn with the same masks, then ``norm``."""
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal))
        if self.norm is not None:
            x = self.norm(x)
        return x


class PositionalEncoding(Module):
    """Adds the sinusoidal positional encoding of "Attention Is All You Need" (a pyneural extra: PyTorch has
    no such module; a learned positional embedding is just ``nn.Embedding``), then dropout.

    ``pe[t, 2i] = sin(t / 10000^(2i/d_model))``, ``pe[t, 2i+1] = cos(t / 10000^(2i/d_model))``. Input (T, N,
    d_model), or (N, T, d_model) with ``batch_first``, or (T, d_model); T <= max_len. The table is a
    non-persistent buffer (it is not part of ``state_dict``: it is recomputed, never learned).
    """

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.0, batch_first: bool = False,
                 dtype: Any = None) -> None:
        super().__init__()
        check_positive("PositionalEncoding", d_model=d_model, max_len=max_len)
        self.d_model, self.max_len, self.batch_first = int(d_model), int(max_len), bool(batch_first)
        position = np.arange(max_len, dtype=np.float64)[:, None]
        freq = np.exp(np.arange(0, d_model, 2, dtype=np.float64) * (-math.log(10000.0) / d_model))
        pe = np.zeros((max_len, d_model), np.float64)
        pe[:, 0::2] = np.sin(position * freq)
        pe[:, 1::2] = np.cos(position * freq[:d_model // 2])
        dtype = _dt.default_float if dtype is None else _dt.as_dtype(dtype, "PositionalEncoding")
        self.register_buffer("pe", pe.astype(dtype), persistent=False)
        self.dropout = Dropout(dropout)

    def forward(self, x: Any) -> Tensor:
        shape = tuple(x.shape)
        if len(shape) not in (2, 3) or shape[-1] != self.d_model:
            raise ValueError(f"PositionalEncoding: expected input (T, N, {self.d_model}), (N, T, {self.d_model}) "
                             f"with batch_first, or (T, {self.d_model}); got shape {shape}")
        t = shape[1] if self.batch_first and len(shape) == 3 else shape[0]
        if t > self.max_len:
            raise ValueError(f"PositionalEncoding: sequence length {t} exceeds max_len={self.max_len} "
                             f"(input shape {shape})")
        pe = self.pe.data[:t]
        if len(shape) == 3:
            pe = pe[None] if self.batch_first else pe[:, None]
        return self.dropout(x + pe.astype(x.dtype, copy=False))

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}, batch_first={self.batch_first}"
