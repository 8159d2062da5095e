"""nll, mse, l1, smooth_l1 and binary cross-entropy (with and without logits): PyTorch parity of values and
gradients for every reduction, gradchecks, PyTorch's clamping and bad input."""
from __future__ import annotations

import numpy as np
import pytest

import pyneural as pn
import pyneural.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def run_both(name, x, y, kwargs, grad_target=True, torch_kwargs=None):
    """Loss value and gradients from pyneural and from PyTorch, for float64 inputs."""
    px, py = pn.tensor(x, requires_grad=True), pn.tensor(y, requires_grad=grad_target)
    pl = getattr(F, name)(px, py, **kwargs)
    g = np.random.default_rng(0).standard_normal(pl.shape)
    pl.backward(pn.tensor(g))
    tx, ty = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=grad_target)
    tl = getattr(TF, name)(tx, ty, **(torch_kwargs or kwargs))
    tl.backward(torch.tensor(g))
    np.testing.assert_allclose(pl.numpy(), tl.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(px.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    if grad_target:
        np.testing.assert_allclose(py.grad.numpy(), ty.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name,kwargs", [("mse_loss", {}), ("l1_loss", {}), ("smooth_l1_loss", {}),
                                         ("smooth_l1_loss", {"beta": 0.3}), ("smooth_l1_loss", {"beta": 0.0})])
def test_regression_losses_match_torch(rng, reduction, name, kwargs):
    x = rng.standard_normal((5, 7))
    y = rng.standard_normal((5, 7))
    y[0, 0] = x[0, 0]  # equal values: gradient 0 for l1
    run_both(name, x, y, dict(kwargs, reduction=reduction))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_matches_torch(rng, reduction):
    x = rng.uniform(0.01, 0.99, (4, 9))
    x[0, :2] = [0.0, 1.0]  # log clamped at -100, as in PyTorch
    y = rng.uniform(0, 1, (4, 9))
    w = rng.uniform(0.5, 2, (9,))
    run_both("binary_cross_entropy", x, y, {"reduction": reduction, "weight": pn.tensor(w)},
             torch_kwargs={"reduction": reduction, "weight": torch.tensor(w)})


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("with_pos_weight", [False, True])
def test_bce_with_logits_matches_torch(rng, reduction, with_pos_weight):
    x = rng.standard_normal((6, 5)) * 10
    x[0, :2] = [800.0, -800.0]  # stable for huge logits
    y = rng.uniform(0, 1, (6, 5))
    pw = rng.uniform(0.5, 3, (5,))
    kwargs = {"reduction": reduction, "pos_weight": pn.tensor(pw) if with_pos_weight else None}
    tkw = {"reduction": reduction, "pos_weight": torch.tensor(pw) if with_pos_weight else None}
    run_both("binary_cross_entropy_with_logits", x, y, kwargs, torch_kwargs=tkw)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5), (4,)])
def test_nll_loss_matches_torch(rng, reduction, shape):
    x = rng.standard_normal(shape)
    tshape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    t = rng.integers(0, shape[1] if len(shape) > 1 else shape[0], tshape)
    if len(shape) > 1:
        t.reshape(-1)[::3] = -100
    px = pn.tensor(x, requires_grad=True)
    pl = F.nll_loss(px, pn.tensor(t), reduction=reduction)
    g = rng.standard_normal(pl.shape)
    pl.backward(pn.tensor(g))
    tx = torch.tensor(x, requires_grad=True)
    tl = TF.nll_loss(tx, torch.tensor(t), reduction=reduction)
    tl.backward(torch.tensor(g))
    np.testing.assert_allclose(pl.numpy(), tl.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(px.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


def test_log_softmax_then_nll_equals_cross_entropy(rng):
    x = pn.tensor(rng.standard_normal((5, 6)))
    t = pn.tensor(rng.integers(0, 6, 5))
    np.testing.assert_allclose(F.nll_loss(F.log_softmax(x, dim=1), t).item(), F.cross_entropy(x, t).item(),
                               rtol=1e-6)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "smooth_l1_loss", "binary_cross_entropy_with_logits"])
def test_gradcheck(rng, name):
    x = pn.tensor(rng.standard_normal((3, 4)), dtype=pn.float64, requires_grad=True)
    y = pn.tensor(rng.uniform(0, 1, (3, 4)), dtype=pn.float64, requires_grad=True)
    assert pn.autograd.gradcheck(lambda a, b: getattr(F, name)(a, b), (x, y))


def test_bad_input():
    with pytest.raises(ValueError, match=r"mse_loss: input of shape \(3,\) and target of shape \(4,\)"):
        F.mse_loss(pn.tensor(np.zeros(3)), pn.tensor(np.zeros(4)))
    with pytest.raises(ValueError, match="reduction"):
        F.l1_loss(pn.tensor(np.zeros(3)), pn.tensor(np.zeros(3)), reduction="max")
    with pytest.raises(ValueError, match="probabilities"):
        F.binary_cross_entropy(pn.tensor(np.array([1.5])), pn.tensor(np.array([1.0])))
    with pytest.raises(ValueError, match="nll_loss: target 5 at position 1 is out of range for 4 classes"):
        F.nll_loss(pn.tensor(np.zeros((2, 4))), pn.tensor(np.array([0, 5])))
    with pytest.raises(ValueError, match="beta"):
        F.smooth_l1_loss(pn.tensor(np.zeros(3)), pn.tensor(np.zeros(3)), beta=-1.0)
