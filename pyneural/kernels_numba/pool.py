"""Numba twins of the native pooling kernels (csrc/cpu/pool): same contracts as ``_C.max_pool2d``,
``_C.avg_pool2d``, ``_C.adaptive_avg_pool2d`` and their backward functions; one parallel task per plane."""
from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward", "adaptive_avg_pool2d",
           "adaptive_avg_pool2d_backward"]


@njit(cache=True, inline="always")
def _clip_taps(start, kernel, dilation, size):
    """Taps [first, end) of a window starting at ``start`` that fall inside [0, size)."""
    first = 0
    while first < kernel and start + first * dilation < 0:
        first += 1
    end = kernel
    while end > first and start + (end - 1) * dilation >= size:
        end -= 1
    return first, end


@njit(parallel=True, cache=True)
def _max_forward(x, y, indices, kh, kw, sh, sw, ph, pw, dh, dw):
    planes, h, w = x.shape
    oh, ow = y.shape[1:]
    for plane in prange(planes):
        for oy in range(oh):
            y0 = oy * sh - ph
            i0, i1 = _clip_taps(y0, kh, dh, h)
            for ox in range(ow):
                x0 = ox * sw - pw
                j0, j1 = _clip_taps(x0, kw, dw, w)
                best = -np.inf
                best_at = (y0 + i0 * dh) * w + x0 + j0 * dw if i0 < i1 and j0 < j1 else -1
                found_nan = False
                for i in range(i0, i1):
                    iy = y0 + i * dh
                    for j in range(j0, j1):
                        v = x[plane, iy, x0 + j * dw]
                        if v > best or v != v:
                            best = v
                            best_at = iy * w + x0 + j * dw
                            if v != v:  # NaN wins: the first one stays
                                found_nan = True
                                break
                    if found_nan:
                        break
                y[plane, oy, ox] = best
                indices[plane, oy, ox] = best_at


@njit(parallel=True, cache=True)
def _max_backward(dy, indices, dx):
    planes, h, w = dx.shape
    for plane in prange(planes):
        flat = dx[plane].reshape(h * w)
        flat[:] = 0
        g = dy[plane].reshape(-1)
        where = indices[plane].reshape(-1)
        for p in range(g.size):
            if where[p] >= 0:
                flat[where[p]] += g[p]


@njit(cache=True, inline="always")
def _avg_window(o, stride, padding, kernel, size):
    """(lo, hi, padded): the window's input range clipped to the input, and its extent within the padding."""
    lo = o * stride - padding
    hi = min(lo + kernel, size + padding)
    return max(lo, 0), min(hi, size), hi - lo


@njit(parallel=True, cache=True)
def _avg(x, y, dy, dx, backward, kh, kw, sh, sw, ph, pw, count_include_pad):
    """Forward (x -> y) or, when ``backward``, the adjoint (dy -> dx, dx overwritten)."""
    planes, h, w = (dx if backward else x).shape
    oh, ow = (dy if backward else y).shape[1:]
    for plane in prange(planes):
        if backward:
            dx[plane] = 0
        for oy in range(oh):
            y_lo, y_hi, y_padded = _avg_window(oy, sh, ph, kh, h)
            for ox in range(ow):
                x_lo, x_hi, x_padded = _avg_window(ox, sw, pw, kw, w)
                count = y_padded * x_padded if count_include_pad else (y_hi - y_lo) * (x_hi - x_lo)
                scale = 1.0 / count if count > 0 else 0.0
                if backward:
                    share = dy[plane, oy, ox] * scale
                    dx[plane, y_lo:y_hi, x_lo:x_hi] += share
                else:
                    total = x.dtype.type(0)
                    for iy in range(y_lo, y_hi):
                        for ix in range(x_lo, x_hi):
                            total += x[plane, iy, ix]
                    y[plane, oy, ox] = total * scale


@njit(parallel=True, cache=True)
def _adaptive(x, y, dy, dx, backward):
    """Forward (x -> y) or, when ``backward``, the adjoint (dy -> dx, dx overwritten)."""
    planes, h, w = (dx if backward else x).shape
    oh, ow = (dy if backward else y).shape[1:]
    for plane in prange(planes):
        if backward:
            dx[plane] = 0
        for oy in range(oh):
            y_lo, y_hi = oy * h // oh, ((oy + 1) * h + oh - 1) // oh
            for ox in range(ow):
                x_lo, x_hi = ox * w // ow, ((ox + 1) * w + ow - 1) // ow
                count = (y_hi - y_lo) * (x_hi - x_lo)
                if backward:
                    dx[plane, y_lo:y_hi, x_lo:x_hi] += dy[plane, oy, ox] / count
                else:
                    total = x.dtype.type(0)
                    for iy in range(y_lo, y_hi):
                        for ix in range(x_lo, x_hi):
                            total += x[plane, iy, ix]
                    y[plane, oy, ox] = total / count


def _output_size(size: int, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool) -> int:
    room = size + 2 * padding - dilation * (kernel - 1) - 1
    if room < 0:
        return -1
    out = (room + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:  # the last window must start inside
        out -= 1
    return out


def _planes(op: str, x: np.ndarray, y: np.ndarray, names=("x", "out"), writable=1) -> tuple:
    """(N * C, H, W) views of the 4-D C-contiguous input and output, checked as the native entry does."""
    for index, (name, a) in enumerate(zip(names, (x, y))):
        if not isinstance(a, np.ndarray) or a.ndim != 4:
            raise ValueError(f"{op}: {name} must be 4-D (N, C, H, W), got shape {np.shape(a)}")
        if a.dtype != y.dtype or a.dtype not in (np.float32, np.float64):
            raise TypeError(f"{op}: {name} has dtype {a.dtype}; expected one float32/float64 dtype")
        if not a.flags.c_contiguous:
            raise ValueError(f"{op}: {name} must be C-contiguous")
        if index == writable and not a.flags.writeable:
            raise ValueError(f"{op}: {name} is read-only")
    if x.shape[:2] != y.shape[:2]:
        raise ValueError(f"{op}: input {x.shape} and output {y.shape} must be 4-D with the same (N, C)")
    return x.reshape((-1,) + x.shape[2:]), y.reshape((-1,) + y.shape[2:])


def _check_window(op: str, x_shape, y_shape, kernel, stride, padding, dilation, ceil_mode) -> None:
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    if kh < 1 or kw < 1:
        raise ValueError(f"{op}: kernel_size ({kh}, {kw}) must be positive")
    if sh < 1 or sw < 1:
        raise ValueError(f"{op}: stride ({sh}, {sw}) must be positive")
    if dh < 1 or dw < 1:
        raise ValueError(f"{op}: dilation ({dh}, {dw}) must be positive")
    if ph < 0 or pw < 0 or 2 * ph > kh or 2 * pw > kw:
        raise ValueError(f"{op}: padding ({ph}, {pw}) must be non-negative and at most half of kernel_size "
                         f"({kh}, {kw})")
    h, w = x_shape[2:]
    oh = _output_size(h, kh, sh, ph, dh, ceil_mode)
    ow = _output_size(w, kw, sw, pw, dw, ceil_mode)
    if oh < 1 or ow < 1:
        raise ValueError(f"{op}: window ({kh}, {kw}) with dilation ({dh}, {dw}) is larger than the padded input "
                         f"({h + 2 * ph}, {w + 2 * pw})")
    if tuple(y_shape[2:]) != (oh, ow):
        raise ValueError(f"{op}: output size {tuple(y_shape[2:])} should be {(oh, ow)}")


def _check_indices(op: str, indices, like: np.ndarray) -> None:
    if not isinstance(indices, np.ndarray) or indices.dtype != np.int64:
        raise TypeError(f"{op}: indices must be an int64 array, got {getattr(indices, 'dtype', type(indices).__name__)}")
    if indices.shape != like.shape or not indices.flags.c_contiguous:
        raise ValueError(f"{op}: indices must be a C-contiguous array of shape {like.shape}, got {indices.shape}")


def max_pool2d(x, out, indices, kernel_size, stride, padding, dilation, ceil_mode) -> None:
    """Window maxima of x into out and their flat (h * W + w) positions into indices (the contract of ``_C``)."""
    xp, yp = _planes("max_pool2d", x, out)
    _check_window("max_pool2d", x.shape, out.shape, kernel_size, stride, padding, dilation, ceil_mode)
    _check_indices("max_pool2d", indices, out)
    if not indices.flags.writeable:
        raise ValueError("max_pool2d: indices is read-only")
    _max_forward(xp, yp, indices.reshape(yp.shape), *kernel_size, *stride, *padding, *dilation)


def max_pool2d_backward(grad_output, indices, grad_input, kernel_size, stride, padding, dilation, ceil_mode) -> None:
    """grad_input (overwritten) = grad_output scattered to the positions in indices."""
    dxp, dyp = _planes("max_pool2d_backward", grad_input, grad_output, ("grad_input", "grad_output"), writable=0)
    _check_window("max_pool2d_backward", grad_input.shape, grad_output.shape, kernel_size, stride, padding,
                  dilation, ceil_mode)
    _check_indices("max_pool2d_backward", indices, grad_output)
    plane = grad_input.shape[2] * grad_input.shape[3]
    if indices.size and (indices.min() < -1 or indices.max() >= plane):
        raise ValueError(f"max_pool2d_backward: indices must lie in [-1, {plane}) (the "
                         f"{grad_input.shape[2]} x {grad_input.shape[3]} input plane)")
    _max_backward(dyp, indices.reshape(dyp.shape), dxp)


def avg_pool2d(x, out, kernel_size, stride, padding, ceil_mode, count_include_pad) -> None:
    """Window means of x into out (PyTorch's divisor rules; the contract of ``_C.avg_pool2d``)."""
    xp, yp = _planes("avg_pool2d", x, out)
    _check_window("avg_pool2d", x.shape, out.shape, kernel_size, stride, padding, (1, 1), ceil_mode)
    _avg(xp, yp, yp, xp, False, *kernel_size, *stride, *padding, bool(count_include_pad))


def avg_pool2d_backward(grad_output, grad_input, kernel_size, stride, padding, ceil_mode, count_include_pad) -> None:
    """grad_input (overwritten) of avg_pool2d."""
    dxp, dyp = _planes("avg_pool2d_backward", grad_input, grad_output, ("grad_input", "grad_output"), writable=0)
    _check_window("avg_pool2d_backward", grad_input.shape, grad_output.shape, kernel_size, stride, padding, (1, 1),
                  ceil_mode)
    _avg(dxp, dyp, dyp, dxp, True, *kernel_size, *stride, *padding, bool(count_include_pad))


def _check_adaptive(op: str, x_shape, y_shape) -> None:
    if min(x_shape[2:]) < 1 or min(y_shape[2:]) < 1:
        raise ValueError(f"{op}: input planes {tuple(x_shape[2:])} and output size {tuple(y_shape[2:])} must be "
                         "non-empty")


def adaptive_avg_pool2d(x, out) -> None:
    """Adaptive average pooling of x to out's (H, W) (the contract of ``_C.adaptive_avg_pool2d``)."""
    xp, yp = _planes("adaptive_avg_pool2d", x, out)
    _check_adaptive("adaptive_avg_pool2d", x.shape, out.shape)
    _adaptive(xp, yp, yp, xp, False)


def adaptive_avg_pool2d_backward(grad_output, grad_input) -> None:
    """grad_input (overwritten) of adaptive_avg_pool2d."""
    dxp, dyp = _planes("adaptive_avg_pool2d_backward", grad_input, grad_output, ("grad_input", "grad_output"), 0)
    _check_adaptive("adaptive_avg_pool2d_backward", grad_input.shape, grad_output.shape)
    _adaptive(dxp, dyp, dyp, dxp, True)
