"""The library-wide random number generator.

Every random draw in pyneural (``pn.rand``, dropout, shuffling, weight init, augmentation) takes its numbers
from the one ``numpy.random.Generator`` returned by :func:`generator`, so ``pn.manual_seed(s)`` makes a
whole run reproducible. Reseeding keeps the same Generator object, so code that cached ``generator()``
sees the new seed too.
"""
from __future__ import annotations

import numpy as np

_generator = np.random.Generator(np.random.PCG64())


def generator() -> np.random.Generator:
    """The shared ``numpy.random.Generator`` (use it for every random draw in the library)."""
    return _generator


def manual_seed(seed: int) -> np.random.Generator:
    """Seed the shared generator (PyTorch's ``torch.manual_seed``); returns it.

    Negative seeds are taken modulo 2**64, as PyTorch accepts them.
    """
    seed = int(seed) % (1 << 64)
    _generator.bit_generator.state = np.random.PCG64(seed).state
    return _generator


def get_rng_state() -> dict:
    """A copy of the shared generator's state (for checkpoints)."""
    return _generator.bit_generator.state  # a fresh dict each call


def set_rng_state(state: dict) -> None:
    """Restore a state returned by :func:`get_rng_state`."""
    _generator.bit_generator.state = state
