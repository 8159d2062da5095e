"""Shared benchmark machinery: timing, the machine's measured peak, peers, JSON and PNG output.

Every benchmark compares pyneural with NumPy and (when installed) PyTorch in the same run, reports
GFLOP/s, the fraction of the peak measured in the same run, the ISA and the thread count.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Callable

RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(description: str, extra: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    """Common flags; call before importing NumPy so the thread count reaches OpenBLAS."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--variant", choices=["ref", "avx2", "avx512"], help="force a CPU variant (PYNEURAL_CPU)")
    parser.add_argument("--backend", choices=["native", "numba"], help="force a backend (PYNEURAL_BACKEND)")
    parser.add_argument("--min-time", type=float, default=0.3, help="seconds of timed runs per measurement")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    parser.add_argument("--out", default=None, help="name of the JSON/PNG files in benchmarks/results/")
    if extra:
        extra(parser)
    args = parser.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "PYNEURAL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    if args.variant:
        os.environ["PYNEURAL_CPU"] = args.variant
    if args.backend:
        os.environ["PYNEURAL_BACKEND"] = args.backend
    return args


def load_torch(args: argparse.Namespace):
    if args.no_torch:
        return None
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(args.threads)
    return torch


def time_calls(fns: dict[str, Callable[[], object]], min_time: float = 0.3, min_rounds: int = 5) -> dict[str, float]:
    """``pyneural.profiler.time_calls``, imported on first use: NumPy must not load before ``parse_args``."""
    from pyneural.profiler import time_calls as timer
    return timer(fns, min_time, min_rounds)


def time_with_peak(fns: dict[str, Callable[[], object]], info: dict,
                   min_time: float = 0.3) -> tuple[dict[str, float], float | None]:
    """``time_calls`` with the active variant's FMA loop as one more peer: each function's best seconds per
    call, and the best FMA peak (GFLOP/s) read in the same rounds (None without the native backend). A
    kernel's fraction of the peak then compares two best readings taken in the same stretch of time: on these
    shared machines a core runs at half speed for stretches, so a peak read once at the start of a run and a
    kernel timed a minute later need not have seen the same machine.
    """
    from pyneural import backend

    native = backend.native()
    if native is None or "peak_active" not in info:
        return time_calls(fns, min_time), None
    best = [0.0]

    def fma_loop() -> None:
        best[0] = max(best[0], native.measure_peak(info["variant"], info["dtype"], info["threads"], 0.01))

    seconds = time_calls({**fns, "fma peak": fma_loop}, min_time)
    del seconds["fma peak"]
    return seconds, best[0]


def copy_bandwidth(dtype: str, min_time: float = 0.3, elements: int = 1 << 24) -> float:
    """GB/s of NumPy copying an array of ``elements`` (read + write): the memory roof for streaming kernels."""
    import numpy as np
    src = np.ones(elements, dtype)
    dst = np.empty_like(src)
    seconds = time_calls({"copy": lambda: np.copyto(dst, src)}, min_time)["copy"]
    return 2 * src.nbytes / seconds * 1e-9


def machine(args: argparse.Namespace, dtype: str) -> dict:
    """What ran: CPU, backend, ISA, threads, and the FMA peak measured now for the active variant."""
    import pyneural as pn
    from pyneural.profiler import fma_peak

    info = {"cpu": _cpu_name(), "python": platform.python_version(), "backend": pn.backend.name(),
            "variant": pn.backend.cpu_variant(), "threads": args.threads, "dtype": dtype}
    native = pn.backend.native()
    if native is not None:
        info["peak_gflops"] = {v: fma_peak(v, dtype, args.threads) for v in native.cpu_variants()}
        info["peak_active"] = info["peak_gflops"][native.cpu_variant()]
    return info


def header(info: dict, *extra: str) -> str:
    """The line every benchmark prints first: CPU, backend, CPU variant, threads, then ``extra`` parts."""
    return " | ".join([info["cpu"], f"backend {info['backend']} variant {info['variant']}",
                       f"{info['threads']} threads", *extra])


def peak_text(info: dict) -> str:
    """The FMA peaks measured for each CPU variant, as 'peak ref 50, avx2 117, avx512 117 GFLOP/s'."""
    return "peak " + ", ".join(f"{k} {v:.0f}" for k, v in info.get("peak_gflops", {}).items()) + " GFLOP/s"


def _cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def save(name: str, info: dict, rows: list[dict], chart: Callable[[Path], None] | None = None) -> Path:
    """Write results/<name>.json (and <name>.png through `chart` when matplotlib is installed)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": info, "rows": rows}, indent=1))
    if chart is not None:
        try:
            import matplotlib
            matplotlib.use("Agg")
            chart(path.with_suffix(".png"))
        except ImportError:
            print("matplotlib not installed: no chart")
    return path


def print_table(headers: list[str], rows: list[list]) -> None:
    cells = [[str(c) for c in r] for r in [headers, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, r in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def grouped_bars(ax, labels: list[str], series: dict[str, list[float]], reference: tuple[float, str] | None = None,
                 ylabel: str = "", title: str = "") -> None:
    """One group of bars per label, one bar per series (peer); ``reference`` = (value, label) draws a
    dashed line, e.g. the FMA peak or the copy bandwidth."""
    width = 0.8 / len(series)
    for i, (name, values) in enumerate(series.items()):
        ax.bar([x + i * width for x in range(len(labels))], values, width, label=name)
    if reference is not None:
        ax.axhline(reference[0], color="k", linestyle="--", linewidth=1, label=reference[1])
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(labels))], labels, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()


def bar_chart(path: Path, labels: list[str], series: dict[str, list[float]],
              reference: tuple[float, str] | None = None, ylabel: str = "", title: str = "") -> None:
    """A one-panel grouped bar chart saved as PNG (see ``grouped_bars``)."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(max(8.0, 0.45 * len(labels) + 4), 4.8))
    grouped_bars(ax, labels, series, reference, ylabel, title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
