"""A character-level Transformer language model trained on text every machine has: the Python standard
library's own source files. Prints the validation loss in bits per character and samples.

The model is a GPT-style decoder built from ``nn.TransformerEncoder`` with a causal mask: token and
learned position embeddings, pre-norm layers with GELU, a final LayerNorm and a linear head.

    python -m pyneural.examples.char_transformer [--steps 1500] [--layers 2] [--d-model 128]
"""
from __future__ import annotations

import argparse
import os
import string
import time
from pathlib import Path

import numpy as np

import pyneural as pn
import pyneural.nn.functional as F
from pyneural import nn

# printable ASCII, tab and newline; anything else becomes "?"
VOCAB = sorted(set(string.printable) - set("\r\x0b\x0c"))
INDEX = {c: i for i, c in enumerate(VOCAB)}


def stdlib_text(max_chars: int = 2_000_000) -> str:
    """The standard library's top-level .py files in name order, up to ``max_chars`` characters."""
    folder = Path(os.__file__).parent
    parts, total = [], 0
    for path in sorted(folder.glob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        parts.append(text)
        total += len(text)
        if total >= max_chars:
            break
    return "".join(parts)[:max_chars]


def encode(text: str) -> np.ndarray:
    """Character ids (int64) of ``text``; characters outside the vocabulary become "?"."""
    unknown = INDEX["?"]
    return np.array([INDEX.get(c, unknown) for c in text], dtype=np.int64)


def decode(ids: np.ndarray) -> str:
    """The text of a sequence of character ids."""
    return "".join(VOCAB[i] for i in ids)


class CharTransformer(nn.Module):
    """Embeddings, ``layers`` causal pre-norm Transformer layers, LayerNorm, head over the vocabulary."""

    def __init__(self, vocab: int, block: int, d_model: int = 128, layers: int = 2, heads: int = 4,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.block = block
        self.tokens = nn.Embedding(vocab, d_model)
        self.positions = nn.Embedding(block, d_model)
        layer = nn.TransformerEncoderLayer(d_model, heads, 4 * d_model, dropout, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)
        self.mask = np.triu(np.full((block, block), -np.inf, np.float32), 1)  # position t sees 0..t

    def forward(self, ids: pn.Tensor) -> pn.Tensor:
        """Logits (batch, time, vocab) for ids (batch, time) with time <= block."""
        steps = ids.shape[1]
        x = self.tokens(ids) + self.positions(pn.arange(steps))
        x = self.encoder(x, mask=pn.tensor(self.mask[:steps, :steps]), is_causal=True)
        return self.head(self.norm(x))


def _batch(data: np.ndarray, block: int, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    starts = rng.integers(0, len(data) - block - 1, size)
    rows = starts[:, None] + np.arange(block)
    return data[rows], data[rows + 1]


def _loss(model: nn.Module, x: np.ndarray, y: np.ndarray) -> pn.Tensor:
    logits = model(pn.tensor(x))
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), pn.tensor(y.reshape(-1)))


def sample(model: CharTransformer, prompt: str, length: int = 300, temperature: float = 0.8,
           rng: np.random.Generator | None = None) -> str:
    """Continue ``prompt`` by ``length`` characters, each drawn from the softmax at ``temperature``."""
    rng = rng or np.random.default_rng(0)
    ids = list(encode(prompt))
    model.eval()
    with pn.no_grad():
        for _ in range(length):
            context = np.array(ids[-model.block:])[None]
            logits = model(pn.tensor(context)).numpy()[0, -1] / temperature
            p = np.exp(logits - logits.max())
            ids.append(int(rng.choice(len(p), p=p / p.sum())))
    model.train()
    return decode(np.array(ids))


def train(steps: int = 1500, block: int = 64, batch_size: int = 32, d_model: int = 128, layers: int = 2,
          lr: float = 1e-3, seed: int = 0, verbose: bool = True) -> dict:
    """Train on 90% of the text; returns the final validation loss (nats and bits per character), the
    time per step and the model."""
    pn.manual_seed(seed)
    rng = np.random.default_rng(seed)
    data = encode(stdlib_text())
    cut = int(0.9 * len(data))
    train_data, val_data = data[:cut], data[cut:]
    model = CharTransformer(len(VOCAB), block, d_model, layers)
    optimizer = pn.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    scheduler = pn.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    val_batches = [_batch(val_data, block, batch_size, np.random.default_rng(1000 + i)) for i in range(8)]

    def validate() -> float:
        model.eval()
        with pn.no_grad():
            value = float(np.mean([_loss(model, x, y).item() for x, y in val_batches]))
        model.train()
        return value

    if verbose:
        parameters = sum(p.size for p in model.parameters())
        print(f"{len(data):,} characters of the standard library; {parameters:,} parameters; "
              f"backend {pn.backend.name()}, {pn.get_num_threads()} threads")
    start = time.perf_counter()
    for step in range(1, steps + 1):
        loss = _loss(model, *_batch(train_data, block, batch_size, rng))
        optimizer.zero_grad()
        loss.backward()
        pn.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        if verbose and (step % 250 == 0 or step == steps):
            print(f"  step {step:5d}  train loss {loss.item():.3f}  validation loss {validate():.3f}")
    seconds = time.perf_counter() - start
    val = validate()
    return {"val_loss": val, "bits_per_char": val / np.log(2), "ms_per_step": 1e3 * seconds / max(steps, 1),
            "model": model}


def main(argv: list[str] | None = None) -> dict:
    """Train, print the validation loss and samples from three prompts."""
    parser = argparse.ArgumentParser(prog="python -m pyneural.examples.char_transformer",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    r = train(steps=args.steps, layers=args.layers, d_model=args.d_model, seed=args.seed)
    print(f"\nvalidation: {r['val_loss']:.3f} nats = {r['bits_per_char']:.2f} bits per character "
          f"(uniform over {len(VOCAB)} characters: {np.log2(len(VOCAB)):.2f}); {r['ms_per_step']:.0f} ms per step")
    for prompt in ("def ", "class ", "import "):
        print(f"\n--- sample from {prompt!r} ---\n{sample(r['model'], prompt)}")
    return r


if __name__ == "__main__":
    main()
