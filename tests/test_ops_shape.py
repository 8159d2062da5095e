"""Shape ops and joining: NumPy parity, PyTorch argument forms, gradients, errors."""
from __future__ import annotations

import numpy as np
import pytest

import pyneural as pn
from pyneural.autograd import gradcheck


def leaf(*shape, seed=0):
    return pn.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


CASES = {
    "reshape_ints": (lambda t: t.reshape(4, 6), lambda a: a.reshape(4, 6)),
    "reshape_tuple_infer": (lambda t: t.reshape((-1, 3)), lambda a: a.reshape(-1, 3)),
    "view": (lambda t: t.view(2, 12), lambda a: a.reshape(2, 12)),
    "pn_reshape": (lambda t: pn.reshape(t, (6, 4)), lambda a: a.reshape(6, 4)),
    "flatten": (lambda t: t.flatten(), lambda a: a.reshape(-1)),
    "flatten_range": (lambda t: t.flatten(1), lambda a: a.reshape(2, 12)),
    "flatten_mid": (lambda t: t.flatten(0, 1), lambda a: a.reshape(6, 4)),
    "transpose": (lambda t: t.transpose(0, 2), lambda a: a.swapaxes(0, 2)),
    "transpose_neg": (lambda t: pn.transpose(t, -1, 1), lambda a: a.swapaxes(-1, 1)),
    "permute_ints": (lambda t: t.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1)),
    "permute_tuple": (lambda t: t.permute((1, 2, 0)), lambda a: a.transpose(1, 2, 0)),
    "T": (lambda t: t.T, lambda a: a.T),
    "unsqueeze": (lambda t: t.unsqueeze(1), lambda a: a[:, None]),
    "unsqueeze_end": (lambda t: t.unsqueeze(-1), lambda a: a[..., None]),
    "expand": (lambda t: t[:, :1, :].expand(2, 5, 4), lambda a: np.broadcast_to(a[:, :1, :], (2, 5, 4))),
    "expand_new_dims": (lambda t: t.expand(3, -1, -1, -1), lambda a: np.broadcast_to(a, (3, 2, 3, 4))),
}


@pytest.mark.parametrize("name", CASES)
def test_shape_op_forward_and_gradcheck(name):
    op, ref = CASES[name]
    x = leaf(2, 3, 4, seed=1)
    np.testing.assert_array_equal(op(x).numpy(), ref(x.numpy()))
    assert gradcheck(op, (x,))


def test_views_share_storage():
    x = pn.arange(12.0).reshape(3, 4)
    assert np.shares_memory(x.transpose(0, 1).numpy(), x.numpy())
    assert np.shares_memory(x.reshape(4, 3).numpy(), x.numpy())
    assert np.shares_memory(x.expand(2, 3, 4).numpy(), x.numpy())


def test_squeeze():
    x = leaf(1, 3, 1, 2)
    assert x.squeeze().shape == (3, 2)
    assert x.squeeze(0).shape == (3, 1, 2) and x.squeeze(dim=-2).shape == (1, 3, 2)
    assert x.squeeze((0, 2)).shape == (3, 2)
    assert x.squeeze(1).shape == (1, 3, 1, 2)  # a dim of size != 1 is left alone (PyTorch)
    assert gradcheck(lambda t: t.squeeze(), (x,))


def test_flatten_0d_and_contiguous():
    assert pn.tensor(3.0).flatten().shape == (1,)
    x = leaf(3, 4)
    t = x.T
    assert not t.numpy().flags.c_contiguous and t.contiguous().numpy().flags.c_contiguous
    assert x.contiguous() is x
    assert gradcheck(lambda a: a.T.contiguous() * 2.0, (x,))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concatenate_forward_and_gradcheck(axis):
    a, b, c = leaf(2, 3, seed=1), leaf(2, 3, seed=2), leaf(2, 3, seed=3)
    if axis == 0:
        b = leaf(4, 3, seed=2)
    else:
        b = leaf(2, 5, seed=2)
    np.testing.assert_array_equal(pn.concatenate([a, b, c], axis=axis).numpy(),
                                  np.concatenate([a.numpy(), b.numpy(), c.numpy()], axis=axis))
    assert gradcheck(lambda *ts: pn.cat(ts, dim=axis), (a, b, c))


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_stack_forward_and_gradcheck(axis):
    ts = [leaf(3, 2, seed=s) for s in range(3)]
    np.testing.assert_array_equal(pn.stack(ts, axis).numpy(), np.stack([t.numpy() for t in ts], axis))
    assert gradcheck(lambda *xs: pn.stack(xs, dim=axis), tuple(ts))


def test_join_with_constants_and_promotion():
    a = pn.tensor([1.0, 2.0], requires_grad=True)
    out = pn.cat([a, np.array([3.0, 4.0]), pn.tensor([5, 6])])
    assert out.dtype == pn.float64 and out.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    out.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 1.0])


def test_reshape_errors():
    with pytest.raises(ValueError, match=r"reshape: cannot reshape a tensor of shape \(2, 3\).*into \(4,\)"):
        pn.ones(2, 3).reshape(4)
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3\)"):
        pn.ones(2, 3).view(-1, 4)


def test_shape_op_errors():
    x = pn.ones(2, 3)
    with pytest.raises(IndexError, match=r"transpose: axis 2 .*\(2, 3\)"):
        x.transpose(0, 2)
    with pytest.raises(TypeError, match="two dims"):
        x.transpose(0)
    with pytest.raises(ValueError, match=r"permute: \(0, 0\) is not a permutation"):
        x.permute(0, 0)
    with pytest.raises(IndexError, match="permute"):
        x.permute(0, 1, 2)
    with pytest.raises(ValueError, match=r"expand: cannot expand a tensor of shape \(2, 3\) to \(2, 4\)"):
        x.expand(2, 4)
    with pytest.raises(ValueError, match="expand"):
        x.expand(3)
    with pytest.raises(IndexError, match="unsqueeze"):
        x.unsqueeze(3)
    with pytest.raises(ValueError, match="flatten"):
        pn.ones(2, 3, 4).flatten(2, 1)


def test_join_errors():
    with pytest.raises(ValueError, match=r"concatenate: shapes \[\(2, 3\), \(2, 4\)\] must match except along axis 0"):
        pn.cat([pn.ones(2, 3), pn.ones(2, 4)])
    with pytest.raises(ValueError, match="same number"):
        pn.cat([pn.ones(2, 3), pn.ones(3)])
    with pytest.raises(ValueError, match=r"stack: all tensors need the same shape, got shapes \[\(2,\), \(3,\)\]"):
        pn.stack([pn.ones(2), pn.ones(3)])
    with pytest.raises(ValueError, match="non-empty"):
        pn.stack([])
    with pytest.raises(TypeError, match="list or tuple"):
        pn.cat(pn.ones(2, 2))
    with pytest.raises(IndexError, match="concatenate: axis 2"):
        pn.concatenate([pn.ones(2, 3), pn.ones(2, 3)], axis=2)
