"""Gradient clipping (PyTorch's ``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_``)."""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from ..tensor import Tensor, _make

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters: Tensor | Iterable[Tensor]) -> list[np.ndarray]:
    """The gradient arrays of the parameters that have one."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad.data for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients together, in place, so their joint ``norm_type``-norm is at most ``max_norm``.

    The norm is taken over all gradients as if concatenated into one vector (``inf`` for the max-abs norm);
    returns it (before clipping) as a 0-d Tensor. Gradients are scaled by ``max_norm / (norm + 1e-6)`` when
    that is below 1, as PyTorch does.
    """
    max_norm, norm_type = float(max_norm), float(norm_type)
    if max_norm < 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be non-negative, got {max_norm}")
    if not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be positive or inf, got {norm_type}")
    grads = _grads(parameters)
    dtype = grads[0].dtype if grads else np.dtype(np.float32)
    if not grads:
        return _make(np.zeros((), dtype))
    if norm_type == math.inf:
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    else:
        # per-gradient norms in float64, then the norm of those norms (what PyTorch computes)
        norms = np.array([np.linalg.norm(g.ravel().astype(np.float64), norm_type) for g in grads])
        total = float(np.linalg.norm(norms, norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}; "
                           "set error_if_nonfinite=False to clip anyway")
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for g in grads:
            g *= g.dtype.type(coef)
    return _make(np.asarray(total, dtype))


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient, in place, to ``[-clip_value, clip_value]``."""
    clip_value = float(clip_value)
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be non-negative, got {clip_value}")
    for g in _grads(parameters):
        np.clip(g, -clip_value, clip_value, out=g)
