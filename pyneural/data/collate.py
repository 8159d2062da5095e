"""Default batching: how a list of samples becomes one batch."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..ops import stack
from ..tensor import Tensor, _to_array


def default_collate(samples: list) -> Any:
    """Stack a list of samples: tensors/arrays/numbers into one tensor, tuples and dicts element-wise."""
    first = samples[0]
    if isinstance(first, Tensor):
        return stack(samples)
    if isinstance(first, (tuple, list)):
        return type(first)(default_collate(list(group)) for group in zip(*samples))
    if isinstance(first, dict):
        return {key: default_collate([s[key] for s in samples]) for key in first}
    return Tensor(_to_array(np.stack(samples) if isinstance(first, np.ndarray) else samples, op="default_collate"))
