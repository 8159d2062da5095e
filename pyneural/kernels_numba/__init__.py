"""Numba twins of the native kernels: same contracts as ``pyneural._C``.

Imported lazily by the backend table, so ``import pyneural`` never imports Numba.
Every kernel is ``@njit(cache=True)``; compiled on first call, cached on disk.
"""
from __future__ import annotations

import numba


def apply_num_threads(n: int) -> None:
    """Follow ``pyneural.set_num_threads`` (capped by the size of Numba's thread pool)."""
    numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))


def _sync_with_backend() -> None:
    from .. import backend
    apply_num_threads(backend.get_num_threads())


_sync_with_backend()
