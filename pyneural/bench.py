"""``python -m pyneural bench``: a quick look at the kernels' speed on this machine, side by side with
NumPy (and PyTorch when installed). The full benchmarks with charts live in the repository's
``benchmarks/`` folder; this command is the one that ships with the package.
"""
from __future__ import annotations

import numpy as np

from . import backend, kernels
from .profiler import fma_peak, time_calls


def _torch(threads: int):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


def run(min_time: float = 0.2, sizes: tuple[int, ...] = (128, 512, 1024)) -> list[dict]:
    """Float32 matmul GFLOP/s (and % of the FMA peak measured now), softmax GB/s, each against NumPy
    and PyTorch; returns the rows printed."""
    from . import get_num_threads
    threads = get_num_threads()
    torch = _torch(threads)
    native = backend.native() if backend.name() == "native" else None
    peak = fma_peak(native.cpu_variant(), "float32", threads, 0.2) if native else None
    print(f"backend {backend.name()}, cpu variant {backend.cpu_variant()}, {threads} threads"
          + (f", float32 FMA peak {peak:.0f} GFLOP/s (measured now)" if peak else ""))
    rng = np.random.default_rng(0)
    rows = []
    header = f"{'kernel':<30}{'pyneural':>10}{'% peak':>8}{'NumPy':>10}{'x NumPy':>9}" + \
        (f"{'PyTorch':>10}{'x torch':>9}" if torch else "")
    print(header)
    for n in sizes:
        a, b = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
        out = np.empty((n, n), np.float32)
        fns = {"pyneural": lambda: kernels.matmul(a, b, out=out), "numpy": lambda: np.matmul(a, b, out=out)}
        if torch:
            ta, tb, tout = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(out)
            fns["torch"] = lambda: torch.matmul(ta, tb, out=tout)
        rows.append(_row(f"matmul {n}^3 (GFLOP/s)", time_calls(fns, min_time), 2.0 * n ** 3 * 1e-9, peak))
    x = rng.standard_normal((4096, 1000)).astype(np.float32)

    def numpy_softmax():
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    fns = {"pyneural": lambda: kernels.softmax(x), "numpy": numpy_softmax}
    if torch:
        tx = torch.from_numpy(x)
        fns["torch"] = lambda: torch.softmax(tx, 1)
    rows.append(_row("softmax 4096x1000 (GB/s)", time_calls(fns, min_time), 2.0 * x.nbytes * 1e-9, None))
    return rows


def _row(name: str, seconds: dict[str, float], work: float, peak: float | None) -> dict:
    """One printed line: work per second of each peer, pyneural's % of peak, and its ratios."""
    rate = {k: work / t for k, t in seconds.items()}
    line = f"{name:<30}{rate['pyneural']:>10.1f}" + \
        (f"{100 * rate['pyneural'] / peak:>7.0f}%" if peak else f"{'':>8}") + \
        f"{rate['numpy']:>10.1f}{rate['pyneural'] / rate['numpy']:>8.2f}x"
    if "torch" in rate:
        line += f"{rate['torch']:>10.1f}{rate['pyneural'] / rate['torch']:>8.2f}x"
    print(line)
    return {"kernel": name, **rate}
