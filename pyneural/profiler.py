"""Kernel profiler: ``with pn.profiler.profile() as prof: ...; print(prof.table())``.

While a profile is active, every kernel the backend table hands out is timed: calls, total time,
GFLOP/s (for kernels whose work is known from their arguments), backend and ISA. ``time_calls`` is
the side-by-side timer of the benchmarks and of ``python -m pyneural bench``, ``fma_peak`` the peak
they compare with.
"""
from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from . import backend

# Floating-point operations of a kernel call, from its arguments (kernels not listed report time only).
FLOPS: dict[str, Callable[..., float]] = {
    "gemm": lambda a, b, out, *rest, **kw: 2.0 * a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2],
    "matmul": lambda a, b, *rest, **kw: 2.0 * a.shape[0] * a.shape[1] * b.shape[1],
    # convolutions: 2 multiply-adds' worth per output element and weight tap of its group
    "conv2d": lambda x, w, bias, out, *rest, **kw: 2.0 * out.size * w[0].size,
    "conv2d_backward_data": lambda dy, w, dx, *rest, **kw: 2.0 * dy.size * w[0].size,
    "conv2d_backward_weight": lambda x, dy, dw, *rest, **kw: 2.0 * dy.size * dw[0].size,
}


@dataclass
class KernelStats:
    calls: int = 0
    seconds: float = 0.0
    flops: float = 0.0


@dataclass
class Profile:
    """What one ``profile()`` block recorded; ``table()`` and ``export_chrome_trace(path)`` show it."""

    stats: dict[tuple[str, str, str], KernelStats] = field(default_factory=dict)
    events: list[tuple[str, float, float]] = field(default_factory=list)  # (kernel, start s, duration s)
    start: float = field(default_factory=time.perf_counter)

    def record(self, name: str, start: float, seconds: float, flops: float) -> None:
        key = (name, backend.name(), backend.cpu_variant() if backend.name() == "native" else "-")
        s = self.stats.setdefault(key, KernelStats())
        s.calls += 1
        s.seconds += seconds
        s.flops += flops
        self.events.append((name, start - self.start, seconds))

    def table(self) -> str:
        """Per kernel: calls, total and mean time, GFLOP/s, backend and ISA; slowest first."""
        rows = [("kernel", "backend", "isa", "calls", "total ms", "mean us", "GFLOP/s")]
        for (name, back, isa), s in sorted(self.stats.items(), key=lambda kv: -kv[1].seconds):
            gflops = f"{s.flops / s.seconds * 1e-9:.1f}" if s.flops and s.seconds else "-"
            rows.append((name, back, isa, str(s.calls), f"{s.seconds * 1e3:.2f}",
                         f"{s.seconds / s.calls * 1e6:.1f}", gflops))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
        return "\n".join(lines[:1] + ["  ".join("-" * w for w in widths)] + lines[1:])

    def export_chrome_trace(self, path: str | Path) -> None:
        """Write the calls as a Chrome trace (chrome://tracing, Perfetto)."""
        trace = [{"name": name, "ph": "X", "ts": start * 1e6, "dur": dur * 1e6, "pid": 0, "tid": 0}
                 for name, start, dur in self.events]
        Path(path).write_text(json.dumps({"traceEvents": trace}))


_active = threading.local()


def current() -> Profile | None:
    """The profile being recorded on this thread, if any."""
    return getattr(_active, "profile", None)


def timed(name: str, fn: Callable) -> Callable:
    """``fn`` wrapped to report to the active profile (used by the backend table while profiling)."""
    count = FLOPS.get(name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        prof = current()
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        if prof is not None:
            prof.record(name, t0, time.perf_counter() - t0, count(*args, **kwargs) if count else 0.0)
        return out

    return wrapper


def time_calls(fns: dict[str, Callable[[], object]], min_time: float = 0.3, min_rounds: int = 5,
               settle: float | None = None) -> dict[str, float]:
    """Best seconds per call of each function, timed in interleaved rounds of short blocks of calls.

    Each round runs every function in turn: one untimed call, then timed calls for about
    ``min_time / min_rounds`` seconds (at least one). Rounds expose every peer to the same background
    noise, and the minimum is the call least disturbed by it: on shared machines a descheduled thread can
    add a whole time slice. Blocks, not single calls, because a library's thread pool keeps spinning for
    a while after each call (OpenMP, OpenBLAS): on a machine with few cores the next library's threads
    would wait for those (128^3 float32 on two cores: 21.5 us timed alone, 63 us alternating call by call
    with NumPy's, which was unaffected). ``settle`` seconds of sleep before each block let the previous
    peer's threads go idle first (OpenBLAS's spin for up to ~0.1 s after a call: NumPy's 512^3 on two
    cores 141 -> 203 GFLOP/s after pyneural's block); by default 0.1 s when several functions are timed
    and pyneural runs on more than one thread, else none.
    """
    if settle is None:
        settle = 0.1 if len(fns) > 1 and backend.get_num_threads() > 1 else 0.0
    best = {name: float("inf") for name in fns}
    block = min_time / min_rounds
    start, rounds = time.perf_counter(), 0
    while rounds < min_rounds or (time.perf_counter() - start < min_time * len(fns) and rounds < 10000):
        for name, fn in fns.items():
            if settle > 0:
                time.sleep(settle)
            fn()  # untimed: the previous peer's threads settle, caches and JIT warm up
            block_end = time.perf_counter() + block
            while True:
                t0 = time.perf_counter()
                fn()
                t1 = time.perf_counter()
                best[name] = min(best[name], t1 - t0)
                if t1 >= block_end:
                    break
        rounds += 1
    return best


def fma_peak(variant: str, dtype: str = "float32", threads: int = 1, seconds: float = 0.3, tries: int = 5) -> float:
    """The FMA peak in GFLOP/s of a CPU variant on ``threads`` threads, measured now by the native kernel's
    register-only FMA loop: the best of ``tries`` measurements of ``seconds / tries`` each, as
    ``time_calls`` keeps the best call. On a shared machine a core may run at half speed for a stretch
    (another guest on its SMT sibling); a single average over it reported a float64 peak of 58 GFLOP/s for
    two threads instead of 114, and kernels at up to 181% of it."""
    native = backend.native()
    if native is None:
        raise RuntimeError("fma_peak: needs the native backend (this install has none)")
    return max(native.measure_peak(variant, dtype, threads, seconds / tries) for _ in range(tries))


@contextmanager
def profile() -> Iterator[Profile]:
    """Record every kernel call made inside the block."""
    prof, previous = Profile(), current()
    _active.profile = prof
    backend.set_profiling(True)
    try:
        yield prof
    finally:
        _active.profile = previous
        backend.set_profiling(previous is not None)
