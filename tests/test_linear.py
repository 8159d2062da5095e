"""linear = act(x @ w.T + b) with the bias and activation fused into the GEMM's output pass."""
from __future__ import annotations

import math

import numpy as np
import pytest

import pyneural as pn

ERF = np.vectorize(math.erf)
REFERENCE = {
    None: lambda v: v,
    "relu": lambda v: np.maximum(v, 0),
    "gelu": lambda v: 0.5 * v * (1 + ERF(v / math.sqrt(2))),
    "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
    "tanh": np.tanh,
}


def reference(x, w, b, activation):
    z = x.astype(np.float64) @ w.astype(np.float64).T
    if b is not None:
        z = z + b.astype(np.float64)
    return REFERENCE[activation](z)


@pytest.mark.parametrize("activation", list(REFERENCE))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
# (300, 2100) x 70: several depth blocks, the bias and activation applied to the sum of the last
@pytest.mark.parametrize("shape_x,out_features", [((1, 33), 7), ((5, 3, 31), 65), ((257, 127), 33), ((64, 300), 1),
                                                  ((61, 513), 300), ((1, 2000), 1500),
                                                  ((300, 40), 9), ((300, 2100), 70)])
def test_linear_matches_reference(kernel_impl, rng, activation, dtype, shape_x, out_features):
    x = rng.standard_normal(shape_x).astype(dtype)
    w = rng.standard_normal((out_features, shape_x[-1])).astype(dtype) / math.sqrt(shape_x[-1])
    b = rng.standard_normal(out_features).astype(dtype)
    got = pn.kernels.linear(x, w, b, activation)
    assert got.shape == shape_x[:-1] + (out_features,) and got.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, reference(x, w, b, activation), rtol=tol, atol=tol)
    np.testing.assert_allclose(pn.kernels.linear(x, w), reference(x, w, None, None), rtol=tol, atol=tol)


@pytest.mark.parametrize("activation", [None, "relu", "gelu"])
@pytest.mark.parametrize("shape_x,out_features", [((97, 61), 83), ((150, 100), 250), ((300, 40), 9),
                                                   ((29, 4101), 35), ((64, 96), 400), ((300, 2100), 70)])
def test_linear_threads(kernel_impl, threads, rng, activation, shape_x, out_features):
    """Bias (by column, or by row when computed transposed) and activation on every thread's part, or after
    the threads' partial products over the depth are summed."""
    x = rng.standard_normal(shape_x).astype(np.float32)
    w = rng.standard_normal((out_features, shape_x[-1])).astype(np.float32) / math.sqrt(shape_x[-1])
    b = rng.standard_normal(out_features).astype(np.float32)
    np.testing.assert_allclose(pn.kernels.linear(x, w, b, activation), reference(x, w, b, activation),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("activation", [None, "gelu"])
@pytest.mark.parametrize("in_features,out_features", [(2000, 1500), (4099, 1031), (300, 5000)])
def test_linear_one_row_weight_transposed_in_memory(kernel_impl, threads, rng, activation, in_features, out_features):
    """One row against a weight stored (in, out) row by row: the matrix-vector product streaming rows of
    w.T, split over the depth on several threads (partial sums added up, then bias and activation)."""
    x = rng.standard_normal((1, in_features)).astype(np.float32)
    w = np.asfortranarray(rng.standard_normal((out_features, in_features)).astype(np.float32)) / math.sqrt(in_features)
    b = rng.standard_normal(out_features).astype(np.float32)
    np.testing.assert_allclose(pn.kernels.linear(x, w, b, activation), reference(x, w, b, activation),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("activation", [None, "relu"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape_x,out_features", [((150, 100), 96), ((7, 300), 200), ((600, 64), 12), ((600, 64), 40),
                                                   ((600, 64), 14)])
def test_linear_bias_strided_or_by_row(kernel_impl, threads, rng, activation, dtype, shape_x, out_features):
    """A contiguous bias and one seen through a stride (every other element), by column in whole and partial
    tiles, or by row where few output features run transposed (12, 14, 40: which ones depends on the vector
    width)."""
    x = rng.standard_normal(shape_x).astype(dtype)
    w = (rng.standard_normal((out_features, shape_x[-1])) / math.sqrt(shape_x[-1])).astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for b in (rng.standard_normal(out_features).astype(dtype), rng.standard_normal(2 * out_features).astype(dtype)[::2]):
        np.testing.assert_allclose(pn.kernels.linear(x, w, b, activation), reference(x, w, b, activation),
                                   rtol=tol, atol=tol)


@pytest.mark.parametrize("activation", [None, "relu", "gelu"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows", [24, 50])
def test_epilogue_with_a_read_in_place(kernel_impl, threads, rng, activation, dtype, rows):
    """Few rows of a row-major A times a B with unit-stride rows and 64 columns (whole tiles): the direct path
    reads A in place and adds the bias in registers, by column (a weight stored transposed), or by row (64 x rows
    with every operand in Fortran order, computed transposed). 50 rows: a last partial strip goes through packing."""
    tol = 1e-5 if dtype == np.float32 else 1e-12
    x = rng.standard_normal((rows, 37)).astype(dtype)
    w = np.asfortranarray(rng.standard_normal((64, 37)).astype(dtype)) / math.sqrt(37)  # w.T: rows unit-stride
    b = rng.standard_normal(64).astype(dtype)
    np.testing.assert_allclose(pn.kernels.linear(x, w, b, activation), reference(x, w, b, activation),
                               rtol=tol, atol=tol)
    # the other way round, out (64 x rows) = w @ x.T + b[:rows], every operand in Fortran order
    a, bt, row_bias = np.asfortranarray(w), np.ascontiguousarray(x).T, b[:rows]
    out = np.full((rows, 64), np.nan, dtype).T
    pn.backend.kernel("gemm")(a[None], bt[None], out[None], row_bias, activation)
    np.testing.assert_allclose(out, reference(a, bt.T, row_bias, activation), rtol=tol, atol=tol)


def test_linear_edge_values(kernel_impl):
    x = np.array([[np.nan, 1.0], [-np.inf, 0.0], [1e30, 0.0], [-1e30, 0.0]])
    w = np.array([[1.0, 0.0]])
    for activation in ["relu", "sigmoid", "tanh", "gelu"]:
        got = pn.kernels.linear(x, w, None, activation)[:, 0]
        assert np.isnan(got[0]), activation  # NaN propagates
        with np.errstate(over="ignore", invalid="ignore"):  # the reference overflows as the kernels must not
            want = REFERENCE[activation](x[1:, :1])[:, 0]
        np.testing.assert_allclose(got[1:], want)


def test_linear_empty_and_zero_features(kernel_impl):
    b = np.arange(3.0)
    assert pn.kernels.linear(np.ones((0, 4)), np.ones((3, 4)), b).shape == (0, 3)
    np.testing.assert_allclose(pn.kernels.linear(np.ones((2, 0)), np.ones((3, 0)), b, "tanh"), np.tanh([b, b]))


@pytest.mark.parametrize("x,w,b,act,words", [
    (np.ones((2, 3)), np.ones((4, 5)), None, None, ["linear", "(2, 3)", "(4, 5)"]),
    (np.ones((2, 3)), np.ones(3), None, None, ["linear", "(3,)"]),
    (np.ones((2, 3)), np.ones((4, 3)), np.ones(5), None, ["linear", "bias", "(5,)"]),
    (np.ones((2, 3)), np.ones((4, 3)), None, "softplus", ["linear", "softplus"]),
])
def test_linear_bad_input(x, w, b, act, words):
    with pytest.raises(ValueError) as info:
        pn.kernels.linear(x, w, b, act)
    for word in words:
        assert word in str(info.value)


def test_native_gemm_checks_epilogue_arguments():
    if "native" not in pn.backend.available():
        pytest.skip("native backend unavailable")
    gemm = pn.backend.native().gemm
    a, b, out = np.ones((1, 2, 3)), np.ones((1, 3, 4)), np.empty((1, 2, 4))
    with pytest.raises(ValueError, match="bias must have shape"):
        gemm(a, b, out, np.ones(3))
    with pytest.raises(TypeError, match="bias dtype"):
        gemm(a, b, out, np.ones(4, np.float32))
    with pytest.raises(ValueError, match="unknown activation"):
        gemm(a, b, out, None, "swish")
    with pytest.raises(ValueError, match="overlaps the bias"):
        gemm(a, b, out, out[0, 0])


def test_torch_parity(kernel_impl, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((37, 29)).astype(np.float32)
    w = rng.standard_normal((11, 29)).astype(np.float32)
    b = rng.standard_normal(11).astype(np.float32)
    want = torch.nn.functional.gelu(torch.nn.functional.linear(*map(torch.from_numpy, (x, w, b)))).numpy()
    np.testing.assert_allclose(pn.kernels.linear(x, w, b, "gelu"), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape_x", [(7,), (4, 5), (2, 3, 5)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_functional_linear_gradients(backend, shape_x, with_bias):
    import pyneural.nn.functional as F
    x = pn.randn(*shape_x, dtype=pn.float64, requires_grad=True)
    w = pn.randn(3, shape_x[-1], dtype=pn.float64, requires_grad=True)
    b = pn.randn(3, dtype=pn.float64, requires_grad=True)
    inputs = (x, w, b) if with_bias else (x, w)
    assert pn.autograd.gradcheck(lambda *t: F.linear(*t), inputs)


def test_functional_linear_torch_parity(backend, rng):
    torch = pytest.importorskip("torch")
    import pyneural.nn.functional as F
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in [(6, 4, 9), (5, 9), (5,)])
    g = rng.standard_normal((6, 4, 5)).astype(np.float32)
    px, pw, pb = (pn.tensor(v, requires_grad=True) for v in (x, w, b))
    tx, tw, tb = (torch.tensor(v, requires_grad=True) for v in (x, w, b))
    out = F.linear(px, pw, pb)
    want = torch.nn.functional.linear(tx, tw, tb)
    out.backward(pn.tensor(g))
    want.backward(torch.from_numpy(g))
    np.testing.assert_allclose(out.numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-5)
    for mine, theirs in [(px, tx), (pw, tw), (pb, tb)]:
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_linear_op_with_fused_activation_gradients(backend, rng, activation):
    """The op's backward takes the activation's derivative from the output: float64 finite differences."""
    from pyneural.ops.linear import linear
    x, w, b = (pn.tensor(rng.standard_normal(s), requires_grad=True) for s in [(3, 4, 7), (5, 7), (5,)])
    assert pn.autograd.gradcheck(lambda *t: linear(*t, activation=activation), (x, w, b))
    out = linear(x, w, b, activation)
    np.testing.assert_allclose(out.numpy(), reference(x.numpy(), w.numpy(), b.numpy(), activation), rtol=1e-12)


def test_linear_op_rejects_activations_it_cannot_fuse():
    from pyneural.ops.linear import linear
    with pytest.raises(ValueError, match="linear: activation"):
        linear(pn.ones((2, 3)), pn.ones((4, 3)), activation="gelu")
