"""The optimizer base class: parameter groups, per-parameter state, zero_grad, state_dict round trips.

Subclasses give their defaults, check their hyper-parameters (``_check``) and update one parameter
(``_update``) through a fused kernel of the active backend: one pass over the parameter, its gradient
and its state buffers, in place.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Iterator, MutableMapping
from typing import Any, Callable

import numpy as np

from ..autograd import enable_grad
from ..tensor import Tensor

__all__ = ["Optimizer"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


class _ParamState(MutableMapping):
    """Per-parameter state keyed by the parameter itself (by identity, like PyTorch's)."""

    def __init__(self) -> None:
        self._items: dict[int, tuple[Tensor, dict]] = {}

    def __getitem__(self, param: Tensor) -> dict:
        return self._items[id(param)][1]

    def __setitem__(self, param: Tensor, value: dict) -> None:
        self._items[id(param)] = (param, value)

    def __delitem__(self, param: Tensor) -> None:
        del self._items[id(param)]

    def __iter__(self) -> Iterator[Tensor]:
        return (param for param, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, param: object) -> bool:
        return id(param) in self._items

    def of(self, param: Tensor) -> dict:
        """The state of ``param``, created empty on first use (the fast path of ``step``)."""
        entry = self._items.get(id(param))
        if entry is None:
            entry = self._items[id(param)] = (param, {})
        return entry[1]


def check_number(op: str, name: str, value: Any, low: float = 0.0, high: float | None = None,
                 high_open: bool = True) -> None:
    """ValueError naming the argument unless ``value`` is a finite real in [low, high) (or [low, high])."""
    if type(value) is not float and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
        raise ValueError(f"{op}: invalid {name} {value!r}: expected a finite number")
    if not math.isfinite(value):
        raise ValueError(f"{op}: invalid {name} {value!r}: expected a finite number")
    if value < low or (high is not None and (value >= high if high_open else value > high)):
        bound = "" if high is None else f" and {'<' if high_open else '<='} {high}"
        raise ValueError(f"{op}: invalid {name} {value!r}: expected >= {low}{bound}")


def new_buffer(data: np.ndarray, fill: float = 0.0) -> Tensor:
    """A state buffer: a C-contiguous array of the parameter's shape and dtype, wrapped as a Tensor."""
    return Tensor(np.full(data.shape, fill, data.dtype))


class Optimizer:
    """Base class of the optimizers (PyTorch's ``torch.optim.Optimizer`` interface).

    Args:
        params: an iterable of Tensors (leaves that require grad), or of dicts each with ``"params"``
            and per-group options that override ``defaults``.
        defaults: the default options of every group.
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self._check(self.defaults)
        self.state: MutableMapping[Tensor, dict] = _ParamState()
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, (Tensor, np.ndarray)):
            raise TypeError(f"{self._name}: params must be an iterable of Tensors or of dicts, "
                            f"got a single {type(params).__name__}")
        groups = list(params)
        if not groups:
            raise ValueError(f"{self._name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    @property
    def _name(self) -> str:
        return type(self).__name__

    def _check(self, options: dict[str, Any]) -> None:
        """Raise ValueError naming the first invalid hyper-parameter in ``options``."""

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        """Update one parameter in place (``param`` and ``grad``: C-contiguous arrays of one dtype)."""
        raise NotImplementedError

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (missing ones take the defaults)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"{self._name}: a param group must be a dict, got {type(param_group).__name__}")
        params = param_group.get("params")
        if params is None:
            raise ValueError(f"{self._name}: a param group needs a 'params' entry")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(f"{self._name}: parameters must be an ordered collection, not a set")
        params = list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{self._name}: parameter {i} of a group is a {type(p).__name__}, not a Tensor")
            if not p.is_leaf:
                raise ValueError(f"{self._name}: parameter {i} of a group (shape {p.shape}) is not a leaf tensor")
            if p.dtype not in _FLOATS:
                raise TypeError(f"{self._name}: parameter {i} of a group has dtype {p.dtype}; "
                                "expected float32 or float64")
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{self._name}: a parameter appears twice in one param group")
        taken = {id(p) for group in self.param_groups for p in group["params"]}
        if taken.intersection(ids):
            raise ValueError(f"{self._name}: some parameters appear in more than one parameter group")
        group = dict(param_group)
        group["params"] = params
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._check(group)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients: to None (the default) or to zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.data = np.zeros_like(p.grad.data)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; ``closure`` (re-evaluating the loss) is called
        first, with gradients enabled, and its result returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._check(group)  # options may have been edited since (schedulers, user code)
            for p in group["params"]:
                if p.grad is not None:
                    self._update_tensor(p, self.state.of(p), group)
        return loss

    def _update_tensor(self, p: Tensor, state: dict, group: dict) -> None:
        data = p.data
        grad = p.grad.data if isinstance(p.grad, Tensor) else np.asarray(p.grad)
        if grad.shape != data.shape:
            raise ValueError(f"{self._name}.step: gradient of shape {grad.shape} for a parameter of shape "
                             f"{data.shape}")
        grad = np.ascontiguousarray(grad, dtype=data.dtype)
        if group.get("maximize", False):
            grad = -grad
        if data.flags.c_contiguous and data.flags.writeable:
            self._update(data, grad, state, group)
        else:  # the kernels work in place on contiguous memory: update a copy, then put it back
            work = np.ascontiguousarray(data).copy()
            self._update(work, grad, state, group)
            if data.flags.writeable:
                data[...] = work
            else:
                p.data = work

    # ---- state dict (PyTorch's layout: state keyed by parameter index, groups listing indices) ----

    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}``; parameters are
        numbered in group order. State tensors are returned by reference, as PyTorch does."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {key: value for key, value in group.items() if key != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: dict(s) for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore options and state saved by :meth:`state_dict` (groups must have the same sizes)."""
        op = f"{self._name}.load_state_dict"
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError(f"{op}: expected a dict with 'state' and 'param_groups'")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{op}: the state dict has {len(saved_groups)} parameter groups, "
                             f"the optimizer {len(self.param_groups)}")
        by_index: dict[int, Tensor] = {}
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{op}: parameter group {i} has {len(saved['params'])} parameters in the state "
                                 f"dict, {len(group['params'])} in the optimizer")
            for index, p in zip(saved["params"], group["params"]):
                by_index[int(index)] = p
        new_groups = []
        for saved, group in zip(saved_groups, self.param_groups):
            # options the saved group lacks (a PyTorch state dict has no l1_weight_decay) keep their values
            restored = {key: value for key, value in group.items() if key != "params"}
            restored.update((key, value) for key, value in saved.items() if key != "params")
            if "betas" in restored:
                restored["betas"] = tuple(restored["betas"])
            restored["params"] = group["params"]
            self._check(restored)
            new_groups.append(restored)
        new_state = _ParamState()
        for key, saved_state in state_dict["state"].items():
            try:
                p = by_index[int(key)]
            except (KeyError, ValueError):
                raise ValueError(f"{op}: state for parameter {key!r}, which no parameter group lists") from None
            new_state[p] = {name: self._restore(op, key, name, value, p) for name, value in saved_state.items()}
        self.param_groups = new_groups
        self.state = new_state

    @staticmethod
    def _restore(op: str, key: Any, name: str, value: Any, p: Tensor) -> Any:
        """A copy of one saved state entry: buffers cast to the parameter's dtype and checked against its shape."""
        if name == "step":
            return int(float(np.asarray(value.data if isinstance(value, Tensor) else value)))
        if isinstance(value, (Tensor, np.ndarray)):
            array = np.asarray(value.data if isinstance(value, Tensor) else value)
            if array.shape != p.shape:
                raise ValueError(f"{op}: state {name!r} of parameter {key} has shape {array.shape}, "
                                 f"the parameter {p.shape}")
            return Tensor(np.array(array, dtype=p.dtype, order="C"))
        return value

    def __repr__(self) -> str:
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {key}: {value}" for key, value in sorted(group.items()) if key != "params"]
        return "\n".join(lines + [")"])
