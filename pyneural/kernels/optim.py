"""Fused optimizer updates on NumPy arrays, in place, through the active backend.

Each is one pass over the parameter, its gradient and its state buffers (torch.optim's rules). The
parameter and state buffers are updated in place, so they must be C-contiguous float32/float64 NumPy
arrays of one shape and dtype; the gradient, only read, may be any array-like (converted to match).
Every update also takes ``l1_weight_decay``: ``l1_weight_decay * sign(param)`` is added to the gradient
(before the L2 ``weight_decay`` term), as if ``l1_weight_decay * sum|param|`` had been added to the loss.
"""
from __future__ import annotations

import numpy as np

from .. import backend

__all__ = ["sgd_update", "adam_update", "rmsprop_update", "adagrad_update"]


def _grad(op: str, grad, param) -> np.ndarray:
    """The gradient as a C-contiguous array of param's dtype (a copy only when needed)."""
    if not isinstance(param, np.ndarray):
        raise TypeError(f"{op}: param must be a NumPy array (updated in place), got {type(param).__name__}")
    g = np.asarray(grad)
    if g.dtype.kind not in "biuf":
        raise TypeError(f"{op}: grad has unsupported dtype {g.dtype} (shape {g.shape})")
    if g.shape != param.shape:
        raise ValueError(f"{op}: grad has shape {g.shape}, expected {param.shape} (the shape of param)")
    return np.ascontiguousarray(g, dtype=param.dtype) if param.dtype.kind == "f" else g


def sgd_update(param: np.ndarray, grad, momentum_buffer: np.ndarray | None = None, *, lr: float,
               momentum: float = 0.0, dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
               first_step: bool = False, l1_weight_decay: float = 0.0) -> None:
    """SGD step: ``d = grad + weight_decay * param``; with momentum ``buf = momentum * buf + (1 - dampening) * d``
    (``buf = d`` when ``first_step``) and ``d = d + momentum * buf`` (nesterov) or ``buf``; ``param -= lr * d``."""
    backend.kernel("sgd_update")(param, _grad("sgd_update", grad, param), momentum_buffer, lr=lr, momentum=momentum,
                                 dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
                                 first_step=first_step, l1_weight_decay=l1_weight_decay)


def adam_update(param: np.ndarray, grad, exp_avg: np.ndarray, exp_avg_sq: np.ndarray,
                max_exp_avg_sq: np.ndarray | None = None, *, lr: float, beta1: float = 0.9, beta2: float = 0.999,
                eps: float = 1e-8, weight_decay: float = 0.0, step: int, decoupled: bool = False,
                l1_weight_decay: float = 0.0) -> None:
    """Adam step number ``step`` (1 on the first) with bias correction; ``decoupled=True`` is AdamW
    (``param *= 1 - lr * weight_decay``) instead of L2 decay added to the gradient; with ``max_exp_avg_sq``,
    AMSGrad (the step divides by the running maximum of ``exp_avg_sq``)."""
    backend.kernel("adam_update")(param, _grad("adam_update", grad, param), exp_avg, exp_avg_sq, max_exp_avg_sq,
                                  lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay, step=step,
                                  decoupled=decoupled, l1_weight_decay=l1_weight_decay)


def rmsprop_update(param: np.ndarray, grad, square_avg: np.ndarray, momentum_buffer: np.ndarray | None = None,
                   grad_avg: np.ndarray | None = None, *, lr: float, alpha: float = 0.99, eps: float = 1e-8,
                   weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                   l1_weight_decay: float = 0.0) -> None:
    """RMSprop step; ``momentum_buffer`` is needed when ``momentum > 0``, ``grad_avg`` when ``centered``."""
    backend.kernel("rmsprop_update")(param, _grad("rmsprop_update", grad, param), square_avg, momentum_buffer,
                                     grad_avg, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                     momentum=momentum, centered=centered, l1_weight_decay=l1_weight_decay)


def adagrad_update(param: np.ndarray, grad, state_sum: np.ndarray, *, lr: float, eps: float = 1e-10,
                   weight_decay: float = 0.0, l1_weight_decay: float = 0.0) -> None:
    """Adagrad step with ``lr`` already decayed for this step (``lr / (1 + (step - 1) * lr_decay)``)."""
    backend.kernel("adagrad_update")(param, _grad("adagrad_update", grad, param), state_sum, lr=lr, eps=eps,
                                     weight_decay=weight_decay, l1_weight_decay=l1_weight_decay)
