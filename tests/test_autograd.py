"""The autograd engine: accumulation, graph freeing, grad mode, autograd.grad and gradcheck."""
from __future__ import annotations

import gc
import threading
import weakref

import numpy as np
import pytest

import pyneural as pn
from pyneural.autograd import GradcheckError


def leaf(*shape, seed=0):
    return pn.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def test_backward_scalar_and_leaf_accumulation():
    x = pn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 6.0])
    (x * 3.0).sum().backward()  # .grad accumulates across backward calls
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 7.0, 9.0])
    assert x.grad.dtype == pn.float32 and not x.grad.requires_grad


def test_backward_with_explicit_grad_and_shape_checks():
    x = pn.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * 2.0
    y.backward(np.array([[1.0, 0.0], [0.0, 10.0]]))
    np.testing.assert_allclose(x.grad.numpy(), [[2.0, 0.0], [0.0, 20.0]])
    with pytest.raises(RuntimeError, match=r"\(2, 2\)"):
        (x * 2.0).backward()  # non-scalar without a gradient names the shape
    with pytest.raises(RuntimeError, match="does not match"):
        (x * 2.0).backward(np.ones(3))


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        pn.tensor([1.0]).sum().backward()


def test_shared_subexpression_and_same_input_twice():
    x = pn.tensor([1.5, -2.0], requires_grad=True)
    h = x * x  # used twice below
    (h * h + h).sum().backward()  # d/dx (x^4 + x^2) = 4x^3 + 2x
    np.testing.assert_allclose(x.grad.numpy(), 4 * x.numpy() ** 3 + 2 * x.numpy(), rtol=1e-6)


def test_grads_do_not_alias_between_leaves():
    a = pn.tensor([1.0, 2.0], requires_grad=True)
    b = pn.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()  # add passes the same array to both parents
    a.grad.data[0] = 100.0
    assert b.grad.numpy()[0] == 1.0
    assert a.grad.data.flags.writeable and b.grad.data.flags.writeable


def test_mixed_dtype_grads_take_each_input_dtype():
    a = pn.tensor([1.0, 2.0], requires_grad=True)  # float32
    b = pn.tensor(np.array([3.0, 4.0]), requires_grad=True)  # float64
    out = a * b
    assert out.dtype == pn.float64
    out.sum().backward()
    assert a.grad.dtype == pn.float32 and b.grad.dtype == pn.float64
    np.testing.assert_allclose(a.grad.numpy(), [3.0, 4.0])


def test_graph_is_freed_after_backward():
    x = leaf(3)
    h = x.exp()
    ref = weakref.ref(h)
    y = (h * 2.0).sum()
    assert y._ctx is not None and h._ctx is not None
    del h
    gc.collect()
    assert ref() is not None  # y's graph keeps the interior tensor alive ...
    y.backward()
    gc.collect()
    assert ref() is None  # ... until backward frees the graph
    assert y.grad_fn == "sum" and not y.is_leaf  # the node remembers its op name only
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = leaf(4)
    y = (x.tanh() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_interior_tensor_reused_after_its_graph_was_freed_raises():
    x = leaf(2)
    h = x * 3.0
    h.sum().backward()
    with pytest.raises(RuntimeError, match="second time"):
        (h * 2.0).sum().backward()


def test_deep_graph_has_no_recursion_limit():
    x = pn.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(20000):
        y = y * 1.0 + 0.0
    y.sum().backward()
    assert x.grad.item() == 1.0


def test_memory_does_not_grow_across_steps(backend):
    w = leaf(8, 8)
    refs = []
    for step in range(3):
        h = (w @ w).tanh()
        refs.append(weakref.ref(h))
        h.sum().backward()
        del h
    gc.collect()
    assert all(r() is None for r in refs)


def test_no_grad_context_manager_and_decorators():
    x = leaf(3)
    with pn.no_grad():
        y = x * 2.0
        assert not pn.is_grad_enabled()
        with pn.enable_grad():
            z = x * 2.0
    assert pn.is_grad_enabled()
    assert not y.requires_grad and y._ctx is None and z.requires_grad

    @pn.no_grad()
    def f(t):
        return t * 2.0

    @pn.no_grad
    def g(t):
        return t * 2.0

    assert not f(x).requires_grad and not g(x).requires_grad and f.__name__ == "f"
    assert pn.is_grad_enabled()


def test_no_grad_restores_mode_on_exception():
    with pytest.raises(ZeroDivisionError):
        with pn.no_grad():
            1 / 0
    assert pn.is_grad_enabled()


def test_set_grad_enabled_function_and_context():
    with pn.set_grad_enabled(False):
        assert not pn.is_grad_enabled()
    assert pn.is_grad_enabled()
    pn.set_grad_enabled(False)
    try:
        assert not (leaf(2) * 2.0).requires_grad
    finally:
        pn.set_grad_enabled(True)


def test_grad_mode_is_thread_local():
    seen = []
    with pn.no_grad():
        t = threading.Thread(target=lambda: seen.append(pn.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True]


def test_detach_cuts_the_graph_and_shares_storage():
    x = leaf(3)
    d = (x * 2.0).detach()
    assert not d.requires_grad and d.is_leaf
    y = (x * d).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), d.numpy())  # d treated as a constant
    assert np.shares_memory(x.detach().numpy(), x.numpy())


def test_autograd_grad_does_not_touch_dot_grad():
    x, w = leaf(3, seed=1), leaf(3, seed=2)
    h = x * w
    y = h.sum()
    gx, gh = pn.autograd.grad(y, [x, h])
    np.testing.assert_allclose(gx.numpy(), w.numpy())
    np.testing.assert_allclose(gh.numpy(), np.ones(3))
    assert x.grad is None and w.grad is None


def test_autograd_grad_unused_inputs_and_grad_outputs():
    x, u = leaf(2, seed=1), leaf(2, seed=2)
    y = x * 3.0
    with pytest.raises(RuntimeError, match="not used"):
        pn.autograd.grad(y.sum(), [x, u], retain_graph=True)
    gx, gu = pn.autograd.grad(y, [x, u], grad_outputs=np.array([1.0, 2.0]), allow_unused=True)
    np.testing.assert_allclose(gx.numpy(), [3.0, 6.0])
    assert gu is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        pn.autograd.grad((x * 2.0).sum(), [pn.tensor([1.0])])


def test_requires_grad_only_on_floating_tensors():
    with pytest.raises(TypeError, match="floating"):
        pn.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="floating"):
        pn.arange(3).requires_grad_()
    with pytest.raises(TypeError, match="floating"):
        pn.zeros(2, dtype=pn.int64, requires_grad=True)
    x = leaf(2)
    with pytest.raises(RuntimeError, match="leaf"):
        (x * 2.0).requires_grad = False


def test_integer_results_leave_the_graph():
    x = leaf(4)
    assert not x.argmax().requires_grad
    assert not (x > 0).requires_grad
    assert not x.astype(pn.int64).requires_grad
    assert x.astype(pn.float64).requires_grad


def test_gradcheck_passes_for_correct_op():
    assert pn.autograd.gradcheck(lambda a, b: (a * b).tanh().sum(axis=0), (leaf(3, 4, seed=1), leaf(4, seed=2)))


def test_gradcheck_detects_wrong_gradient():
    from pyneural.ops.core import result

    def bad_square(x):  # forward x**2, backward claims 3x
        return result(x.data ** 2, lambda g: (3 * g * x.data,), x)

    x = leaf(2, 3)
    with pytest.raises(GradcheckError, match=r"analytical=.*numerical=") as info:
        pn.autograd.gradcheck(bad_square, (x,))
    assert "input 0" in str(info.value) and "(2, 3)" in str(info.value)
    assert pn.autograd.gradcheck(bad_square, (x,), raise_exception=False) is False


def test_gradcheck_detects_missing_gradient():
    from pyneural.tensor import _make

    def cut(x):  # forward depends on x, but no graph is recorded
        return _make(x.data * 2.0) + x * 0.0

    with pytest.raises(GradcheckError):
        pn.autograd.gradcheck(cut, (leaf(3),))


def test_gradcheck_uses_float64_and_passes_other_args_through():
    x32 = pn.tensor([0.3, -0.2], requires_grad=True)
    seen = []

    def f(x, k):
        seen.append(x.dtype)
        return x * k

    assert pn.autograd.gradcheck(f, (x32, 3.0))
    assert set(seen) == {pn.float64}
    with pytest.raises(ValueError, match="no input requires grad"):
        pn.autograd.gradcheck(f, (pn.tensor([1.0]), 2.0))
