"""RMSprop (Hinton's lecture 6e), optionally centered and with momentum."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .. import backend
from ..tensor import Tensor
from .optimizer import Optimizer, check_number, new_buffer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """``torch.optim.RMSprop``: ``v = alpha * v + (1 - alpha) * g^2``; the step divides by
    ``sqrt(v) + eps`` (``sqrt(v - mean(g)^2) + eps`` when centered), through a momentum buffer when
    ``momentum > 0``. ``maximize=True`` ascends. Beyond PyTorch, ``l1_weight_decay`` adds
    ``l1_weight_decay * sign(p)`` to the gradient (an L1 penalty on the loss)."""

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 maximize: bool = False, l1_weight_decay: float = 0.0) -> None:
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize, l1_weight_decay=l1_weight_decay))

    def _check(self, options: dict[str, Any]) -> None:
        check_number("RMSprop", "lr", options["lr"])
        check_number("RMSprop", "alpha", options["alpha"])
        check_number("RMSprop", "eps", options["eps"])
        check_number("RMSprop", "weight_decay", options["weight_decay"])
        check_number("RMSprop", "momentum", options["momentum"])
        check_number("RMSprop", "l1_weight_decay", options["l1_weight_decay"])

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        if "square_avg" not in state:
            state["step"] = 0
            state["square_avg"] = new_buffer(param)
        momentum, centered = group["momentum"], bool(group["centered"])
        if momentum > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = new_buffer(param)
        if centered and "grad_avg" not in state:
            state["grad_avg"] = new_buffer(param)
        state["step"] += 1
        backend.kernel("rmsprop_update")(
            param, grad, state["square_avg"].data, state["momentum_buffer"].data if momentum > 0 else None,
            state["grad_avg"].data if centered else None, lr=group["lr"], alpha=group["alpha"], eps=group["eps"],
            weight_decay=group["weight_decay"], momentum=momentum, centered=centered,
            l1_weight_decay=group["l1_weight_decay"])
