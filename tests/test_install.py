"""Packaging: a wheel from ``pip wheel .`` works in a fresh environment, and without a compiler the
install falls back to the pure-Python wheel on the Numba backend. Slow: each builds the package."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

CHECK = """
import sys, numpy as np, pyneural as pn
assert pn.backend.name() == sys.argv[1], (pn.backend.name(), pn.backend.available())
a, b = np.random.rand(9, 13), np.random.rand(13, 5)
assert np.allclose(pn.kernels.matmul(a, b), a @ b)
print("ok", pn.backend.name(), pn.backend.cpu_variant())
"""


def source_copy(tmp_path: Path) -> Path:
    """The source tree without build outputs, so no cached CMake configuration leaks in."""
    ignore = shutil.ignore_patterns("build", ".git", "__pycache__", "*.so", ".pytest_cache", "dist")
    return Path(shutil.copytree(ROOT, tmp_path / "src", ignore=ignore))


def fresh_env(path: Path) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    return path / "bin" / "python"


def run(cmd: list, **env: str) -> str:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("PYNEURAL_", "PYTHONPATH"))}
    full_env.update(env)
    # cwd away from the repository, or `import pyneural` would find the source tree
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=full_env, timeout=900,
                            cwd=Path(str(cmd[0])).parent)
    assert result.returncode == 0, f"{cmd} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def test_wheel_installs_into_fresh_environment(tmp_path):
    src = source_copy(tmp_path)
    wheels = tmp_path / "wheels"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", wheels, src])
    (wheel,) = wheels.glob("pyneural-*.whl")
    assert "linux_x86_64" in wheel.name or "manylinux" in wheel.name, wheel.name  # a native wheel
    python = fresh_env(tmp_path / "venv")
    run([python, "-m", "pip", "install", "-q", wheel])
    out = run([python, "-c", CHECK, "native"])
    assert out.startswith("ok native")


def test_install_without_compiler_falls_back_to_numba(tmp_path):
    src = source_copy(tmp_path)
    python = fresh_env(tmp_path / "venv")
    run([python, "-m", "pip", "install", "-q", src], CXX="/nonexistent/c++", CC="/nonexistent/cc")
    out = run([python, "-c", CHECK, "numba"])
    assert out.startswith("ok numba None")
    site = run([python, "-c", "import pyneural, os; print(os.listdir(os.path.dirname(pyneural.__file__)))"])
    assert "_C" not in site
