"""The benchmarks' shared machinery (benchmarks/common.py): the peak read beside the kernels."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import pyneural as pn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import common  # noqa: E402


def test_time_with_peak_reads_the_peak_in_the_same_rounds():
    if pn.backend.native() is None:
        pytest.skip("the FMA loop is a native kernel")
    a = np.ones((64, 64), np.float32)
    info = {"variant": pn.backend.cpu_variant(), "dtype": "float32", "threads": 1, "peak_active": 1.0}
    seconds, peak = common.time_with_peak({"matmul": lambda: pn.kernels.matmul(a, a)}, info, min_time=0.05)
    assert set(seconds) == {"matmul"} and 0 < seconds["matmul"] < 1
    assert peak > 1.0  # GFLOP/s of a vector FMA loop on one thread: any x86-64 does several


def test_time_with_peak_without_a_peak_times_only_the_kernels():
    seconds, peak = common.time_with_peak({"sum": lambda: sum(range(100))}, {"threads": 1}, min_time=0.02)
    assert set(seconds) == {"sum"} and peak is None
