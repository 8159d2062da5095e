"""Adam (L2 weight decay added to the gradient) and AdamW (decoupled weight decay)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .. import backend
from ..tensor import Tensor
from .optimizer import Optimizer, check_number, new_buffer

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """``torch.optim.Adam`` (Kingma & Ba, 2015): moment estimates with bias correction; ``weight_decay``
    adds ``weight_decay * p`` to the gradient; ``amsgrad=True`` divides by the running maximum of the
    second moment (Reddi et al., 2018). ``maximize=True`` ascends. Beyond PyTorch,
    ``l1_weight_decay`` adds ``l1_weight_decay * sign(p)`` to the gradient (an L1 penalty on the loss)."""

    _decoupled = False

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 amsgrad: bool = False, maximize: bool = False,
                 l1_weight_decay: float = 0.0) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize, l1_weight_decay=l1_weight_decay))

    def _check(self, options: dict[str, Any]) -> None:
        name = self._name
        check_number(name, "lr", options["lr"])
        check_number(name, "eps", options["eps"])
        betas = options["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{name}: invalid betas {betas!r}: expected a pair (beta1, beta2)")
        options["betas"] = tuple(betas)
        check_number(name, "betas[0]", betas[0], high=1.0)
        check_number(name, "betas[1]", betas[1], high=1.0)
        check_number(name, "weight_decay", options["weight_decay"])
        check_number(name, "l1_weight_decay", options["l1_weight_decay"])

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        if "exp_avg" not in state:
            state["step"] = 0
            state["exp_avg"] = new_buffer(param)
            state["exp_avg_sq"] = new_buffer(param)
        amsgrad = bool(group["amsgrad"])
        if amsgrad and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = new_buffer(param)
        state["step"] += 1
        beta1, beta2 = group["betas"]
        backend.kernel("adam_update")(param, grad, state["exp_avg"].data, state["exp_avg_sq"].data,
                                      state["max_exp_avg_sq"].data if amsgrad else None, lr=group["lr"],
                                      beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
                                      l1_weight_decay=group["l1_weight_decay"], step=state["step"],
                                      decoupled=self._decoupled)


class AdamW(Adam):
    """``torch.optim.AdamW`` (Loshchilov & Hutter, 2019): Adam with decoupled weight decay,
    ``p *= 1 - lr * weight_decay`` before the Adam step."""

    _decoupled = True

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2,
                 amsgrad: bool = False, maximize: bool = False, l1_weight_decay: float = 0.0) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize, l1_weight_decay=l1_weight_decay)
