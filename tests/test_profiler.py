"""pn.profiler: kernel calls are counted and timed only inside a profile block."""
from __future__ import annotations

import json

import numpy as np
import pytest

import pyneural as pn


def test_profile_counts_kernel_calls_with_flops(backend, tmp_path):
    a = np.ones((32, 48), np.float32)
    b = np.ones((48, 16), np.float32)
    pn.kernels.matmul(a, b)  # before: not recorded
    with pn.profiler.profile() as prof:
        for _ in range(3):
            pn.kernels.matmul(a, b)
    pn.kernels.matmul(a, b)  # after: not recorded either
    with pn.profiler.profile() as batched:
        pn.kernels.matmul(a[None], b)  # the batched gemm kernel is counted too
    ((name, _, _), stats), = batched.stats.items()
    assert name == "gemm" and stats.flops == 2 * 32 * 48 * 16
    ((name, back, isa), stats), = prof.stats.items()
    assert (name, back, stats.calls) == ("matmul", backend, 3)  # the 2-D kernel behind matmul(a, b)
    assert stats.flops == 3 * 2 * 32 * 48 * 16 and stats.seconds > 0
    assert isa == (pn.backend.cpu_variant() if backend == "native" else "-")
    table = prof.table()
    assert "matmul" in table and "GFLOP/s" in table
    prof.export_chrome_trace(tmp_path / "trace.json")
    events = json.loads((tmp_path / "trace.json").read_text())["traceEvents"]
    assert len(events) == 3 and all(e["name"] == "matmul" and e["dur"] > 0 for e in events)


def test_kernels_are_plain_outside_profiles():
    with pn.profiler.profile():
        assert pn.backend.kernel("gemm").__name__ == "wrapper"
    assert pn.backend.kernel("gemm").__name__ != "wrapper"


def test_convolution_flops_are_counted(backend, rng):
    x = pn.tensor(rng.standard_normal((2, 3, 9, 8)).astype(np.float32), requires_grad=True)
    w = pn.tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), requires_grad=True)
    with pn.profiler.profile() as prof:
        pn.nn.functional.conv2d(x, w).sum().backward()
    flops = {name: stats.flops for (name, _, _), stats in prof.stats.items()}
    per_pass = 2 * (2 * 4 * 7 * 6) * (3 * 3 * 3)  # 2 x outputs x taps
    assert flops["conv2d"] == flops["conv2d_backward_data"] == flops["conv2d_backward_weight"] == per_pass


def test_time_calls_times_each_function_in_blocks():
    import time
    calls = {"fast": 0, "slow": 0}

    def fast():
        calls["fast"] += 1

    def slow():
        calls["slow"] += 1
        time.sleep(0.002)

    best = pn.profiler.time_calls({"fast": fast, "slow": slow}, min_time=0.05, min_rounds=3, settle=0.0)
    assert set(best) == {"fast", "slow"}
    assert 0.002 <= best["slow"] < 0.05 and 0 < best["fast"] < best["slow"]
    # each round: one untimed call, then a block of timed ones lasting about min_time / min_rounds
    assert calls["slow"] >= 3 * 2 and calls["fast"] > 100 * calls["slow"]


def test_time_calls_pauses_between_peers_only_on_several_threads():
    import time
    previous = pn.get_num_threads()
    try:
        for threads, pause in ((1, False), (2, True)):
            pn.set_num_threads(threads)
            start = time.perf_counter()
            pn.profiler.time_calls({"a": lambda: None, "b": lambda: None}, min_time=0.001, min_rounds=1)
            elapsed = time.perf_counter() - start
            assert (elapsed >= 0.2) == pause  # 0.1 s before each of the two blocks
    finally:
        pn.set_num_threads(previous)


def test_fma_peak_is_the_best_of_several_measurements(monkeypatch):
    native = pn.backend.native()
    if native is None:
        pytest.skip("no native backend")
    readings = iter([40.0, 90.0, 20.0])
    calls = []

    def fake_measure(variant, dtype, threads, seconds):
        calls.append((variant, dtype, threads, seconds))
        return next(readings)

    monkeypatch.setattr(native, "measure_peak", fake_measure)
    assert pn.profiler.fma_peak("avx2", "float64", 2, seconds=0.3, tries=3) == 90.0
    assert calls == [("avx2", "float64", 2, pytest.approx(0.1))] * 3


def test_fma_peak_measures_the_machine():
    native = pn.backend.native()
    if native is None:
        pytest.skip("no native backend")
    variant = native.cpu_variant()
    one = pn.profiler.fma_peak(variant, "float32", 1, seconds=0.02, tries=2)
    assert 0.5 < one < 1e4  # GFLOP/s of one core: any x86-64 of this century
    with pytest.raises(ValueError, match="unknown cpu variant"):
        pn.profiler.fma_peak("no-such-isa", "float32", 1, seconds=0.01, tries=1)
