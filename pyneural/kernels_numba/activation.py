"""Element-wise activations, forward and backward: the contract of ``_C.activation_forward/backward``."""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from .checks import FLOATS, check_ndarray

KINDS = {"relu": 0, "leaky_relu": 1, "elu": 2, "gelu": 3, "silu": 4, "sigmoid": 5, "tanh": 6}
_INV_SQRT2 = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327


# ---- exp for float32 data in float32 arithmetic, which LLVM vectorises (libm's exp is one call per
# element): the algorithm of csrc/cpu/activation/vec_math.h, Cody-Waite reduction, the same fitted
# polynomial, 2^n built in two steps so subnormal results stay right.
_F32 = np.float32
_ONE32, _ZERO32 = _F32(1), _F32(0)
_LOG2E32, _MAGIC32 = _F32(1.4426950408889634), _F32(12582912.0)  # 1.5 * 2^23: adding it rounds to an integer
_LN2HI32, _LN2LO32 = _F32(0.693145751953125), _F32(1.42860682030941723212e-06)
_EXP_LO32, _EXP_HI32 = _F32(-104.0), _F32(89.0)  # exp underflows to 0 / overflows to inf past these
_P32 = tuple(_F32(c) for c in (0.4999999815182789, 0.16666543525122984, 0.041667200301817045,
                                0.008366533463860511, 0.001388251685517501))


@njit(cache=True, inline="always")
def _exp32_parts(x):
    """(q, n) with exp(x) = 2^n (1 + q) and q = expm1(r), |r| <= ln2 / 2, for a float32 x (NaN stays NaN)."""
    x = min(max(x, _EXP_LO32), _EXP_HI32)
    n = (x * _LOG2E32 + _MAGIC32) - _MAGIC32
    r = (x - n * _LN2HI32) - n * _LN2LO32
    p = (((_P32[4] * r + _P32[3]) * r + _P32[2]) * r + _P32[1]) * r + _P32[0]
    return r + (r * r) * p, n


@njit(cache=True, inline="always")
def _scale32(p, n):
    """p * 2^n for an integral float32 n in the range of exp's reduction."""
    ni = np.int32(n)  # n is NaN only when p is
    half = ni >> 1
    low = np.int32((half + 127) << 23).view(np.float32)
    high = np.int32((ni - half + 127) << 23).view(np.float32)
    return p * low * high


@njit(cache=True, inline="always")
def _exp32(x):
    q, n = _exp32_parts(x)
    return _scale32(q + _ONE32, n)


@njit(cache=True, inline="always")
def _expm1_32(x):
    q, n = _exp32_parts(x)
    return q if n == _ZERO32 else _scale32(q + _ONE32, n) - _ONE32  # full relative accuracy near 0


def _exp(v):
    """exp(v): _exp32 for a float32 v, libm's otherwise (Numba only)."""
    raise NotImplementedError("compiled by Numba only")


@overload(_exp)
def _exp_numba(v):
    if v == types.float32:
        return lambda v: _exp32(v)
    return lambda v: math.exp(v)


def _sigmoid(v):
    """1 / (1 + e^-v) in both tails through e = exp(-|v|), which never overflows (Numba only)."""
    raise NotImplementedError("compiled by Numba only")


@overload(_sigmoid)
def _sigmoid_numba(v):
    if v == types.float32:
        def sigmoid32(v):
            e = _exp32(-abs(v))
            r = _ONE32 / (_ONE32 + e)
            return r if v >= _ZERO32 else e * r
        return sigmoid32

    def sigmoid(v):
        e = math.exp(-abs(v))
        r = 1.0 / (1.0 + e)
        return r if v >= 0 else e * r
    return sigmoid


def _tanh(v, precise):
    """tanh with relative accuracy near 0 (Numba only): float32 through _expm1_32; otherwise in float64
    through exp (libm's tanh is several times slower), with expm1 near 0 when ``precise``."""
    raise NotImplementedError("compiled by Numba only")


@overload(_tanh)
def _tanh_numba(v, precise):
    if v == types.float32:
        def tanh32(v, precise):
            e = _expm1_32(_F32(-2) * min(abs(v), _F32(9.5)))  # tanh(9.5) rounds to 1
            return np.float32(math.copysign(-e / (_F32(2) + e), v))
        return tanh32

    def tanh(v, precise):
        a = abs(v) * 1.0  # float64 arithmetic from here
        if precise and a < 0.55:
            e = math.expm1(-2.0 * a)
            return math.copysign(-e / (2.0 + e), v)
        e = math.exp(-2.0 * a)
        return math.copysign((1.0 - e) / (1.0 + e), v)
    return tanh


# z * erfcx(z) for z >= 1 as a Chebyshev series in t = (z - 3) / (z + 3) (the native kernel's fit)
_ERFCX = np.array([0.5270327699645347, 0.05843837363407503, -0.028760006767845056, 0.009423384297196712,
                   -0.002328156372313831, 0.000437300933849255, -5.8303544643171153e-05, 4.043114560912006e-06,
                   2.70898072821258e-07, -9.965420545888353e-08, 5.899419325203818e-09, 1.3859802859218503e-09,
                   -2.3156325196450657e-10, -1.560413067014589e-11, 6.283801268355681e-12, 1.2185329309836473e-13,
                   -1.6736028641976452e-13, 3.926890190597549e-16, 4.955442218827775e-15, 7.415379431464183e-17])


@njit(cache=True, inline="always")
def _gauss(x):
    """exp(-x^2 / 2) with x^2 split exactly (Veltkamp), so the far tails keep full relative accuracy."""
    a = min(abs(float(x)), 40.0)
    c = 134217729.0 * a
    head = c - (c - a)
    tail = a - head
    return math.exp(-0.5 * head * head) * math.exp(-0.5 * tail * (a + head))


@njit(cache=True, inline="always")
def _gauss_cdf(x, g):
    """Phi(x) = erfc(-x / sqrt 2) / 2, accurate in both tails; g = _gauss(x)."""
    z = -float(x) * _INV_SQRT2
    if abs(z) < 1.0 or z != z:
        return 0.5 * math.erfc(z)
    az = min(abs(z), 40.0)
    u = ((az - 3.0) / (az + 3.0) * 2.0 - 0.5) * (2.0 / 3.0)
    b1 = 0.0
    b2 = 0.0
    for k in range(_ERFCX.size - 1, 0, -1):  # Clenshaw
        b1, b2 = 2.0 * u * b1 - b2 + _ERFCX[k], b1
    half_erfc = 0.5 * g * (u * b1 - b2 + _ERFCX[0]) / az
    return half_erfc if z > 0 else 1.0 - half_erfc


@njit(cache=True, inline="always")
def _forward_one(v, kind, alpha):
    if kind == 0:
        return v if not v < 0 else 0.0  # NaN passes through, as in PyTorch
    if kind == 1:
        return v * alpha if v < 0 else v
    if kind == 2:
        return v if v > 0 else alpha * math.expm1(v)
    if kind == 3:
        return v * _gauss_cdf(v, _gauss(v))
    if kind == 4:
        return v * _sigmoid(v)
    if kind == 5:
        return _sigmoid(v)
    return math.tanh(v)


@njit(cache=True, inline="always")
def _backward_one(g, s, kind, alpha):
    if kind == 0:
        return 0.0 if s <= 0 else g  # a NaN input passes the gradient, as in PyTorch
    if kind == 1:
        return g if s > 0 else g * alpha
    if kind == 2:
        return g if s > 0 else g * alpha * math.exp(s)
    if kind == 3:
        e = _gauss(s)
        return g * (_gauss_cdf(s, e) + s * e * _INV_SQRT_2PI)
    if kind == 4:
        sg = _sigmoid(s)
        return g * sg * (1.0 + s * (1.0 - sg))
    if kind == 5:
        return g * s * (1.0 - s)
    return g * (1.0 - s * s)


# One loop per activation (not a switch inside one loop), so each loop body is branch-free and vectorises.
@njit(parallel=True, cache=True)
def _forward(x, out, kind, alpha):
    a = x.dtype.type(alpha)
    zero = x.dtype.type(0)
    n = x.size
    if kind == 0:
        for i in prange(n):
            out[i] = zero if x[i] < 0 else x[i]  # NaN passes through, as in PyTorch
    elif kind == 1:
        for i in prange(n):
            out[i] = x[i] * a if x[i] < 0 else x[i]
    elif kind == 2:
        for i in prange(n):
            out[i] = _forward_one(x[i], 2, a)
    elif kind == 3:
        for i in prange(n):
            out[i] = _forward_one(x[i], 3, a)
    elif kind == 4:
        for i in prange(n):
            out[i] = x[i] * _sigmoid(x[i])
    elif kind == 5:
        for i in prange(n):
            out[i] = _sigmoid(x[i])
    else:
        for i in prange(n):
            out[i] = math.tanh(x[i])


@njit(parallel=True, cache=True)
def _backward(g, s, out, kind, alpha):
    a = g.dtype.type(alpha)
    zero = g.dtype.type(0)
    one = g.dtype.type(1)
    n = g.size
    if kind == 0:
        for i in prange(n):
            out[i] = zero if s[i] <= 0 else g[i]  # a NaN input passes the gradient, as in PyTorch
    elif kind == 1:
        for i in prange(n):
            out[i] = g[i] if s[i] > 0 else g[i] * a
    elif kind == 4:
        for i in prange(n):
            sg = _sigmoid(s[i])
            out[i] = g[i] * sg * (one + s[i] * (one - sg))
    elif kind == 5:
        for i in prange(n):
            out[i] = g[i] * s[i] * (one - s[i])
    elif kind == 6:
        for i in prange(n):
            out[i] = g[i] * (one - s[i] * s[i])
    else:
        for i in prange(n):
            out[i] = _backward_one(g[i], s[i], kind, a)


def _kind(name: str) -> int:
    if name not in KINDS:
        raise ValueError(f"activation: unknown activation {name!r}; expected one of {', '.join(KINDS)}")
    return KINDS[name]


def _check(op: str, x: np.ndarray, like: np.ndarray, name: str, output: bool) -> np.ndarray:
    check_ndarray(op, x, name)
    if x.dtype != like.dtype:
        raise TypeError(f"{op}: {name} has dtype {x.dtype}, expected {like.dtype}")
    if x.dtype not in FLOATS:
        raise TypeError(f"{op}: unsupported dtype {x.dtype}; expected float32 or float64")
    if x.size != like.size:
        raise ValueError(f"{op}: {name} has shape {x.shape}, expected {like.size} elements like shape {like.shape}")
    if not x.flags.c_contiguous:
        raise ValueError(f"{op}: {name} of shape {x.shape} must be C-contiguous")
    if output and not x.flags.writeable:
        raise ValueError(f"{op}: {name} is read-only")
    return x.reshape(-1)


def _check_overlap(op: str, out: np.ndarray, *inputs: np.ndarray) -> None:
    for x in inputs:  # exact in-place is fine element-wise; a shifted overlap is not
        same = x.size == 0 or x.__array_interface__["data"][0] == out.__array_interface__["data"][0]
        if not same and np.may_share_memory(x, out):
            raise ValueError(f"{op}: output partially overlaps an input (only exact in-place is allowed)")


def activation_forward(kind: str, x: np.ndarray, out: np.ndarray, alpha: float = 0.0) -> None:
    """``out = f(x)`` element-wise on C-contiguous float arrays of one size (out may be x)."""
    code = _kind(kind)
    op = f"{kind}_forward"
    xf = _check(op, x, x, "x", False)
    of = _check(op, out, x, "out", True)
    _check_overlap(op, out, x)
    if not xf.size:
        return
    if kind == "tanh":  # NumPy's SIMD tanh: Numba's calls libm once per element, about 40x slower
        np.tanh(xf, out=of)
    else:
        _forward(xf, of, code, float(alpha))


def activation_backward(kind: str, grad: np.ndarray, saved: np.ndarray, out: np.ndarray, alpha: float = 0.0) -> None:
    """``out = grad * f'(.)``; ``saved`` is the forward's output for sigmoid/tanh, its input otherwise."""
    code = _kind(kind)
    op = f"{kind}_backward"
    gf = _check(op, grad, grad, "grad", False)
    sf = _check(op, saved, grad, "saved", False)
    of = _check(op, out, grad, "out", True)
    _check_overlap(op, out, grad, saved)
    if gf.size:
        _backward(gf, sf, of, code, float(alpha))
