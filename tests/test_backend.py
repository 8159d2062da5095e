"""Backend and CPU-variant selection, threads, configuration report, import hygiene."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest

import pyneural as pn


# The package this test session imported; subprocesses must import the same one, so they run where
# the repository's source tree (which has no compiled module unless built in place) is not on sys.path.
PACKAGE_PARENT = os.path.dirname(os.path.dirname(pn.__file__))


def run_python(*args: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``python *args`` in a fresh interpreter (selection happens at import) with extra environment."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PYNEURAL_")}
    full_env["PYTHONPATH"] = PACKAGE_PARENT
    full_env.update(env)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=full_env, timeout=300,
                          cwd=tempfile.gettempdir())


REPORT = ("import json, sys, pyneural as pn; print(json.dumps({'backend': pn.backend.name(), "
          "'variant': pn.backend.cpu_variant(), 'numba': 'numba' in sys.modules, 'threads': pn.get_num_threads()}))")


def test_import_picks_native_and_best_variant_without_numba():
    report = json.loads(run_python("-c", REPORT).stdout)
    assert report["numba"] is False  # importing pyneural must not import numba
    if "native" in pn.backend.available():
        assert report["backend"] == "native"
        assert report["variant"] == pn.backend.cpu_variants()[-1]
    else:
        assert report["backend"] == "numba"


def test_env_forces_backend_variant_and_threads():
    report = json.loads(run_python("-c", REPORT, PYNEURAL_BACKEND="numba", PYNEURAL_NUM_THREADS="1").stdout)
    assert report["backend"] == "numba" and report["threads"] == 1
    for variant in pn.backend.cpu_variants():
        assert json.loads(run_python("-c", REPORT, PYNEURAL_CPU=variant).stdout)["variant"] == variant


@pytest.mark.parametrize("env,words", [({"PYNEURAL_BACKEND": "fortran"}, ["PYNEURAL_BACKEND", "fortran"]),
                                       ({"PYNEURAL_CPU": "avx9000"}, ["PYNEURAL_CPU", "avx9000"])])
def test_env_rejects_unknown_values(env, words):
    if "PYNEURAL_CPU" in env and "native" not in pn.backend.available():
        pytest.skip("PYNEURAL_CPU only matters with the native backend")
    result = run_python("-c", "import pyneural", **env)
    assert result.returncode != 0
    for word in words:
        assert word in result.stderr


def test_unsupported_variant_is_an_error():
    if "native" not in pn.backend.available():
        pytest.skip("native backend unavailable")
    missing = [v for v in ("ref", "avx2", "avx512") if v not in pn.backend.cpu_variants()]
    for variant in missing:
        with pytest.raises(ValueError, match=variant):
            pn.backend.set_cpu_variant(variant)
    with pytest.raises(ValueError, match="unknown cpu variant"):
        pn.backend.set_cpu_variant("sse9")


def test_use_switches_and_validates(backend):
    assert pn.backend.name() == backend
    assert np.allclose(pn.kernels.matmul(np.eye(3), np.arange(9.0).reshape(3, 3)), np.arange(9.0).reshape(3, 3))
    with pytest.raises(ValueError, match="unknown backend"):
        pn.backend.use("cobol")


def test_set_num_threads_drives_both_backends():
    previous = pn.get_num_threads()
    try:
        pn.set_num_threads(1)
        assert pn.get_num_threads() == 1
        if pn.backend.native() is not None:
            assert pn.backend.native().get_num_threads() == 1
        import numba
        import pyneural.kernels_numba  # noqa: F401  (applies the setting on import)
        assert numba.get_num_threads() == 1
        pn.set_num_threads(2)
        assert numba.get_num_threads() == min(2, numba.config.NUMBA_NUM_THREADS)
    finally:
        pn.set_num_threads(previous)
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(ValueError, match="set_num_threads"):
            pn.set_num_threads(bad)


def test_show_config_and_cli_report_choices(capsys):
    pn.show_config()
    text = capsys.readouterr().out
    for key in ("version", "backend", "cpu variant", "threads", "cuda"):
        assert key in text
    assert pn.backend.name() in text
    result = run_python("-m", "pyneural", "info")
    assert result.returncode == 0, result.stderr
    assert "backend" in result.stdout and "cpu variant" in result.stdout


def test_bench_command_times_kernels_against_numpy():
    result = run_python("-m", "pyneural", "bench", "--threads", "1")
    assert result.returncode == 0, result.stderr
    assert "1 threads" in result.stdout
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith(("matmul", "softmax"))]
    assert len(rows) == 4
    for row in rows:  # every rate printed is a positive number, and so is the ratio to NumPy
        numbers = [float(x.rstrip("%x")) for x in row if x.rstrip("%x").replace(".", "", 1).isdigit()]
        assert len(numbers) >= 3 and all(v > 0 for v in numbers), row


def test_cuda_status_is_consistent():
    assert pn.cuda.is_available() == (pn.cuda.device_count() > 0)
    assert isinstance(pn.cuda.status(), str) and pn.cuda.status()


def test_source_tree_without_compiled_module_uses_the_installed_one(tmp_path):
    """`python -m pyneural ...` run inside a checkout imports the sources; the compiled module then
    comes from the installed copy instead of silently falling back to Numba."""
    if "native" not in pn.backend.available():
        pytest.skip("no compiled module here")
    import shutil
    source = tmp_path / "checkout"
    shutil.copytree(os.path.dirname(pn.__file__), source / "pyneural",
                    ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    (source / "pyproject.toml").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYNEURAL_")}
    env["PYTHONPATH"] = PACKAGE_PARENT
    result = subprocess.run([sys.executable, "-c", REPORT], capture_output=True, text=True, env=env, cwd=source,
                            timeout=300)
    assert json.loads(result.stdout)["backend"] == "native", result.stderr


def test_every_kernel_in_the_table_resolves_on_every_backend(backend):
    """Each kernel has its native and Numba implementation (DESIGN: one contract, every backend)."""
    for name in pn.backend.KERNELS:
        assert callable(pn.backend.kernel(name)), name
    for family in ("gemm", "conv2d", "max_pool2d", "activation_forward", "softmax_forward", "layer_norm_forward",
                   "adam_update"):
        assert family in pn.backend.KERNELS
