"""A small GAN (Goodfellow et al., 2014) on the 8x8 handwritten digits; saves a PNG grid of samples.

Generator: noise (32) -> 128 -> 256 -> 64 pixels in [-1, 1] (tanh). Discriminator: 64 -> 256 -> 128 -> 1
logit. Both are trained with Adam (lr 1e-3, beta1 = 0.5 as DCGAN recommends) on the
non-saturating loss: the discriminator learns real -> 1, fake -> 0; the generator learns to make the
discriminator say 1. To judge the samples without looking, a small classifier trained on the real
digits reports how confidently it recognises them and how many of the ten classes appear (a crude
stand-in for the Inception score of image GANs).

    python -m pyneural.examples.gan_digits [--steps 3000] [--out gan_digits.png]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import pyneural as pn
import pyneural.nn.functional as F
from pyneural import nn
from pyneural.data.datasets import load_digits

NOISE = 32


def generator() -> nn.Module:
    """Noise (N, 32) -> images (N, 64) in [-1, 1]."""
    return nn.Sequential(nn.Linear(NOISE, 128), nn.LeakyReLU(0.2), nn.Linear(128, 256), nn.LeakyReLU(0.2),
                         nn.Linear(256, 64), nn.Tanh())


def discriminator() -> nn.Module:
    """Images (N, 64) -> one logit each: real (positive) or generated."""
    return nn.Sequential(nn.Linear(64, 256), nn.LeakyReLU(0.2), nn.Dropout(0.3), nn.Linear(256, 128),
                         nn.LeakyReLU(0.2), nn.Linear(128, 1))


def _noise(n: int) -> pn.Tensor:
    return pn.randn((n, NOISE))


def train_classifier(images: np.ndarray, labels: np.ndarray, steps: int = 400) -> nn.Module:
    """A small MLP on the real digits (pixels in [-1, 1]), used only to judge the samples."""
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    optimizer = pn.optim.Adam(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        batch = rng.integers(0, len(images), 128)
        loss = F.cross_entropy(model(pn.tensor(images[batch])), pn.tensor(labels[batch]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def judge(classifier: nn.Module, samples: np.ndarray) -> dict[str, float]:
    """The classifier's mean confidence on the samples and how many classes it sees among them."""
    with pn.no_grad():
        probabilities = F.softmax(classifier(pn.tensor(samples)), axis=1).numpy()
    predicted = probabilities.argmax(axis=1)
    return {"confidence": float(probabilities.max(axis=1).mean()), "classes": int(len(np.unique(predicted)))}


def save_grid(samples: np.ndarray, path: str | Path, rows: int = 8, cols: int = 16) -> Path:
    """``rows x cols`` samples (pixels in [-1, 1]) as one grey-scale PNG (needs matplotlib)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = samples[:rows * cols].reshape(rows, cols, 8, 8)
    grid = np.ones((rows * 9 + 1, cols * 9 + 1))  # one-pixel white gutters
    for r in range(rows):
        for c in range(cols):
            grid[1 + 9 * r:9 * (r + 1), 1 + 9 * c:9 * (c + 1)] = (1 - images[r, c]) / 2
    plt.imsave(path, grid, cmap="gray", vmin=0, vmax=1)
    return Path(path)


def train(steps: int = 3000, batch_size: int = 64, lr: float = 1e-3, seed: int = 0, out: str | Path | None = None,
          verbose: bool = True) -> dict[str, float]:
    """Train the GAN; returns the judge's scores on 1,000 samples (and of real digits, for scale)."""
    pn.manual_seed(seed)
    data = load_digits()
    images = np.asarray(data.tensors[0].data).reshape(-1, 64) * 2 - 1
    labels = np.asarray(data.tensors[1].data)
    g, d = generator(), discriminator()
    g_opt = pn.optim.Adam(g.parameters(), lr=lr, betas=(0.5, 0.999))
    d_opt = pn.optim.Adam(d.parameters(), lr=lr, betas=(0.5, 0.999))
    ones, zeros = pn.ones((batch_size, 1)), pn.zeros((batch_size, 1))
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    for step in range(1, steps + 1):
        real = pn.tensor(images[rng.integers(0, len(images), batch_size)])
        fake = g(_noise(batch_size))
        d_loss = (F.binary_cross_entropy_with_logits(d(real), ones)
                  + F.binary_cross_entropy_with_logits(d(fake.detach()), zeros))
        d_opt.zero_grad()
        d_loss.backward()
        d_opt.step()
        g_loss = F.binary_cross_entropy_with_logits(d(fake), ones)  # non-saturating generator loss
        g_opt.zero_grad()
        g_loss.backward()
        g_opt.step()
        if verbose and (step % 500 == 0 or step == steps):
            print(f"  step {step:5d}  discriminator loss {d_loss.item():.3f}  generator loss {g_loss.item():.3f}")
    seconds = time.perf_counter() - start
    g.eval()
    with pn.no_grad():
        samples = g(_noise(1000)).numpy()
    classifier = train_classifier(images, labels)
    scores = judge(classifier, samples)
    real_scores = judge(classifier, images)
    result = {"seconds": seconds, **scores, "real_confidence": real_scores["confidence"]}
    if out:
        result["grid"] = str(save_grid(samples, out))
    return result


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Train, judge and save the grid of samples."""
    parser = argparse.ArgumentParser(prog="python -m pyneural.examples.gan_digits", description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="gan_digits.png", help="where to save the grid of samples")
    args = parser.parse_args(argv)
    r = train(steps=args.steps, seed=args.seed, out=args.out or None)
    print(f"\n{args.steps} steps in {r['seconds']:.1f} s. A digits classifier recognises the samples with mean "
          f"confidence {r['confidence']:.2f} (real digits: {r['real_confidence']:.2f}) and sees "
          f"{r['classes']} of the 10 classes among them.")
    if "grid" in r:
        print(f"samples: {r['grid']}")
    return r


if __name__ == "__main__":
    main()
