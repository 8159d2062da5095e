"""Reductions: axis/keepdims (and dim/keepdim aliases), NumPy parity, gradients, PyTorch conventions."""
from __future__ import annotations

import numpy as np
import pytest

import pyneural as pn
from pyneural.autograd import gradcheck


def leaf(*shape, seed=0):
    return pn.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


AXES = [None, 0, 1, -1, (0, 2), (2, 0, 1), (-2,)]


@pytest.mark.parametrize("name", ["sum", "mean", "var", "std", "max", "min"])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduction_forward_and_gradcheck(name, axis, keepdims):
    x = leaf(3, 4, 5, seed=1)
    ref = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min,
           "var": lambda a, **k: np.var(a, ddof=1, **k), "std": lambda a, **k: np.std(a, ddof=1, **k)}[name]
    got = getattr(x, name)(axis, keepdims=keepdims)
    want = ref(x.numpy(), axis=axis, keepdims=keepdims)
    assert got.shape == np.shape(want)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    assert gradcheck(lambda t: getattr(t, name)(axis, keepdims=keepdims), (x,))


def test_dim_keepdim_aliases():
    x = leaf(2, 3, 4)
    np.testing.assert_array_equal(x.sum(dim=1, keepdim=True).numpy(), x.sum(axis=1, keepdims=True).numpy())
    np.testing.assert_array_equal(pn.mean(x, dim=(0, 2)).numpy(), x.numpy().mean(axis=(0, 2)))
    for call in (lambda: x.sum(axis=0, dim=0), lambda: x.mean(keepdims=True, keepdim=True),
                 lambda: x.max(0, dim=1)):
        with pytest.raises(TypeError, match="both"):
            call()


def test_var_std_corrections():
    x = leaf(10, seed=2)
    a = x.numpy()
    np.testing.assert_allclose(x.var().item(), np.var(a, ddof=1))  # PyTorch default: correction=1
    np.testing.assert_allclose(x.var(correction=0).item(), np.var(a))
    np.testing.assert_allclose(x.var(unbiased=False).item(), np.var(a))
    np.testing.assert_allclose(x.std(ddof=0).item(), np.std(a))
    np.testing.assert_allclose(x.std(unbiased=True).item(), np.std(a, ddof=1))
    assert gradcheck(lambda t: t.var(correction=0), (x,))
    with pytest.raises(TypeError, match="only one"):
        x.var(ddof=0, unbiased=True)


def test_max_ties_share_gradient_evenly():
    x = pn.tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]], requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 0.5, 0.5], [0.0, 0.0, 0.0]])
    x.grad = None
    x.min(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    x.grad = None
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 0.5, 0.5], [0.5, 0.0, 0.5]])


@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_with_dim_return_values_and_indices(keepdim):
    x = leaf(3, 4, seed=3)
    r = x.max(dim=1, keepdim=keepdim)
    values, indices = r
    assert r.values is values and r.indices is indices
    np.testing.assert_array_equal(values.numpy(), x.numpy().max(axis=1, keepdims=keepdim))
    np.testing.assert_array_equal(indices.numpy(), x.numpy().argmax(axis=1, keepdims=keepdim))
    assert indices.dtype == pn.int64 and not indices.requires_grad
    mn = pn.min(x, dim=0)
    np.testing.assert_array_equal(mn.indices.numpy(), x.numpy().argmin(axis=0))
    assert gradcheck(lambda t: t.max(dim=1, keepdim=keepdim).values, (x,))
    assert gradcheck(lambda t: t.min(dim=-1).values, (x,))


def test_max_with_dim_routes_gradient_to_the_index():
    x = pn.tensor([[3.0, 3.0, 1.0]], requires_grad=True)
    values, indices = x.max(dim=1)
    values.sum().backward()
    assert indices.item() == 0
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 0.0, 0.0]])


def test_max_of_other_tensor_is_maximum():
    a, b = pn.tensor([1.0, 5.0]), pn.tensor([3.0, 2.0])
    np.testing.assert_array_equal(a.max(b).numpy(), [3.0, 5.0])
    np.testing.assert_array_equal(a.min(b).numpy(), [1.0, 2.0])


def test_argmax_argmin():
    x = pn.tensor([[1.0, 9.0, 3.0], [7.0, 2.0, 8.0]])
    assert x.argmax().item() == 1 and x.argmin().item() == 0
    np.testing.assert_array_equal(x.argmax(axis=1).numpy(), [1, 2])
    np.testing.assert_array_equal(x.argmin(dim=0, keepdim=True).numpy(), [[0, 1, 0]])
    assert x.argmax(0).dtype == pn.int64 and pn.argmax(x, -1).shape == (2,)
    with pytest.raises(TypeError, match="one int"):
        x.argmax(axis=(0, 1))


def test_integer_and_bool_reductions():
    i = pn.tensor([[1, 2], [3, 4]])
    assert i.sum().item() == 10 and i.sum().dtype == pn.int64
    assert i.max(axis=0).tolist() == [3, 4]
    assert pn.tensor([True, True, False]).sum().item() == 2
    assert i.mean().dtype == pn.float32 and i.mean().item() == 2.5


@pytest.mark.parametrize("name", ["sum", "mean", "var", "std", "max", "min", "argmax", "argmin"])
def test_bad_axis(name):
    x = pn.ones(2, 3)
    with pytest.raises(IndexError, match=rf"{name}: axis 2 is out of range .*\(2, 3\)"):
        getattr(x, name)(2)
    with pytest.raises(ValueError, match=rf"{name}: axis -3"):
        getattr(x, name)(-3)


def test_repeated_axis_and_empty_max():
    with pytest.raises(ValueError, match="repeated axis"):
        pn.ones(2, 3).sum(axis=(1, -1))
    with pytest.raises(ValueError, match=r"max: cannot reduce an empty tensor of shape \(0, 3\)"):
        pn.ones(0, 3).max()


def test_reductions_keep_float32():
    x = pn.randn(4, 5)
    for name in ("sum", "mean", "var", "std", "max", "min"):
        assert getattr(x, name)(axis=1).dtype == pn.float32
