"""The training loop: ``pn.train.fit(model, loss_fn, optimizer, train_loader, val_loader, epochs=...)``.

One epoch: ``model.train()``, then per batch forward, loss, ``zero_grad``, ``backward``, ``step``; then,
with a validation loader, ``model.eval()`` and the same metrics under ``no_grad``. Callbacks see the
epoch's logs and can stop training.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .autograd import no_grad

Metric = Callable[[np.ndarray, np.ndarray], float]


def accuracy(output: np.ndarray, target: np.ndarray) -> float:
    """Fraction of rows whose largest output is the target class (class axis 1, as cross_entropy)."""
    return float(np.mean(np.argmax(output, axis=1) == target))


METRICS: dict[str, Metric] = {"accuracy": accuracy}


class History:
    """Per-epoch logs of ``fit``: ``history["loss"]``, ``history["val_accuracy"]``, ... and ``plot(path)``."""

    def __init__(self) -> None:
        self.logs: dict[str, list[float]] = {}

    def append(self, logs: dict[str, float]) -> None:
        for key, value in logs.items():
            self.logs.setdefault(key, []).append(value)

    def __getitem__(self, key: str) -> list[float]:
        return self.logs[key]

    def __contains__(self, key: str) -> bool:
        return key in self.logs

    def __repr__(self) -> str:
        last = {k: round(v[-1], 4) for k, v in self.logs.items()}
        return f"History(epochs={len(next(iter(self.logs.values()), []))}, last={last})"

    def plot(self, path: str | Path) -> Path:
        """Loss (and each metric) per epoch, training and validation, as a PNG (needs matplotlib)."""
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        names = [k for k in self.logs if not k.startswith("val_") and k != "epoch_time"]
        fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.5), squeeze=False)
        for ax, name in zip(axes[0], names):
            epochs = range(1, len(self.logs[name]) + 1)
            ax.plot(epochs, self.logs[name], label="train")
            if f"val_{name}" in self.logs:
                ax.plot(epochs, self.logs[f"val_{name}"], label="validation")
            ax.set_xlabel("epoch")
            ax.set_title(name)
            ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return Path(path)


class Callback:
    """Hooks of ``fit``; set ``trainer.stop = True`` to end training after this epoch."""

    def on_train_begin(self, trainer: "Trainer") -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: dict[str, float], trainer: "Trainer") -> None:
        pass


def _improved(value: float, best: float, mode: str, min_delta: float) -> bool:
    return value < best - min_delta if mode == "min" else value > best + min_delta


def _mode_for(monitor: str, mode: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    return ("min" if "loss" in monitor else "max") if mode == "auto" else mode


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs; optionally put the
    best epoch's weights back."""

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0, mode: str = "auto",
                 restore_best_weights: bool = False) -> None:
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.mode, self.restore_best_weights = _mode_for(monitor, mode), restore_best_weights

    def on_train_begin(self, trainer: "Trainer") -> None:
        self.best, self.wait, self.best_state, self.stopped_epoch = math.inf if self.mode == "min" else -math.inf, 0, None, None

    def on_epoch_end(self, epoch: int, logs: dict[str, float], trainer: "Trainer") -> None:
        if self.monitor not in logs:
            raise KeyError(f"EarlyStopping: no {self.monitor!r} in the logs {sorted(logs)} (validation loader?)")
        if _improved(logs[self.monitor], self.best, self.mode, self.min_delta):
            self.best, self.wait = logs[self.monitor], 0
            if self.restore_best_weights:
                self.best_state = {k: np.array(v, copy=True) for k, v in _state_arrays(trainer.model).items()}
        else:
            self.wait += 1
            if self.wait > self.patience:
                trainer.stop, self.stopped_epoch = True, epoch
                if self.best_state is not None:
                    trainer.model.load_state_dict(self.best_state)


class ModelCheckpoint(Callback):
    """Save the model's state dict (safetensors, atomic) to ``path`` after each epoch, or only when
    ``monitor`` improved (``save_best_only``). ``path`` may contain ``{epoch}``."""

    def __init__(self, path: str | Path, monitor: str = "val_loss", save_best_only: bool = True,
                 mode: str = "auto") -> None:
        self.path, self.monitor, self.save_best_only = str(path), monitor, save_best_only
        self.mode = _mode_for(monitor, mode)

    def on_train_begin(self, trainer: "Trainer") -> None:
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch: int, logs: dict[str, float], trainer: "Trainer") -> None:
        if self.save_best_only:
            if self.monitor not in logs:
                raise KeyError(f"ModelCheckpoint: no {self.monitor!r} in the logs {sorted(logs)}")
            if not _improved(logs[self.monitor], self.best, self.mode, 0.0):
                return
            self.best = logs[self.monitor]
        from . import save
        save(trainer.model.state_dict(), self.path.format(epoch=epoch))


class LRSchedulerCallback(Callback):
    """Step a learning-rate scheduler once per epoch (with ``monitor``'s value for ReduceLROnPlateau)."""

    def __init__(self, scheduler: Any, monitor: str | None = None) -> None:
        self.scheduler, self.monitor = scheduler, monitor

    def on_epoch_end(self, epoch: int, logs: dict[str, float], trainer: "Trainer") -> None:
        if self.monitor is None:
            self.scheduler.step()
        else:
            self.scheduler.step(logs[self.monitor])
        logs["lr"] = float(trainer.optimizer.param_groups[0]["lr"])


def _state_arrays(model: Any) -> dict[str, np.ndarray]:
    return {k: (v.data if hasattr(v, "data") else np.asarray(v)) for k, v in model.state_dict().items()}


def _split(batch: Any) -> tuple[Any, Any]:
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise ValueError("fit: each batch must be an (inputs, targets) pair")
    return batch[0], batch[1]


class Trainer:
    """State shared with callbacks during ``fit``."""

    def __init__(self, model: Any, optimizer: Any) -> None:
        self.model, self.optimizer, self.stop = model, optimizer, False


def _metric_fns(metrics: Sequence[str | Metric]) -> dict[str, Metric]:
    fns = {}
    for m in metrics:
        if isinstance(m, str):
            if m not in METRICS:
                raise ValueError(f"fit: unknown metric {m!r}; known: {sorted(METRICS)} (or pass a function)")
            fns[m] = METRICS[m]
        else:
            fns[getattr(m, "__name__", "metric")] = m
    return fns


def _run_epoch(model: Any, loss_fn: Callable, loader: Iterable, metrics: dict[str, Metric], optimizer: Any = None,
               bar: Any = None) -> dict[str, float]:
    """One pass over ``loader``: training when an optimizer is given, else evaluation. Sample-weighted means."""
    totals = {name: 0.0 for name in ["loss", *metrics]}
    count = 0
    for batch in loader:
        x, y = _split(batch)
        output = model(x)
        loss = loss_fn(output, y)
        if optimizer is not None:
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        n = len(y)
        count += n
        totals["loss"] += float(loss.item()) * n
        out, target = np.asarray(output.data), np.asarray(y.data if hasattr(y, "data") else y)
        for name, fn in metrics.items():
            totals[name] += fn(out, target) * n
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{totals['loss'] / count:.4f}")
    if count == 0:
        raise ValueError("fit: the loader yielded no batch")
    return {name: value / count for name, value in totals.items()}


def evaluate(model: Any, loss_fn: Callable, loader: Iterable, metrics: Sequence[str | Metric] = ("accuracy",)
             ) -> dict[str, float]:
    """Loss and metrics of ``model`` on ``loader`` in evaluation mode, without recording a graph."""
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        with no_grad():
            return _run_epoch(model, loss_fn, loader, _metric_fns(metrics))
    finally:
        model.train(was_training)


def fit(model: Any, loss_fn: Callable, optimizer: Any, train_loader: Iterable, val_loader: Iterable | None = None,
        epochs: int = 1, metrics: Sequence[str | Metric] = ("accuracy",), callbacks: Sequence[Callback] = (),
        progress: bool = True) -> History:
    """Train ``model`` for ``epochs`` epochs; returns the per-epoch History (loss, metrics, val_*, epoch_time).

    ``progress`` shows a tqdm bar per epoch (when tqdm is installed).
    """
    if epochs < 1:
        raise ValueError(f"fit: epochs must be >= 1, got {epochs}")
    fns = _metric_fns(metrics)
    trainer, history = Trainer(model, optimizer), History()
    tqdm = None
    if progress:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            tqdm = None
    for cb in callbacks:
        cb.on_train_begin(trainer)
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        model.train()
        bar = tqdm(total=len(train_loader), desc=f"epoch {epoch}/{epochs}", leave=False) if tqdm else None
        try:
            logs = _run_epoch(model, loss_fn, train_loader, fns, optimizer, bar)
        finally:
            if bar is not None:
                bar.close()
        logs["epoch_time"] = time.perf_counter() - start
        if val_loader is not None:
            logs.update({f"val_{k}": v for k, v in evaluate(model, loss_fn, val_loader, metrics).items()})
        for cb in callbacks:
            cb.on_epoch_end(epoch, logs, trainer)
        history.append(logs)
        if progress:
            print(f"epoch {epoch}/{epochs}: " + ", ".join(f"{k} {v:.4g}" for k, v in logs.items()))
        if trainer.stop:
            break
    return history
