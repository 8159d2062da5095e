"""Tensor creation, dtypes, conversions and Python/NumPy protocols."""
from __future__ import annotations

import numpy as np
import pytest

import pyneural as pn


# ------------------------------------------------------------------------------------------- dtypes

def test_dtypes_are_numpy_dtypes():
    assert pn.float32 == np.float32 and pn.float64 == np.float64
    assert pn.int64 == np.int64 and pn.bool == np.bool_
    assert pn.zeros(2, dtype="float64").dtype == pn.float64
    assert pn.zeros(2, dtype=np.int32).dtype == np.int32


@pytest.mark.parametrize("data, dtype", [
    (1.5, pn.float32), (3, pn.int64), (True, pn.bool),
    ([1.0, 2.0], pn.float32), ([[1, 2], [3, 4]], pn.int64), ([True, False], pn.bool), ([1, 2.5], pn.float32),
    (np.array([1.0, 2.0]), pn.float64), (np.array([1, 2], np.int32), pn.int32), (np.float64(2.0), pn.float64),
])
def test_tensor_dtype_inference(data, dtype):
    t = pn.tensor(data)
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.numpy(), np.asarray(data))


def test_explicit_dtype_keeps_full_precision():
    t = pn.tensor([0.1], dtype=pn.float64)
    assert t.dtype == pn.float64 and t.item() == 0.1


@pytest.mark.parametrize("expr, dtype", [
    (lambda f32, f64, i64, b: f32 * 2.0, pn.float32),
    (lambda f32, f64, i64, b: f32 + 1, pn.float32),
    (lambda f32, f64, i64, b: 2.0 ** f32, pn.float32),
    (lambda f32, f64, i64, b: i64 * 2, pn.int64),
    (lambda f32, f64, i64, b: i64 * 0.5, pn.float32),
    (lambda f32, f64, i64, b: i64 / 2, pn.float32),
    (lambda f32, f64, i64, b: i64 / i64, pn.float32),
    (lambda f32, f64, i64, b: b + 1, pn.int64),
    (lambda f32, f64, i64, b: f32 + f64, pn.float64),
    (lambda f32, f64, i64, b: i64 + f32, pn.float32),  # category wins (NumPy would give float64)
    (lambda f32, f64, i64, b: f32 + pn.tensor(np.float64(1.0)), pn.float32),  # 0-d does not widen
    (lambda f32, f64, i64, b: f32 * np.float64(2.0), pn.float32),
    (lambda f32, f64, i64, b: i64.exp(), pn.float32),
    (lambda f32, f64, i64, b: i64.mean(), pn.float32),
    (lambda f32, f64, i64, b: b.sum(), pn.int64),
])
def test_promotion(expr, dtype):
    f32, f64 = pn.tensor([1.0, 2.0]), pn.tensor(np.array([1.0, 2.0]))
    i64, b = pn.tensor([1, 2]), pn.tensor([True, False])
    assert expr(f32, f64, i64, b).dtype == dtype


# ----------------------------------------------------------------------------------------- creation

def test_filled_creation_shapes_and_dtypes():
    assert pn.zeros(2, 3).shape == (2, 3) and pn.zeros((2, 3)).shape == (2, 3) and pn.zeros([4]).shape == (4,)
    assert pn.ones(3).dtype == pn.float32 and pn.ones(3).numpy().sum() == 3
    assert pn.empty(2, 2).shape == (2, 2)
    assert pn.full((2, 2), 7).dtype == pn.int64 and pn.full((2,), 1.5).dtype == pn.float32
    assert pn.full(3, True).dtype == pn.bool
    np.testing.assert_array_equal(pn.eye(3).numpy(), np.eye(3))
    assert pn.eye(2, 3).shape == (2, 3)
    x = pn.tensor(np.ones((2, 3)))
    assert pn.zeros_like(x).dtype == pn.float64 and pn.ones_like(x, dtype=pn.float32).dtype == pn.float32
    assert pn.zeros_like(x).shape == (2, 3) and pn.full_like(x, 2.0).numpy().sum() == 12
    assert pn.zeros(3, requires_grad=True).requires_grad


def test_ranges():
    np.testing.assert_array_equal(pn.arange(5).numpy(), np.arange(5))
    assert pn.arange(5).dtype == pn.int64 and pn.arange(0, 1, 0.25).dtype == pn.float32
    np.testing.assert_allclose(pn.arange(1, 2, 0.25).numpy(), [1.0, 1.25, 1.5, 1.75])
    np.testing.assert_array_equal(pn.arange(10, 0, -3).numpy(), [10, 7, 4, 1])
    np.testing.assert_allclose(pn.linspace(0, 1, 5).numpy(), [0, 0.25, 0.5, 0.75, 1.0])
    assert pn.linspace(0, 1, 5).dtype == pn.float32
    with pytest.raises(ValueError, match="step"):
        pn.arange(0, 5, 0)


def test_random_creation_is_seeded_by_manual_seed():
    pn.manual_seed(7)
    a = (pn.rand(3, 2).numpy(), pn.randn((4,)).numpy(), pn.randint(0, 10, (5,)).numpy(), pn.randperm(6).numpy())
    pn.manual_seed(7)
    b = (pn.rand(3, 2).numpy(), pn.randn((4,)).numpy(), pn.randint(0, 10, (5,)).numpy(), pn.randperm(6).numpy())
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert a[0].dtype == np.float32 and a[1].dtype == np.float32 and a[2].dtype == np.int64
    assert ((a[0] >= 0) & (a[0] < 1)).all() and ((a[2] >= 0) & (a[2] < 10)).all()
    assert sorted(a[3]) == list(range(6))
    assert pn.randn(2, dtype=pn.float64).dtype == pn.float64


def test_manual_seed_reseeds_the_shared_generator_object():
    g = pn.random.generator()
    pn.manual_seed(3)
    first = g.random()
    pn.manual_seed(3)
    assert pn.random.generator() is g and g.random() == first


def test_randint_torch_signatures():
    pn.manual_seed(0)
    t = pn.randint(4, (100,))
    assert t.shape == (100,) and t.numpy().min() >= 0 and t.numpy().max() < 4
    t = pn.randint(-3, 3, size=(2, 50))
    assert t.shape == (2, 50) and t.numpy().min() >= -3 and t.numpy().max() < 3
    with pytest.raises(ValueError, match="empty range"):
        pn.randint(5, 5, (2,))


def test_creation_errors():
    with pytest.raises(ValueError, match="negative"):
        pn.zeros(2, -1)
    with pytest.raises(TypeError, match="sizes must be ints"):
        pn.ones(2.5)
    with pytest.raises(TypeError, match="float32 or float64"):
        pn.randn(3, dtype=pn.int64)


def test_device_argument():
    assert pn.zeros(2, device="cpu").device == "cpu"
    assert pn.tensor([1.0]).to("cpu").device == "cpu"
    assert not pn.cuda.is_available()
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        pn.tensor([1.0], device="cuda")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        pn.zeros(2).to("cuda:0")
    with pytest.raises(ValueError, match="unknown device"):
        pn.zeros(2, device="tpu")


# ----------------------------------------------------------------------------------- bad input data

def test_ragged_lists_raise_value_error():
    with pytest.raises(ValueError, match="ragged"):
        pn.tensor([[1, 2], [3]])


@pytest.mark.parametrize("data", [["a", "b"], [None, 1.0], np.array([{}, 1], dtype=object), "abc",
                                  np.array([1 + 2j])])
def test_object_string_and_complex_data_raise_type_error(data):
    with pytest.raises(TypeError, match="tensor"):
        pn.tensor(data)


# -------------------------------------------------------------------------------- NumPy interop

def test_from_numpy_shares_memory_and_tensor_copies():
    a = np.arange(6.0).reshape(2, 3)
    shared, copied = pn.from_numpy(a), pn.tensor(a)
    a[0, 0] = 42.0
    assert shared.numpy()[0, 0] == 42.0 and copied.numpy()[0, 0] == 0.0
    assert shared.dtype == pn.float64
    assert pn.as_tensor(a).numpy() is a
    with pytest.raises(TypeError, match="from_numpy"):
        pn.from_numpy([1.0, 2.0])


def test_array_protocol_respects_dtype_and_copy():
    t = pn.tensor([1.0, 2.0])
    assert np.asarray(t) is t.data
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    c = np.array(t, copy=True)
    c[0] = 9.0
    assert t.numpy()[0] == 1.0
    with pytest.raises(ValueError, match="copy"):
        np.asarray(t, dtype=np.float64, copy=False)
    assert np.exp(t).dtype == np.float32  # NumPy functions see the array


def test_ndarray_operand_on_the_left_gives_a_tensor():
    x = pn.tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0], np.float32) * x
    assert isinstance(y, pn.Tensor) and y.requires_grad
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 4.0])


def test_dlpack_roundtrip():
    t = pn.arange(6).reshape(2, 3)
    back = np.from_dlpack(t)
    np.testing.assert_array_equal(back, t.numpy())
    assert np.shares_memory(back, t.numpy())
    assert t.__dlpack_device__() == (1, 0)


# ------------------------------------------------------------------------------ attributes, methods

def test_attributes():
    t = pn.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.size == 24 and t.numel() == 24 and t.dim() == 3
    assert t.T.shape == (4, 3, 2) and t.xp is np and t.is_leaf and t.grad is None
    assert isinstance(t.data, np.ndarray)


def test_conversions():
    t = pn.tensor([[1.5, 2.0]])
    assert t.tolist() == [[1.5, 2.0]] and pn.tensor(3.0).item() == 3.0 and isinstance(pn.tensor(3).item(), int)
    assert t.astype(pn.float64).dtype == pn.float64 and t.to(pn.int64).dtype == pn.int64
    assert t.to("cpu", pn.float64).dtype == pn.float64 and t.to(dtype="float64").dtype == pn.float64
    assert t.to(pn.tensor([1])).dtype == pn.int64
    assert t.float() is t and t.double().dtype == pn.float64 and t.long().dtype == pn.int64
    assert float(pn.tensor([2.5])) == 2.5 and int(pn.tensor(3)) == 3 and list(range(pn.tensor(2))) == [0, 1]
    with pytest.raises(ValueError, match=r"\(1, 2\)"):
        t.item()


def test_clone_is_a_copy_in_the_graph():
    x = pn.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert not np.shares_memory(c.numpy(), x.numpy()) and c.requires_grad
    (c * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_len_iter_bool():
    t = pn.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    assert len(t) == 3
    rows = list(t)
    assert len(rows) == 3 and rows[1].tolist() == [3.0, 4.0]
    assert bool(pn.tensor([1.0])) and not bool(pn.tensor(0.0))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(t)
    with pytest.raises(TypeError):
        len(pn.tensor(1.0))
    with pytest.raises(TypeError):
        iter(pn.tensor(1.0))
    assert 3.0 in t and 7.0 not in t


def test_iteration_is_differentiable():
    x = pn.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    total = None
    for i, row in enumerate(x):
        total = row * float(i + 1) if total is None else total + row * float(i + 1)
    total.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[1.0, 1.0], [2.0, 2.0]])


def test_hashable_by_identity():
    a, b = pn.tensor([1.0]), pn.tensor([1.0])
    assert len({a, b}) == 2 and {a: 1}[a] == 1
    assert (a == None) is False  # noqa: E711 -- falls back to identity


def test_repr():
    assert repr(pn.tensor([1.0, 2.5])) == "tensor([1.0000, 2.5000])"
    assert repr(pn.tensor([1.0, 2.0], requires_grad=True)) == "tensor([1., 2.], requires_grad=True)"
    assert repr(pn.tensor(np.array([1.0]))) == "tensor([1.], dtype=pn.float64)"
    assert repr(pn.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(pn.tensor(2.0)) == "tensor(2.)"
    assert "grad_fn=<mul>" in repr(pn.tensor([1.0], requires_grad=True) * 2.0)
    assert repr(pn.zeros(0, 3)) == "tensor([], size=(0, 3))"
    assert f"{pn.tensor(1.23456):.2f}" == "1.23"


def test_setitem_is_rejected_with_a_hint():
    t = pn.zeros(3)
    with pytest.raises(TypeError, match="t.data"):
        t[0] = 1.0


def test_tensor_constructor_wraps_without_copy():
    a = np.ones(3, np.float32)
    t = pn.Tensor(a, requires_grad=True)
    assert t.data is a and t.requires_grad
    with pytest.raises(TypeError, match="floating"):
        pn.Tensor(np.arange(3), requires_grad=True)
