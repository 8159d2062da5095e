"""Functional forms of the layers (PyTorch's ``torch.nn.functional``), on Tensors with autograd."""
from __future__ import annotations

from ..ops.activation import elu, gelu, leaky_relu, relu, sigmoid, silu, tanh
from ..ops.dropout import dropout
from ..ops.embedding import embedding
from ..ops.linear import linear
from ..ops.norm import batch_norm, layer_norm

__all__ = ["linear", "batch_norm", "layer_norm", "dropout", "embedding",
           "relu", "leaky_relu", "elu", "gelu", "silu", "sigmoid", "tanh"]
