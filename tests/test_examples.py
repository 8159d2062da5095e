"""The examples of ``pyneural.examples`` run end to end on short budgets and learn (each well above
chance, with margins measured on this machine's runs)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")


@pytest.mark.parametrize("name,at_least", [("mlp", 0.45), ("cnn", 0.7), ("gru", 0.5)])
def test_mnist1d_models_learn(name, at_least):
    pytest.importorskip("mnist1d")
    from pyneural.examples import mnist1d
    result = mnist1d.train(name, steps=300, eval_every=300, verbose=False)  # chance is 0.1
    assert result["accuracy"] >= at_least, result
    assert result["parameters"] == sum(p.size for p in mnist1d.MODELS[name]().parameters())


def test_gan_samples_look_like_digits(tmp_path):
    pytest.importorskip("matplotlib")
    from pyneural.examples import gan_digits
    untrained = gan_digits.train(steps=0, verbose=False)
    trained = gan_digits.train(steps=300, verbose=False, out=tmp_path / "grid.png")
    # the judge recognises trained samples far more confidently than an untrained generator's (0.25)
    assert trained["confidence"] >= untrained["confidence"] + 0.3, (untrained, trained)
    assert trained["classes"] >= 7
    assert (tmp_path / "grid.png").stat().st_size > 0


def test_transfer_learning_loads_pretrained_weights_and_trains_only_the_new_head():
    from pyneural.examples import transfer_learning
    result = transfer_learning.run(pretrain_epochs=5, finetune_epochs=20)
    assert result["pretrained_accuracy"] >= 0.9
    if "max_logit_difference_vs_torch" in result:  # PyTorch installed: pretrained there and converted
        assert result["max_logit_difference_vs_torch"] < 1e-4
    assert result["transfer_accuracy"] >= 0.6  # 5 new classes: chance is 0.2


def test_transfer_learning_without_torch_goes_through_a_checkpoint():
    from pyneural.examples import transfer_learning
    result = transfer_learning.run(pretrain_epochs=5, finetune_epochs=20, use_torch=False)
    assert "max_logit_difference_vs_torch" not in result
    assert result["pretrained_accuracy"] >= 0.9 and result["transfer_accuracy"] >= 0.6


def test_char_transformer_learns_and_samples():
    from pyneural.examples import char_transformer as ct
    result = ct.train(steps=60, d_model=32, layers=1, block=32, verbose=False)
    assert result["val_loss"] < 0.85 * np.log(len(ct.VOCAB)), result  # well below a uniform guess
    text = ct.sample(result["model"], "def ", length=40)
    assert text.startswith("def ") and len(text) == 44 and set(text) <= set(ct.VOCAB)
    assert ct.decode(ct.encode("x = 1\n")) == "x = 1\n"
