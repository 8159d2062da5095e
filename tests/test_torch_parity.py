"""Forward values and gradients of composite expressions against PyTorch (skipped without torch)."""
from __future__ import annotations

import numpy as np
import pytest

import pyneural as pn

torch = pytest.importorskip("torch")


def _pair(shape, seed, positive=False):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 2.0, shape) if positive else rng.standard_normal(shape)
    return pn.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


# Each expression is written once and run on both libraries: ``m`` is the module (pn or torch).
EXPRESSIONS = {
    "mlp": (lambda m, x, w, b: ((x @ w + b).relu() ** 2).mean(), [(4, 3), (3, 5), (5,)]),
    "tanh_sigmoid": (lambda m, x, w, b: (m.tanh(x @ w) * m.sigmoid(b)).sum(), [(2, 3), (3, 4), (4,)]),
    "broadcast_arith": (lambda m, x, y, z: ((x - y) / (z * z + 1.0) + 2.0 * x).sum(), [(3, 1, 5), (4, 5), (5,)]),
    "logsumexp": (lambda m, x: (x - x.amax(1, keepdim=True) if m is torch else x - x.max(axis=1, keepdims=True))
                  .exp().sum(1).log().mean(), [(4, 6)]),
    "softmax_ce": (lambda m, x, y: -((x - x.exp().sum(-1, keepdim=True).log()) * y).sum(), [(3, 5), (3, 5)]),
    "var_std": (lambda m, x: x.var(0).sum() + x.std(dim=1).mean() + x.var(correction=0), [(4, 5)]),
    "abs_clamp_maximum": (lambda m, x, y: (m.abs(x).clamp(0.2, 1.0) + m.maximum(x, y) - m.minimum(x, y) * 0.5).sum(),
                          [(3, 4), (3, 4)]),
    "where_sqrt_log": (lambda m, x, y: m.where(x > 0, x * y, -y).sum() + m.sqrt(y.abs() + 1).log().sum(),
                       [(5,), (5,)]),
    "indexing": (lambda m, x: (x[[0, 2, 2]] * x[1:, ::2].sum() + x[..., 1].unsqueeze(1)).sum(), [(3, 4)]),
    "mask_select": (lambda m, x: (x[x > 0] ** 2).sum(), [(4, 4)]),
    "shapes": (lambda m, x: (x.reshape(2, 6).T.flatten() * m.arange(12, dtype=x.dtype)).sum()
               + x.permute(2, 0, 1).transpose(0, 1).squeeze().sum() + x.unsqueeze(0).expand(3, -1, -1, -1).sum(),
               [(3, 4, 1)]),
    "cat_stack": (lambda m, x, y: (m.cat([x, y * 2], dim=1).sum(0) * m.stack([x.sum(1), y.sum(1)], dim=0).sum()).sum(),
                  [(2, 3), (2, 4)]),
    "batched_matmul": (lambda m, x, y, v: (x @ y @ v).pow(2).sum(), [(2, 3, 4), (4, 5), (5,)]),
    "einsum": (lambda m, q, k: m.einsum("bqd,bkd->bqk", q, k).tanh().sum() + m.einsum("ii->", q[0, :3, :3]),
               [(2, 3, 4), (2, 5, 4)]),
    "max_dim": (lambda m, x: x.max(dim=1).values.sum() + x.min(dim=0, keepdim=True).values.mean(), [(4, 5)]),
    "max_all": (lambda m, x: x.max() * x.min() + (x.amax(dim=(0, 1)) if m is torch else x.max(axis=(0, 1))),
                [(3, 4)]),
    "division_pow": (lambda m, x, y: (x ** y / (1.0 + x) + 2.0 ** y - 1.0 / x).sum(), [(3, 4), (3, 4)]),
}
POSITIVE = {"division_pow", "where_sqrt_log"}


@pytest.mark.parametrize("name", EXPRESSIONS)
def test_forward_and_gradients_match_torch(backend, name):  # several use matmul: every backend
    fn, shapes = EXPRESSIONS[name]
    pairs = [_pair(s, seed=i + 10, positive=name in POSITIVE) for i, s in enumerate(shapes)]
    ours = fn(pn, *[p[0] for p in pairs])
    theirs = fn(torch, *[p[1] for p in pairs])
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    ours.backward()
    theirs.backward()
    for (p, t) in pairs:
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_tie_conventions_match_torch():
    data = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, -1.0, 0.0]])
    other = np.array([[1.0, 0.0, 3.0, 0.0], [2.0, 5.0, -1.0, 1.0]])
    cases = [
        lambda m, x, y: x.max(),
        lambda m, x, y: (x.amax(1) if m is torch else x.max(axis=1)).sum(),
        lambda m, x, y: m.maximum(x, y).sum() + m.minimum(x, y).sum(),
        lambda m, x, y: (m.abs(x) + x.relu() + x.clamp(0.0, 2.0)).sum(),
        lambda m, x, y: x.max(dim=1).values.sum(),
    ]
    for fn in cases:
        px, tx = pn.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
        py, ty = pn.tensor(other, requires_grad=True), torch.tensor(other, requires_grad=True)
        fn(pn, px, py).backward()
        fn(torch, tx, ty).backward()
        np.testing.assert_array_equal(px.grad.numpy(), tx.grad.numpy())
        assert (py.grad is None) == (ty.grad is None)
        if ty.grad is not None:
            np.testing.assert_array_equal(py.grad.numpy(), ty.grad.numpy())


def test_dtype_promotion_matches_torch():
    ours = {"f32": pn.tensor([1.0, 2.0]), "f64": pn.tensor(np.array([1.0, 2.0])), "i64": pn.tensor([1, 2]),
            "b": pn.tensor([True, False]), "f64_0d": pn.tensor(np.float64(2.0))}
    theirs = {"f32": torch.tensor([1.0, 2.0]), "f64": torch.tensor([1.0, 2.0], dtype=torch.float64),
              "i64": torch.tensor([1, 2]), "b": torch.tensor([True, False]),
              "f64_0d": torch.tensor(2.0, dtype=torch.float64)}
    exprs = [lambda d: d["f32"] * 2.0, lambda d: d["i64"] * 2.5, lambda d: d["i64"] / d["i64"],
             lambda d: d["i64"] + d["f32"], lambda d: d["f32"] + d["f64"], lambda d: d["f32"] * d["f64_0d"],
             lambda d: d["b"] + 1, lambda d: d["i64"] * d["b"], lambda d: d["f32"] > 1]
    for e in exprs:
        assert str(e(ours).dtype) == str(e(theirs).dtype).replace("torch.", "")
