"""Fixtures that run kernel tests on every backend, CPU variant and thread count available here."""
from __future__ import annotations

import numpy as np
import pytest

import pyneural as pn

ALL_VARIANTS = ("ref", "avx2", "avx512")


@pytest.fixture(params=pn.backend.BACKENDS)
def backend(request):
    """Activate each backend in turn (skipping those this installation lacks)."""
    if request.param not in pn.backend.available():
        pytest.skip(f"backend {request.param!r} unavailable here")
    previous = pn.backend.name()
    pn.backend.use(request.param)
    yield request.param
    pn.backend.use(previous)


@pytest.fixture(params=[("native", v) for v in ALL_VARIANTS] + [("numba", None)],
                ids=[f"native-{v}" for v in ALL_VARIANTS] + ["numba"])
def kernel_impl(request):
    """Every kernel implementation: each native CPU variant, and Numba."""
    name, variant = request.param
    if name not in pn.backend.available():
        pytest.skip(f"backend {name!r} unavailable here")
    if variant is not None and variant not in pn.backend.cpu_variants():
        pytest.skip(f"cpu variant {variant!r} unsupported on this CPU")
    previous_backend, previous_variant = pn.backend.name(), pn.backend.cpu_variant()
    pn.backend.use(name)
    if variant is not None:
        pn.backend.set_cpu_variant(variant)
    yield request.param
    pn.backend.use(previous_backend)
    if previous_variant is not None:
        pn.backend.set_cpu_variant(previous_variant)


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def threads(request):
    previous = pn.get_num_threads()
    pn.set_num_threads(request.param)
    yield request.param
    pn.set_num_threads(previous)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def pytest_report_header(config):
    rows = pn.backend.config()
    return [f"pyneural {rows['version']} from {pn.__file__}", f"backend: {rows['backend']}",
            f"cpu variant: {rows['cpu variant']}", f"threads: {rows['threads']}"]
