"""Neural-network building blocks (PyTorch's ``torch.nn``)."""
from __future__ import annotations

from . import functional

__all__ = ["functional"]
