"""Numba normalisation kernels: ``layer_norm_*`` and ``batch_norm_*`` (contracts of ``pyneural._C``).

Arrays are C-contiguous and of one float dtype: layer_norm works on rows of x (rows, dim), batch_norm on
the channels of x (batch, channels, length). Statistics are shifted sums accumulated in float64
(``sum(x - K)``, ``sum((x - K)^2)`` with K a sample of the data, so the variance does not cancel
when |mean| >> std), in one pass over x, as in the native kernels.
"""
from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

from .checks import check_arrays, check_disjoint, dims, optional

# Reassociation lets LLVM vectorise the sums (in lanes, as the native kernels do); no finite-math
# assumptions, so NaN and inf propagate.
_FASTMATH = {"reassoc", "contract"}


def _check_eps(op: str, eps: float) -> None:
    if not (math.isfinite(eps) and eps >= 0):
        raise ValueError(f"{op}: eps must be finite and >= 0, got {eps}")


# ------------------------------------------------------------------------------------------ layer_norm

def layer_norm_forward(x, weight, bias, eps: float, out, mean, rstd) -> None:
    """out = (x - mean) * rstd * weight + bias over each row of x (rows, dim); writes mean, rstd (rows,)."""
    op = "layer_norm"
    rows, dim = dims(op, x, "x", 2, "(rows, dim)")
    check_arrays(op, x.dtype, ("x", x, (rows, dim), False), ("weight", weight, (dim,), False),
                 ("bias", bias, (dim,), False), ("out", out, (rows, dim), True), ("mean", mean, (rows,), True),
                 ("rstd", rstd, (rows,), True))
    _check_eps(op, eps)
    if rows == 0:
        return
    if dim == 0:
        raise ValueError(f"layer_norm: normalized size is 0 for {rows} rows")
    check_disjoint(op, (out, mean, rstd), (x, weight, bias))
    w, has_w = optional(weight, x.dtype)
    b, has_b = optional(bias, x.dtype)
    _layer_norm_forward(x, w, has_w, b, has_b, float(eps), out, mean, rstd)


@njit(cache=True, parallel=True, fastmath=_FASTMATH)
def _layer_norm_forward(x, w, has_w, b, has_b, eps, out, mean, rstd):
    rows, dim = x.shape
    for r in prange(rows):
        s = 0.0
        for j in range(dim):
            s += x[r, j]
        m0 = s / dim
        s = 0.0
        q = 0.0
        for j in range(dim):
            d = x[r, j] - m0
            s += d
            q += d * d
        ms = s / dim
        var = max(q / dim - ms * ms, 0.0)
        m = m0 + ms
        inv = 1.0 / math.sqrt(var + eps)
        mean[r] = m
        rstd[r] = inv
        mt = mean[r]   # in the array's dtype, as the native kernel normalises with it
        it = rstd[r]
        for j in range(dim):
            y = (x[r, j] - mt) * it
            if has_w:
                y *= w[j]
            if has_b:
                y += b[j]
            out[r, j] = y


def layer_norm_backward(grad, x, weight, mean, rstd, grad_x, grad_weight, grad_bias) -> None:
    """Gradients of layer_norm_forward into grad_x (rows, dim), grad_weight, grad_bias (dim,) (each optional)."""
    op = "layer_norm_backward"
    rows, dim = dims(op, x, "x", 2, "(rows, dim)")
    check_arrays(op, x.dtype, ("grad", grad, (rows, dim), False), ("x", x, (rows, dim), False),
                 ("weight", weight, (dim,), False), ("mean", mean, (rows,), False), ("rstd", rstd, (rows,), False),
                 ("grad_x", grad_x, (rows, dim), True), ("grad_weight", grad_weight, (dim,), True),
                 ("grad_bias", grad_bias, (dim,), True))
    if rows == 0:
        for a in (grad_weight, grad_bias):
            if a is not None:
                a[...] = 0
        return
    if dim == 0:
        raise ValueError(f"layer_norm_backward: normalized size is 0 for {rows} rows")
    check_disjoint(op, (grad_x, grad_weight, grad_bias), (grad, x, weight, mean, rstd))
    w, has_w = optional(weight, x.dtype)
    want_gx = grad_x is not None
    gx = grad_x if want_gx else np.empty((0, 0), x.dtype)  # 2-D like grad_x: one compiled signature
    want_params = grad_weight is not None or grad_bias is not None
    # Rows in one contiguous chunk per thread; each chunk adds its parameter gradients into its own
    # partial sums (one pass over grad and x), added up at the end.
    chunks = max(1, min(rows, numba.get_num_threads()))
    partial = np.zeros((chunks if want_params else 1, 2, dim if want_params else 0), x.dtype)
    _layer_norm_backward(grad, x, w, has_w, mean, rstd, gx, want_gx, partial, want_params, chunks)
    if grad_bias is not None:
        grad_bias[...] = partial[:, 0].sum(axis=0)
    if grad_weight is not None:
        grad_weight[...] = partial[:, 1].sum(axis=0)


@njit(cache=True, parallel=True, fastmath=_FASTMATH)
def _layer_norm_backward(g, x, w, has_w, mean, rstd, gx, want_gx, partial, want_params, chunks):
    rows, dim = x.shape
    per_chunk = (rows + chunks - 1) // chunks
    for chunk in prange(chunks):
        for r in range(chunk * per_chunk, min(rows, (chunk + 1) * per_chunk)):
            m = mean[r]
            inv = rstd[r]
            mean_g = x.dtype.type(0)
            mean_gx = x.dtype.type(0)
            if want_gx:
                s = x.dtype.type(0)
                d = x.dtype.type(0)
                for j in range(dim):
                    gw = g[r, j] * w[j] if has_w else g[r, j]
                    s += gw
                    d += gw * ((x[r, j] - m) * inv)
                mean_g = s / dim
                mean_gx = d / dim
            for j in range(dim):
                xhat = (x[r, j] - m) * inv
                if want_params:
                    partial[chunk, 0, j] += g[r, j]
                    partial[chunk, 1, j] += g[r, j] * xhat
                if want_gx:
                    gw = g[r, j] * w[j] if has_w else g[r, j]
                    gx[r, j] = inv * (gw - mean_g - xhat * mean_gx)


# ------------------------------------------------------------------------------------------ batch_norm

def batch_norm_stats(x, mean, var) -> None:
    """Per-channel mean and biased variance of x (batch, channels, length), one pass over x."""
    op = "batch_norm"
    n, c, l = dims(op, x, "x", 3, "(batch, channels, length)")
    check_arrays(op, x.dtype, ("x", x, (n, c, l), False), ("mean", mean, (c,), True), ("var", var, (c,), True))
    if c == 0:
        return
    check_disjoint(op, (mean, var), (x,))
    if n * l == 0:
        mean[...] = np.nan
        var[...] = np.nan
        return
    _batch_norm_stats(x, mean, var)


@njit(cache=True, parallel=True, fastmath=_FASTMATH)
def _batch_norm_stats(x, mean, var):
    n, c, l = x.shape
    count = n * l
    if l == 1:  # (n, c): sum down the columns, rows of channels contiguous
        shift = x[0, :, 0].astype(np.float64)
        s = np.zeros(c)
        q = np.zeros(c)
        for i in range(n):
            for ch in range(c):
                d = x[i, ch, 0] - shift[ch]
                s[ch] += d
                q[ch] += d * d
        for ch in range(c):
            ms = s[ch] / count
            mean[ch] = shift[ch] + ms
            var[ch] = max(q[ch] / count - ms * ms, 0.0)
        return
    for ch in prange(c):
        shift = np.float64(x[0, ch, 0])
        s = 0.0
        q = 0.0
        for i in range(n):
            for k in range(l):
                d = x[i, ch, k] - shift
                s += d
                q += d * d
        ms = s / count
        mean[ch] = shift + ms
        var[ch] = max(q / count - ms * ms, 0.0)


def batch_norm_apply(x, mean, var, weight, bias, eps: float, out) -> None:
    """out = (x - mean[c]) / sqrt(var[c] + eps) * weight[c] + bias[c] for x, out (batch, channels, length)."""
    op = "batch_norm"
    n, c, l = dims(op, x, "x", 3, "(batch, channels, length)")
    check_arrays(op, x.dtype, ("x", x, (n, c, l), False), ("mean", mean, (c,), False), ("var", var, (c,), False),
                 ("weight", weight, (c,), False), ("bias", bias, (c,), False), ("out", out, (n, c, l), True))
    _check_eps(op, eps)
    if x.size == 0:
        return
    check_disjoint(op, (out,), (x, mean, var, weight, bias))
    w, has_w = optional(weight, x.dtype)
    b, has_b = optional(bias, x.dtype)
    scale = np.empty(c, x.dtype)
    shift = np.empty(c, x.dtype)
    _batch_norm_coefficients(mean, var, w, has_w, b, has_b, float(eps), scale, shift)
    _per_channel_affine(x, scale, shift, out)


@njit(cache=True)
def _batch_norm_coefficients(mean, var, w, has_w, b, has_b, eps, scale, shift):
    for ch in range(mean.shape[0]):
        s = (np.float64(w[ch]) if has_w else 1.0) / math.sqrt(np.float64(var[ch]) + eps)
        scale[ch] = s
        shift[ch] = (np.float64(b[ch]) if has_b else 0.0) - np.float64(mean[ch]) * s


@njit(cache=True, parallel=True)
def _per_channel_affine(x, a, b, out):
    n, c, l = x.shape
    if l == 1:
        for i in prange(n):
            for ch in range(c):
                out[i, ch, 0] = x[i, ch, 0] * a[ch] + b[ch]
        return
    for r in prange(n * c):
        i = r // c
        ch = r % c
        ac = a[ch]
        bc = b[ch]
        for k in range(l):
            out[i, ch, k] = x[i, ch, k] * ac + bc


def batch_norm_backward(grad, x, mean, var, weight, eps: float, training: bool, grad_x, grad_weight,
                        grad_bias) -> None:
    """Gradients of batch_norm_apply (training: mean/var are the batch's own statistics, so they depend on x)."""
    op = "batch_norm_backward"
    n, c, l = dims(op, x, "x", 3, "(batch, channels, length)")
    check_arrays(op, x.dtype, ("grad", grad, (n, c, l), False), ("x", x, (n, c, l), False), ("mean", mean, (c,), False),
                 ("var", var, (c,), False), ("weight", weight, (c,), False), ("grad_x", grad_x, (n, c, l), True),
                 ("grad_weight", grad_weight, (c,), True), ("grad_bias", grad_bias, (c,), True))
    _check_eps(op, eps)
    if c == 0:
        return
    check_disjoint(op, (grad_x, grad_weight, grad_bias), (grad, x, mean, var, weight))
    w, has_w = optional(weight, x.dtype)
    sum_g = np.zeros(c)
    sum_gx = np.zeros(c)
    if grad_weight is not None or grad_bias is not None or (grad_x is not None and training):
        _batch_norm_grad_sums(grad, x, mean, sum_g, sum_gx)
    inv = 1.0 / np.sqrt(var.astype(np.float64) + eps)
    if grad_bias is not None:
        grad_bias[...] = sum_g
    if grad_weight is not None:
        grad_weight[...] = sum_gx * inv
    if grad_x is not None and x.size:
        a = (w.astype(np.float64) if has_w else 1.0) * inv
        b = np.zeros(c)
        k = np.zeros(c)
        if training:  # the terms through the batch mean and variance
            count = n * l
            b = -a * inv * inv * sum_gx / count
            k = -a * sum_g / count - b * mean
        _per_channel_linear2(grad, x, a.astype(x.dtype), b.astype(x.dtype), k.astype(x.dtype), grad_x)


@njit(cache=True, parallel=True, fastmath=_FASTMATH)
def _batch_norm_grad_sums(g, x, mean, sum_g, sum_gx):
    n, c, l = x.shape
    if l == 1:
        m = mean.astype(np.float64)
        for i in range(n):
            for ch in range(c):
                sum_g[ch] += g[i, ch, 0]
                sum_gx[ch] += g[i, ch, 0] * (x[i, ch, 0] - m[ch])
        return
    for ch in prange(c):
        m = mean[ch]
        s = 0.0
        d = 0.0
        for i in range(n):
            for k in range(l):
                s += g[i, ch, k]
                d += g[i, ch, k] * (x[i, ch, k] - m)
        sum_g[ch] = s
        sum_gx[ch] = d


@njit(cache=True, parallel=True)
def _per_channel_linear2(g, x, a, b, k, out):
    n, c, l = x.shape
    if l == 1:
        for i in prange(n):
            for ch in range(c):
                out[i, ch, 0] = g[i, ch, 0] * a[ch] + x[i, ch, 0] * b[ch] + k[ch]
        return
    for r in prange(n * c):
        i = r // c
        ch = r % c
        ac = a[ch]
        bc = b[ch]
        kc = k[ch]
        for j in range(l):
            out[i, ch, j] = g[i, ch, j] * ac + x[i, ch, j] * bc + kc
