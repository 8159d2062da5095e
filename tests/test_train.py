"""pn.train.fit: the loop, metrics, validation, history, callbacks."""
from __future__ import annotations

import numpy as np
import pytest

import pyneural as pn
from pyneural import nn
from pyneural.data import DataLoader, TensorDataset
from pyneural.train import EarlyStopping, History, evaluate, fit


class PlainSGD:
    """The smallest optimizer fit needs (the real ones are tested on their own)."""

    def __init__(self, params, lr):
        self.params, self.lr = list(params), lr
        self.param_groups = [{"lr": lr}]

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        for p in self.params:
            p.data -= self.lr * p.grad.data


def blobs(n=300, seed=0):
    """Three well separated Gaussian blobs in 2-D."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.array([[0, 4], [4, 0], [-4, -4]], dtype=np.float32)
    x = centres[y] + rng.standard_normal((n, 2)).astype(np.float32)
    return TensorDataset(x, y.astype(np.int64))


def cross_entropy(logits, target):
    """Mean cross-entropy from ops that exist in every configuration."""
    shifted = logits - logits.max(axis=1, keepdims=True).detach()
    log_probs = shifted - shifted.exp().sum(axis=1, keepdims=True).log()
    picked = log_probs[np.arange(len(target.data)), target.data]
    return -picked.mean()


def test_fit_learns_and_records_history(capsys):
    pn.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.Linear(16, 3))
    train, val = DataLoader(blobs(), batch_size=32, shuffle=True), DataLoader(blobs(seed=1), batch_size=100)
    history = fit(model, cross_entropy, PlainSGD(model.parameters(), 0.05), train, val, epochs=8, progress=False)
    assert isinstance(history, History) and len(history["loss"]) == 8
    assert history["loss"][-1] < history["loss"][0] * 0.5
    assert history["val_accuracy"][-1] > 0.95
    assert all(t > 0 for t in history["epoch_time"])
    result = evaluate(model, cross_entropy, val)
    assert result["accuracy"] == pytest.approx(history["val_accuracy"][-1])
    assert model.training  # evaluate restores the mode


def test_early_stopping_stops_and_restores_best_weights():
    pn.manual_seed(0)
    model = nn.Linear(2, 3)
    loader = DataLoader(blobs(60), batch_size=60)
    stopper = EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    # a learning rate so large that the validation loss soon rises
    history = fit(model, cross_entropy, PlainSGD(model.parameters(), 50.0), loader, loader, epochs=30,
                  callbacks=[stopper], progress=False)
    assert len(history["loss"]) < 30 and stopper.stopped_epoch is not None
    assert evaluate(model, cross_entropy, loader)["loss"] == pytest.approx(min(history["val_loss"]), rel=1e-5)


def test_fit_rejects_bad_arguments():
    model = nn.Linear(2, 3)
    loader = DataLoader(blobs(10), batch_size=5)
    with pytest.raises(ValueError, match="epochs"):
        fit(model, cross_entropy, PlainSGD(model.parameters(), 0.1), loader, epochs=0)
    with pytest.raises(ValueError, match="unknown metric"):
        fit(model, cross_entropy, PlainSGD(model.parameters(), 0.1), loader, metrics=("f1",), progress=False)
    with pytest.raises(KeyError, match="val_loss"):
        fit(model, cross_entropy, PlainSGD(model.parameters(), 0.1), loader, callbacks=[EarlyStopping()],
            progress=False)


def test_history_plot(tmp_path):
    pytest.importorskip("matplotlib")
    history = History()
    for i in range(3):
        history.append({"loss": 1.0 / (i + 1), "val_loss": 1.2 / (i + 1), "accuracy": 0.5 + 0.1 * i})
    path = history.plot(tmp_path / "curve.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
