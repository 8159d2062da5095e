"""Reverse-mode automatic differentiation: grad mode, the backward engine, ``grad`` and ``gradcheck``.

Every op result that needs a gradient carries ``_ctx = (backward, parents)``: ``backward(g)`` maps the
gradient of the result (a NumPy array) to a tuple of gradients, one per parent (``None`` where a parent is a
constant or needs none). The engine sorts the graph topologically without recursion, runs the closures in
reverse order, accumulates ``.grad`` on leaves, then frees the graph: interior nodes get ``_ctx = Freed(...)``,
which drops their closures (and the arrays those hold) and makes a second backward raise.
"""
from __future__ import annotations

import functools
import threading
from typing import Any, Callable

import numpy as np

__all__ = [
    "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
    "backward", "grad", "gradcheck", "GradcheckError",
]


class _GradMode(threading.local):
    enabled = True  # class attribute: the default for every new thread


_mode = _GradMode()


class Freed:
    """``_ctx`` of an interior tensor after a backward pass freed its graph: only the op's name is kept."""

    __slots__ = ("qualname",)

    def __init__(self, qualname: str) -> None:
        self.qualname = qualname


def is_grad_enabled() -> bool:
    """Whether ops currently record the graph (thread-local)."""
    return _mode.enabled


class _GradModeContext:
    """Base of ``no_grad``/``enable_grad``: a context manager that is also a decorator."""

    _value: bool

    def __new__(cls, func: Callable | None = None):
        self = super().__new__(cls)
        return self(func) if func is not None else self  # bare ``@no_grad`` without parentheses

    def __enter__(self) -> None:
        self._prev = _mode.enabled
        _mode.enabled = self._value

    def __exit__(self, *exc: Any) -> None:
        _mode.enabled = self._prev

    def __call__(self, func: Callable) -> Callable:
        cls = type(self)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with cls():
                return func(*args, **kwargs)

        return wrapper


class no_grad(_GradModeContext):
    """Disable graph recording: ``with pn.no_grad(): ...``, ``@pn.no_grad()`` or ``@pn.no_grad``."""

    _value = False


class enable_grad(_GradModeContext):
    """Re-enable graph recording inside a ``no_grad`` region (context manager or decorator)."""

    _value = True


class set_grad_enabled:
    """Set grad mode now (``pn.set_grad_enabled(False)``) or for a ``with`` block, restoring it on exit."""

    def __init__(self, mode: bool) -> None:
        self._prev = _mode.enabled
        _mode.enabled = bool(mode)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: Any) -> None:
        _mode.enabled = self._prev


# ---------------------------------------------------------------------------------------------- engine

def _as_list(x: Any) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _root_grads(op: str, outputs: list, grads: Any) -> list:
    """Check outputs and build their starting gradients (ones for scalars, as PyTorch)."""
    from .tensor import Tensor, _to_array

    grads = [None] * len(outputs) if grads is None else _as_list(grads)
    if len(grads) != len(outputs):
        raise ValueError(f"{op}: got {len(outputs)} outputs but {len(grads)} gradients")
    out = []
    for t, g in zip(outputs, grads):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected Tensor outputs, got {type(t).__name__}")
        if not t._rg:
            raise RuntimeError(f"{op}: tensor of shape {t.shape} does not require grad and has no graph")
        if g is None:
            if t.data.size != 1:
                raise RuntimeError(f"{op}: grad can be implicitly created only for scalar outputs, "
                                   f"got an output of shape {t.shape}; pass a gradient of that shape")
            g = np.ones(t.data.shape, t.data.dtype)
        else:
            g = _to_array(g, t.data.dtype, copy=False)
            if g.shape != t.data.shape:
                raise RuntimeError(f"{op}: gradient of shape {g.shape} does not match output of shape {t.shape}")
        out.append(g)
    return out


def _run(roots: list, root_grads: list, retain_graph: bool, inputs: list | None = None) -> dict | None:
    """Backpropagate from ``roots``. Accumulates into leaves' ``.grad``, or, when ``inputs`` is given,
    returns ``{id(input): grad array}`` for those tensors and leaves every ``.grad`` untouched."""
    from .tensor import _make

    # Topological order by iterative post-order DFS over tensors that require grad.
    order: list = []
    seen: set = set()
    stack = [(r, False) for r in roots]
    while stack:
        t, done = stack.pop()
        if done:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        ctx = t._ctx
        if type(ctx) is Freed:
            raise RuntimeError(
                f"Trying to backward through the graph a second time: the graph of a tensor of shape "
                f"{t.shape} (from {ctx.qualname.split('.')[0]}) was freed by an earlier backward; pass "
                "retain_graph=True to the first backward if you need to backward through it again")
        stack.append((t, True))
        if ctx is not None:
            for p in ctx[1]:
                if p is not None and p._rg and id(p) not in seen:
                    stack.append((p, False))

    wanted = None if inputs is None else {id(t) for t in inputs}
    found: dict = {}
    grads: dict = {}
    for r, g in zip(roots, root_grads):
        k = id(r)
        grads[k] = g if k not in grads else grads[k] + g
    for t in reversed(order):
        g = grads.pop(id(t), None)
        if g is None:
            continue  # nothing flowed here (every path returned None)
        ctx = t._ctx
        if wanted is not None and id(t) in wanted:
            found[id(t)] = g
        if ctx is None:  # leaf
            if wanted is None:
                # copy on first store: g may alias another tensor's gradient or storage
                t.grad = _make(np.array(g, t.data.dtype)) if t.grad is None else _make(t.grad.data + g)
            continue
        backward_fn, parents = ctx
        for p, pg in zip(parents, backward_fn(g)):
            if pg is None or p is None or not p._rg:
                continue
            pd = p.data
            if pg.dtype != pd.dtype:  # mixed-dtype ops: each input's gradient has its own dtype
                pg = pg.astype(pd.dtype)
            if pg.shape != pd.shape:
                name = backward_fn.__qualname__.split(".")[0]
                raise RuntimeError(f"internal error: backward of {name} produced a gradient of shape "
                                   f"{pg.shape} for an input of shape {pd.shape}")
            k = id(p)
            prev = grads.get(k)
            grads[k] = pg if prev is None else prev + pg
    if not retain_graph:
        for t in order:
            ctx = t._ctx
            if ctx is not None:
                t._ctx = Freed(ctx[0].__qualname__)
    return found


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool = False) -> None:
    """Accumulate gradients of ``tensors`` (a Tensor or a sequence) into the ``.grad`` of graph leaves."""
    roots = _as_list(tensors)
    _run(roots, _root_grads("backward", roots, grad_tensors), retain_graph)


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool = False,
         create_graph: bool = False, allow_unused: bool = False) -> tuple:
    """Gradients of ``outputs`` with respect to ``inputs`` as a tuple of Tensors; ``.grad`` is not touched.

    ``inputs`` may be leaves or interior tensors. An input the outputs do not depend on raises
    RuntimeError unless ``allow_unused=True`` (then its entry is None). Higher-order gradients
    (``create_graph=True``) are not supported.
    """
    from .tensor import Tensor, _make

    if create_graph:
        raise NotImplementedError("autograd.grad: create_graph=True (higher-order gradients) is not supported")
    roots = _as_list(outputs)
    ins = _as_list(inputs)
    for t in ins:
        if not isinstance(t, Tensor):
            raise TypeError(f"autograd.grad: inputs must be Tensors, got {type(t).__name__}")
        if not t._rg:
            raise RuntimeError(f"autograd.grad: an input of shape {t.shape} does not require grad")
    found = _run(roots, _root_grads("autograd.grad", roots, grad_outputs), retain_graph, ins)
    result = []
    for i, t in enumerate(ins):
        g = found.get(id(t))
        if g is None:
            if not allow_unused:
                raise RuntimeError(f"autograd.grad: input {i} (shape {t.shape}) was not used to compute the "
                                   "outputs; pass allow_unused=True to get None for it")
            result.append(None)
        else:
            result.append(_make(np.array(g, t.data.dtype)))
    return tuple(result)


# ------------------------------------------------------------------------------------------- gradcheck

class GradcheckError(RuntimeError):
    """Raised by :func:`gradcheck` when analytical and numerical gradients disagree."""


def gradcheck(fn: Callable, inputs: Any, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True) -> bool:
    """Compare the gradients autograd computes for ``fn(*inputs)`` with central finite differences.

    Every floating input that requires grad is copied to float64 and perturbed element by element
    (``(f(x+eps) - f(x-eps)) / 2eps``); the full Jacobian of every floating output is compared with the one
    autograd gives, element-wise with ``|analytical - numerical| <= atol + rtol * |numerical|``.
    Returns True, or raises :class:`GradcheckError` describing the worst mismatch (returns False instead when
    ``raise_exception=False``). Other inputs are passed through unchanged.
    """
    from .tensor import Tensor, _make

    args = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    checked = []
    for i, a in enumerate(args):
        if isinstance(a, Tensor) and a._rg:
            args[i] = _make(np.array(a.data, np.float64), True)  # a float64 leaf we may perturb
            checked.append(i)
    if not checked:
        raise ValueError("gradcheck: no input requires grad")

    def outputs() -> list:
        out = fn(*args)
        outs = _as_list(out)
        return [o for o in outs if isinstance(o, Tensor) and o.data.dtype.kind == "f"]

    with enable_grad():
        outs = outputs()
    if not outs:
        raise ValueError("gradcheck: fn returned no floating-point Tensor")
    # analytical Jacobians, one row (output element) at a time: J[o][i] has shape (out.size, in.size)
    analytical = [[np.zeros((o.data.size, args[i].data.size)) for i in checked] for o in outs]
    ins = [args[i] for i in checked]
    for oi, o in enumerate(outs):
        if not o._rg:
            continue  # output does not depend on any input: its Jacobian is zero
        for r in range(o.data.size):
            seed = np.zeros(o.data.shape, o.data.dtype)
            seed.reshape(-1)[r] = 1.0
            gs = grad(o, ins, seed, retain_graph=True, allow_unused=True)
            for k, g in enumerate(gs):
                if g is not None:
                    analytical[oi][k][r] = g.data.reshape(-1)
    # numerical Jacobians by central differences
    numerical = [[np.zeros_like(analytical[oi][k]) for k in range(len(checked))] for oi in range(len(outs))]
    with no_grad():
        for k, i in enumerate(checked):
            flat = args[i].data.reshape(-1)  # a view: the leaf is a fresh contiguous copy
            for c in range(flat.size):
                orig = flat[c]
                flat[c] = orig + eps
                plus = [np.array(o.data, np.float64).reshape(-1) for o in outputs()]
                flat[c] = orig - eps
                minus = [np.array(o.data, np.float64).reshape(-1) for o in outputs()]
                flat[c] = orig
                for oi in range(len(outs)):
                    numerical[oi][k][:, c] = (plus[oi] - minus[oi]) / (2 * eps)

    worst = None
    for oi in range(len(outs)):
        for k, i in enumerate(checked):
            a, n = analytical[oi][k], numerical[oi][k]
            excess = np.abs(a - n) - (atol + rtol * np.abs(n))
            if excess.size and (np.nanmax(excess) > 0 or np.isnan(excess).any()):
                flat_idx = int(np.nanargmax(np.where(np.isnan(excess), np.inf, excess)))
                r, c = divmod(flat_idx, a.shape[1])
                score = excess.reshape(-1)[flat_idx]
                if worst is None or not score <= worst[0]:
                    worst = (score, oi, i, r, c, a[r, c], n[r, c], a, n)
    if worst is None:
        return True
    _, oi, i, r, c, av, nv, a, n = worst
    out_idx = np.unravel_index(r, outs[oi].shape)
    in_idx = np.unravel_index(c, args[i].shape)
    msg = (f"gradcheck: Jacobian mismatch for output {oi} (shape {outs[oi].shape}) with respect to input {i} "
           f"(shape {args[i].shape}); worst at output index {tuple(int(v) for v in out_idx)}, input index "
           f"{tuple(int(v) for v in in_idx)}: analytical={av!r}, numerical={nv!r}, |diff|={abs(av - nv):.3g} "
           f"(atol={atol}, rtol={rtol}); max |diff| over this Jacobian = {np.nanmax(np.abs(a - n)):.3g}")
    if raise_exception:
        raise GradcheckError(msg)
    return False
