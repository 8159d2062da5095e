"""pn.nn layers against PyTorch: parameter names/shapes, forward and backward with weights copied from torch."""
from __future__ import annotations

import numpy as np
import pytest

import pyneural as pn
from pyneural import nn

torch = pytest.importorskip("torch")

TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}


def copy_from_torch(module, tmodule):
    """Load a torch module's state dict (as NumPy) into ours after checking names and shapes agree."""
    tsd = tmodule.state_dict()
    ours = module.state_dict()
    assert list(ours) == list(tsd)
    assert [v.shape for v in ours.values()] == [tuple(v.shape) for v in tsd.values()]
    module.load_state_dict({k: v.detach().numpy() for k, v in tsd.items()})


def check_parity(module, tmodule, x, dtype, grad_input=True):
    """Forward and backward (input and parameter gradients) of ``module`` against ``tmodule``."""
    copy_from_torch(module, tmodule)
    tol = TOL[dtype]
    tx = torch.tensor(x, requires_grad=grad_input and x.dtype.kind == "f")
    px = pn.tensor(x, requires_grad=grad_input and x.dtype.kind == "f")
    ty, py = tmodule(tx), module(px)
    np.testing.assert_allclose(py.data, ty.detach().numpy(), **tol)
    weights = np.random.default_rng(7).standard_normal(py.shape).astype(py.dtype)
    (ty * torch.from_numpy(weights)).sum().backward()
    (py * pn.tensor(weights)).sum().backward()
    if tx.requires_grad:
        np.testing.assert_allclose(px.grad.data, tx.grad.numpy(), **tol)
    tparams = dict(tmodule.named_parameters())
    for name, p in module.named_parameters():
        np.testing.assert_allclose(p.grad.data, tparams[name].grad.numpy(), err_msg=name, **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(backend, rng, dtype, bias):
    tl = torch.nn.Linear(13, 7, bias=bias, dtype=TORCH_DTYPE[dtype])
    pl = nn.Linear(13, 7, bias=bias, dtype=dtype)
    assert pl.weight.dtype == dtype
    check_parity(pl, tl, rng.standard_normal((2, 5, 13)).astype(dtype), dtype)


def test_linear_bad_input():
    with pytest.raises(ValueError, match=r"Linear: input of shape \(4, 5\) does not end in in_features=3"):
        nn.Linear(3, 2)(pn.randn(4, 5))
    with pytest.raises(ValueError, match="in_features must be a non-negative int"):
        nn.Linear(-1, 2)
    with pytest.raises(TypeError, match="floating-point dtype"):
        nn.Linear(2, 2, dtype=pn.int64)


def test_flatten_unflatten_identity(rng):
    x = pn.tensor(rng.standard_normal((2, 3, 4, 5)))
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    np.testing.assert_array_equal(nn.Unflatten(2, (4, 5))(nn.Flatten(2)(x)).data, x.data)
    assert nn.Unflatten(-1, (5, 1))(x).shape == (2, 3, 4, 5, 1)
    with pytest.raises(ValueError, match="cannot split dim 1"):
        nn.Unflatten(1, (2, 2))(x)
    assert nn.Identity(3, foo=1)(x) is x
    assert repr(nn.Flatten()) == repr(torch.nn.Flatten())
