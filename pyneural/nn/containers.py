"""Containers: ``Sequential`` (a chain of modules), ``ModuleList`` and ``ModuleDict`` (registered collections)."""
from __future__ import annotations

import operator
from collections import OrderedDict
from typing import Any, Iterable, Iterator, Mapping

from .module import Module

__all__ = ["Sequential", "ModuleList", "ModuleDict"]


def _index(container: Module, idx: Any) -> int:
    """A non-negative position in ``container`` (IndexError when out of range)."""
    n = len(container)
    try:
        i = operator.index(idx)
    except TypeError:
        raise TypeError(f"{type(container).__name__} indices must be integers or slices, "
                        f"not {type(idx).__name__}") from None
    if not -n <= i < n:
        raise IndexError(f"index {i} is out of range for a {type(container).__name__} of length {n}")
    return i % n


def _replace_children(container: Module, items: Iterable[tuple[str, Module]]) -> None:
    """Re-register the children as ``items`` (name, module) in that order (after a deletion or an insertion)."""
    items = list(items)
    for name in list(container._modules):
        delattr(container, name)
    for name, module in items:
        container.add_module(name, module)


class Sequential(Module):
    """Modules applied one after the other: ``Sequential(m1, m2, ...)`` (children named ``"0"``, ``"1"``, ...)
    or ``Sequential(OrderedDict(name=module, ...))``."""

    def __init__(self, *args: Any) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], Mapping):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(args):
                self.add_module(str(i), module)

    def forward(self, x: Any) -> Any:
        for module in self._modules.values():
            x = module(x)
        return x

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, slice):
            return type(self)(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[_index(self, idx)]

    def __setitem__(self, idx: int, module: Module) -> None:
        key = list(self._modules)[_index(self, idx)]
        self.add_module(key, module)

    def __delitem__(self, idx: Any) -> None:
        keys = list(self._modules)
        for key in (keys[idx] if isinstance(idx, slice) else [keys[_index(self, idx)]]):
            delattr(self, key)
        if all(k.isdigit() for k in self._modules):  # keep "0", "1", ... contiguous, as PyTorch does
            _replace_children(self, ((str(i), m) for i, m in enumerate(list(self._modules.values()))))

    def append(self, module: Module) -> "Sequential":
        """Add a module at the end; returns self."""
        self.add_module(str(len(self)), module)
        return self


class ModuleList(Module):
    """A list of modules whose parameters are registered (children named ``"0"``, ``"1"``, ...)."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return self._modules[str(_index(self, idx))]

    def __setitem__(self, idx: int, module: Module) -> None:
        self.add_module(str(_index(self, idx)), module)

    def __delitem__(self, idx: Any) -> None:
        modules = list(self._modules.values())
        if isinstance(idx, slice):
            del modules[idx]
        else:
            del modules[_index(self, idx)]
        _replace_children(self, ((str(i), m) for i, m in enumerate(modules)))

    def __iadd__(self, modules: Iterable[Module]) -> "ModuleList":
        return self.extend(modules)

    def append(self, module: Module) -> "ModuleList":
        """Add a module at the end; returns self."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> "ModuleList":
        """Add modules at the end; returns self."""
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert a module before position ``index``."""
        modules = list(self._modules.values())
        modules.insert(index, module)
        _replace_children(self, ((str(i), m) for i, m in enumerate(modules)))

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ModuleList has no forward(): iterate over it in the parent's forward")


class ModuleDict(Module):
    """A dict of modules whose parameters are registered under their keys."""

    def __init__(self, modules: Mapping[str, Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: str) -> bool:
        return key in self._modules

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        if key not in self._modules:
            raise KeyError(key)
        delattr(self, key)

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def update(self, modules: Mapping[str, Module]) -> None:
        """Add or replace modules from a mapping."""
        for key, module in modules.items():
            self.add_module(key, module)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ModuleDict has no forward(): index it in the parent's forward")
