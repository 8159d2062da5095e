"""Element-wise ops: NumPy parity of forward values, finite-difference gradients, tie/edge conventions."""
from __future__ import annotations

import numpy as np
import pytest

import pyneural as pn
from pyneural.autograd import gradcheck


def leaf(*shape, seed=0, low=None, high=None):
    rng = np.random.default_rng(seed)
    data = rng.standard_normal(shape) if low is None else rng.uniform(low, high, shape)
    return pn.tensor(data, requires_grad=True)


BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
    "pow": (lambda a, b: a ** b, np.power),
    "maximum": (pn.maximum, np.maximum),
    "minimum": (pn.minimum, np.minimum),
}
SHAPES = [((3, 4), (3, 4)), ((3, 1, 5), (4, 5)), ((5,), (2, 3, 5)), ((2, 1), (1, 7)), ((), (3, 2)), ((4, 3), ())]


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("sa, sb", SHAPES, ids=str)
def test_binary_forward_and_gradcheck(name, sa, sb):
    op, ref = BINARY[name]
    positive = name in ("pow", "div")
    a = leaf(*sa, seed=1, low=0.5 if positive else None, high=2.0)
    b = leaf(*sb, seed=2, low=0.5 if positive else None, high=2.0)
    np.testing.assert_allclose(op(a, b).numpy(), ref(a.numpy(), b.numpy()), rtol=1e-12)
    assert gradcheck(op, (a, b))


@pytest.mark.parametrize("name", BINARY)
def test_binary_with_python_scalar_both_sides(name):
    op, ref = BINARY[name]
    a = leaf(2, 3, seed=3, low=0.5, high=2.0)
    np.testing.assert_allclose(op(a, 1.5).numpy(), ref(a.numpy(), 1.5), rtol=1e-12)
    np.testing.assert_allclose(op(1.5, a).numpy(), ref(1.5, a.numpy()), rtol=1e-12)
    assert gradcheck(lambda t: op(t, 1.5), (a,))
    assert gradcheck(lambda t: op(1.5, t), (a,))


UNARY = {
    "neg": (lambda t: -t, np.negative, None),
    "exp": (pn.exp, np.exp, None),
    "log": (pn.log, np.log, (0.2, 3.0)),
    "sqrt": (pn.sqrt, np.sqrt, (0.2, 3.0)),
    "abs": (pn.abs, np.abs, None),
    "tanh": (pn.tanh, np.tanh, None),
    "sigmoid": (pn.sigmoid, lambda x: 1 / (1 + np.exp(-x)), None),
    "relu": (pn.relu, lambda x: np.maximum(x, 0), None),
    "clip": (lambda t: t.clip(-0.5, 0.7), lambda x: np.clip(x, -0.5, 0.7), None),
    "clamp_min": (lambda t: t.clamp(min=0.1), lambda x: np.maximum(x, 0.1), None),
    "clamp_max": (lambda t: pn.clamp(t, max=-0.2), lambda x: np.minimum(x, -0.2), None),
    "square": (lambda t: t ** 2, np.square, None),
    "cube": (lambda t: t ** 3, lambda x: x ** 3, None),
    "rsqrt": (lambda t: t ** -0.5, lambda x: x ** -0.5, (0.2, 3.0)),
    "clone": (lambda t: t.clone() * t, np.square, None),
    "astype": (lambda t: t.astype("float64") * t.to(pn.float64), np.square, None),
}


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4), ()], ids=str)
def test_unary_forward_and_gradcheck(name, shape):
    op, ref, domain = UNARY[name]
    x = leaf(*shape, seed=4) if domain is None else leaf(*shape, seed=4, low=domain[0], high=domain[1])
    np.testing.assert_allclose(op(x).numpy(), ref(x.numpy()), rtol=1e-12, atol=1e-15)
    assert op(x).shape == shape
    assert gradcheck(op, (x,))


@pytest.mark.parametrize("name", ["exp", "tanh", "sigmoid", "relu", "abs", "sqrt", "neg", "clip"])
def test_unary_keeps_float32(name):
    op = UNARY[name][0]
    assert op(pn.tensor([0.5, 1.5])).dtype == pn.float32


def test_sigmoid_is_stable_for_large_inputs():
    x = pn.tensor([-1000.0, -40.0, 0.0, 40.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        y = pn.sigmoid(x).numpy()
    np.testing.assert_allclose(y, [0.0, 4.248354e-18, 0.5, 1.0, 1.0], rtol=1e-5)


def test_gradient_conventions_at_kinks():
    x = pn.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    pn.abs(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [-1.0, 0.0, 1.0])  # abs'(0) = 0
    x.grad = None
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 1.0])  # relu'(0) = 0
    x.grad = None
    x.clip(-1.0, 0.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0, 0.0])  # bounds are inclusive


def test_maximum_minimum_ties_split_gradient():
    a = pn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = pn.tensor([1.0, 5.0, 0.0], requires_grad=True)
    pn.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.5, 0.0, 1.0])
    np.testing.assert_array_equal(b.grad.numpy(), [0.5, 1.0, 0.0])
    a.grad = b.grad = None
    pn.minimum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.5, 1.0, 0.0])


def test_pow_special_exponents():
    x = pn.tensor([0.0, 2.0], requires_grad=True)
    (x ** 0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])  # d/dx x**0 = 0, also at x = 0
    e = pn.tensor([2.0, 3.0], requires_grad=True)
    (x ** e).sum().backward()
    np.testing.assert_allclose(e.grad.numpy(), [0.0, 8.0 * np.log(2.0)], rtol=1e-6)  # 0**e: d/de = 0
    base = leaf(3, seed=5, low=0.5, high=2.0)
    assert gradcheck(lambda t: 2.0 ** t, (base,))


def test_clip_with_tensor_bounds_gradcheck():
    x = leaf(3, 4, seed=6)
    lo = leaf(4, seed=7, low=-1.0, high=-0.2)
    hi = leaf(3, 1, seed=8, low=0.2, high=1.0)
    np.testing.assert_allclose(pn.clip(x, lo, hi).numpy(), np.minimum(np.maximum(x.numpy(), lo.numpy()), hi.numpy()))
    assert gradcheck(lambda a, b, c: pn.clip(a, b, c), (x, lo, hi))
    with pytest.raises(ValueError, match="at least one"):
        x.clip()


def test_where_forward_and_gradcheck():
    a, b = leaf(3, 1, 4, seed=9), leaf(5, 4, seed=10)
    cond = np.random.default_rng(0).random((5, 1)) > 0.5
    np.testing.assert_array_equal(pn.where(cond, a, b).numpy(), np.where(cond, a.numpy(), b.numpy()))
    assert gradcheck(lambda x, y: pn.where(pn.tensor(cond), x, y), (a, b))
    assert gradcheck(lambda x: pn.where(x > 0, x, 0.0), (a,))
    assert pn.where(pn.tensor([True, False]), pn.tensor([1.0, 2.0]), 0.0).dtype == pn.float32


def test_casts_are_differentiable():
    x = pn.tensor([1.0, 2.0], requires_grad=True)
    y = x.astype(pn.float64) * pn.tensor(np.array([3.0, 4.0]))
    y.sum().backward()
    assert x.grad.dtype == pn.float32
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])
    assert x.astype(pn.float32) is x


def test_comparisons_return_bool_without_grad():
    a = pn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = pn.tensor([3.0, 2.0, 1.0])
    for got, want in [(a < b, [True, False, False]), (a <= b, [True, True, False]), (a > b, [False, False, True]),
                      (a >= 2.0, [False, True, True]), (a == b, [False, True, False]), (a != b, [True, False, True]),
                      (1.5 < a, [False, True, True]), (np.float32(2.0) == a, [False, True, False])]:
        assert got.dtype == pn.bool and not got.requires_grad
        np.testing.assert_array_equal(got.numpy(), want)
    m = (a > 1.0) & (a < 3.0) | ~(b > 0.0)
    np.testing.assert_array_equal(m.numpy(), [False, True, False])
    np.testing.assert_array_equal((pn.tensor([True, False]) ^ True).numpy(), [False, True])


@pytest.mark.parametrize("op, name", [(lambda a, b: a + b, "add"), (lambda a, b: a - b, "sub"),
                                      (lambda a, b: a * b, "mul"), (lambda a, b: a / b, "div"),
                                      (lambda a, b: a ** b, "pow"), (pn.maximum, "maximum"),
                                      (pn.minimum, "minimum"), (lambda a, b: a < b, "lt"),
                                      (lambda a, b: a == b, "eq")])
def test_broadcast_mismatch_names_op_and_shapes(op, name):
    with pytest.raises(ValueError, match=rf"{name}: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        op(pn.ones(2, 3), pn.ones(4))


def test_where_broadcast_mismatch():
    with pytest.raises(ValueError, match=r"where: shapes \(2,\) and \(3,\) and \(4,\)"):
        pn.where(np.ones(2, bool), pn.ones(3), pn.ones(4))


def test_unsupported_operand_types():
    with pytest.raises(TypeError):
        pn.ones(2) + "a"
    with pytest.raises(TypeError):
        pn.ones(2) * None
