"""Kernels on NumPy arrays (no autograd), through the active backend: the fast NumPy-like layer.

Each function validates its arguments, reduces them to the kernel's contract (views, never copies,
where strides allow) and calls the backend's kernel. One module per kernel family.
"""
from __future__ import annotations

from .activation import elu, gelu, leaky_relu, relu, sigmoid, silu, tanh
from .conv import conv2d, conv2d_backward
from .embedding import embedding, embedding_backward
from .dropout import dropout, dropout_backward
from .loss import elementwise_loss, elementwise_loss_backward, nll_loss
from .matmul import linear, matmul
from .norm import (batch_norm, batch_norm_backward, batch_norm_forward, layer_norm, layer_norm_backward,
                   layer_norm_forward)
from .optim import adagrad_update, adam_update, rmsprop_update, sgd_update
from .pool import (adaptive_avg_pool2d, adaptive_avg_pool2d_backward, avg_pool2d, avg_pool2d_backward,
                   max_pool2d, max_pool2d_backward)
from .rnn import recurrence_backward, recurrence_forward
from .softmax import cross_entropy, log_softmax, softmax

__all__ = ["matmul", "linear", "conv2d", "conv2d_backward", "max_pool2d", "max_pool2d_backward", "avg_pool2d",
           "avg_pool2d_backward", "adaptive_avg_pool2d", "adaptive_avg_pool2d_backward",
           "relu", "leaky_relu", "elu", "gelu", "silu", "sigmoid", "tanh", "softmax", "log_softmax", "cross_entropy",
           "sgd_update", "adam_update", "rmsprop_update", "adagrad_update",
           "layer_norm", "layer_norm_forward", "layer_norm_backward", "batch_norm",
           "batch_norm_forward", "batch_norm_backward", "embedding", "embedding_backward",
           "recurrence_forward", "recurrence_backward",
           "elementwise_loss", "elementwise_loss_backward", "nll_loss", "dropout", "dropout_backward"]
