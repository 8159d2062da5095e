"""Numba twin of the native convolution (csrc/cpu/conv): im2col + the Numba GEMM, same contract as
``_C.conv2d``, ``_C.conv2d_backward_data`` and ``_C.conv2d_backward_weight``.

Images go in chunks whose column matrices fit a bounded buffer laid out (groups, rows, images, ohw),
rows = (c / groups) * kh * kw, so one group's columns of all the chunk's images form one matrix.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .epilogue import apply_epilogue, check_epilogue
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


def _is_direct(kh, kw, stride, padding) -> bool:
    """1x1, stride 1, no padding: the input planes are already the column matrix."""
    return kh == 1 and kw == 1 and tuple(stride) == (1, 1) and tuple(padding) == (0, 0)


def _chunk(n: int, c: int, kh: int, kw: int, oh: int, ow: int) -> int:
    return max(1, min(n, _COLUMN_BUDGET // max(1, c * kh * kw * oh * ow)))


def _columns(x, groups, kh, kw, stride, padding, dilation, oh, ow) -> np.ndarray:
    """The column buffer (groups, rows, images * ohw) of a chunk of images x."""
    images, c = x.shape[:2]
    col = np.empty((groups, c // groups * kh * kw, images * oh * ow), x.dtype)
    _im2col(x, col, kh, kw, *stride, *padding, *dilation, oh, ow)
    return col


def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, out: np.ndarray, stride, padding, dilation,
           groups: int, activation: str | None = None) -> None:
    """``out = act(conv2d(x, weight) + bias)``: the contract of ``_C.conv2d`` (C-contiguous NCHW, one dtype)."""
    n, c, h, w, k, kh, kw, oh, ow = _shape("conv2d", x, weight, out, stride, padding, dilation, groups)
    if bias is not None and (not isinstance(bias, np.ndarray) or bias.shape != (k,) or bias.dtype != out.dtype):
        raise ValueError(f"conv2d: bias must be a ({k},) array of {out.dtype}, got {np.shape(bias)}")
    if not out.flags.writeable:
        raise ValueError("conv2d: out is read-only")
    if n == 0 or k == 0:
        return
    kg, ohw = k // groups, oh * ow
    wg = weight.reshape(groups, kg, -1)
    direct = _is_direct(kh, kw, stride, padding)
    chunk = n if direct else _chunk(n, c, kh, kw, oh, ow)
    for n0 in range(0, n, chunk):
        images = min(chunk, n - n0)
        if direct:
            cols = x[n0:n0 + images].reshape(images, groups, -1, ohw)
        else:
            col = _columns(x[n0:n0 + images], groups, kh, kw, stride, padding, dilation, oh, ow)
            cols = col.reshape(groups, -1, images, ohw).transpose(2, 0, 1, 3)  # (images, groups, rows, ohw)
        y = out[n0:n0 + images].reshape(images, groups, kg, ohw)
        for g in range(groups):
            # y^T = col^T @ w^T, so the per-channel bias runs along the GEMM's columns (its epilogue's bias)
            y_t = y[:, g].transpose(0, 2, 1)
            b = None if bias is None else bias[g * kg:(g + 1) * kg]
            check_epilogue(y_t, b, activation)
            gemm(cols[:, g].transpose(0, 2, 1), np.broadcast_to(wg[g].T, (images,) + wg[g].T.shape), y_t)
            apply_epilogue(y_t, b, activation)


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
    direct = _is_direct(kh, kw, stride, padding)
    chunk = n if direct else _chunk(n, c, kh, kw, oh, ow)
    for n0 in range(0, n, chunk):
        images = min(chunk, n - n0)
        dy = grad_output[n0:n0 + images].reshape(images, groups, kg, ohw)
        if direct:
            dx = grad_input[n0:n0 + images].reshape(images, groups, -1, ohw)
            for g in range(groups):
                gemm(np.broadcast_to(wg[g].T, (images,) + wg[g].T.shape), dy[:, g], dx[:, g])
            continue
        col = np.empty((groups, c // groups * kh * kw, images * ohw), grad_output.dtype)
        cols = col.reshape(groups, -1, images, ohw).transpose(2, 0, 1, 3)
        for g in range(groups):
            gemm(np.broadcast_to(wg[g].T, (images,) + wg[g].T.shape), dy[:, g], cols[:, g])
        _col2im(col, grad_input[n0:n0 + images], kh, kw, *stride, *padding, *dilation, oh, ow)


def conv2d_backward_weight(x: np.ndarray, grad_output: np.ndarray, grad_weight: np.ndarray,
                           grad_bias: np.ndarray | None, stride, padding, dilation, groups: int) -> None:
    """grad_weight and grad_bias (or None) of conv2d, overwritten: the contract of ``_C.conv2d_backward_weight``."""
    n, c, h, w, k, kh, kw, oh, ow = _shape("conv2d_backward", x, grad_weight, grad_output, stride, padding,
                                           dilation, groups)
    for name, a in (("grad_weight", grad_weight), ("grad_bias", grad_bias)):
        if a is not None and not a.flags.writeable:
            raise ValueError(f"conv2d_backward: {name} is read-only")
    if grad_bias is not None:
        if not isinstance(grad_bias, np.ndarray) or grad_bias.shape != (k,) or grad_bias.dtype != grad_output.dtype:
            raise ValueError(f"conv2d_backward: grad_bias must be a ({k},) array of {grad_output.dtype}, "
                             f"got {np.shape(grad_bias)}")
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
        # dy regrouped as (groups, kg, images * ohw): each group's rows span all images of the chunk
        dy = np.ascontiguousarray(grad_output[n0:n0 + images].reshape(images, groups, kg, ohw).transpose(1, 2, 0, 3))
        dy = dy.reshape(groups, kg, images * ohw)
        target = dwg if n0 == 0 else partial
        gemm(dy, col.transpose(0, 2, 1), target)
        if n0 > 0:
            dwg += partial
