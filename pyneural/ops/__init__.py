"""Differentiable ops, each a forward computation plus its backward rule, grouped by theme.

``core`` holds the shared helpers (graph recording, operand promotion, ``unbroadcast``, axis arguments);
``pyneural.tensor`` binds these functions as ``Tensor`` methods and operators.
"""
from __future__ import annotations

from .creation import (arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like, linspace, ones,
                       ones_like, rand, randint, randn, randperm, tensor, zeros, zeros_like)
from .elementwise import (abs, add, clamp, clip, div, exp, log, maximum, minimum, mul, neg, pow, relu, sigmoid,
                          sqrt, sub, tanh, where)
from .index import getitem
from .linalg import einsum, matmul
from .reduce import argmax, argmin, max, mean, min, std, sum, var
from .shape import (cat, concatenate, expand, flatten, permute, reshape, squeeze, stack, transpose, unsqueeze,
                    view)
