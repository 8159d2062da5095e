"""dropout (seeded inverted dropout) and embedding (gather with scatter-add backward)."""
from __future__ import annotations

import numpy as np
import pytest

import pyneural as pn

F = pn.nn.functional


# ------------------------------------------------------------------------------------------ dropout

def test_dropout_identity_cases():
    x = pn.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_p_one_gives_zeros_and_zero_grad(dtype):
    x = pn.tensor(np.ones((3, 4), dtype), requires_grad=True)
    out = F.dropout(x, 1.0)
    assert out.dtype == dtype and not out.numpy().any()
    out.sum().backward()
    assert np.array_equal(x.grad.numpy(), np.zeros((3, 4)))


def test_dropout_is_reproducible_under_a_seed():
    x = pn.ones((50, 40))
    pn.manual_seed(123)
    first = F.dropout(x, 0.3).numpy()
    pn.manual_seed(123)
    again = F.dropout(x, 0.3).numpy()
    assert np.array_equal(first, again)
    assert not np.array_equal(first, F.dropout(x, 0.3).numpy())  # the generator moved on


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_preserves_the_mean(p):
    pn.manual_seed(7)
    n = 200_000
    out = F.dropout(pn.ones(n), p).numpy()
    kept = out != 0
    assert np.allclose(out[kept], 1 / (1 - p), rtol=1e-6)
    sd_fraction = np.sqrt(p * (1 - p) / n)
    assert abs((1 - kept.mean()) - p) < 5 * sd_fraction
    assert abs(out.mean() - 1) < 5 * sd_fraction / (1 - p)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_backward_reuses_the_mask(rng, dtype):
    x = pn.tensor(rng.standard_normal((7, 9)).astype(dtype) + 5, requires_grad=True)  # no zeros in x
    out = F.dropout(x, 0.4)
    assert out.dtype == dtype
    g = rng.standard_normal((7, 9)).astype(dtype)
    out.backward(pn.tensor(g))
    kept = out.numpy() != 0
    assert 0 < kept.sum() < kept.size
    np.testing.assert_allclose(out.numpy()[kept], x.numpy()[kept] / 0.6, rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), np.where(kept, g / 0.6, 0), rtol=1e-6)


def test_dropout_gradcheck(rng):
    x = pn.tensor(rng.standard_normal((4, 5)), requires_grad=True)

    def fn(x):  # the same mask in every finite-difference call
        pn.manual_seed(3)
        return F.dropout(x, 0.4)

    assert pn.autograd.gradcheck(fn, (x,))


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_bad_probability(p):
    with pytest.raises(ValueError, match=r"dropout: probability p must be in \[0, 1\]"):
        F.dropout(pn.ones(3), p)


def splitmix64_reference(seed: int, n: int) -> np.ndarray:
    """The first n outputs of SplitMix64 started at seed, in Python integers (the mask's definition)."""
    mask64 = (1 << 64) - 1
    out = []
    for i in range(n):
        z = (seed + (i + 1) * 0x9E3779B97F4A7C15) & mask64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask64
        out.append(z ^ (z >> 31))
    return np.array(out, dtype=np.uint64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.77])
def test_dropout_kernel_matches_the_hash_definition(kernel_impl, threads, rng, p, dtype):
    n = 1001
    seed = 0xDEADBEEF12345678
    x = rng.standard_normal(n).astype(dtype)
    out, mask = pn.kernels.dropout(x, p, seed=seed)
    u = splitmix64_reference(seed, n) >> np.uint64(11)
    keep = u >= np.uint64(int(np.ceil(p * 2.0**53)))
    assert mask.dtype == np.uint8 and np.array_equal(mask, keep.astype(np.uint8))
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, x * np.where(keep, dtype(1 / (1 - p)), dtype(0)))
    g = rng.standard_normal(n).astype(dtype)
    np.testing.assert_array_equal(pn.kernels.dropout_backward(g, mask, p),
                                  g * np.where(keep, dtype(1 / (1 - p)), dtype(0)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_masks_identical_across_backends_and_threads(rng, dtype):
    x = rng.standard_normal((371, 1999)).astype(dtype)  # many kernel blocks (enough work for 2 threads), odd size
    results = []
    for name in pn.backend.available():
        previous = pn.backend.name()
        pn.backend.use(name)
        try:
            for t in (1, 2):
                before = pn.get_num_threads()
                pn.set_num_threads(t)
                try:
                    results.append(pn.kernels.dropout(x, 0.3, seed=987654321))
                finally:
                    pn.set_num_threads(before)
        finally:
            pn.backend.use(previous)
    assert len(results) == 2 * len(pn.backend.available())
    for out, mask in results[1:]:
        assert np.array_equal(mask, results[0][1])
        assert np.array_equal(out, results[0][0])


@pytest.mark.parametrize("p", [0.05, 0.5, 0.9])
def test_dropout_keep_rate(kernel_impl, p):
    n = 1_000_003
    _, mask = pn.kernels.dropout(np.ones(n, np.float32), p, seed=2024)
    sd = np.sqrt(p * (1 - p) / n)
    assert abs(mask.mean() - (1 - p)) < 5 * sd
    # neighbouring elements are independent: the kept fraction among the neighbours of kept ones is 1 - p too
    pair = mask[1:][mask[:-1] == 1].mean()
    assert abs(pair - (1 - p)) < 5 * np.sqrt(p * (1 - p) / (n * (1 - p)))


def test_dropout_nan_stays_nan_where_dropped(kernel_impl):
    out, mask = pn.kernels.dropout(np.full(200, np.nan), 0.5, seed=1)
    assert 0 < mask.sum() < 200 and np.isnan(out).all()  # x * 0 = NaN, as PyTorch


def test_dropout_kernel_gradcheck_through_the_mask(kernel_impl, rng):
    x = pn.tensor(rng.standard_normal((5, 7)), dtype=pn.float64, requires_grad=True)

    def fn(v):
        pn.manual_seed(11)
        return F.dropout(v, 0.35) * 2.0

    assert pn.autograd.gradcheck(fn, (x,))


def test_dropout_kernel_bad_input(kernel_impl):
    with pytest.raises(ValueError, match=r"dropout: probability p must be in \[0, 1\]"):
        pn.kernels.dropout(np.ones(3), 1.2)
    fwd = pn.backend.kernel("dropout_forward")
    x = np.ones(4)
    with pytest.raises(ValueError, match=r"dropout: probability p must be in \[0, 1\)"):
        fwd(x, np.empty(4), np.empty(4, np.uint8), 1.0, 1)
    with pytest.raises(ValueError, match=r"mask has shape \(3,\), expected \(4,\)"):
        fwd(x, np.empty(4), np.empty(3, np.uint8), 0.5, 1)
    with pytest.raises(TypeError, match="mask has dtype bool"):
        fwd(x, np.empty(4), np.empty(4, bool), 0.5, 1)
    with pytest.raises(TypeError, match="dropout: unsupported dtype int64; expected float32 or float64"):
        fwd(x.astype(np.int64), np.empty(4, np.int64), np.empty(4, np.uint8), 0.5, 1)
    with pytest.raises(TypeError, match="dropout_backward: out has dtype float32, expected float64"):
        pn.backend.kernel("dropout_backward")(x, np.ones(4, np.uint8), 0.5, np.empty(4, np.float32))
    with pytest.raises(ValueError, match=r"dropout_backward: mask of shape \(2,\)"):
        pn.kernels.dropout_backward(np.ones(3), np.ones(2, np.uint8), 0.5)


# ------------------------------------------------------------------------------------------ embedding

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows,dim,idx_shape", [(7, 5, (4, 3)), (40, 300, (57,)), (3, 1, (2, 2, 2)), (5, 4, (0,)),
                                                   (300, 1000, (2500,))])
def test_embedding_kernels_match_reference(kernel_impl, threads, rng, dtype, rows, dim, idx_shape):
    w = rng.standard_normal((rows, dim)).astype(dtype)
    idx = rng.integers(0, rows, idx_shape)
    if idx.size:
        idx.flat[-1] = idx.flat[0]  # at least one repeat
    out = pn.kernels.embedding(w, idx)
    assert out.shape == idx_shape + (dim,) and out.dtype == dtype
    assert np.array_equal(out, w[idx])
    g = rng.standard_normal(idx_shape + (dim,)).astype(dtype)
    for padding_idx in (None, int(idx.flat[0]) if idx.size else 0):
        expected = np.zeros((rows, dim))
        for position, row in np.ndenumerate(idx):
            if row != padding_idx:
                expected[row] += g[position]
        got = pn.kernels.embedding_backward(g, idx, rows, padding_idx)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, expected, rtol=1e-6 if dtype == np.float32 else 1e-13, atol=1e-6)


def test_embedding_kernels_validate_their_arguments(kernel_impl):
    """The backend kernels (C++ entry points and Numba twins) check every index and array themselves."""
    forward, backward = pn.backend.kernel("embedding_forward"), pn.backend.kernel("embedding_backward")
    w = np.zeros((5, 3), np.float32)
    out = np.empty((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"embedding: index 5 \(at position 1\) is out of range for a weight "
                                         r"of shape \(5, 3\)"):
        forward(w, np.array([0, 5]), out)
    with pytest.raises(ValueError, match=r"embedding: index -2"):
        forward(w, np.array([-2, 0]), out)
    with pytest.raises(TypeError, match="embedding: indices has dtype int32"):
        forward(w, np.array([0, 1], np.int32), out)
    with pytest.raises(ValueError, match=r"embedding: out has shape \(2, 3\), expected \(3, 3\)"):
        forward(w, np.array([0, 1, 2]), out)
    with pytest.raises(ValueError, match="embedding_backward: index 9"):
        backward(np.zeros((2, 3), np.float32), np.array([9, 0]), -1, w)
    with pytest.raises(ValueError, match="embedding_backward: padding_idx 5 is out of range"):
        backward(np.zeros((2, 3), np.float32), np.array([1, 0]), 5, w)
    with pytest.raises(ValueError, match="embedding_backward: grad has shape"):
        backward(np.zeros((3, 3), np.float32), np.array([1, 0]), -1, w)


def test_embedding_forward_and_repeated_index_backward(rng):
    w = pn.tensor(rng.standard_normal((6, 4)), requires_grad=True)
    idx = np.array([[0, 2, 2], [5, 2, 0]])
    out = F.embedding(idx, w)
    assert out.shape == (2, 3, 4)
    assert np.array_equal(out.numpy(), w.numpy()[idx])
    g = rng.standard_normal((2, 3, 4))
    out.backward(pn.tensor(g))
    expected = np.zeros((6, 4))
    for position, row in np.ndenumerate(idx):
        expected[row] += g[position]
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-12)
    assert np.array_equal(w.grad.numpy()[[1, 3, 4]], np.zeros((3, 4)))


@pytest.mark.parametrize("padding_idx", [2, -4])
def test_embedding_padding_row_gets_no_gradient(rng, padding_idx):
    w = pn.tensor(rng.standard_normal((6, 3)), requires_grad=True)
    out = F.embedding(pn.tensor(np.array([2, 1, 2, 4])), w, padding_idx=padding_idx)
    out.sum().backward()
    grad = w.grad.numpy()
    assert np.array_equal(grad[2], np.zeros(3))
    assert np.array_equal(grad[1], np.ones(3)) and np.array_equal(grad[4], np.ones(3))


def test_embedding_matches_torch(rng):
    torch = pytest.importorskip("torch")
    w = rng.standard_normal((9, 5)).astype(np.float32)
    idx = rng.integers(0, 9, size=(4, 7))
    g = rng.standard_normal((4, 7, 5)).astype(np.float32)
    pw = pn.tensor(w, requires_grad=True)
    out = F.embedding(idx, pw, padding_idx=3)
    out.backward(pn.tensor(g))
    tw = torch.tensor(w, requires_grad=True)
    tout = torch.nn.functional.embedding(torch.tensor(idx), tw, padding_idx=3)
    tout.backward(torch.tensor(g))
    np.testing.assert_array_equal(out.numpy(), tout.detach().numpy())
    np.testing.assert_allclose(pw.grad.numpy(), tw.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_embedding_gradcheck(rng):
    w = pn.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    assert pn.autograd.gradcheck(lambda w: F.embedding(np.array([[1, 4], [1, 1]]), w), (w,))


def test_embedding_bad_input():
    w = pn.zeros((5, 3))
    with pytest.raises(IndexError, match=r"embedding: index 5 is out of range for weight of shape \(5, 3\)"):
        F.embedding(np.array([0, 5]), w)
    with pytest.raises(IndexError, match=r"embedding: index -1 is out of range"):
        F.embedding(np.array([[-1]]), w)
    with pytest.raises(TypeError, match="embedding: indices must be integers, got dtype float64"):
        F.embedding(np.array([0.0, 1.0]), w)
    with pytest.raises(ValueError, match=r"embedding: weight must be 2-D .*got shape \(5,\)"):
        F.embedding(np.array([0]), pn.zeros(5))
    with pytest.raises(ValueError, match="embedding: padding_idx 5 is out of range"):
        F.embedding(np.array([0]), w, padding_idx=5)


def test_embedding_empty_indices():
    w = pn.tensor(np.ones((4, 2)), requires_grad=True)
    out = F.embedding(np.zeros((0, 3), np.int64), w)
    assert out.shape == (0, 3, 2)
    out.sum().backward()
    assert np.array_equal(w.grad.numpy(), np.zeros((4, 2)))


def test_dropout_of_a_scalar_keeps_its_shape(kernel_impl):
    out, mask = pn.kernels.dropout(np.array(3.0), 0.5, seed=5)
    assert out.shape == () and mask.shape == () and out in (0.0, 6.0)
    assert pn.kernels.dropout_backward(np.array(1.0), mask, 0.5).shape == ()
