"""Functional forms of the layers (PyTorch's ``torch.nn.functional``), on Tensors with autograd."""
from __future__ import annotations

from ..ops.activation import elu, gelu, leaky_relu, log_softmax, relu, sigmoid, silu, softmax, tanh
from ..ops.attention import scaled_dot_product_attention
from ..ops.conv import conv1d, conv2d
from ..ops.dropout import dropout
from ..ops.embedding import embedding
from ..ops.linear import linear
from ..ops.loss import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, l1_loss, mse_loss,
                        nll_loss, smooth_l1_loss)
from ..ops.norm import batch_norm, layer_norm
from ..ops.pool import adaptive_avg_pool2d, avg_pool2d, max_pool2d

__all__ = ["linear", "conv1d", "conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d",
           "batch_norm", "layer_norm", "dropout", "embedding",
           "relu", "leaky_relu", "elu", "gelu", "silu", "sigmoid", "tanh", "softmax", "log_softmax",
           "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "scaled_dot_product_attention"]
