"""Adagrad (Duchi, Hazan & Singer, 2011) with learning-rate decay."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .. import backend
from ..tensor import Tensor
from .optimizer import Optimizer, check_number, new_buffer

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """``torch.optim.Adagrad``: ``sum += g^2``; ``p -= clr * g / (sqrt(sum) + eps)`` with
    ``clr = lr / (1 + (step - 1) * lr_decay)``. ``maximize=True`` ascends. Beyond PyTorch,
    ``l1_weight_decay`` adds ``l1_weight_decay * sign(p)`` to the gradient (an L1 penalty on the loss)."""

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0, eps: float = 1e-10,
                 maximize: bool = False, l1_weight_decay: float = 0.0) -> None:
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize, l1_weight_decay=l1_weight_decay))
        for group in self.param_groups:  # PyTorch creates the accumulators up front
            for p in group["params"]:
                self.state[p] = self._initial_state(p.data, group)

    @staticmethod
    def _initial_state(param: np.ndarray, group: dict) -> dict:
        return {"step": 0, "sum": new_buffer(param, group["initial_accumulator_value"])}

    def _check(self, options: dict[str, Any]) -> None:
        check_number("Adagrad", "lr", options["lr"])
        check_number("Adagrad", "lr_decay", options["lr_decay"])
        check_number("Adagrad", "weight_decay", options["weight_decay"])
        check_number("Adagrad", "initial_accumulator_value", options["initial_accumulator_value"])
        check_number("Adagrad", "eps", options["eps"])
        check_number("Adagrad", "l1_weight_decay", options["l1_weight_decay"])

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        if "sum" not in state:  # a parameter added later with add_param_group
            state.update(self._initial_state(param, group))
        state["step"] += 1
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        backend.kernel("adagrad_update")(param, grad, state["sum"].data, lr=clr, eps=group["eps"],
                                         weight_decay=group["weight_decay"],
                                         l1_weight_decay=group["l1_weight_decay"])
