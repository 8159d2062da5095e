"""``Module`` and ``Parameter``: the base of every layer (PyTorch's ``torch.nn.Module``).

A Module registers what is assigned to its attributes: a :class:`Parameter` goes to ``_parameters``, a
Module to ``_modules``, a tensor declared with :meth:`Module.register_buffer` to ``_buffers``. Everything
else (parameters(), state_dict(), train(), zero_grad(), ...) walks those three dicts recursively, so the
names are the dotted attribute paths PyTorch uses (``"0.weight"``, ``"features.conv1.bias"``).

Each registered entry is also mirrored in the instance ``__dict__``, so ``self.weight`` in a forward pass is
an ordinary attribute read (a ``__getattr__`` fallback, as in PyTorch, costs about 1.5 us per access). The
registries stay the source of truth: every change goes through the methods below, which keep both in step.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Iterator, NamedTuple

import numpy as np

from .. import dtypes as _dt
from ..tensor import Tensor, _check_device, _make, _to_array

__all__ = ["Module", "Parameter"]


class Parameter(Tensor):
    """A Tensor that a Module registers as a learnable parameter when assigned to one of its attributes.

    ``Parameter(data)`` shares the storage of ``data`` (a Tensor or an array; other array-likes are
    converted) and requires grad by default.
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = np.empty(0, _dt.default_float)
        self.data = data.data if isinstance(data, Tensor) else _to_array(data, copy=False, op="Parameter")
        self.grad = None
        self._rg = False
        self._ctx = None
        if requires_grad:
            self.requires_grad = True

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(..., strict=False)`` returns: the keys it did not match."""

    missing_keys: list
    unexpected_keys: list


def _addindent(text: str, spaces: int) -> str:
    """Indent every line but the first (nested module reprs)."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


class Module:
    """Base class of layers and models: subclass it, create sub-modules and Parameters in ``__init__``
    (after ``super().__init__()``), compute the output in ``forward``, and call the module like a function.
    """

    training: bool

    def __init__(self) -> None:
        # object.__setattr__: our __setattr__ needs these dicts to exist already
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())

    # ------------------------------------------------------------------------------------- calling
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; every subclass defines it."""
        raise NotImplementedError(f"{type(self).__name__} has no forward(); define forward() in the subclass")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------------------- registration
    def _check_initialised(self, what: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {what} before Module.__init__() call "
                                 f"(call super().__init__() first in {type(self).__name__}.__init__)")

    @staticmethod
    def _check_name(name: Any, what: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{what} name should be a string, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"{what} name can't be empty or contain '.', got {name!r}")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or None, a declared but absent parameter such as a disabled bias)."""
        self._check_initialised("parameters")
        self._check_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign {type(param).__name__} object to parameter {name!r} "
                            "(pyneural.nn.Parameter or None required)")
        self._forget(name)
        self._parameters[name] = param
        self._mirror(name, param)

    def register_buffer(self, name: str, tensor: Any, persistent: bool = True) -> None:
        """Add a buffer: state that is not learned (running statistics). Arrays are wrapped in a Tensor.

        Persistent buffers are part of ``state_dict()``; non-persistent ones only follow ``to()``.
        """
        self._check_initialised("buffers")
        self._check_name(name, "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            tensor = _make(_to_array(tensor, copy=False, op="register_buffer"))
        if isinstance(tensor, Parameter):
            raise TypeError(f"register_buffer: {name!r} is a Parameter; use register_parameter")
        self._forget(name)
        self._buffers[name] = tensor
        self._mirror(name, tensor)
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: "Module | None") -> None:
        """Add a child module (``register_module`` is the same)."""
        self._check_initialised("child modules")
        self._check_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass (child {name!r})")
        self._forget(name)
        self._modules[name] = module
        self._mirror(name, module)

    register_module = add_module

    def _mirror(self, name: str, value: Any) -> None:
        """Copy a registered entry into the instance dict for fast reads, unless the class has an attribute of
        that name (a method such as ``ModuleDict.items``, which must keep winning, as in PyTorch)."""
        if not hasattr(type(self), name):
            self.__dict__[name] = value

    def _forget(self, name: str) -> None:
        """Drop ``name`` from every registry and the instance dict (before registering it anew)."""
        self.__dict__.pop(name, None)
        self._parameters.pop(name, None)
        self._buffers.pop(name, None)
        self._modules.pop(name, None)
        self._non_persistent_buffers.discard(name)

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        if isinstance(value, Parameter):
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            self.add_module(name, value)
        elif name in d.get("_parameters", ()):
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} "
                                "(pyneural.nn.Parameter or None expected)")
            self._parameters[name] = None
            self._mirror(name, None)
        elif name in d.get("_modules", ()):
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module {name!r} "
                                "(Module or None expected)")
            self._modules[name] = None
            self._mirror(name, None)
        elif name in d.get("_buffers", ()):
            if value is not None and not isinstance(value, Tensor):
                value = _make(_to_array(value, copy=False, op=f"buffer {name!r}"))
            self._buffers[name] = value
            self._mirror(name, value)
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # only called when normal lookup fails (entries are mirrored in __dict__): look in the registries
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            entries = d.get(registry)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                self.__dict__.pop(name, None)
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list:
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))

    # ---------------------------------------------------------------------------------- traversal
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, "Module"]]:
        """``(name, module)`` for this module (name ``""``) and every descendant, depth first."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self) -> Iterator["Module"]:
        """This module and every descendant."""
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        """``(name, module)`` of the direct sub-modules."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator["Module"]:
        """The direct sub-modules."""
        for _, module in self.named_children():
            yield module

    def _named_members(self, registry: str, prefix: str, recurse: bool,
                       remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        seen: set = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for module_prefix, module in mods:
            for name, value in getattr(module, registry).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield module_prefix + ("." if module_prefix else "") + name, value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(dotted name, parameter)`` pairs; a parameter shared by two modules is listed once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter (what an optimizer takes)."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """``(dotted name, buffer)`` pairs."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every buffer."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> "Module":
        """The descendant at a dotted path (``"features.0"``); ``""`` is this module."""
        module = self
        for i, part in enumerate(target.split(".") if target else []):
            child = module._modules.get(part)
            if child is None:
                path = ".".join(target.split(".")[:i]) or type(self).__name__
                raise AttributeError(f"get_submodule: {path} has no sub-module {part!r} (looking for {target!r})")
            module = child
        return module

    def apply(self, fn: Callable[["Module"], Any]) -> "Module":
        """Call ``fn`` on every sub-module (children first) and on self; returns self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------------------------- modes
    def train(self, mode: bool = True) -> "Module":
        """Set training mode (dropout active, batch norm uses batch statistics) here and below."""
        if not isinstance(mode, bool):
            raise ValueError(f"train: mode must be a bool, got {mode!r}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> "Module":
        """Set evaluation mode here and below (``train(False)``)."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Set ``requires_grad`` of every parameter (``False`` freezes the module); returns self."""
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of every parameter: to None (default, as PyTorch), or fill them with zeros."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.data[...] = 0

    def to(self, *args: Any, device: Any = None, dtype: Any = None) -> "Module":
        """``to(device)``, ``to(dtype)`` or both: casts floating parameters and buffers in place
        (the Parameter objects stay the same, so an optimizer built before keeps working); returns self."""
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda"):
                device = a
            else:
                dtype = a
        if device is not None:
            _check_device(device)
        if dtype is not None:
            dtype = _dt.as_dtype(dtype, "Module.to")
            if dtype.kind != "f":
                raise TypeError(f"Module.to only accepts floating point dtypes, got {dtype}")
            for t in list(self.parameters()) + list(self.buffers()):
                if t.data.dtype.kind == "f" and t.data.dtype != dtype:
                    t.data = t.data.astype(dtype)
                    if t.grad is not None:
                        t.grad = _make(t.grad.data.astype(dtype))
        return self

    def cpu(self) -> "Module":
        """This module (everything lives on the CPU)."""
        return self

    def float(self) -> "Module":
        """Cast floating parameters and buffers to float32."""
        return self.to(_dt.float32)

    def double(self) -> "Module":
        """Cast floating parameters and buffers to float64."""
        return self.to(_dt.float64)

    # -------------------------------------------------------------------------------- state dict
    def state_dict(self, destination: dict | None = None, prefix: str = "",
                   keep_vars: bool = False) -> "OrderedDict[str, Tensor]":
        """Parameters and persistent buffers by dotted name (PyTorch's names and order).

        Values are Tensors sharing storage with the module (detached unless ``keep_vars``); a PyTorch state
        dict of the same model has the same keys and shapes.
        """
        out = OrderedDict() if destination is None else destination
        for module_prefix, module in self.named_modules(prefix=prefix.rstrip("."), remove_duplicate=False):
            dot = module_prefix + ("." if module_prefix else "")
            for name, p in module._parameters.items():
                if p is not None:
                    out[dot + name] = p if keep_vars else p.detach()
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent_buffers:
                    out[dot + name] = b if keep_vars else b.detach()
        return out

    def load_state_dict(self, state_dict: Any, strict: bool = True) -> IncompatibleKeys:
        """Copy values into the existing parameters and buffers (in place, keeping their dtype).

        Values may be Tensors, NumPy arrays (e.g. a PyTorch state dict converted with ``.numpy()``) or
        anything ``numpy.asarray`` accepts. Every key is checked before anything is copied: a shape
        mismatch always raises ValueError, missing or unexpected keys raise when ``strict`` (else they are
        returned). Nothing is modified when an error is raised.
        """
        if not hasattr(state_dict, "items"):
            raise TypeError(f"load_state_dict: expected a dict-like state dict, got {type(state_dict).__name__}")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        plan = []
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            try:
                src = value.data if isinstance(value, Tensor) else np.asarray(value)
            except Exception as e:  # e.g. a torch tensor that requires grad
                errors.append(f"{key}: cannot convert a {type(value).__name__} to an array ({e})")
                continue
            dst = target.data
            if src.shape != dst.shape:
                errors.append(f"size mismatch for {key}: copying a param with shape {src.shape} from checkpoint, "
                              f"the shape in current model is {dst.shape}")
            elif not np.can_cast(src.dtype, dst.dtype, casting="same_kind"):
                errors.append(f"dtype mismatch for {key}: cannot copy {src.dtype} values into {dst.dtype}")
            else:
                plan.append((dst, src))
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(map(repr, unexpected)))
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " + ", ".join(map(repr, missing)))
        if errors:
            raise ValueError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        for dst, src in plan:
            np.copyto(dst, src, casting="same_kind")
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------------------------- repr
    def extra_repr(self) -> str:
        """The module's own settings for its repr (e.g. ``in_features=3, out_features=4``)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _addindent(repr(module), 2) for name, module in self._modules.items()]
        lines = extra_lines + child_lines
        body = ""
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                body = extra_lines[0]
            else:
                body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{type(self).__name__}({body})"
