"""pyneural: a NumPy-like neural-network library with its own C++ kernels (Numba fallback).

Import it as ``import pyneural as pn``. The public API is listed in ``__all__``; see API.md.
"""
from __future__ import annotations

__version__ = "0.1.0"

from . import backend, cuda, kernels
from .backend import get_num_threads, set_num_threads, show_config

# --- tensor API (begin) ---
# NB: this block binds pn.bool, pn.abs, pn.sum, pn.max, pn.min (PyTorch/NumPy names), shadowing those
# builtins for any code placed below it in this module.
from . import autograd, dtypes, ops, random
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .dtypes import bool_ as bool
from .dtypes import float16, float32, float64, int8, int16, int32, int64, uint8
from .ops import (abs, arange, argmax, argmin, as_tensor, cat, clamp, clip, concatenate, einsum, empty, empty_like,
                  exp, expand, eye, flatten, from_numpy, full, full_like, linspace, log, matmul, max, maximum, mean,
                  min, minimum, ones, ones_like, permute, rand, randint, randn, randperm, relu, reshape, sigmoid,
                  sqrt, squeeze, stack, std, sum, tanh, tensor, transpose, unsqueeze, var, where, zeros, zeros_like)
from .random import manual_seed
from .tensor import Tensor, is_tensor
# --- tensor API (end) ---

from . import data, nn, profiler, train
from . import optim
from .io import load, save

__all__ = [
    "__version__",
    "backend",
    "cuda",
    "data",
    "kernels",
    "nn",
    "optim",
    "save",
    "load",
    "profiler",
    "train",
    "get_num_threads",
    "set_num_threads",
    "show_config",
    # --- tensor API names (begin) ---
    "Tensor", "autograd", "dtypes", "ops", "random",
    "bool", "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
    "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "manual_seed", "is_tensor",
    "tensor", "as_tensor", "from_numpy", "zeros", "ones", "empty", "full", "arange", "linspace", "eye",
    "rand", "randn", "randint", "randperm", "zeros_like", "ones_like", "empty_like", "full_like",
    "matmul", "einsum", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "clip", "clamp",
    "maximum", "minimum", "where", "concatenate", "cat", "stack",
    "sum", "mean", "var", "std", "max", "min", "argmax", "argmin",
    "reshape", "flatten", "squeeze", "unsqueeze", "transpose", "permute", "expand",
    # --- tensor API names (end) ---
]
