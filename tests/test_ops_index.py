"""Indexing: NumPy parity for basic and advanced indices, gradients (repeated indices accumulate)."""
from __future__ import annotations

import numpy as np
import pytest

import pyneural as pn
from pyneural.autograd import gradcheck


def leaf(*shape, seed=0):
    return pn.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


MASK = np.random.default_rng(42).random((4, 5)) > 0.5
INDICES = {
    "int": 2,
    "neg_int": -1,
    "slice": slice(1, 3),
    "step_slice": slice(None, None, -2),
    "tuple": (1, slice(None), 0),
    "none": (None, 1),
    "ellipsis": (Ellipsis, 2),
    "ellipsis_none": (0, Ellipsis, None),
    "list": [0, 2, 3],
    "repeated_list": [1, 1, 3, 1],
    "int_array_2d": np.array([[0, 1], [1, 1]]),
    "mixed_adv": (slice(None), [0, 0, 4], 1),
    "two_arrays": ([0, 1, 1], [2, 2, 4]),
    "mask": MASK,
    "mask_then_int": (MASK, 0),
    "bool_list": [True, False, True, True],
}


@pytest.mark.parametrize("name", INDICES)
def test_getitem_forward_and_gradcheck(name):
    idx = INDICES[name]
    x = leaf(4, 5, 3, seed=1)
    np.testing.assert_array_equal(x[idx].numpy(), x.numpy()[idx if not isinstance(idx, list) else np.array(idx)])
    assert gradcheck(lambda t: t[idx], (x,))


def test_tensor_indices():
    x = leaf(5, 2)
    idx = pn.tensor([4, 0, 4])
    np.testing.assert_array_equal(x[idx].numpy(), x.numpy()[[4, 0, 4]])
    assert gradcheck(lambda t: t[pn.tensor([4, 0, 4]), 1], (x,))
    mask = x[:, 0] > 0
    np.testing.assert_array_equal(x[mask].numpy(), x.numpy()[x.numpy()[:, 0] > 0])
    assert x[pn.tensor(3)].shape == (2,)


def test_repeated_indices_accumulate_gradient():
    x = pn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0, 1.0])


def test_basic_indexing_is_a_view():
    x = pn.arange(12.0).reshape(3, 4)
    assert np.shares_memory(x[1:, ::2].numpy(), x.numpy())


def test_empty_list_index():
    x = leaf(3, 2)
    assert x[[]].shape == (0, 2)


def test_index_errors_name_the_shape():
    x = pn.ones(3, 4)
    with pytest.raises(IndexError, match=r"getitem: .*\(3, 4\)"):
        x[5]
    with pytest.raises(IndexError, match=r"\(3, 4\)"):
        x[:, [0, 9]]
    with pytest.raises(IndexError, match="getitem"):
        x[np.ones(2, bool)]
    with pytest.raises(IndexError, match="getitem"):
        x[pn.tensor([0.5])]
