"""MNIST-1D (Greydanus, "Scaling Down Deep Learning", 2020) with the setups of the paper.

The paper trains each model with Adam (learning rate 1e-2, no weight decay) on 4,000 training signals
for 6,000 steps of 100 examples, taken in order and wrapping around, and reports test accuracies of
about 68% (MLP), 94% (CNN) and 91% (GRU). The models follow the paper's reference code: an MLP with
two hidden layers of 100 units (the second residual), a CNN of three strided 1-D convolutions with 25
channels and a linear classifier, and a bidirectional GRU with 6 hidden units whose outputs at all 40
time steps feed a linear classifier.

    python -m pyneural.examples.mnist1d [--models mlp cnn gru] [--steps 6000]
"""
from __future__ import annotations

import argparse
import time
from typing import Callable

import numpy as np

import pyneural as pn
from pyneural import nn
from pyneural.data.datasets import make_mnist1d

PAPER_ACCURACY = {"mlp": 0.68, "cnn": 0.94, "gru": 0.91}


class MLP(nn.Module):
    """Two hidden layers of ``hidden`` units, the second added to the first (the paper's MLPBase)."""

    def __init__(self, inputs: int = 40, hidden: int = 100, classes: int = 10) -> None:
        super().__init__()
        self.linear1 = nn.Linear(inputs, hidden)
        self.linear2 = nn.Linear(hidden, hidden)
        self.linear3 = nn.Linear(hidden, classes)

    def forward(self, x: pn.Tensor) -> pn.Tensor:
        h = self.linear1(x.reshape(x.shape[0], -1)).relu()
        h = h + self.linear2(h).relu()
        return self.linear3(h)


class CNN(nn.Module):
    """Three strided convolutions (40 -> 19 -> 10 -> 5 positions) and a linear classifier."""

    def __init__(self, channels: int = 25, classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(1, channels, 5, stride=2, padding=1)
        self.conv2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.linear = nn.Linear(channels * 5, classes)

    def forward(self, x: pn.Tensor) -> pn.Tensor:
        h = self.conv3(self.conv2(self.conv1(x).relu()).relu()).relu()
        return self.linear(h.reshape(h.shape[0], -1))


class GRUClassifier(nn.Module):
    """A bidirectional GRU over the 40 samples of the signal; all its outputs feed a linear layer."""

    def __init__(self, hidden: int = 6, steps: int = 40, classes: int = 10) -> None:
        super().__init__()
        self.gru = nn.GRU(1, hidden, batch_first=True, bidirectional=True)
        self.linear = nn.Linear(2 * hidden * steps, classes)

    def forward(self, x: pn.Tensor) -> pn.Tensor:
        output, _ = self.gru(x.reshape(x.shape[0], -1, 1))  # (batch, time, 2 * hidden)
        return self.linear(output.reshape(output.shape[0], -1))


MODELS: dict[str, Callable[[], nn.Module]] = {"mlp": MLP, "cnn": CNN, "gru": GRUClassifier}


def _accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with pn.no_grad():
        predicted = np.argmax(model(pn.tensor(x)).numpy(), axis=1)
    model.train()
    return float(np.mean(predicted == y))


def train(name: str, steps: int = 6000, batch_size: int = 100, lr: float = 1e-2, seed: int = 0,
          eval_every: int = 500, verbose: bool = True) -> dict[str, float]:
    """Train one model the paper's way; returns its final and best test accuracy and the time taken."""
    pn.manual_seed(seed)
    train_set, test_set = make_mnist1d()
    x_train, y_train = (np.asarray(a.data) for a in train_set.tensors)
    x_test, y_test = (np.asarray(a.data) for a in test_set.tensors)
    model = MODELS[name]()
    optimizer = pn.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    accuracy = best = _accuracy(model, x_test, y_test)  # the untrained model's, if steps == 0
    start = time.perf_counter()
    for step in range(1, steps + 1):
        first = ((step - 1) * batch_size) % len(x_train)  # in order, wrapping around, as the paper does
        x, y = x_train[first:first + batch_size], y_train[first:first + batch_size]
        loss = loss_fn(model(pn.tensor(x)), pn.tensor(y))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % eval_every == 0 or step == steps:
            accuracy = _accuracy(model, x_test, y_test)
            best = max(best, accuracy)
            if verbose:
                print(f"  {name} step {step:5d}  train loss {loss.item():.3f}  test accuracy {100 * accuracy:.1f}%")
    seconds = time.perf_counter() - start
    parameters = sum(p.size for p in model.parameters())
    return {"accuracy": accuracy, "best": best, "seconds": seconds, "parameters": parameters}


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Train the chosen models and print the table against the paper's accuracies."""
    parser = argparse.ArgumentParser(prog="python -m pyneural.examples.mnist1d", description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"pyneural {pn.__version__}: backend {pn.backend.name()}, {pn.get_num_threads()} threads")
    results = {name: train(name, steps=args.steps, seed=args.seed) for name in args.models}
    print(f"\nMNIST-1D, {args.steps} steps of 100 (Adam, lr 1e-2)")
    print(f"{'model':<6}{'parameters':>11}{'test acc':>10}{'best':>8}{'paper':>8}{'time':>9}")
    for name, r in results.items():
        print(f"{name:<6}{r['parameters']:>11,}{100 * r['accuracy']:>9.1f}%{100 * r['best']:>7.1f}%"
              f"{100 * PAPER_ACCURACY[name]:>7.0f}%{r['seconds']:>8.1f}s")
    return results


if __name__ == "__main__":
    main()
