"""Backend selection: which implementation (native C++ or Numba) runs each kernel.

The kernel table maps a kernel name to a ``"module:attribute"`` per backend, so nothing is
imported before first use (importing pyneural never imports Numba). ``PYNEURAL_BACKEND``
forces a backend at import; :func:`use` switches at run time.
"""
from __future__ import annotations

import importlib
import os
import sys
from typing import Callable

# kernel name -> backend -> "module:attribute"
KERNELS: dict[str, dict[str, str]] = {
    "gemm": {"native": "pyneural._C:gemm", "numba": "pyneural.kernels_numba.gemm:gemm"},
    "matmul": {"native": "pyneural._C:matmul", "numba": "pyneural.kernels_numba.gemm:matmul"},
    "activation_forward": {"native": "pyneural._C:activation_forward",
                           "numba": "pyneural.kernels_numba.activation:activation_forward"},
    "activation_backward": {"native": "pyneural._C:activation_backward",
                            "numba": "pyneural.kernels_numba.activation:activation_backward"},
    "softmax_forward": {"native": "pyneural._C:softmax_forward",
                        "numba": "pyneural.kernels_numba.softmax:softmax_forward"},
    "softmax_backward": {"native": "pyneural._C:softmax_backward",
                         "numba": "pyneural.kernels_numba.softmax:softmax_backward"},
    "cross_entropy_forward": {"native": "pyneural._C:cross_entropy_forward",
                              "numba": "pyneural.kernels_numba.softmax:cross_entropy_forward"},
    "cross_entropy_backward": {"native": "pyneural._C:cross_entropy_backward",
                               "numba": "pyneural.kernels_numba.softmax:cross_entropy_backward"},
    "conv2d": {"native": "pyneural._C:conv2d", "numba": "pyneural.kernels_numba.conv:conv2d"},
    "conv2d_backward_data": {"native": "pyneural._C:conv2d_backward_data",
                             "numba": "pyneural.kernels_numba.conv:conv2d_backward_data"},
    "conv2d_backward_weight": {"native": "pyneural._C:conv2d_backward_weight",
                               "numba": "pyneural.kernels_numba.conv:conv2d_backward_weight"},
    "max_pool2d": {"native": "pyneural._C:max_pool2d",
                   "numba": "pyneural.kernels_numba.pool:max_pool2d"},
    "max_pool2d_backward": {"native": "pyneural._C:max_pool2d_backward",
                            "numba": "pyneural.kernels_numba.pool:max_pool2d_backward"},
    "avg_pool2d": {"native": "pyneural._C:avg_pool2d",
                   "numba": "pyneural.kernels_numba.pool:avg_pool2d"},
    "avg_pool2d_backward": {"native": "pyneural._C:avg_pool2d_backward",
                            "numba": "pyneural.kernels_numba.pool:avg_pool2d_backward"},
    "adaptive_avg_pool2d": {"native": "pyneural._C:adaptive_avg_pool2d",
                            "numba": "pyneural.kernels_numba.pool:adaptive_avg_pool2d"},
    "adaptive_avg_pool2d_backward": {"native": "pyneural._C:adaptive_avg_pool2d_backward",
                                     "numba": "pyneural.kernels_numba.pool:adaptive_avg_pool2d_backward"},
    "sgd_update": {"native": "pyneural._C:sgd_update", "numba": "pyneural.kernels_numba.optim:sgd_update"},
    "adam_update": {"native": "pyneural._C:adam_update", "numba": "pyneural.kernels_numba.optim:adam_update"},
    "rmsprop_update": {"native": "pyneural._C:rmsprop_update", "numba": "pyneural.kernels_numba.optim:rmsprop_update"},
    "adagrad_update": {"native": "pyneural._C:adagrad_update", "numba": "pyneural.kernels_numba.optim:adagrad_update"},
    "layer_norm_forward": {"native": "pyneural._C:layer_norm_forward",
                           "numba": "pyneural.kernels_numba.norm:layer_norm_forward"},
    "layer_norm_backward": {"native": "pyneural._C:layer_norm_backward",
                            "numba": "pyneural.kernels_numba.norm:layer_norm_backward"},
    "batch_norm_stats": {"native": "pyneural._C:batch_norm_stats",
                         "numba": "pyneural.kernels_numba.norm:batch_norm_stats"},
    "batch_norm_apply": {"native": "pyneural._C:batch_norm_apply",
                         "numba": "pyneural.kernels_numba.norm:batch_norm_apply"},
    "batch_norm_backward": {"native": "pyneural._C:batch_norm_backward",
                            "numba": "pyneural.kernels_numba.norm:batch_norm_backward"},
    "embedding_forward": {"native": "pyneural._C:embedding_forward",
                          "numba": "pyneural.kernels_numba.embedding:embedding_forward"},
    "embedding_backward": {"native": "pyneural._C:embedding_backward",
                           "numba": "pyneural.kernels_numba.embedding:embedding_backward"},
    "loss_forward": {"native": "pyneural._C:loss_forward", "numba": "pyneural.kernels_numba.loss:loss_forward"},
    "loss_backward": {"native": "pyneural._C:loss_backward", "numba": "pyneural.kernels_numba.loss:loss_backward"},
    "nll_loss_forward": {"native": "pyneural._C:nll_loss_forward",
                         "numba": "pyneural.kernels_numba.loss:nll_loss_forward"},
    "nll_loss_backward": {"native": "pyneural._C:nll_loss_backward",
                          "numba": "pyneural.kernels_numba.loss:nll_loss_backward"},
    "dropout_forward": {"native": "pyneural._C:dropout_forward",
                        "numba": "pyneural.kernels_numba.dropout:dropout_forward"},
    "dropout_backward": {"native": "pyneural._C:dropout_backward",
                         "numba": "pyneural.kernels_numba.dropout:dropout_backward"},
    "rnn_cell_forward": {"native": "pyneural._C:rnn_cell_forward",
                         "numba": "pyneural.kernels_numba.rnn:rnn_cell_forward"},
    "rnn_cell_backward": {"native": "pyneural._C:rnn_cell_backward",
                          "numba": "pyneural.kernels_numba.rnn:rnn_cell_backward"},
    "lstm_cell_forward": {"native": "pyneural._C:lstm_cell_forward",
                          "numba": "pyneural.kernels_numba.rnn:lstm_cell_forward"},
    "lstm_cell_backward": {"native": "pyneural._C:lstm_cell_backward",
                           "numba": "pyneural.kernels_numba.rnn:lstm_cell_backward"},
    "lstm_sequence_forward": {"native": "pyneural._C:lstm_sequence_forward",
                              "numba": "pyneural.kernels_numba.rnn:lstm_sequence_forward"},
    "lstm_sequence_backward": {"native": "pyneural._C:lstm_sequence_backward",
                               "numba": "pyneural.kernels_numba.rnn:lstm_sequence_backward"},
    "gru_cell_forward": {"native": "pyneural._C:gru_cell_forward",
                         "numba": "pyneural.kernels_numba.rnn:gru_cell_forward"},
    "gru_cell_backward": {"native": "pyneural._C:gru_cell_backward",
                          "numba": "pyneural.kernels_numba.rnn:gru_cell_backward"},
}

BACKENDS = ("native", "numba")

_native = None          # the pyneural._C module, or None
_native_error = ""      # why it is missing
_active = "numba"
_reason = ""
_resolved: dict[str, Callable] = {}
_profiling = False
_num_threads = 1
_threads_reason = ""


def _installed_copy(package_dir: str) -> str | None:
    """Another pyneural on sys.path with a compiled ``_C`` (e.g. the installed one), if any."""
    import glob
    for entry in sys.path:
        candidate = os.path.join(entry or os.curdir, "pyneural")
        if os.path.realpath(candidate) != os.path.realpath(package_dir) and glob.glob(os.path.join(candidate, "_C.*")):
            return candidate
    return None


def _load_native() -> None:
    global _native, _native_error
    try:
        _C = importlib.import_module("pyneural._C")
    except ImportError as exc:  # pure-Python wheel, broken build, or the source tree shadowing the install
        _native_error = f"pyneural._C did not import ({exc})"
        package = sys.modules["pyneural"]
        installed = _installed_copy(package.__path__[0])
        if installed is None:
            return
        # `python -m pyneural ...` inside the repository imports the source tree, which has no compiled
        # module: take the installed copy's _C (same sources, unless they were edited since installing).
        package.__path__.append(installed)
        try:
            _C = importlib.import_module("pyneural._C")
        except ImportError:
            return
    _native = _C
    forced = os.environ.get("PYNEURAL_CPU", "").strip().lower()
    if forced:
        try:
            _C.set_cpu_variant(forced)
        except ValueError as exc:
            raise RuntimeError(f"PYNEURAL_CPU={forced!r}: {exc}") from None


def available() -> list[str]:
    """Backends usable in this installation, best first."""
    return (["native"] if _native is not None else []) + ["numba"]


def name() -> str:
    """The active backend: ``"native"`` or ``"numba"``."""
    return _active


def use(backend: str) -> None:
    """Switch the active backend at run time (``"native"`` or ``"numba"``)."""
    global _active, _reason
    if backend not in BACKENDS:
        raise ValueError(f"backend.use: unknown backend {backend!r}; expected one of {BACKENDS}")
    if backend == "native" and _native is None:
        raise RuntimeError(f"backend.use('native'): {_native_error}")
    if backend != _active:
        _resolved.clear()
    _active, _reason = backend, "chosen with pyneural.backend.use()"


def kernel(kernel_name: str) -> Callable:
    """The active backend's implementation of ``kernel_name`` (timed while a profile is recorded)."""
    fn = _resolved.get(kernel_name)
    if fn is None:
        module_name, attr = KERNELS[kernel_name][_active].split(":")
        fn = getattr(importlib.import_module(module_name), attr)
        if _profiling:
            from ..profiler import timed
            fn = timed(kernel_name, fn)
        _resolved[kernel_name] = fn
    return fn


def set_profiling(on: bool) -> None:
    """Hand out timed kernels (``pyneural.profiler``) or plain ones."""
    global _profiling
    if on != _profiling:
        _profiling = on
        _resolved.clear()


def native():
    """The ``pyneural._C`` module, or None when the native build is absent."""
    return _native


def cpu_variant() -> str | None:
    """The CPU kernel variant in use by the native backend (``ref``, ``avx2``, ``avx512``)."""
    return _native.cpu_variant() if _native is not None else None


def cpu_variants() -> list[str]:
    """CPU variants this machine can run (each one can be forced for testing)."""
    return list(_native.cpu_variants()) if _native is not None else []


def set_cpu_variant(variant: str) -> None:
    """Force a CPU kernel variant (as ``PYNEURAL_CPU`` does); ValueError if the CPU lacks it."""
    if _native is None:
        raise RuntimeError(f"set_cpu_variant: {_native_error}")
    _native.set_cpu_variant(variant)


def _default_threads() -> tuple[int, str]:
    for var in ("PYNEURAL_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value), f"from {var}"
    try:
        return len(os.sched_getaffinity(0)), "cores available to this process"
    except AttributeError:  # not Linux
        return os.cpu_count() or 1, "os.cpu_count()"


def set_num_threads(n: int) -> None:
    """Threads used by kernels (OpenMP in the native backend, Numba's pool in the Numba one)."""
    global _num_threads, _threads_reason
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {n!r}")
    _num_threads, _threads_reason = n, "set with pyneural.set_num_threads()"
    if _native is not None:
        _native.set_num_threads(n)
    if "pyneural.kernels_numba" in sys.modules:
        sys.modules["pyneural.kernels_numba"].apply_num_threads(n)


def get_num_threads() -> int:
    """Threads used by kernels."""
    return _num_threads


def _init() -> None:
    global _active, _reason, _num_threads, _threads_reason
    _load_native()
    forced = os.environ.get("PYNEURAL_BACKEND", "").strip().lower()
    if forced:
        if forced not in BACKENDS:
            raise RuntimeError(f"PYNEURAL_BACKEND={forced!r}: expected one of {BACKENDS}")
        if forced == "native" and _native is None:
            raise RuntimeError(f"PYNEURAL_BACKEND=native but {_native_error}")
        _active, _reason = forced, "forced by PYNEURAL_BACKEND"
    elif _native is not None:
        _active, _reason = "native", "pyneural._C imported"
    else:
        _active, _reason = "numba", _native_error
    _num_threads, _threads_reason = _default_threads()
    if _native is not None:
        _native.set_num_threads(_num_threads)


def config() -> dict[str, str]:
    """What was chosen and why, as printed by :func:`show_config` and ``python -m pyneural info``."""
    from .. import __version__, cuda

    rows = {"version": __version__, "backend": f"{_active} ({_reason})",
            "available backends": ", ".join(available())}
    if _native is not None:
        forced = os.environ.get("PYNEURAL_CPU", "").strip()
        why = f"forced by PYNEURAL_CPU={forced}" if forced else "best the CPU and OS support (CPUID + XGETBV)"
        rows["cpu variant"] = f"{_native.cpu_variant()} ({why}; supported: {', '.join(_native.cpu_variants())})"
        rows["cpu features"] = _native.cpu_features()
        rows["openmp"] = "yes" if _native.has_openmp() else "no (kernels run on one thread)"
        rows["compiler"] = _native.build_info()
    else:
        rows["cpu variant"] = "n/a (native backend unavailable)"
    rows["threads"] = f"{_num_threads} ({_threads_reason})"
    rows["cuda"] = cuda.status()
    return rows


def show_config() -> None:
    """Print version, backend, CPU variant, threads and CUDA status, and why each was chosen."""
    rows = config()
    width = max(map(len, rows))
    for key, value in rows.items():
        print(f"{key:<{width}} : {value}")


_init()
