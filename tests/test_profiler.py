"""pn.profiler: kernel calls are counted and timed only inside a profile block."""
from __future__ import annotations

import json

import numpy as np

import pyneural as pn


def test_profile_counts_kernel_calls_with_flops(backend, tmp_path):
    a = np.ones((32, 48), np.float32)
    b = np.ones((48, 16), np.float32)
    pn.kernels.matmul(a, b)  # before: not recorded
    with pn.profiler.profile() as prof:
        for _ in range(3):
            pn.kernels.matmul(a, b)
    pn.kernels.matmul(a, b)  # after: not recorded either
    ((name, back, isa), stats), = prof.stats.items()
    assert (name, back, stats.calls) == ("gemm", backend, 3)
    assert stats.flops == 3 * 2 * 32 * 48 * 16 and stats.seconds > 0
    assert isa == (pn.backend.cpu_variant() if backend == "native" else "-")
    table = prof.table()
    assert "gemm" in table and "GFLOP/s" in table
    prof.export_chrome_trace(tmp_path / "trace.json")
    events = json.loads((tmp_path / "trace.json").read_text())["traceEvents"]
    assert len(events) == 3 and all(e["name"] == "gemm" and e["dur"] > 0 for e in events)


def test_kernels_are_plain_outside_profiles():
    with pn.profiler.profile():
        assert pn.backend.kernel("gemm").__name__ == "wrapper"
    assert pn.backend.kernel("gemm").__name__ != "wrapper"
