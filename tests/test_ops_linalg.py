"""matmul (on every kernel backend) and einsum: forward parity and gradients."""
from __future__ import annotations

import numpy as np
import pytest

import pyneural as pn
from pyneural.autograd import gradcheck


def leaf(*shape, seed=0, dtype=np.float64):
    return pn.tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype), requires_grad=True)


MATMUL_SHAPES = [
    ((3, 4), (4, 5)),
    ((1, 7), (7, 1)),
    ((4,), (4,)),
    ((4,), (4, 3)),
    ((3, 4), (4,)),
    ((2, 3, 4), (4, 5)),
    ((3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((4,), (2, 4, 3)),
    ((2, 3, 4), (4,)),
]


@pytest.mark.parametrize("sa, sb", MATMUL_SHAPES, ids=str)
def test_matmul_forward_and_gradcheck(backend, sa, sb):
    a, b = leaf(*sa, seed=1), leaf(*sb, seed=2)
    np.testing.assert_allclose((a @ b).numpy(), np.matmul(a.numpy(), b.numpy()), rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda x, y: x @ y, (a, b))
    assert gradcheck(lambda x: pn.matmul(x, b), (a,))  # only one side requires grad


def test_matmul_float32_gradients(backend):
    a, b = leaf(5, 6, seed=3, dtype=np.float32), leaf(6, 4, seed=4, dtype=np.float32)
    out = (a @ b).sum()
    assert out.dtype == pn.float32
    out.backward()
    ones = np.ones((5, 4), np.float32)
    np.testing.assert_allclose(a.grad.numpy(), ones @ b.numpy().T, rtol=1e-5)
    np.testing.assert_allclose(b.grad.numpy(), a.numpy().T @ ones, rtol=1e-5)
    assert a.grad.dtype == pn.float32


def test_matmul_with_arrays_and_reflected(backend):
    a = leaf(3, 4, seed=5)
    m = np.random.default_rng(6).standard_normal((2, 3))
    np.testing.assert_allclose((m @ a).numpy(), m @ a.numpy(), rtol=1e-12)
    assert isinstance(m @ a, pn.Tensor)
    assert gradcheck(lambda x: m @ x, (a,))


def test_matmul_integer():
    a, b = pn.tensor([[1, 2], [3, 4]]), pn.tensor([1, 1])
    assert (a @ b).tolist() == [3, 7] and (a @ b).dtype == pn.int64


def test_matmul_shape_mismatch_raises(backend):
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\).*\(4, 5\)"):
        pn.ones(2, 3) @ pn.ones(4, 5)


EINSUM = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("ij,jk", [(3, 4), (4, 2)]),  # implicit output
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("i,i->", [(5,), (5,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij->ji", [(3, 4)]),
    ("ij->j", [(3, 4)]),  # a letter summed inside one operand
    ("ii->i", [(4, 4)]),  # diagonal
    ("ii", [(3, 3)]),  # trace (implicit)
    ("iij,jk->ik", [(3, 3, 2), (2, 4)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]),
    ("b...,b->...", [(2, 3, 4), (2,)]),
    ("...i,...i->...", [(1, 3, 4), (2, 1, 4)]),  # broadcast ellipsis dims of size 1
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
]


@pytest.mark.parametrize("spec, shapes", EINSUM, ids=[e[0] for e in EINSUM])
def test_einsum_forward_and_gradcheck(spec, shapes):
    ops = [leaf(*s, seed=i + 1) for i, s in enumerate(shapes)]
    np.testing.assert_allclose(pn.einsum(spec, *ops).numpy(), np.einsum(spec, *[o.numpy() for o in ops]),
                               rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda *xs: pn.einsum(spec, *xs), tuple(ops))


def test_einsum_same_operand_twice_and_list_form():
    x = leaf(4, seed=7)
    y = pn.einsum("i,i->", [x, x])
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy())


def test_einsum_errors():
    a = pn.ones(2, 3)
    with pytest.raises(ValueError, match="einsum 'ij,jk': 2 operand subscripts for 1 operands"):
        pn.einsum("ij,jk", a)
    with pytest.raises(ValueError, match=r"einsum 'ijk': subscripts 'ijk' do not fit an operand of shape \(2, 3\)"):
        pn.einsum("ijk", a)
    with pytest.raises(ValueError, match=r"einsum 'ij,jk->ik'.*\(2, 3\), \(4, 5\)"):
        pn.einsum("ij,jk->ik", a, pn.ones(4, 5))
    with pytest.raises(ValueError, match="letters"):
        pn.einsum("i1", a)
    with pytest.raises(TypeError, match="subscripts string"):
        pn.einsum(a, [0, 1])
