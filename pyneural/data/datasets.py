"""Real data, loaded offline: scikit-learn's bundled digits, MNIST from IDX files, MNIST-1D generated."""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from .dataset import TensorDataset

# IDX: magic = 0x00 0x00 <type> <ndim>, then ndim big-endian uint32 sizes, then the data.
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def load_digits() -> TensorDataset:
    """scikit-learn's 1,797 8x8 handwritten digits: images (N, 1, 8, 8) float32 in [0, 1], labels int64."""
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError:
        raise ImportError("load_digits needs scikit-learn: pip install 'pyneural[demo]' or scikit-learn") from None
    digits = sk_load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]
    return TensorDataset(images, digits.target.astype(np.int64))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """One IDX file (optionally gzip-compressed) as an array; a malformed file raises ValueError."""
    path = Path(path)
    raw = (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"read_idx: {path} is not an IDX file (bad magic number {raw[:4].hex()})")
    dtype, ndim = np.dtype(_IDX_TYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"read_idx: {path} is truncated in its header")
    shape = tuple(int(s) for s in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"read_idx: {path} holds {len(raw)} bytes but its header (shape {shape}, {dtype}) "
                         f"says {expected}")
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _find(root: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (root / name).exists():
            return root / name
    raise FileNotFoundError(f"load_mnist: no {stem}[.gz] in {root}")


def load_mnist(path: str | os.PathLike, train: bool = True) -> TensorDataset:
    """MNIST from the four IDX files in ``path`` (as distributed, gzipped or not): images (N, 1, 28, 28)
    float32 in [0, 1], labels int64."""
    root, prefix = Path(path), "train" if train else "t10k"
    images = read_idx(_find(root, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(_find(root, f"{prefix}-labels-idx1-ubyte"))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"load_mnist: images {images.shape} and labels {labels.shape} in {root} do not match")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"load_mnist: labels in {root} outside 0..9")
    return TensorDataset((images.astype(np.float32) / 255.0)[:, None], labels.astype(np.int64))


def make_mnist1d(num_samples: int = 5000, seed: int = 42) -> tuple[TensorDataset, TensorDataset]:
    """The MNIST-1D benchmark (Greydanus 2020), generated offline by the ``mnist1d`` package with the
    paper's settings: (train, test) with signals (N, 1, 40) float32 and labels int64 (80/20 split)."""
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError:
        raise ImportError("make_mnist1d needs the mnist1d package: pip install mnist1d") from None
    args = get_dataset_args()
    args.num_samples, args.seed = num_samples, seed
    data = make_dataset(args)
    as_set = lambda x, y: TensorDataset(x.astype(np.float32)[:, None], y.astype(np.int64))  # noqa: E731
    return as_set(data["x"], data["y"]), as_set(data["x_test"], data["y_test"])
