"""Functional forms of the layers (PyTorch's ``torch.nn.functional``), on Tensors with autograd."""
from __future__ import annotations

from ..ops.linear import linear

__all__ = ["linear"]
