"""Numba twin of the native convolution (csrc/cpu/conv): im2col + the Numba GEMM, same contract as
``_C.conv2d``, ``_C.conv2d_backward_data`` and ``_C.conv2d_backward_weight``.

Images go in chunks whose column matrices fit a bounded buffer laid out (groups, rows, images, ohw),
rows = (c / groups) * kh * kw, so one group's columns of all the chunk's images form one matrix.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .epilogue import ACTIVATIONS, activate
from .gemm import gemm

__all__ = ["conv2d", "conv2d_backward_data", "conv2d_backward_weight"]

_COLUMN_BUDGET = 1 << 21  # elements of a chunk's column buffer (or one image's, if larger)


@njit(cache=True, inline="always")
def _valid_columns(x0, w, sw, ow):
    """Output columns [lo, hi) whose input column ox * sw + x0 lies inside [0, w)."""
    lo = 0 if x0 >= 0 else min((-x0 + sw - 1) // sw, ow)
    hi = 0 if x0 > w - 1 else min((w - 1 - x0) // sw + 1, ow)
    return lo, max(lo, hi)


@njit(parallel=True, cache=True)
def _im2col(x, col, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """col (groups, rows, images * oh * ow) from x (images, c, h, w); padding taps are zero."""
    images, c, h, w = x.shape
    groups = col.shape[0]
    cg = c // groups
    ohw = oh * ow
    for task in prange(images * c):
        i, ch = task // c, task % c
        g, cl = ch // cg, ch % cg
        for ki in range(kh):
            for kj in range(kw):
                row = col[g, (cl * kh + ki) * kw + kj]
                lo, hi = _valid_columns(kj * dw - pw, w, sw, ow)
                x0 = kj * dw - pw
                for oy in range(oh):
                    base = i * ohw + oy * ow
                    iy = oy * sh - ph + ki * dh
                    if iy < 0 or iy >= h:
                        row[base:base + ow] = 0
                        continue
                    row[base:base + lo] = 0
                    for ox in range(lo, hi):
                        row[base + ox] = x[i, ch, iy, ox * sw + x0]
                    row[base + hi:base + ow] = 0


@njit(parallel=True, cache=True)
def _col2im(col, dx, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """dx (images, c, h, w) = the sum of the column entries read from each pixel (the adjoint of _im2col)."""
    images, c, h, w = dx.shape
    groups = col.shape[0]
    cg = c // groups
    ohw = oh * ow
    for task in prange(images * c):
        i, ch = task // c, task % c
        g, cl = ch // cg, ch % cg
        plane = dx[i, ch]
        plane[:, :] = 0
        for ki in range(kh):
            for kj in range(kw):
                row = col[g, (cl * kh + ki) * kw + kj]
                x0 = kj * dw - pw
                lo, hi = _valid_columns(x0, w, sw, ow)
                for oy in range(oh):
                    iy = oy * sh - ph + ki * dh
                    if iy < 0 or iy >= h:
                        continue
                    base = i * ohw + oy * ow
                    for ox in range(lo, hi):
                        plane[iy, ox * sw + x0] += row[base + ox]


def _output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    room = size + 2 * padding - dilation * (kernel - 1) - 1
    return -1 if room < 0 else room // stride + 1


def _shape(op: str, x: np.ndarray, w: np.ndarray, y: np.ndarray, stride, padding, dilation, groups) -> tuple:
    """Validated sizes (n, c, h, w, k, kh, kw, oh, ow) of a convolution, as the native entry checks them."""
    arrays = {"x": x, "weight": w, "output": y}
    for name, a in arrays.items():
        if not isinstance(a, np.ndarray) or a.ndim != 4:
            raise ValueError(f"{op}: expected 4-D input, weight and output, got {[np.shape(a) for a in arrays.values()]}")
        if a.dtype != y.dtype or a.dtype not in (np.float32, np.float64):
            raise TypeError(f"{op}: {name} has dtype {a.dtype}; expected one float32/float64 dtype ({y.dtype})")
        if not a.flags.c_contiguous:
            raise ValueError(f"{op}: {name} must be C-contiguous")
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    n, c, h, wd = x.shape
    k, cg, kh, kw = w.shape
    if groups < 1 or cg * groups != c:
        raise ValueError(f"{op}: input {x.shape} has {c} channels but weight {w.shape} with groups={groups} "
                         f"expects {cg * groups}")
    if k % groups:
        raise ValueError(f"{op}: groups={groups} must divide both the input channels ({c}) and the output "
                         f"channels ({k})")
    if kh < 1 or kw < 1:
        raise ValueError(f"{op}: kernel size ({kh}, {kw}) must be positive")
    if sh < 1 or sw < 1:
        raise ValueError(f"{op}: stride ({sh}, {sw}) must be positive")
    if ph < 0 or pw < 0:
        raise ValueError(f"{op}: padding ({ph}, {pw}) must be non-negative")
    if dh < 1 or dw < 1:
        raise ValueError(f"{op}: dilation ({dh}, {dw}) must be positive")
    oh, ow = _output_size(h, kh, sh, ph, dh), _output_size(wd, kw, sw, pw, dw)
    if oh < 1 or ow < 1:
        raise ValueError(f"{op}: kernel ({kh}, {kw}) with dilation ({dh}, {dw}) is larger than the padded input "
                         f"({h + 2 * ph}, {wd + 2 * pw})")
    if y.shape != (n, k, oh, ow):
        raise ValueError(f"{op}: output {y.shape} should be {(n, k, oh, ow)} for input {x.shape} and weight {w.shape}")
    return n, c, h, wd, k, kh, kw, oh, ow


def _chunk(n: int, c: int, kh: int, kw: int, oh: int, ow: int) -> int:
    return max(1, min(n, _COLUMN_BUDGET // max(1, c * kh * kw * oh * ow)))


def _columns(x, groups, kh, kw, stride, padding, dilation, oh, ow) -> np.ndarray:
    """The column buffer (groups, rows, images * ohw) of a chunk of images x."""
    images, c = x.shape[:2]
    col = np.empty((groups, c // groups * kh * kw, images * oh * ow), x.dtype)
    _im2col(x, col, kh, kw, *stride, *padding, *dilation, oh, ow)
    return col


@njit(parallel=True, cache=True)
def _output_pass(product, out, bias, has_bias, code):
    """out (images, k, ohw) = act(product (k, images * ohw) + bias): the chunk's GEMM result put in NCHW order."""
    images, k, ohw = out.shape
    for task in prange(images * k):
        i, kk = task // k, task % k
        b = bias[kk] if has_bias else 0.0
        src = product[kk, i * ohw:(i + 1) * ohw]
        dst = out[i, kk]
        for p in range(ohw):
            dst[p] = activate(src[p] + b, code)



def _check_vector(op: str, name: str, a, k: int, dtype: np.dtype) -> None:
    """A (k,) array of ``dtype``: TypeError for a wrong type or dtype, ValueError for a wrong shape."""
    if not isinstance(a, np.ndarray) or a.dtype != dtype:
        raise TypeError(f"{op}: {name} must be an array of {dtype}, got {getattr(a, 'dtype', type(a).__name__)}")
    if a.shape != (k,):
        raise ValueError(f"{op}: {name} must have shape ({k},), got {a.shape}")


def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, out: np.ndarray, stride, padding, dilation,
           groups: int, activation: str | None = None) -> None:
    """``out = act(conv2d(x, weight) + bias)``: the contract of ``_C.conv2d`` (C-contiguous NCHW, one dtype).

    Per chunk of images: im2col, one GEMM per group spanning the whole chunk, then one parallel pass that
    adds the bias, applies the activation and writes NCHW.
    """
    n, c, h, w, k, kh, kw, oh, ow = _shape("conv2d", x, weight, out, stride, padding, dilation, groups)
    if bias is not None:
        _check_vector("conv2d", "bias", bias, k, out.dtype)
    if activation not in ACTIVATIONS:
        raise ValueError(f"conv2d: unknown activation {activation!r}; expected none, relu, gelu, sigmoid or tanh")
    if not out.flags.writeable:
        raise ValueError("conv2d: out is read-only")
    if n == 0 or k == 0:
        return
    kg, ohw = k // groups, oh * ow
    wg = weight.reshape(groups, kg, -1)
    chunk = _chunk(n, c, kh, kw, oh, ow)
    product = np.empty((groups, kg, chunk * ohw), out.dtype)
    for n0 in range(0, n, chunk):
        images = min(chunk, n - n0)
        col = _columns(x[n0:n0 + images], groups, kh, kw, stride, padding, dilation, oh, ow)
        part = product[:, :, :images * ohw]
        for g in range(groups):
            gemm(wg[g][None], col[g][None], part[g][None])
        _output_pass(part.reshape(k, images * ohw), out[n0:n0 + images].reshape(images, k, ohw),
                     out[0, 0, 0, :0] if bias is None else bias, bias is not None, ACTIVATIONS[activation])


def conv2d_backward_data(grad_output: np.ndarray, weight: np.ndarray, grad_input: np.ndarray, stride, padding,
                         dilation, groups: int) -> None:
    """grad_input of conv2d, overwritten: the contract of ``_C.conv2d_backward_data``."""
    n, c, h, w, k, kh, kw, oh, ow = _shape("conv2d_backward", grad_input, weight, grad_output, stride, padding,
                                           dilation, groups)
    if not grad_input.flags.writeable:
        raise ValueError("conv2d_backward: grad_input is read-only")
    if n == 0 or grad_input.size == 0:
        return
    if k == 0:
        grad_input[...] = 0
        return
    kg, ohw = k // groups, oh * ow
    wg = weight.reshape(groups, kg, -1)
    chunk = _chunk(n, c, kh, kw, oh, ow)
    for n0 in range(0, n, chunk):
        images = min(chunk, n - n0)
        dy = _regrouped(grad_output[n0:n0 + images], groups)
        col = np.empty((groups, c // groups * kh * kw, images * ohw), grad_output.dtype)
        for g in range(groups):  # one GEMM per group spanning the chunk: dcol = w^T dy
            gemm(wg[g].T[None], dy[g][None], col[g][None])
        _col2im(col, grad_input[n0:n0 + images], kh, kw, *stride, *padding, *dilation, oh, ow)


@njit(parallel=True, cache=True)
def _regroup(dy, out):
    """out (k, images * ohw) from dy (images, k, ohw): each channel's rows of all images side by side."""
    images, k, ohw = dy.shape
    for task in prange(images * k):
        i, kk = task // k, task % k
        out[kk, i * ohw:(i + 1) * ohw] = dy[i, kk]


def _regrouped(dy: np.ndarray, groups: int) -> np.ndarray:
    """A chunk of grad_output (images, k, oh, ow) as (groups, k / groups, images * ohw)."""
    images, k = dy.shape[:2]
    out = np.empty((k, images * dy.shape[2] * dy.shape[3]), dy.dtype)
    _regroup(dy.reshape(images, k, -1), out)
    return out.reshape(groups, k // groups, -1)


def conv2d_backward_weight(x: np.ndarray, grad_output: np.ndarray, grad_weight: np.ndarray,
                           grad_bias: np.ndarray | None, stride, padding, dilation, groups: int) -> None:
    """grad_weight and grad_bias (or None) of conv2d, overwritten: the contract of ``_C.conv2d_backward_weight``."""
    n, c, h, w, k, kh, kw, oh, ow = _shape("conv2d_backward", x, grad_weight, grad_output, stride, padding,
                                           dilation, groups)
    for name, a in (("grad_weight", grad_weight), ("grad_bias", grad_bias)):
        if a is not None and not a.flags.writeable:
            raise ValueError(f"conv2d_backward: {name} is read-only")
    if grad_bias is not None:
        _check_vector("conv2d_backward", "grad_bias", grad_bias, k, grad_output.dtype)
        grad_bias[...] = grad_output.sum(axis=(0, 2, 3), dtype=np.float64)
    if grad_weight.size == 0:
        return
    if n == 0:
        grad_weight[...] = 0
        return
    kg, ohw = k // groups, oh * ow
    dwg = grad_weight.reshape(groups, kg, -1)
    chunk = _chunk(n, c, kh, kw, oh, ow)
    partial = np.empty_like(dwg) if n > chunk else dwg
    for n0 in range(0, n, chunk):
        images = min(chunk, n - n0)
        col = _columns(x[n0:n0 + images], groups, kh, kw, stride, padding, dilation, oh, ow)
        dy = _regrouped(grad_output[n0:n0 + images], groups)  # each group's rows span all images of the chunk
        target = dwg if n0 == 0 else partial
        gemm(dy, col.transpose(0, 2, 1), target)
        if n0 > 0:
            dwg += partial
