"""DataLoader: batches from a dataset, shuffled with the library's seeded generator."""
from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np

from .. import random as _random
from .collate import default_collate
from .dataset import Dataset


class DataLoader:
    """Iterate over ``dataset`` in batches (PyTorch's DataLoader, single process).

    ``shuffle`` draws a new order every epoch from ``generator`` (default: the library generator that
    ``pn.manual_seed`` seeds). Datasets with ``__getitems__`` (TensorDataset, Subset) are fetched a
    whole batch at a time; others sample by sample, then ``collate_fn`` (default: stack).
    """

    def __init__(self, dataset: Dataset, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 collate_fn: Callable[[list], Any] | None = None, generator: np.random.Generator | None = None) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, shuffle, drop_last
        self.collate_fn, self.generator = collate_fn, generator

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        n = len(self.dataset)
        order = (self.generator or _random.generator()).permutation(n) if self.shuffle else np.arange(n)
        batched = self.collate_fn is None and hasattr(self.dataset, "__getitems__")
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            indices = order[start:start + self.batch_size]
            if batched:
                yield self.dataset.__getitems__(indices)
            else:
                yield (self.collate_fn or default_collate)([self.dataset[int(i)] for i in indices])
