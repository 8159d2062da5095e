"""Numba twins of the fused optimizer updates of ``_C`` (``csrc/cpu/optim``): same contracts.

Each update is one pass over the parameter, its gradient and its state buffers, in place, on
C-contiguous arrays of one shape and dtype (float32 or float64). The arithmetic follows torch.optim's
single-tensor code operation by operation, in the arrays' precision (scalars are cast to their dtype).
Large buffers are split into contiguous slices over Numba's threads.
"""
from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

__all__ = ["sgd_update", "adam_update", "rmsprop_update", "adagrad_update"]

_FASTMATH = {"contract"}     # FMA contraction only: NaN and inf propagate as in the native kernels
_PARALLEL_ELEMENTS = 1 << 17  # below this a thread team costs more than it saves
_SLICE = 1 << 14             # elements per parallel work item


@njit(cache=True, fastmath=_FASTMATH, inline="always")
def _lerp(start, end, weight, complement):
    """torch.lerp with ``complement = 1 - weight`` (given in the arrays' dtype, so float32 stays float32):
    the form depends on the weight, for accuracy near either end."""
    if weight < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * complement


@njit(cache=True, fastmath=_FASTMATH, inline="always")
def _regularised(g, p, l2, l1):
    """g + l1 * sign(p) (sign(0) = 0), then + l2 * p: the native kernels' order."""
    if l1 != 0:
        if p > 0:
            g = g + l1
        elif p < 0:
            g = g - l1
    return g + l2 * p if l2 != 0 else g


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def _sgd_slice(p, g, buf, lo, hi, lr, momentum, keep, wd, l1, use_momentum, nesterov, first):
    p, g = p[lo:hi], g[lo:hi]
    if use_momentum:
        buf = buf[lo:hi]
    for i in range(p.size):
        d = _regularised(g[i], p[i], wd, l1)
        if use_momentum:
            b = d if first else buf[i] * momentum + keep * d
            buf[i] = b
            d = d + momentum * b if nesterov else b
        p[i] = p[i] + (-lr) * d


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def _adam_slice(p, g, m, v, v_max, lo, hi, step_size, correction2_sqrt, eps, w1, beta1, beta2, w2, wd, l1, shrink,
                decoupled, amsgrad):
    p, g, m, v = p[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi]
    if amsgrad:
        v_max = v_max[lo:hi]
    for i in range(p.size):
        pi = p[i]
        gi = _regularised(g[i], pi, wd - wd if decoupled else wd, l1)  # (a zero of wd's type)
        if decoupled and wd != 0:
            pi = pi * shrink
        mi = _lerp(m[i], gi, w1, beta1)
        vi = v[i] * beta2 + w2 * gi * gi
        m[i] = mi
        v[i] = vi
        if amsgrad:
            if not v_max[i] >= vi:  # a NaN in vi propagates, as torch.maximum's
                v_max[i] = vi
            vi = v_max[i]
        p[i] = pi + (-step_size) * (mi / (math.sqrt(vi) / correction2_sqrt + eps))


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def _rmsprop_slice(p, g, sq, buf, avg_g, lo, hi, lr, alpha, w, eps, wd, l1, momentum, use_momentum, centered):
    p, g, sq = p[lo:hi], g[lo:hi], sq[lo:hi]
    if use_momentum:
        buf = buf[lo:hi]
    if centered:
        avg_g = avg_g[lo:hi]
    if not (centered or use_momentum):  # the default: a loop without branches, which LLVM vectorizes
        for i in range(p.size):
            gi = _regularised(g[i], p[i], wd, l1)
            s = sq[i] * alpha + w * gi * gi
            sq[i] = s
            p[i] = p[i] + (-lr) * (gi / (math.sqrt(s) + eps))
        return
    for i in range(p.size):
        gi = _regularised(g[i], p[i], wd, l1)
        s = sq[i] * alpha + w * gi * gi
        sq[i] = s
        if centered:
            a = _lerp(avg_g[i], gi, w, alpha)
            avg_g[i] = a
            avg = math.sqrt(s - a * a) + eps
        else:
            avg = math.sqrt(s) + eps
        if use_momentum:
            b = buf[i] * momentum + gi / avg
            buf[i] = b
            p[i] = p[i] + (-lr) * b
        else:
            p[i] = p[i] + (-lr) * (gi / avg)


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def _adagrad_slice(p, g, total, lo, hi, lr, eps, wd, l1):
    p, g, total = p[lo:hi], g[lo:hi], total[lo:hi]
    for i in range(p.size):
        gi = _regularised(g[i], p[i], wd, l1)
        s = total[i] + gi * gi
        total[i] = s
        p[i] = p[i] + (-lr) * (gi / (math.sqrt(s) + eps))


# Parallel drivers: each thread takes whole slices of _SLICE elements.
@njit(cache=True, parallel=True)
def _sgd_parallel(p, g, buf, *args):
    n = p.size
    for s in prange((n + _SLICE - 1) // _SLICE):
        _sgd_slice(p, g, buf, s * _SLICE, min(n, (s + 1) * _SLICE), *args)


@njit(cache=True, parallel=True)
def _adam_parallel(p, g, m, v, v_max, *args):
    n = p.size
    for s in prange((n + _SLICE - 1) // _SLICE):
        _adam_slice(p, g, m, v, v_max, s * _SLICE, min(n, (s + 1) * _SLICE), *args)


@njit(cache=True, parallel=True)
def _rmsprop_parallel(p, g, sq, buf, avg_g, *args):
    n = p.size
    for s in prange((n + _SLICE - 1) // _SLICE):
        _rmsprop_slice(p, g, sq, buf, avg_g, s * _SLICE, min(n, (s + 1) * _SLICE), *args)


@njit(cache=True, parallel=True)
def _adagrad_parallel(p, g, total, *args):
    n = p.size
    for s in prange((n + _SLICE - 1) // _SLICE):
        _adagrad_slice(p, g, total, s * _SLICE, min(n, (s + 1) * _SLICE), *args)


# ---- argument checks (the native entry's rules and messages) ----

def _param(op: str, param) -> np.ndarray:
    if not isinstance(param, np.ndarray):
        raise TypeError(f"{op}: param must be a NumPy array, got {type(param).__name__}")
    if param.dtype not in (np.float32, np.float64):
        raise TypeError(f"{op}: param has dtype {param.dtype}; expected float32 or float64")
    return _buffer(op, param, param, "param", True)


def _buffer(op: str, x, param: np.ndarray, name: str, writes: bool) -> np.ndarray:
    """``x`` flattened (a view), after checking it against ``param``: dtype, shape, C order, writeable."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{op}: {name} must be a NumPy array, got {type(x).__name__}")
    if x.dtype != param.dtype:
        raise TypeError(f"{op}: {name} has dtype {x.dtype}, expected {param.dtype} (the dtype of param)")
    if x.shape != param.shape:
        raise ValueError(f"{op}: {name} has shape {x.shape}, expected {param.shape} (the shape of param)")
    if not x.flags.c_contiguous:
        raise ValueError(f"{op}: {name} must be C-contiguous")
    if writes and not x.flags.writeable:
        raise ValueError(f"{op}: {name} is read-only")
    return x.reshape(-1)


def _disjoint(op: str, named: list[tuple[str, np.ndarray]]) -> None:
    """The update is in place and reads each element once: buffers must not overlap."""
    for i, (name, x) in enumerate(named):
        for other, y in named[:i]:
            if x.size and np.may_share_memory(x, y):
                raise ValueError(f"{op}: {name} overlaps {other}")


def _finite(op: str, **values: float) -> None:
    for name, value in values.items():
        if not math.isfinite(value):
            raise ValueError(f"{op}: {name} must be finite, got {value}")


def _threads(n: int) -> bool:
    return n >= _PARALLEL_ELEMENTS and numba.get_num_threads() > 1


def _empty(param: np.ndarray) -> np.ndarray:
    return np.empty(0, param.dtype)  # stands for an unused state buffer


def sgd_update(param: np.ndarray, grad: np.ndarray, momentum_buffer: np.ndarray | None = None, *, lr: float,
               momentum: float = 0.0, dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
               first_step: bool = False, l1_weight_decay: float = 0.0) -> None:
    """In-place SGD step (torch.optim.SGD's rule); the contract of ``_C.sgd_update``."""
    op = "sgd_update"
    p = _param(op, param)
    g = _buffer(op, grad, param, "grad", False)
    _finite(op, lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
            l1_weight_decay=l1_weight_decay)
    if nesterov and not (momentum > 0 and dampening == 0):
        raise ValueError(f"{op}: nesterov needs momentum > 0 and dampening = 0, got momentum={momentum}, "
                         f"dampening={dampening}")
    use_momentum = momentum != 0
    named = [("param", p), ("grad", g)]
    if use_momentum:
        if momentum_buffer is None:
            raise ValueError(f"{op}: momentum_buffer is missing (null)")
        named.append(("momentum_buffer", _buffer(op, momentum_buffer, param, "momentum_buffer", True)))
    elif momentum_buffer is not None:
        _buffer(op, momentum_buffer, param, "momentum_buffer", True)
    _disjoint(op, named)
    buf = named[2][1] if use_momentum else _empty(param)
    t = param.dtype.type
    args = (t(lr), t(momentum), t(1 - dampening), t(weight_decay), t(l1_weight_decay), use_momentum, bool(nesterov),
            bool(first_step))
    if _threads(p.size):
        _sgd_parallel(p, g, buf, *args)
    else:
        _sgd_slice(p, g, buf, 0, p.size, *args)


def adam_update(param: np.ndarray, grad: np.ndarray, exp_avg: np.ndarray, exp_avg_sq: np.ndarray,
                max_exp_avg_sq: np.ndarray | None = None, *, lr: float, beta1: float, beta2: float, eps: float,
                weight_decay: float = 0.0, step: int, decoupled: bool = False,
                l1_weight_decay: float = 0.0) -> None:
    """In-place Adam step (decoupled=True: AdamW) with bias correction for ``step`` (>= 1); with
    ``max_exp_avg_sq``, AMSGrad (divides by the running maximum of exp_avg_sq)."""
    op = "adam_update"
    p = _param(op, param)
    g = _buffer(op, grad, param, "grad", False)
    m = _buffer(op, exp_avg, param, "exp_avg", True)
    v = _buffer(op, exp_avg_sq, param, "exp_avg_sq", True)
    _finite(op, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
            l1_weight_decay=l1_weight_decay)
    if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
        raise ValueError(f"{op}: betas must be in [0, 1), got ({beta1}, {beta2})")
    if step < 1:
        raise ValueError(f"{op}: step must be >= 1 (bias correction), got {step}")
    named = [("param", p), ("grad", g), ("exp_avg", m), ("exp_avg_sq", v)]
    amsgrad = max_exp_avg_sq is not None
    v_max = _buffer(op, max_exp_avg_sq, param, "max_exp_avg_sq", True) if amsgrad else _empty(param)
    if amsgrad:
        named.append(("max_exp_avg_sq", v_max))
    _disjoint(op, named)
    t = param.dtype.type
    correction1, correction2 = 1 - beta1 ** step, 1 - beta2 ** step
    args = (t(lr / correction1), t(math.sqrt(correction2)), t(eps), t(1 - beta1), t(beta1), t(beta2), t(1 - beta2),
            t(weight_decay), t(l1_weight_decay), t(1 - lr * weight_decay), bool(decoupled), amsgrad)
    if _threads(p.size):
        _adam_parallel(p, g, m, v, v_max, *args)
    else:
        _adam_slice(p, g, m, v, v_max, 0, p.size, *args)


def rmsprop_update(param: np.ndarray, grad: np.ndarray, square_avg: np.ndarray,
                   momentum_buffer: np.ndarray | None = None, grad_avg: np.ndarray | None = None, *, lr: float,
                   alpha: float, eps: float, weight_decay: float = 0.0, momentum: float = 0.0,
                   centered: bool = False, l1_weight_decay: float = 0.0) -> None:
    """In-place RMSprop step; momentum_buffer needed when momentum > 0, grad_avg when centered."""
    op = "rmsprop_update"
    p = _param(op, param)
    g = _buffer(op, grad, param, "grad", False)
    sq = _buffer(op, square_avg, param, "square_avg", True)
    _finite(op, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
            l1_weight_decay=l1_weight_decay)
    named = [("param", p), ("grad", g), ("square_avg", sq)]
    buf, avg_g = _empty(param), _empty(param)
    use_momentum = momentum > 0
    if use_momentum:
        if momentum_buffer is None:
            raise ValueError(f"{op}: momentum_buffer is missing (null)")
        buf = _buffer(op, momentum_buffer, param, "momentum_buffer", True)
        named.append(("momentum_buffer", buf))
    if centered:
        if grad_avg is None:
            raise ValueError(f"{op}: grad_avg is missing (null)")
        avg_g = _buffer(op, grad_avg, param, "grad_avg", True)
        named.append(("grad_avg", avg_g))
    _disjoint(op, named)
    t = param.dtype.type
    args = (t(lr), t(alpha), t(1 - alpha), t(eps), t(weight_decay), t(l1_weight_decay), t(momentum), use_momentum,
            bool(centered))
    if _threads(p.size):
        _rmsprop_parallel(p, g, sq, buf, avg_g, *args)
    else:
        _rmsprop_slice(p, g, sq, buf, avg_g, 0, p.size, *args)


def adagrad_update(param: np.ndarray, grad: np.ndarray, state_sum: np.ndarray, *, lr: float, eps: float,
                   weight_decay: float = 0.0, l1_weight_decay: float = 0.0) -> None:
    """In-place Adagrad step with the learning rate already decayed for this step."""
    op = "adagrad_update"
    p = _param(op, param)
    g = _buffer(op, grad, param, "grad", False)
    total = _buffer(op, state_sum, param, "state_sum", True)
    _finite(op, lr=lr, eps=eps, weight_decay=weight_decay, l1_weight_decay=l1_weight_decay)
    _disjoint(op, [("param", p), ("grad", g), ("state_sum", total)])
    t = param.dtype.type
    args = (t(lr), t(eps), t(weight_decay), t(l1_weight_decay))
    if _threads(p.size):
        _adagrad_parallel(p, g, total, *args)
    else:
        _adagrad_slice(p, g, total, 0, p.size, *args)
