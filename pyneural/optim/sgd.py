"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .. import backend
from ..tensor import Tensor
from .optimizer import Optimizer, check_number, new_buffer

__all__ = ["SGD"]


class SGD(Optimizer):
    """``torch.optim.SGD``: ``d = g + weight_decay * p``; with momentum, ``buf = momentum * buf +
    (1 - dampening) * d`` (``buf = d`` on the first step) and ``d = d + momentum * buf`` (nesterov) or
    ``buf``; ``p -= lr * d``. ``maximize=True`` ascends. Beyond PyTorch, ``l1_weight_decay`` adds
    ``l1_weight_decay * sign(p)`` to the gradient (an L1 penalty on the loss) before the L2 term."""

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float, momentum: float = 0.0,
                 dampening: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0,
                 maximize: bool = False, l1_weight_decay: float = 0.0) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
                                      weight_decay=weight_decay, maximize=maximize,
                                      l1_weight_decay=l1_weight_decay))

    def _check(self, options: dict[str, Any]) -> None:
        check_number("SGD", "lr", options["lr"])
        check_number("SGD", "momentum", options["momentum"])
        check_number("SGD", "dampening", options["dampening"], low=float("-inf"))
        check_number("SGD", "weight_decay", options["weight_decay"])
        check_number("SGD", "l1_weight_decay", options["l1_weight_decay"])
        if options["nesterov"] and (options["momentum"] <= 0 or options["dampening"] != 0):
            raise ValueError(f"SGD: nesterov requires momentum > 0 and dampening = 0, got "
                             f"momentum={options['momentum']}, dampening={options['dampening']}")

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        momentum = group["momentum"]
        buffer, first = None, False
        if momentum != 0:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = new_buffer(param)
                first = True
            buffer = state["momentum_buffer"].data
        backend.kernel("sgd_update")(param, grad, buffer, lr=group["lr"], momentum=momentum,
                                     dampening=group["dampening"], weight_decay=group["weight_decay"],
                                     l1_weight_decay=group["l1_weight_decay"],
                                     nesterov=bool(group["nesterov"]), first_step=first)
