"""CUDA status. GPU kernels live in ``pyneural._cuda`` (built when nvcc and the CUDA toolkit were found)."""
from __future__ import annotations

import functools


@functools.lru_cache(maxsize=None)
def _module():
    try:
        from . import _cuda  # type: ignore[attr-defined]
    except ImportError:
        return None
    return _cuda


def device_count() -> int:
    """Number of CUDA devices visible (0 without the ``_cuda`` module, a driver or a GPU)."""
    mod = _module()
    return mod.device_count() if mod is not None else 0


def is_available() -> bool:
    """True when pyneural was built with CUDA and a GPU is visible."""
    return device_count() > 0


def status() -> str:
    """One line for ``show_config``: whether CUDA was built, and whether a device is visible."""
    mod = _module()
    if mod is None:
        return "not built (nvcc or the CUDA toolkit was not found at install time)"
    count = mod.device_count()
    devices = f"{count} device(s)" if count else f"no device ({mod.last_error()})"
    return f"built with CUDA {mod.cuda_version()}; {devices}"
