"""Batched, vectorised augmentation: each transform maps a batch (N, C, H, W) -- or one image (C, H, W)
-- to a batch, drawing its random parameters per sample from the library's seeded generator, with
NumPy operations over the whole batch (no per-sample Python loop)."""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from .. import random as _random
from ..tensor import Tensor


def _as_batch(op: str, x: Any) -> tuple[np.ndarray, bool, bool]:
    """``(array (N, C, H, W), was_tensor, was_single_image)``."""
    was_tensor = isinstance(x, Tensor)
    arr = x.data if was_tensor else np.asarray(x)
    if arr.ndim == 3:
        return arr[None], was_tensor, True
    if arr.ndim != 4:
        raise ValueError(f"{op}: expected an image (C, H, W) or a batch (N, C, H, W), got shape {arr.shape}")
    return arr, was_tensor, False


def _restore(arr: np.ndarray, was_tensor: bool, single: bool) -> Any:
    arr = arr[0] if single else arr
    return Tensor(arr) if was_tensor else arr


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x: Any) -> Any:
        for t in self.transforms:
            x = t(x)
        return x


class Normalize:
    """``(x - mean[c]) / std[c]`` per channel."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self.mean = np.asarray(mean, dtype=np.float64).reshape(-1, 1, 1)
        self.std = np.asarray(std, dtype=np.float64).reshape(-1, 1, 1)
        if np.any(self.std == 0):
            raise ValueError(f"Normalize: std must be non-zero, got {list(np.ravel(std))}")

    def __call__(self, x: Any) -> Any:
        arr, was_tensor, single = _as_batch("Normalize", x)
        if self.mean.shape[0] not in (1, arr.shape[1]):
            raise ValueError(f"Normalize: {self.mean.shape[0]} means for {arr.shape[1]} channels (shape {arr.shape})")
        out = ((arr - self.mean) / self.std).astype(arr.dtype if arr.dtype.kind == "f" else np.float32)
        return _restore(out, was_tensor, single)


class RandomHorizontalFlip:
    """Mirror each image left-right with probability ``p``."""

    def __init__(self, p: float = 0.5) -> None:
        if not 0 <= p <= 1:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p}")
        self.p = p

    def __call__(self, x: Any) -> Any:
        arr, was_tensor, single = _as_batch("RandomHorizontalFlip", x)
        flip = _random.generator().random(arr.shape[0]) < self.p
        out = np.where(flip[:, None, None, None], arr[..., ::-1], arr)
        return _restore(out, was_tensor, single)


class RandomCrop:
    """A random ``size`` window of each image, after zero ``padding`` on every side."""

    def __init__(self, size: int | tuple[int, int], padding: int = 0) -> None:
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        if padding < 0 or min(self.size) < 1:
            raise ValueError(f"RandomCrop: bad size {size} or padding {padding}")
        self.padding = padding

    def __call__(self, x: Any) -> Any:
        arr, was_tensor, single = _as_batch("RandomCrop", x)
        p, (h, w) = self.padding, self.size
        padded = np.pad(arr, ((0, 0), (0, 0), (p, p), (p, p))) if p else arr
        n, _, hp, wp = padded.shape
        if h > hp or w > wp:
            raise ValueError(f"RandomCrop: crop {self.size} larger than the padded image {(hp, wp)}")
        rng = _random.generator()
        top = rng.integers(0, hp - h + 1, n)
        left = rng.integers(0, wp - w + 1, n)
        rows = (top[:, None] + np.arange(h))[:, :, None]       # (N, h, 1)
        cols = (left[:, None] + np.arange(w))[:, None, :]      # (N, 1, w)
        out = padded[np.arange(n)[:, None, None], :, rows, cols]  # (N, h, w, C): advanced axes come first
        return _restore(np.ascontiguousarray(out.transpose(0, 3, 1, 2)), was_tensor, single)


def affine_batch(arr: np.ndarray, inverse: np.ndarray, fill: float = 0.0) -> np.ndarray:
    """Warp each image of ``arr`` (N, C, H, W): output pixel (x, y) takes the bilinear sample of its image
    at ``inverse[n] @ (x - cx, y - cy, 1) + (cx, cy)`` (pixel coordinates about the centre); outside is
    ``fill``. ``inverse`` is (N, 2, 3)."""
    n, c, h, w = arr.shape
    cy, cx = (h - 1) / 2, (w - 1) / 2
    ys, xs = np.meshgrid(np.arange(h) - cy, np.arange(w) - cx, indexing="ij")
    grid = np.stack([xs.ravel(), ys.ravel(), np.ones(h * w)])          # (3, H*W)
    src = inverse @ grid                                                 # (N, 2, H*W)
    sx, sy = src[:, 0] + cx, src[:, 1] + cy
    x0, y0 = np.floor(sx).astype(np.int64), np.floor(sy).astype(np.int64)
    fx, fy = sx - x0, sy - y0
    out = np.zeros((n, c, h * w), dtype=np.float64)
    batch = np.arange(n)[:, None]
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            xi, yi = x0 + dx, y0 + dy
            inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
            values = arr[batch, :, np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)]   # (N, H*W, C)
            values = np.where(inside[..., None], values, fill)
            out += (wx * wy)[:, None, :] * values.transpose(0, 2, 1)
    return out.reshape(n, c, h, w).astype(arr.dtype if arr.dtype.kind == "f" else np.float32)


class RandomAffine:
    """Random rotation (degrees, counter-clockwise positive, as torchvision), translation (fractions of
    the width and height) and scale per image; bilinear sampling, ``fill`` outside."""

    def __init__(self, degrees: float | tuple[float, float], translate: tuple[float, float] | None = None,
                 scale: tuple[float, float] | None = None, fill: float = 0.0) -> None:
        self.degrees = (-degrees, degrees) if isinstance(degrees, (int, float)) else tuple(degrees)
        if self.degrees[0] > self.degrees[1]:
            raise ValueError(f"RandomAffine: degrees range {self.degrees} is empty")
        if translate is not None and not all(0 <= t <= 1 for t in translate):
            raise ValueError(f"RandomAffine: translate must be fractions in [0, 1], got {translate}")
        if scale is not None and not 0 < scale[0] <= scale[1]:
            raise ValueError(f"RandomAffine: scale must be 0 < min <= max, got {scale}")
        self.translate, self.scale, self.fill = translate, scale, fill

    def __call__(self, x: Any) -> Any:
        arr, was_tensor, single = _as_batch(type(self).__name__, x)
        n, _, h, w = arr.shape
        rng = _random.generator()
        angle = np.deg2rad(rng.uniform(*self.degrees, n))
        s = rng.uniform(*self.scale, n) if self.scale else np.ones(n)
        if self.translate:
            tx = rng.uniform(-self.translate[0], self.translate[0], n) * w
            ty = rng.uniform(-self.translate[1], self.translate[1], n) * h
        else:
            tx = ty = np.zeros(n)
        cos, sin = np.cos(angle), np.sin(angle)
        # forward map (y down, counter-clockwise on screen): dst = s * R @ src + t; sample with its inverse
        inverse = np.empty((n, 2, 3))
        inverse[:, 0, 0], inverse[:, 0, 1] = cos / s, -sin / s
        inverse[:, 1, 0], inverse[:, 1, 1] = sin / s, cos / s
        inverse[:, 0, 2] = -(inverse[:, 0, 0] * tx + inverse[:, 0, 1] * ty)
        inverse[:, 1, 2] = -(inverse[:, 1, 0] * tx + inverse[:, 1, 1] * ty)
        return _restore(affine_batch(arr, inverse, self.fill), was_tensor, single)


class RandomRotation(RandomAffine):
    """Random rotation by an angle in ``(-degrees, degrees)`` (or the given range) per image."""

    def __init__(self, degrees: float | tuple[float, float], fill: float = 0.0) -> None:
        super().__init__(degrees, fill=fill)
