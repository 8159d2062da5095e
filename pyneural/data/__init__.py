"""Data loading (PyTorch's ``torch.utils.data`` and a few torchvision-style transforms)."""
from __future__ import annotations

from . import datasets, transforms
from .collate import default_collate
from .dataset import Dataset, Subset, TensorDataset, random_split
from .loader import DataLoader

__all__ = ["Dataset", "TensorDataset", "Subset", "DataLoader", "random_split", "default_collate", "datasets",
           "transforms"]
