"""End to end: a small CNN trains on the digits to at least 97% test accuracy, on every backend."""
from __future__ import annotations

import pytest

import pyneural as pn
from pyneural.demo import digits_cnn


@pytest.mark.parametrize("backend_name", ["native", "numba"])
def test_digits_cnn_reaches_97_percent(backend_name):
    pytest.importorskip("sklearn")
    if backend_name not in pn.backend.available():
        pytest.skip(f"{backend_name} backend unavailable")
    from pyneural.data import DataLoader, random_split
    from pyneural.data.datasets import load_digits
    previous = pn.backend.name()
    pn.backend.use(backend_name)
    try:
        pn.manual_seed(0)
        train_set, test_set = random_split(load_digits(), [0.8, 0.2])
        model = digits_cnn()
        history = pn.train.fit(model, pn.nn.CrossEntropyLoss(), pn.optim.Adam(model.parameters(), lr=2e-3),
                               DataLoader(train_set, batch_size=32, shuffle=True), epochs=20, progress=False)
        result = pn.train.evaluate(model, pn.nn.CrossEntropyLoss(), DataLoader(test_set, batch_size=256))
    finally:
        pn.backend.use(previous)
    assert history["loss"][-1] < history["loss"][0] / 10
    assert result["accuracy"] >= 0.97, result
