"""``python -m pyneural demo``: train a small CNN on scikit-learn's handwritten digits, then print the test
accuracy, the time per epoch and the kernel profile, and save the loss curve."""
from __future__ import annotations

import time
from pathlib import Path

import pyneural as pn
from pyneural import nn
from pyneural.data import DataLoader, random_split
from pyneural.data.datasets import load_digits


def digits_cnn() -> nn.Module:
    """Two 3x3 convolutions with max-pooling, then two dense layers: 8x8 images, 10 classes."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 2 * 2, 64), nn.ReLU(), nn.Linear(64, 10),
    )


def run(epochs: int = 25, batch_size: int = 32, lr: float = 2e-3, seed: int = 0,
        plot: str | Path | None = "digits_loss.png", progress: bool = True) -> dict[str, float]:
    """Train and report; returns the test loss and accuracy and the mean epoch time."""
    pn.manual_seed(seed)
    train_set, test_set = random_split(load_digits(), [0.8, 0.2])
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=256)
    model = digits_cnn()
    optimizer = pn.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    print(f"pyneural {pn.__version__}: backend {pn.backend.name()}, cpu variant {pn.backend.cpu_variant()}, "
          f"{pn.get_num_threads()} threads; digits: {len(train_set)} train / {len(test_set)} test images")
    start = time.perf_counter()
    with pn.profiler.profile() as prof:
        history = pn.train.fit(model, loss_fn, optimizer, train_loader, test_loader, epochs=epochs,
                               progress=progress)
    total = time.perf_counter() - start
    result = pn.train.evaluate(model, loss_fn, test_loader)
    epoch_time = sum(history["epoch_time"]) / len(history["epoch_time"])
    print(f"\ntest accuracy {100 * result['accuracy']:.2f}%  test loss {result['loss']:.4f}  "
          f"{epoch_time * 1e3:.0f} ms per epoch ({total:.1f} s in all)\n")
    print("kernel profile (training and validation):")
    print(prof.table())
    if plot:
        print(f"\nloss curve: {history.plot(plot)}")
    return {"accuracy": result["accuracy"], "loss": result["loss"], "epoch_time": epoch_time}
