"""pyneural: a NumPy-like neural-network library with its own C++ kernels (Numba fallback).

Import it as ``import pyneural as pn``. The public API is listed in ``__all__``; see API.md.
"""
from __future__ import annotations

__version__ = "0.1.0"

from . import backend, cuda, kernels
from .backend import get_num_threads, set_num_threads, show_config

# --- tensor API (begin) ---
# --- tensor API (end) ---

__all__ = [
    "__version__",
    "backend",
    "cuda",
    "kernels",
    "get_num_threads",
    "set_num_threads",
    "show_config",
    # --- tensor API names (begin) ---
    # --- tensor API names (end) ---
]
