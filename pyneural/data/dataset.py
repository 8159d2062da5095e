"""Datasets: the indexable collections a DataLoader draws batches from."""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .. import random as _random
from ..tensor import Tensor, _to_array
from .collate import default_collate


class Dataset:
    """A map-style dataset: ``dataset[i]`` is one sample, ``len(dataset)`` the number of samples.

    Subclasses may also define ``__getitems__(indices)`` returning a whole collated batch, which the
    DataLoader then uses instead of fetching and stacking samples one by one.
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")


class TensorDataset(Dataset):
    """Samples are the rows of equally long tensors: ``dataset[i] == (t[i] for t in tensors)``."""

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        self.tensors = tuple(t if isinstance(t, Tensor) else Tensor(_to_array(t, copy=False, op="TensorDataset"))
                             for t in tensors)
        lengths = [len(t.data) if t.data.ndim else None for t in self.tensors]
        if None in lengths or len(set(lengths)) != 1:
            shapes = [t.shape for t in self.tensors]
            raise ValueError(f"TensorDataset: tensors must share their first dimension, got shapes {shapes}")

    def __getitem__(self, index: int) -> tuple:
        return tuple(Tensor(t.data[index]) for t in self.tensors)

    def __getitems__(self, indices: np.ndarray) -> tuple:
        """A whole batch in one gather per tensor (no per-sample Python work)."""
        return tuple(Tensor(t.data[indices]) for t in self.tensors)

    def __len__(self) -> int:
        return len(self.tensors[0].data)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]

    def __getitems__(self, indices: np.ndarray) -> Any:
        if hasattr(self.dataset, "__getitems__"):
            return self.dataset.__getitems__(self.indices[indices])
        return default_collate([self.dataset[int(i)] for i in self.indices[indices]])

    def __len__(self) -> int:
        return len(self.indices)


def random_split(dataset: Dataset, lengths: Sequence[float], generator: np.random.Generator | None = None) -> list:
    """Split into non-overlapping random subsets of the given lengths (ints summing to ``len(dataset)``,
    or fractions summing to 1, the remainder going round-robin as PyTorch does)."""
    n = len(dataset)
    if all(isinstance(x, float) for x in lengths) and math.isclose(sum(lengths), 1.0) and sum(lengths) <= 1 + 1e-9:
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if any(int(x) != x or x < 0 for x in lengths) or sum(int(x) for x in lengths) != n:
        raise ValueError(f"random_split: lengths {list(lengths)} must be non-negative ints summing to the "
                         f"dataset's length {n}, or fractions summing to 1")
    order = (generator or _random.generator()).permutation(n)
    splits, start = [], 0
    for length in lengths:
        splits.append(Subset(dataset, order[start:start + int(length)]))
        start += int(length)
    return splits
