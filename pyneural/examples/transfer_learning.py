"""Transfer learning: pretrain on digits 0-4, then reuse the features for digits 5-9.

1. Pretrain a small CNN on the 8x8 digits 0-4. When PyTorch is installed it is trained *in PyTorch*
   and its state dict, converted to NumPy arrays, is loaded into the same pyneural model with
   ``load_state_dict`` (the parameter names and shapes match); the two models' outputs are compared.
   Without PyTorch, pyneural pretrains it and the weights go through a safetensors checkpoint.
2. Freeze the feature layers (``requires_grad_(False)``), replace the head with a new 5-way
   ``Linear`` and fine-tune only the head on a small part (``--shots`` images per class) of digits 5-9.
3. Compare with the same head on frozen *random* features, and with the whole network trained from
   scratch on the same few images. Digits this small are an easy task: pretrained features beat
   random ones by a point or two, and a network trained from scratch does as well or better, so the
   point of this example is the mechanics (conversion, strict loading, freezing, a new head), which
   carry over unchanged to larger models where pretraining pays.

    python -m pyneural.examples.transfer_learning [--shots 20]
"""
from __future__ import annotations

import argparse
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

import pyneural as pn
from pyneural import nn
from pyneural.data.datasets import load_digits


def digits_net(torch_nn: Any, classes: int) -> Any:
    """The network, built from ``torch.nn`` or ``pyneural.nn`` alike (same layers, same names)."""
    return torch_nn.Sequential(OrderedDict(
        features=torch_nn.Sequential(
            torch_nn.Conv2d(1, 16, 3, padding=1), torch_nn.ReLU(), torch_nn.MaxPool2d(2),
            torch_nn.Conv2d(16, 32, 3, padding=1), torch_nn.ReLU(), torch_nn.MaxPool2d(2), torch_nn.Flatten()),
        head=torch_nn.Sequential(torch_nn.Linear(32 * 2 * 2, 64), torch_nn.ReLU(), torch_nn.Linear(64, classes))))


def _split(images: np.ndarray, labels: np.ndarray, rng: np.random.Generator, test_fraction: float = 0.3):
    order = rng.permutation(len(labels))
    cut = int(len(order) * (1 - test_fraction))
    return (images[order[:cut]], labels[order[:cut]]), (images[order[cut:]], labels[order[cut:]])


def _accuracy(model: nn.Module, images: np.ndarray, labels: np.ndarray) -> float:
    model.eval()
    with pn.no_grad():
        return float(np.mean(model(pn.tensor(images)).numpy().argmax(axis=1) == labels))


def _fit(model: nn.Module, images: np.ndarray, labels: np.ndarray, epochs: int, lr: float,
         rng: np.random.Generator) -> None:
    """Adam on the parameters that still require grad, in mini-batches of 32."""
    optimizer = pn.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        order = rng.permutation(len(labels))
        for first in range(0, len(order), 32):
            batch = order[first:first + 32]
            loss = loss_fn(model(pn.tensor(images[batch])), pn.tensor(labels[batch]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


def pretrain_in_torch(images: np.ndarray, labels: np.ndarray, epochs: int,
                      seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Train the network in PyTorch; returns its state dict as NumPy arrays and its logits on the first
    64 images (to check the converted model against)."""
    import torch
    torch.manual_seed(seed)
    model = digits_net(torch.nn, 5)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    x, y = torch.tensor(images), torch.tensor(labels)
    for _ in range(epochs):
        order = torch.randperm(len(y))
        for first in range(0, len(y), 32):
            batch = order[first:first + 32]
            loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        logits = model(x[:64]).numpy()
    return {name: value.numpy() for name, value in model.state_dict().items()}, logits


def run(shots: int = 20, pretrain_epochs: int = 15, finetune_epochs: int = 60, seed: int = 0,
        use_torch: bool | None = None) -> dict[str, float]:
    """The three steps; returns the accuracies on the held-out digits."""
    pn.manual_seed(seed)
    rng = np.random.default_rng(seed)
    data = load_digits()
    images, labels = np.asarray(data.tensors[0].data), np.asarray(data.tensors[1].data)
    old = labels < 5
    (old_train, old_test) = _split(images[old], labels[old], rng)
    (new_pool, new_test) = _split(images[~old], labels[~old] - 5, rng)
    few = np.concatenate([np.flatnonzero(new_pool[1] == c)[:shots] for c in range(5)])
    new_train = (new_pool[0][few], new_pool[1][few])

    if use_torch is None:
        try:
            import torch  # noqa: F401
            use_torch = True
        except ImportError:
            use_torch = False
    model = digits_net(nn, 5)
    result: dict[str, float] = {}
    if use_torch:
        state, torch_logits = pretrain_in_torch(*old_train, epochs=pretrain_epochs, seed=seed)
        model.load_state_dict(state)  # strict: every name and shape must match
        model.eval()
        with pn.no_grad():
            ours = model(pn.tensor(old_train[0][:64])).numpy()
        result["max_logit_difference_vs_torch"] = float(np.abs(ours - torch_logits).max())
        print(f"pretrained in PyTorch on digits 0-4; loaded into pyneural, outputs agree to "
              f"{result['max_logit_difference_vs_torch']:.1e}")
    else:
        _fit(model, *old_train, epochs=pretrain_epochs, lr=2e-3, rng=rng)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "pretrained.safetensors"
            pn.save(model.state_dict(), path)
            model = digits_net(nn, 5)
            model.load_state_dict(pn.load(path))
        print("pretrained in pyneural on digits 0-4; reloaded from a safetensors checkpoint")
    result["pretrained_accuracy"] = _accuracy(model, *old_test)
    print(f"  accuracy on held-out digits 0-4: {100 * result['pretrained_accuracy']:.1f}%")

    def fine_tune(features: nn.Module) -> float:
        net = nn.Sequential(OrderedDict(features=features, head=nn.Linear(32 * 2 * 2, 5)))
        features.requires_grad_(False)  # only the new head learns
        _fit(net, *new_train, epochs=finetune_epochs, lr=1e-2, rng=rng)
        return _accuracy(net, *new_test)

    result["transfer_accuracy"] = fine_tune(model.features)
    result["random_features_accuracy"] = fine_tune(digits_net(nn, 5).features)
    scratch = digits_net(nn, 5)
    _fit(scratch, *new_train, epochs=finetune_epochs, lr=2e-3, rng=rng)
    result["from_scratch_accuracy"] = _accuracy(scratch, *new_test)
    print(f"a new head trained on {shots} images per class of digits 5-9, tested on {len(new_test[1])} others:")
    print(f"  pretrained frozen features {100 * result['transfer_accuracy']:.1f}%   "
          f"random frozen features {100 * result['random_features_accuracy']:.1f}%   "
          f"whole network from scratch {100 * result['from_scratch_accuracy']:.1f}%")
    return result


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Pretrain, load, freeze, fine-tune and print the comparison."""
    parser = argparse.ArgumentParser(prog="python -m pyneural.examples.transfer_learning",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--shots", type=int, default=20, help="training images per new class")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-torch", action="store_true", help="pretrain with pyneural even if PyTorch is installed")
    args = parser.parse_args(argv)
    return run(shots=args.shots, seed=args.seed, use_torch=False if args.no_torch else None)


if __name__ == "__main__":
    main()
