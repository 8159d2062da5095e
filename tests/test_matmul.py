"""matmul / gemm against a NumPy float64 reference, on every backend, CPU variant and thread count."""
from __future__ import annotations

import numpy as np
import pytest

import pyneural as pn

SIZES = [1, 7, 31, 33, 127, 257]


def reference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.matmul(a.astype(np.float64), b.astype(np.float64))


def assert_matmul_close(got: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    """Within the standard floating-point error bound of a dot product: 2 k eps (|a| @ |b|)."""
    want = reference(a, b)
    assert got.shape == want.shape
    k = a.shape[-1]
    eps = np.finfo(np.result_type(a, b)).eps
    bound = 2 * k * eps * reference(np.abs(a), np.abs(b)) + np.finfo(np.float64).tiny
    err = np.abs(got.astype(np.float64) - want)
    assert np.all(err <= bound), f"max error {err.max():.3g}, worst ratio {np.max(err / bound):.3g}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (7, 33, 31), (33, 7, 127), (127, 257, 1), (257, 31, 33),
                                   (1, 257, 127), (31, 1, 257)])
def test_odd_sizes(kernel_impl, threads, rng, dtype, m, k, n):
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    got = pn.kernels.matmul(a, b)
    assert got.dtype == dtype
    assert_matmul_close(got, a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m", list(range(13, 26)) + [64])
def test_every_last_strip_height(kernel_impl, rng, dtype, m):
    """Last row strips of every height (shorter micro-kernels cover strips of a third or two thirds of MR),
    written in place (n a multiple of the tile width) and through the edge buffer (n not)."""
    for n in (64, 70):
        a = rng.standard_normal((m, 37)).astype(dtype)
        b = rng.standard_normal((37, n)).astype(dtype)
        assert_matmul_close(pn.kernels.matmul(a, b), a, b)
        out = np.full((m, n), np.nan, dtype)
        pn.kernels.matmul(a, b, out=out)  # through the batched gemm entry
        assert_matmul_close(out, a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m,k,n", [
    (257, 257, 127),   # on two threads: each thread its own rows, packed
    (120, 1100, 300),  # packed, one block of rows: threads over columns, 2-3 depth blocks
    (300, 1100, 800),  # packed, threads taking row blocks from a queue (the last ones smaller), 2-3 depth blocks
    (600, 200, 2100),  # packed, B shared by the threads, 2-4 column blocks (NC <= 2048 on every variant)
    (61, 513, 300),    # packed, few row strips: threads over columns
    (300, 1000, 9),    # narrow: transposed (native), one-vector tiles (Numba)
    (1, 4099, 1031),   # one row: matrix-vector, rows of b streamed
    (1031, 4099, 1),   # one column: matrix-vector as dot products
    (17, 40, 3001),    # few rows: direct path, no packing
    (97, 61, 83),      # small on two threads: each thread its own rows, direct
    (150, 100, 250),   # small on two threads: each thread its own rows, packed
    (37, 4099, 21),    # deep with a small C: the depth split over the threads, partial Cs summed
    (64, 96, 400),     # small, many columns: each thread its own columns when B must be transposed
])
@pytest.mark.parametrize("trans_b", [False, True])
def test_large_and_threaded_paths(kernel_impl, threads, rng, dtype, m, k, n, trans_b):
    """Large enough for several threads and depth blocks; every path of the native kernel."""
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((n, k)).astype(dtype).T if trans_b else rng.standard_normal((k, n)).astype(dtype)
    assert_matmul_close(pn.kernels.matmul(a, b), a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [3, 8, 9, 16, 17])
def test_few_columns(kernel_impl, threads, rng, dtype, n):
    """Products with few columns (a classifier's 10 outputs), batched, through transposed and strided views,
    with row counts that leave a partial last tile: Numba's one-vector tiles up to 16 (float32) or 8
    (float64) columns."""
    for m, k in [(300, 45), (13, 7), (1, 9)]:
        a = rng.standard_normal((m, k)).astype(dtype)
        b = rng.standard_normal((k, n)).astype(dtype)
        assert_matmul_close(pn.kernels.matmul(a, b), a, b)
        at = np.asfortranarray(a)
        bt = rng.standard_normal((2 * n, 2 * k)).astype(dtype)[::2, ::2].T  # strided, transposed
        assert_matmul_close(pn.kernels.matmul(at, bt), at, bt)
    for batch, m, k in [(3, 37, 11), (4, 203, 700), (1, 1001, 700)]:  # the last two large enough for threads
        a3 = rng.standard_normal((batch, m, k)).astype(dtype)
        b3 = rng.standard_normal((batch, k, n)).astype(dtype)
        out = np.full((batch, m, n), np.nan, dtype)
        pn.kernels.matmul(a3, b3, out=out)
        for i in range(batch):
            assert_matmul_close(out[i], a3[i], b3[i])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_transposes(kernel_impl, rng, dtype, trans_a, trans_b):
    m, k, n = 33, 127, 31
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    a_op, b_op = (a.T if trans_a else a), (b.T if trans_b else b)
    assert_matmul_close(pn.kernels.matmul(a_op, b_op), a_op, b_op)


@pytest.mark.parametrize("layout", ["fortran", "strided", "reversed", "broadcast_row"])
def test_memory_layouts(kernel_impl, rng, layout):
    base_a = rng.standard_normal((62, 74))
    base_b = rng.standard_normal((74, 58))
    if layout == "fortran":
        a, b = np.asfortranarray(base_a), np.asfortranarray(base_b)
    elif layout == "strided":
        a, b = base_a[::2, 1::3], base_b[::3, ::2]
    elif layout == "reversed":
        a, b = base_a[::-1, ::-1], base_b[::-1]
    else:  # zero strides: every row of a is the same row
        a, b = np.broadcast_to(base_a[0], base_a.shape), base_b
    out_base = np.zeros((2 * a.shape[0], 2 * b.shape[1]))
    out = out_base[::2, ::2]  # a non-contiguous out=
    got = pn.kernels.matmul(a, b, out=out)
    assert got is out
    assert_matmul_close(out, a, b)
    assert np.all(out_base[1::2] == 0) and np.all(out_base[:, 1::2] == 0)  # nothing written between


@pytest.mark.parametrize("shape_a,shape_b", [
    ((4, 5, 6), (4, 6, 3)), ((4, 5, 6), (6, 3)), ((5, 6), (2, 3, 6, 7)), ((2, 1, 5, 6), (3, 6, 4)),
    ((7,), (7,)), ((7,), (3, 7, 2)), ((3, 2, 7), (7,)), ((5, 7), (7,)), ((7,), (7, 4)),
])
def test_batched_broadcast_and_vectors(kernel_impl, rng, shape_a, shape_b):
    a = rng.standard_normal(shape_a).astype(np.float32)
    b = rng.standard_normal(shape_b).astype(np.float32)
    got = pn.kernels.matmul(a, b)
    assert got.shape == np.matmul(a, b).shape
    assert_matmul_close(got, a, b)


def test_unmergeable_batch_strides(kernel_impl, rng):
    a = rng.standard_normal((3, 4, 5, 6)).transpose(1, 0, 2, 3)  # batch dims (4, 3) not mergeable
    b = rng.standard_normal((6, 2))
    assert_matmul_close(pn.kernels.matmul(a, b), a, b)
    b3 = rng.standard_normal((3, 6, 2))
    out = np.empty((3, 4, 5, 2)).transpose(1, 0, 2, 3)  # an out= whose batch dims do not merge either
    assert pn.kernels.matmul(a, b3, out=out) is out
    assert_matmul_close(out, a, b3)


@pytest.mark.parametrize("shape_a,shape_b", [((0, 5), (5, 3)), ((4, 0), (0, 3)), ((4, 5), (5, 0)),
                                             ((0, 4, 5), (5, 3)), ((2, 3, 0), (2, 0, 4))])
def test_zero_sized(kernel_impl, shape_a, shape_b):
    a, b = np.ones(shape_a, np.float32), np.ones(shape_b, np.float32)
    got = pn.kernels.matmul(a, b)
    assert got.shape == np.matmul(a, b).shape
    assert np.all(got == 0)


def test_dtype_promotion_and_integers(kernel_impl, rng):
    a32 = rng.standard_normal((5, 6)).astype(np.float32)
    b64 = rng.standard_normal((6, 4))
    got = pn.kernels.matmul(a32, b64)
    assert got.dtype == np.float64
    assert_matmul_close(got, a32.astype(np.float64), b64)
    ai, bi = np.arange(12).reshape(3, 4), np.arange(8).reshape(4, 2)
    np.testing.assert_array_equal(pn.kernels.matmul(ai, bi), ai @ bi)
    np.testing.assert_array_equal(pn.kernels.matmul([[1.0, 2.0]], [[3.0], [4.0]]), [[11.0]])


def test_out_overlapping_input(kernel_impl, rng):
    a = rng.standard_normal((6, 6))
    b = rng.standard_normal((6, 6))
    want = reference(a, b)
    pn.kernels.matmul(a, b, out=a)  # in place: inputs are read before being overwritten
    np.testing.assert_allclose(a, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("a,b,error,words", [
    (np.ones((3, 4)), np.ones((5, 2)), ValueError, ["matmul", "(3, 4)", "(5, 2)"]),
    (np.ones((2, 3, 4)), np.ones((3, 4, 2)), ValueError, ["matmul", "(2, 3, 4)", "(3, 4, 2)"]),
    (np.float64(2.0), np.ones((2, 2)), ValueError, ["matmul", "()"]),
    (np.array([["a"]]), np.ones((1, 1)), TypeError, ["matmul", "<U1"]),
    (np.array([[object()]]), np.ones((1, 1)), TypeError, ["matmul", "object"]),
    ([[1.0, 2.0], [3.0]], np.ones((2, 2)), ValueError, ["matmul", "rectangular"]),
])
def test_bad_input(a, b, error, words):
    with pytest.raises(error) as info:
        pn.kernels.matmul(a, b)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("out,words", [(np.empty((3, 3)), ["(3, 3)", "(3, 2)"]),
                                       (np.empty((3, 2), np.float32), ["float32", "float64"])])
def test_bad_out(out, words):
    with pytest.raises(ValueError) as info:
        pn.kernels.matmul(np.ones((3, 4)), np.ones((4, 2)), out=out)
    for word in ["matmul", *words]:
        assert word in str(info.value)
    read_only = np.empty((3, 2))
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        pn.kernels.matmul(np.ones((3, 4)), np.ones((4, 2)), out=read_only)


def gemm_kernels():
    """The raw kernels under the Python layer: each must check its own arguments."""
    kernels = [pytest.param("numba", id="numba")]
    if "native" in pn.backend.available():
        kernels.insert(0, pytest.param("native", id="native"))
    return kernels


@pytest.mark.parametrize("impl", gemm_kernels())
def test_raw_gemm_rejects_bad_arguments(impl):
    previous = pn.backend.name()
    pn.backend.use(impl)
    try:
        gemm = pn.backend.kernel("gemm")
    finally:
        pn.backend.use(previous)
    f = np.ones((2, 3, 4), np.float32)
    g = np.ones((2, 4, 5), np.float32)
    out = np.empty((2, 3, 5), np.float32)
    gemm(f, g, out)
    np.testing.assert_array_equal(out, 4.0)
    with pytest.raises(ValueError, match="3-D"):
        gemm(f[0], g[0], out[0])
    with pytest.raises(ValueError, match="do not match"):
        gemm(f, np.ones((2, 3, 5), np.float32), out)
    with pytest.raises(ValueError, match="do not match"):
        gemm(f, g, np.empty((2, 3, 6), np.float32))
    with pytest.raises(TypeError, match="dtype|float"):
        gemm(f, g.astype(np.float64), out)
    with pytest.raises(TypeError, match="dtype|float"):
        gemm(f.astype(np.int32), g.astype(np.int32), out.astype(np.int32))
    read_only = out.copy()
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        gemm(f, g, read_only)


@pytest.mark.parametrize("impl", gemm_kernels())
def test_raw_matmul_kernel(impl, rng):
    """The 2-D kernel behind ``matmul(a, b)``: a new result for any strides, and its own argument checks."""
    previous = pn.backend.name()
    pn.backend.use(impl)
    try:
        matmul = pn.backend.kernel("matmul")
    finally:
        pn.backend.use(previous)
    a = rng.standard_normal((9, 5))
    b = rng.standard_normal((9, 7))[::-2].T  # (7, 5) with negative and transposed strides
    got = matmul(b, a.T)
    assert got.flags.c_contiguous and got.shape == (7, 9)
    assert_matmul_close(got, b, a.T)
    with pytest.raises(ValueError, match=r"matmul: expected 2-D arrays .* a\(9, 5\) and b\(9, 5\)"):
        matmul(a, a)
    with pytest.raises(ValueError, match="2-D"):
        matmul(a[None], a.T)
    with pytest.raises(TypeError, match="matmul: a has dtype float32, b float64"):
        matmul(a.astype(np.float32), a.T)
    with pytest.raises(TypeError, match="int64"):
        matmul(np.ones((2, 2), np.int64), np.ones((2, 2), np.int64))
    with pytest.raises(TypeError, match="int32"):
        matmul(np.ones((2, 2), np.int32), np.ones((2, 2), np.int32), np.empty((2, 2), np.int32))
    strided = np.full((7, 18), np.nan)[:, ::2]  # out with any strides is written in place
    assert matmul(b, a.T, strided) is strided
    assert_matmul_close(strided, b, a.T)
    square = rng.standard_normal((6, 6))
    want = reference(square, square)
    assert matmul(square, square, square) is square  # out is an input: the product reads a copy
    np.testing.assert_allclose(square, want, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match=r"matmul: out has shape \(7, 8\) and dtype float64; expected shape \(7, 9\)"):
        matmul(b, a.T, np.empty((7, 8)))
    with pytest.raises(ValueError, match="float32"):
        matmul(b, a.T, np.empty((7, 9), np.float32))
    read_only = np.empty((7, 9))
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        matmul(b, a.T, read_only)


def test_native_gemm_checks_overlap_and_strides():
    if "native" not in pn.backend.available():
        pytest.skip("native backend unavailable")
    gemm = pn.backend.native().gemm
    buf = np.ones((2, 4, 4), np.float32)
    with pytest.raises(ValueError, match="overlaps"):
        gemm(buf, buf, buf)
    with pytest.raises(ValueError, match="alias"):
        aliased = np.lib.stride_tricks.as_strided(np.empty((4, 4), np.float32), (2, 4, 4), (0, 16, 4))
        gemm(buf, buf.copy(), aliased)
    packed = np.zeros((2, 3, 3), dtype=[("x", np.float32), ("tag", np.int8)])["x"]  # 5-byte strides
    with pytest.raises(ValueError, match="multiple"):
        gemm(packed, np.ones((2, 3, 3), np.float32), np.empty((2, 3, 3), np.float32))


def test_torch_parity(kernel_impl, rng):
    torch = pytest.importorskip("torch")
    a = rng.standard_normal((3, 45, 67)).astype(np.float32)
    b = rng.standard_normal((67, 29)).astype(np.float32)
    want = torch.matmul(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(pn.kernels.matmul(a, b), want, rtol=1e-4, atol=1e-4)
