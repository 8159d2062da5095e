"""``Tensor``: a NumPy array (the storage) plus the autograd graph.

The differentiable ops live in :mod:`pyneural.ops`; they are bound as methods and operators at the bottom
of this module. Behaviour follows PyTorch except where noted:

- ``.data`` is the backing NumPy array itself (PyTorch returns a Tensor); ``.numpy()`` returns it too,
  shared, also when the tensor requires grad.
- ``.size`` is the number of elements, an int, as in NumPy (PyTorch's ``size()`` is ``.shape`` here,
  ``size(d)`` is ``shape[d]``); ``.numel()`` is the same count.
- ``.device`` is the string ``"cpu"``.
- ``Tensor(data)`` wraps without copying when it can (like ``pn.as_tensor``); ``pn.tensor(data)`` copies.
"""
from __future__ import annotations

from typing import Any, Iterator

import numpy
import numpy as np

from . import autograd as _autograd
from . import dtypes as _dt

#: array module of CPU storage; GPU storage (CuPy) will bring its own.
xp = numpy

_new = object.__new__


def _check_device(device: Any) -> str:
    """Normalise a device argument; only the CPU exists so far."""
    if device is None or device == "cpu":
        return "cpu"
    name = str(device)
    if name in ("cpu", "cpu:0"):
        return "cpu"
    if name.startswith("cuda"):
        from . import cuda

        if not cuda.is_available():
            raise RuntimeError(f"device {name!r} requested but CUDA is not available "
                               "(pyneural.cuda.is_available() is False)")
        raise NotImplementedError(f"device {name!r}: CUDA tensors are not implemented yet")
    raise ValueError(f"unknown device {device!r}; expected 'cpu' or 'cuda'")


# dtype of Python scalars (exact types: NumPy scalars such as np.float64 keep their own dtype)
_PY_DTYPE = {bool: _dt.bool_, int: _dt.int64, float: _dt.default_float}


def _to_array(data: Any, dtype: Any = None, copy: bool = True, op: str = "tensor") -> np.ndarray:
    """Convert ``data`` to a NumPy array following PyTorch's dtype inference.

    Python floats (and nested lists of them) become float32, ints int64, bools bool; NumPy arrays and
    scalars keep their dtype. ``copy=False`` avoids a copy where the dtype already matches.
    """
    dt = None if dtype is None else _dt.as_dtype(dtype, op)
    if isinstance(data, Tensor):
        arr = data.data
    elif isinstance(data, np.ndarray):
        arr = data
    else:
        py = _PY_DTYPE.get(type(data))
        if py is not None:
            return np.asarray(data, py if dt is None else dt)
        try:
            arr = np.asarray(data)
        except ValueError as e:
            raise ValueError(f"{op}: cannot convert a ragged nested sequence to a tensor ({e})") from None
        if isinstance(data, (list, tuple)):
            copy = False  # already a new array
            if arr.dtype == np.float64 and dt is None:
                arr = arr.astype(_dt.default_float)  # Python floats -> the default float dtype
    if arr.dtype.kind not in "biuf":
        if arr.dtype.kind == "O":
            raise TypeError(f"{op}: cannot make a tensor from {type(data).__name__} holding Python objects "
                            "(ragged data, None or mixed types?)")
        raise TypeError(f"{op}: unsupported data of dtype {arr.dtype} (tensors hold bool, integer or "
                        "floating data)")
    if dt is not None and dt != arr.dtype:
        return arr.astype(dt)
    return arr.copy() if copy else arr


def _make(arr: Any, requires_grad: bool = False, ctx: Any = None) -> "Tensor":
    """Fast internal constructor: wrap an array (or NumPy scalar) without checks."""
    if type(arr) is not np.ndarray:
        arr = np.asarray(arr)
    t = _new(Tensor)
    t.data = arr
    t.grad = None
    t._rg = requires_grad
    t._ctx = ctx
    return t


def _check_requires_grad(dtype: np.dtype, op: str) -> None:
    if dtype.kind != "f":
        raise TypeError(f"{op}: only floating-point tensors can require gradients (got dtype {dtype})")


class Tensor:
    """An n-dimensional array with reverse-mode autograd.

    Attributes:
        data: the storage, a NumPy array.
        grad: accumulated gradient (a Tensor) of a leaf that requires grad, else None.
    """

    __slots__ = ("data", "grad", "_rg", "_ctx", "__weakref__")
    # NumPy's binary operators defer to ours (ndarray * Tensor -> Tensor), while np.exp(t) still
    # converts through __array__.
    __array_priority__ = 1000

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = False, device: Any = "cpu") -> None:
        _check_device(device)
        self.data = _to_array(data, dtype, copy=False, op="Tensor")
        self.grad = None
        self._rg = False
        self._ctx = None
        if requires_grad:
            self.requires_grad = True

    # ------------------------------------------------------------------------------------ properties
    @property
    def shape(self) -> tuple:
        """Dimensions, a tuple of ints."""
        return self.data.shape

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return self.data.ndim

    @property
    def size(self) -> int:
        """Number of elements (NumPy's ``size``; use ``.shape`` for PyTorch's ``size()``)."""
        return self.data.size

    def numel(self) -> int:
        """Number of elements."""
        return self.data.size

    def dim(self) -> int:
        """Number of dimensions (PyTorch's ``dim()``)."""
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        """Element dtype (a NumPy dtype: ``pn.float32`` etc.)."""
        return self.data.dtype

    @property
    def device(self) -> str:
        """Where the storage lives: ``"cpu"``."""
        return "cpu"

    @property
    def xp(self):
        """The array module of the storage (``numpy`` for CPU tensors)."""
        return xp

    @property
    def requires_grad(self) -> bool:
        """Whether gradients flow to this tensor."""
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value:
            _check_requires_grad(self.data.dtype, "requires_grad")
        elif self._ctx is not None:
            raise RuntimeError("requires_grad: you can only change the flag of leaf tensors; use detach()")
        self._rg = bool(value)

    @property
    def is_leaf(self) -> bool:
        """True for tensors created by the user (not by a recorded op)."""
        return self._ctx is None

    @property
    def grad_fn(self) -> str | None:
        """Name of the op that produced this tensor (None for leaves)."""
        ctx = self._ctx
        if ctx is None:
            return None
        qualname = ctx.qualname if type(ctx) is _autograd.Freed else ctx[0].__qualname__
        return qualname.split(".")[0]

    # ----------------------------------------------------------------------------------- conversion
    def numpy(self) -> np.ndarray:
        """The storage array (shared, not copied)."""
        return self.data

    def item(self) -> bool | int | float:
        """The value of a one-element tensor as a Python scalar."""
        if self.data.size != 1:
            raise ValueError(f"item: a tensor of shape {self.shape} ({self.data.size} elements) "
                             "cannot be converted to a Python scalar")
        return self.data.item()

    def tolist(self) -> Any:
        """Nested Python lists (a scalar for 0-d tensors)."""
        return self.data.tolist()

    def detach(self) -> "Tensor":
        """A tensor sharing storage, cut from the graph."""
        return _make(self.data)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set ``requires_grad`` in place; returns self."""
        self.requires_grad = requires_grad
        return self

    def to(self, *args: Any, dtype: Any = None, device: Any = None) -> "Tensor":
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other_tensor)`` (its dtype)."""
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda"):
                device = a
            else:
                dtype = a
        if device is not None:
            _check_device(device)
        return self if dtype is None else self.astype(dtype)

    def cpu(self) -> "Tensor":
        """This tensor (all storage is on the CPU)."""
        return self

    def float(self) -> "Tensor":
        """Cast to float32."""
        return self.astype(_dt.float32)

    def double(self) -> "Tensor":
        """Cast to float64."""
        return self.astype(_dt.float64)

    def long(self) -> "Tensor":
        """Cast to int64."""
        return self.astype(_dt.int64)

    # ------------------------------------------------------------------------------------- autograd
    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``, then free the graph
        (unless ``retain_graph``). ``grad`` is required unless self has one element."""
        _autograd.backward(self, grad, retain_graph)

    # ------------------------------------------------------------------------------- NumPy protocols
    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        arr = self.data
        if dtype is not None and np.dtype(dtype) != arr.dtype:
            if copy is False:
                raise ValueError(f"__array__: converting {arr.dtype} to {np.dtype(dtype)} needs a copy")
            return arr.astype(dtype)
        return arr.copy() if copy else arr

    def __dlpack__(self, *args: Any, **kwargs: Any) -> Any:
        return self.data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self) -> tuple:
        return self.data.__dlpack_device__()

    # -------------------------------------------------------------------------------- Python protocols
    __hash__ = object.__hash__  # hashable by identity although == is element-wise

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self) -> Iterator["Tensor"]:
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    def __contains__(self, value: Any) -> bool:
        return bool((self.data == (value.data if isinstance(value, Tensor) else value)).any())

    def _scalar(self, what: str) -> Any:
        if self.data.size != 1:
            raise RuntimeError(f"{what} value of a tensor with {self.data.size} elements (shape {self.shape}) "
                               "is ambiguous")
        return self.data.item()

    def __bool__(self) -> bool:
        return bool(self._scalar("Boolean"))

    def __float__(self) -> float:
        return float(self._scalar("float"))

    def __int__(self) -> int:
        return int(self._scalar("int"))

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iu":
            raise TypeError(f"only integer tensors can be used as an index (got dtype {self.dtype})")
        return int(self._scalar("index"))

    def __format__(self, spec: str) -> str:
        if self.data.ndim == 0:
            return format(self.data.item(), spec)
        return format(repr(self), spec)

    def __repr__(self) -> str:
        d = self.data
        mode = "maxprec_equal"
        if d.dtype.kind == "f" and d.size:  # PyTorch style: "1., 2." for whole numbers, else 4 decimals
            finite = d[np.isfinite(d)]
            if finite.size and (finite != np.round(finite)).any():
                mode = "fixed"
        body = np.array2string(d, separator=", ", prefix="tensor(", precision=4, floatmode=mode)
        extras = []
        if self.data.size == 0:
            extras.append(f"size={self.shape}")
        if self.data.dtype not in (_dt.float32, _dt.int64, _dt.bool_):
            extras.append(f"dtype=pn.{self.data.dtype}")
        fn = self.grad_fn
        if fn is not None:
            extras.append(f"grad_fn=<{fn}>")
        elif self._rg:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extras) + ")"

    def __setitem__(self, index: Any, value: Any) -> None:
        raise TypeError("Tensor does not support item assignment (no in-place ops with autograd); use "
                        "pn.where(...) or write the storage directly with t.data[...] = value")


def is_tensor(obj: Any) -> bool:
    """True if ``obj`` is a pyneural Tensor."""
    return isinstance(obj, Tensor)


# ---------------------------------------------------------------------------------------- method table
# The ops are plain functions in pyneural.ops; binding them here (instead of wrapper methods) keeps one
# Python call per op, which matters for tiny-tensor overhead.
from .ops import elementwise as _ew, index as _ix, linalg as _la, reduce as _rd, shape as _sh  # noqa: E402

Tensor.__add__ = _ew.add
Tensor.__radd__ = _ew.radd
Tensor.__sub__ = _ew.sub
Tensor.__rsub__ = _ew.rsub
Tensor.__mul__ = _ew.mul
Tensor.__rmul__ = _ew.rmul
Tensor.__truediv__ = _ew.div
Tensor.__rtruediv__ = _ew.rdiv
Tensor.__pow__ = _ew.pow
Tensor.__rpow__ = _ew.rpow
Tensor.__neg__ = _ew.neg
Tensor.__pos__ = lambda self: self
Tensor.__abs__ = _ew.abs
Tensor.__matmul__ = _la.matmul
Tensor.__rmatmul__ = _la.rmatmul
Tensor.__lt__ = _ew.lt
Tensor.__le__ = _ew.le
Tensor.__gt__ = _ew.gt
Tensor.__ge__ = _ew.ge
Tensor.__eq__ = _ew.eq
Tensor.__ne__ = _ew.ne
Tensor.__and__ = Tensor.__rand__ = _ew.bitwise_and
Tensor.__or__ = Tensor.__ror__ = _ew.bitwise_or
Tensor.__xor__ = Tensor.__rxor__ = _ew.bitwise_xor
Tensor.__invert__ = _ew.bitwise_not
Tensor.__getitem__ = _ix.getitem

for _name in ("add", "sub", "mul", "div", "pow", "neg", "exp", "log", "sqrt", "abs", "clip", "clamp", "tanh",
              "sigmoid", "relu", "maximum", "minimum", "astype", "clone"):
    setattr(Tensor, _name, getattr(_ew, _name))
Tensor.matmul = _la.matmul
for _name in ("sum", "mean", "var", "std", "max", "min", "argmax", "argmin"):
    setattr(Tensor, _name, getattr(_rd, _name))
for _name in ("reshape", "view", "flatten", "squeeze", "unsqueeze", "transpose", "permute", "expand",
              "contiguous"):
    setattr(Tensor, _name, getattr(_sh, _name))
Tensor.T = property(_sh.reverse_dims, doc="All dimensions reversed (NumPy's ``.T``).")
del _name
