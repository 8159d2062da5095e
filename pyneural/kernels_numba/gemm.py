"""Numba GEMM: ``out[i] = a[i] @ b[i]`` over a batch, any strides (contract of ``_C.gemm``).

BLIS-like structure. B is packed into column panels (depth x NR) and A into row panels (depth x MR),
contiguous and zero-padded, which absorbs any strides, transposes and ragged edges. A micro-kernel
keeps an MR x NR tile of ``out`` in vector registers while it walks one A panel and one B panel;
each A panel stays in L1 while the B panels of a depth x NC block (in L2) stream past it.

* Threads split the batch into whole matrices when there are many small ones, else each matrix
  into whole column panels (few rows) or whole row panels. Each thread packs what it needs for
  itself, so threads never wait for each other.
* Small problems run on one thread, and the micro-kernel reads whole tiles of ``a`` and ``b`` in
  place instead of packing them (``_matrix_direct``).
* ``m == 1`` (and ``n == 1``, by transposing) is a streaming matrix-vector product without packing.
* Up to one vector of columns (16 float32, 8 float64: a classifier's outputs) the tiles are one vector
  wide (``_gemm_narrow``) rather than 64 columns of mostly zero padding.

Numba only vectorizes what LLVM can prove, so the code is shaped for it:

* every array is read through a 1-D contiguous view of the memory it spans (``_flat``) with element
  strides: Numba addresses non-contiguous arrays with run-time byte strides, which LLVM turns into
  gathers and scatters;
* indices into those views are unsigned (``_u``) or slice-relative loop counters, so Numba emits no
  negative-index wraparound select, which would also block vectorization;
* the accumulators are a stack array indexed only by constants (``_tile_array``), which LLVM keeps
  in registers; a heap array might alias the panels and would stay in memory;
* the micro-kernel loops over the tile's columns outside its rows (MR fused multiply-adds per
  column), a form LLVM vectorizes for any tile shape; with the row loop outside, it vectorized only
  64-wide tiles.
"""
from __future__ import annotations

import threading

import numba
import numpy as np
from numba import njit, prange, types
from numba.core import cgutils, codegen, config
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic, overload
from numba.np.numpy_support import as_dtype

from .epilogue import apply_epilogue, check_epilogue

# FMA contraction only: no reassociation and no finite-math assumptions, so NaN and inf propagate
# as in NumPy, and the additions along k happen in order.
_FASTMATH = {"contract"}


def _target_has_avx512() -> bool:
    """Whether Numba compiles for a CPU with AVX-512 (its own rule: NUMBA_CPU_FEATURES, else the host)."""
    features = config.CPU_FEATURES if config.CPU_FEATURES is not None else codegen.get_host_cpu_features()
    return "+avx512f" in features.split(",")


# Micro-tile (MR rows, NR columns) per dtype, the fastest measured on Zen 4 (4 x 64, 5 x 64 and 6 x 64
# float32 are within noise for large products; 4 rows wastes least on small ones). With AVX-512
# the accumulators take 16 of the 32 vector registers. Compiled for AVX2 (16 registers), these
# were the fastest; LLVM vectorizes most other float64 tiles poorly there.
if _target_has_avx512():
    _TILES = {np.dtype(np.float32): (4, 64), np.dtype(np.float64): (4, 32)}
else:
    _TILES = {np.dtype(np.float32): (3, 32), np.dtype(np.float64): (2, 32)}
# Tiles for products with few columns (n = 10 classes...): one vector wide instead of 64 columns of which
# most would be zero padding (256x128x10 float32: 22 -> 11 us; the rows per tile hardly matter).
_NARROW_TILES = {np.dtype(np.float32): (8, 16), np.dtype(np.float64): (8, 8)}
if not _target_has_avx512():  # 8 of AVX2's 16 registers
    _NARROW_TILES = {np.dtype(np.float32): (4, 16), np.dtype(np.float64): (4, 8)}
_KC = 256          # most depth of a packed block: an A panel fits L1, a B panel L2
_B_BLOCK_BYTES = 1 << 19  # a packed B block (KC x NC) takes half of L2, so NC is 512 float32 or 256 float64
_COLUMN_SPLIT_ROWS = 256  # up to this many rows, threads split the columns (the packed A slice fits L2)
_SERIAL_FLOPS = 1 << 21   # below this many flops per call, threads cost more than they save
_GEMV_COLS = 512   # output columns per task of the matrix-vector product (accumulators stay in L1)
_DOT_LANES = 64    # partial sums per dot product in the matrix-vector product with contiguous columns


def _per_dtype(name: str, table: dict):
    """A function ``name(dtype) -> table[dtype]``; in compiled code its result is a compile-time constant."""
    def lookup(dtype):
        return table[np.dtype(dtype)]

    @overload(lookup, inline="always")
    def lookup_compiled(dtype):
        value = table[as_dtype(dtype.dtype)]
        return lambda dtype: value

    lookup.__name__ = lookup.__qualname__ = name
    return lookup


_rows = _per_dtype("_rows", {dtype: rows for dtype, (rows, _) in _TILES.items()})  # MR
_cols = _per_dtype("_cols", {dtype: cols for dtype, (_, cols) in _TILES.items()})  # NR
_narrow_rows = _per_dtype("_narrow_rows", {dtype: rows for dtype, (rows, _) in _NARROW_TILES.items()})
_narrow_cols = _per_dtype("_narrow_cols", {dtype: cols for dtype, (_, cols) in _NARROW_TILES.items()})
_block_panels = _per_dtype("_block_panels", {  # NC / NR: B panels in a packed B block
    dtype: max(1, _B_BLOCK_BYTES // (_KC * cols * dtype.itemsize)) for dtype, (_, cols) in _TILES.items()})


def _alloca_array(context, builder, array_type, count: int):
    """Code for a 1-D array of ``count`` elements in the function's stack frame."""
    item_type = context.get_data_type(array_type.dtype)
    itemsize = context.get_constant(types.intp, context.get_abi_sizeof(item_type))
    size = context.get_constant(types.intp, count)
    array = context.make_array(array_type)(context, builder)
    context.populate_array(array, data=cgutils.alloca_once(builder, item_type, size=size),
                           shape=cgutils.pack_array(builder, [size]), strides=cgutils.pack_array(builder, [itemsize]),
                           itemsize=itemsize, meminfo=None)
    return array._getvalue()


def _stack_tile(dtype, tiles: dict):
    """Typing and code of an intrinsic for stack scratch of one ``tiles[dtype]`` = (MR, NR) micro-tile."""
    if not isinstance(dtype, types.DType):
        return None
    array_type = types.Array(dtype.dtype, 1, "C")
    rows, cols = tiles[as_dtype(dtype.dtype)]
    return array_type(dtype), lambda context, builder, signature, args: _alloca_array(context, builder, array_type,
                                                                                      rows * cols)


@intrinsic
def _tile_array(typingctx, dtype):
    """Stack scratch for one micro-tile: MR * NR elements of ``dtype``, row-major."""
    return _stack_tile(dtype, _TILES)


@intrinsic
def _narrow_tile_array(typingctx, dtype):
    """Stack scratch for one narrow micro-tile (``_NARROW_TILES``), row-major."""
    return _stack_tile(dtype, _NARROW_TILES)


@intrinsic
def _lanes_array(typingctx, dtype):
    """Stack scratch for the DOT_LANES partial sums of a dot product."""
    if not isinstance(dtype, types.DType):
        return None
    array_type = types.Array(dtype.dtype, 1, "C")
    return array_type(dtype), lambda context, builder, signature, args: _alloca_array(context, builder, array_type,
                                                                                      _DOT_LANES)


@intrinsic
def _span_view(typingctx, x, byte_offset, length):
    """1-D contiguous view of ``length`` elements from ``byte_offset`` bytes past ``x``'s data pointer.

    The view's type is writable even for a read-only ``x``, so that views of inputs, output and
    packing buffers share one type and each helper compiles once; inputs are only ever read.
    """
    if not isinstance(x, types.Array):
        return None
    view_type = types.Array(x.dtype, 1, "C")

    def codegen(context, builder, signature, args):
        x_value, offset, count = args
        source = context.make_array(signature.args[0])(context, builder, x_value)
        itemsize = context.get_constant(types.intp, context.get_abi_sizeof(context.get_data_type(x.dtype)))
        view = context.make_array(view_type)(context, builder)
        context.populate_array(view, data=cgutils.pointer_add(builder, source.data, offset),
                               shape=cgutils.pack_array(builder, [count]),
                               strides=cgutils.pack_array(builder, [itemsize]), itemsize=itemsize,
                               meminfo=source.meminfo, parent=source.parent)
        return impl_ret_borrowed(context, builder, view_type, view._getvalue())

    return view_type(x, types.intp, types.intp), codegen


@njit(cache=True)
def _flat(x):
    """``(buf, off, s0, s1, s2)`` with ``x[i, j, l] == buf[off + i*s0 + j*s1 + l*s2]``.

    ``buf`` is a contiguous view of the memory ``x`` spans, from its lowest address, so every index
    is >= 0; strides are in elements and may be zero or negative. ``x`` must be non-empty and its
    strides multiples of its item size.
    """
    itemsize = x.itemsize
    s0, s1, s2 = x.strides[0] // itemsize, x.strides[1] // itemsize, x.strides[2] // itemsize
    lo = 0
    hi = 0
    for extent in ((x.shape[0] - 1) * s0, (x.shape[1] - 1) * s1, (x.shape[2] - 1) * s2):
        if extent < 0:
            lo += extent
        else:
            hi += extent
    return _span_view(x, lo * itemsize, hi - lo + 1), -lo, s0, s1, s2


@njit(inline="always")
def _u(index):
    """``index`` as unsigned: Numba then emits no wraparound select for negative indices (which keeps
    LLVM from vectorizing). Indices into ``_flat`` views are never negative."""
    return np.uint64(index)


@njit(cache=True)
def _pack_a(a, o, si, sp, mr, kc, dst):
    """``dst[p*MR + i] = a[o + i*si + p*sp]`` for i < mr, p < kc (flat ``a``); rows mr..MR-1 are 0."""
    MR = _rows(dst.dtype)
    if mr == MR and si == 1:  # the block's columns are contiguous
        for p in range(kc):
            for i in range(MR):
                dst[p * MR + i] = a[_u(o + p * sp + i)]
    elif mr == MR:  # LLVM vectorizes this for contiguous rows (sp == 1), checked at run time
        for p in range(kc):
            for i in range(MR):
                dst[p * MR + i] = a[_u(o + i * si + p * sp)]
    else:
        for p in range(kc):
            for i in range(mr):
                dst[p * MR + i] = a[_u(o + i * si + p * sp)]
            for i in range(mr, MR):
                dst[p * MR + i] = 0


@njit(cache=True)
def _pack_b(b, o, sp, sj, kc, nr, dst):
    """``dst[p*NR + j] = b[o + p*sp + j*sj]`` for p < kc, j < nr (flat ``b``); columns nr..NR-1 are 0."""
    NR = _cols(dst.dtype)
    if sj == 1:  # contiguous rows: copies of run-time length, which LLVM vectorizes (and does not unroll)
        for p in range(kc):
            src = b[_u(o + p * sp):_u(o + p * sp + nr)]
            row = dst[p * NR:(p + 1) * NR]
            for j in range(nr):
                row[j] = src[j]
            for j in range(nr, NR):
                row[j] = 0
    elif nr == NR and sp == 1:  # contiguous columns (a transposed b)
        for p in range(kc):
            for j in range(NR):
                dst[p * NR + j] = b[_u(o + p + j * sj)]
    else:
        for p in range(kc):
            for j in range(nr):
                dst[p * NR + j] = b[_u(o + p * sp + j * sj)]
            for j in range(nr, NR):
                dst[p * NR + j] = 0


@njit(cache=True, fastmath=_FASTMATH)
def _micro_tile(kc, a, oa, sai, sap, b, ob, sbp, c, o, si, sj, mr, nr, accumulate):
    """``c[:mr, :nr] (+)= A @ B`` over depth kc, with ``A[i, p] = a[oa + i*sai + p*sap]`` for i < MR and
    ``B[p, j] = b[ob + p*sbp + j]`` for j < NR (packed panels, or a and b read in place).

    ``c`` is flat with the tile's corner at ``o`` and strides ``si``, ``sj``; ``accumulate`` adds to
    ``c`` instead of overwriting it.
    """
    MR = _rows(c.dtype)
    NR = _cols(c.dtype)
    acc = _tile_array(c.dtype)
    for t in range(MR * NR):
        acc[t] = 0
    for p in range(kc):
        for j in range(NR):
            b_pj = b[_u(ob + p * sbp + j)]
            for i in range(MR):
                acc[i * NR + j] += a[_u(oa + i * sai + p * sap)] * b_pj
    if mr == MR and nr == NR and sj == 1:  # whole tile, contiguous rows of c: vector stores
        for i in range(MR):
            row = c[_u(o + i * si):_u(o + i * si + NR)]
            if accumulate:
                for j in range(NR):
                    row[j] += acc[i * NR + j]
            else:
                for j in range(NR):
                    row[j] = acc[i * NR + j]
        return
    # Edge tile or strided c. Copy out first: indexing acc with a variable would keep it out of registers.
    tile = _tile_array(c.dtype)
    for t in range(MR * NR):
        tile[t] = acc[t]
    for i in range(mr):
        if sj == 1:
            row = c[_u(o + i * si):_u(o + i * si + nr)]
            src = tile[i * NR:i * NR + nr]
            if accumulate:
                for j in range(nr):
                    row[j] += src[j]
            else:
                for j in range(nr):
                    row[j] = src[j]
        else:
            for j in range(nr):
                q = _u(o + i * si + j * sj)
                if accumulate:
                    c[q] += tile[i * NR + j]
                else:
                    c[q] = tile[i * NR + j]


@njit(cache=True)
def _pack_a_panel(A, bi, pc, kc, m, ip, dst):
    """Row panel ``ip`` (rows ip*MR...) of ``a[bi][:, pc:pc+kc]`` into ``dst``; ``A`` is ``_flat(a)``."""
    a, ao, as0, ai, ap = A
    MR = _rows(dst.dtype)
    i = ip * MR
    _pack_a(a, ao + bi * as0 + i * ai + pc * ap, ai, ap, min(MR, m - i), kc, dst)


@njit(cache=True)
def _pack_b_panel(B, bi, pc, kc, n, jp, dst):
    """Column panel ``jp`` (columns jp*NR...) of ``b[bi][pc:pc+kc]`` into ``dst``; ``B`` is ``_flat(b)``."""
    b, bo, bs0, bp, bj = B
    NR = _cols(dst.dtype)
    j = jp * NR
    _pack_b(b, bo + bi * bs0 + pc * bp + j * bj, bp, bj, kc, min(NR, n - j), dst)


@njit(inline="always")
def _packed_strides(dtype):
    """``(0, 1, MR, NR)``: offset and strides of packed panels, as run-time ints. Constants would make
    Numba compile one more micro-kernel per combination of constant and run-time arguments."""
    return np.intp(0), np.intp(1), np.intp(_rows(dtype)), np.intp(_cols(dtype))


@njit(cache=True)
def _depth_step(k):
    """Depth of the packed blocks: at most KC, all blocks of one product equally deep."""
    blocks = (k + _KC - 1) // _KC
    return (k + blocks - 1) // blocks


@njit(cache=True)
def _pack_buffers(m, n, k, dtype):
    """Packed A (all row panels of one depth block) and packed B (one block of up to NC columns).

    Panel ``ip`` of A is ``apack[ip]``, laid out as ``[p*MR + i]``; panel ``jp`` of B is
    ``bpack[jp]``, laid out as ``[p*NR + j]``.
    """
    MR = _rows(dtype)
    NR = _cols(dtype)
    step = _depth_step(k)
    return (np.empty(((m + MR - 1) // MR, step * MR), dtype),
            np.empty((min(_block_panels(dtype), (n + NR - 1) // NR), step * NR), dtype))


@njit(cache=True, fastmath=_FASTMATH)
def _matrix_direct(A, B, C, bi, m, n, k, apanel, bpanel):
    """``out[bi] = a[bi] @ b[bi]`` for small problems with contiguous rows of ``b``, on the calling thread.

    Packing costs more than it saves when little is reused: the micro-kernel reads ``a`` and ``b``
    in place, and only the ragged last row and column panels are packed (zero-padded).
    """
    a, ao, as0, ai, ap = A
    b, bo, bs0, bp, _ = B
    c, co, cs0, ci, cj = C
    MR = _rows(c.dtype)
    NR = _cols(c.dtype)
    zero, one, packed_sap, packed_sbp = _packed_strides(c.dtype)
    mp = (m + MR - 1) // MR
    np_ = (n + NR - 1) // NR
    full_cols = n // NR
    step = _depth_step(k)
    for pc in range(0, k, step):
        kc = min(step, k - pc)
        if full_cols < np_:
            _pack_b_panel(B, bi, pc, kc, n, full_cols, bpanel)
        for ip in range(mp):
            i = ip * MR
            mr = min(MR, m - i)
            if mr == MR:  # A in place
                pa, oa, sai, sap = a, ao + bi * as0 + i * ai + pc * ap, ai, ap
            else:
                _pack_a_panel(A, bi, pc, kc, m, ip, apanel)
                pa, oa, sai, sap = apanel, zero, one, packed_sap
            for jp in range(np_):
                j = jp * NR
                if jp < full_cols:  # B in place
                    pb, ob, sbp = b, bo + bi * bs0 + pc * bp + j, bp
                else:
                    pb, ob, sbp = bpanel, zero, packed_sbp
                _micro_tile(kc, pa, oa, sai, sap, pb, ob, sbp, c, co + bi * cs0 + i * ci + j * cj, ci, cj, mr,
                            min(NR, n - j), pc > 0)


@njit(cache=True, fastmath=_FASTMATH)
def _matrix_serial(A, B, C, bi, m, n, k, apack, bpack):
    """``out[bi] = a[bi] @ b[bi]`` on the calling thread (``A, B, C`` from ``_flat``; buffers from
    ``_pack_buffers``).

    For each depth block: pack all row panels of A, then for each block of columns pack its B
    panels and run the micro-kernel over the tiles, row panel by row panel.
    """
    if 2 * m * n * k < _SERIAL_FLOPS and B[4] == 1:
        _matrix_direct(A, B, C, bi, m, n, k, apack[0], bpack[0])
        return
    c, co, cs0, ci, cj = C
    MR = _rows(c.dtype)
    NR = _cols(c.dtype)
    zero, one, sap, sbp = _packed_strides(c.dtype)
    mp = (m + MR - 1) // MR
    np_ = (n + NR - 1) // NR
    step = _depth_step(k)
    for pc in range(0, k, step):
        kc = min(step, k - pc)
        for ip in range(mp):
            _pack_a_panel(A, bi, pc, kc, m, ip, apack[ip])
        # Few rows: A (all of it in L2) streams past each B panel right after packing it. Many rows:
        # B in blocks (L2) streams past each A panel (L1).
        block = 1 if m <= _COLUMN_SPLIT_ROWS else _block_panels(c.dtype)
        for jp0 in range(0, np_, block):
            jp1 = min(np_, jp0 + block)
            for jp in range(jp0, jp1):
                _pack_b_panel(B, bi, pc, kc, n, jp, bpack[jp - jp0])
            for ip in range(mp):
                i = ip * MR
                for jp in range(jp0, jp1):
                    j = jp * NR
                    _micro_tile(kc, apack[ip], zero, one, sap, bpack[jp - jp0], zero, sbp,
                                c, co + bi * cs0 + i * ci + j * cj, ci, cj, min(MR, m - i), min(NR, n - j), pc > 0)


@njit(cache=True, fastmath=_FASTMATH)
def _gemm_serial(a, b, out):
    """The whole batch on the calling thread: small problems, or one thread."""
    batch, m, k = a.shape
    n = b.shape[2]
    A, B, C = _flat(a), _flat(b), _flat(out)
    apack, bpack = _pack_buffers(m, n, k, out.dtype)
    for bi in range(batch):
        _matrix_serial(A, B, C, bi, m, n, k, apack, bpack)


@njit(parallel=True, cache=True, fastmath=_FASTMATH)
def _gemm_parallel(a, b, out, threads):
    """The batch split into ``threads`` parts, each running the one-thread algorithm with its own
    packing buffers, so that threads never wait for each other.

    The parts are whole matrices when there are many small ones; else, for each matrix, whole
    column panels when there are few rows (the packed A slice fits L2), or whole row panels. The
    price is that each thread packs all of A (column split) or all of B (row split) for itself.
    """
    batch, m, k = a.shape
    n = b.shape[2]
    A, B, C = _flat(a), _flat(b), _flat(out)
    MR = _rows(out.dtype)
    NR = _cols(out.dtype)
    row_panels = (m + MR - 1) // MR
    col_panels = (n + NR - 1) // NR
    by_matrix = batch >= threads and 2 * m * n * k < 8 * _SERIAL_FLOPS
    by_columns = (m <= _COLUMN_SPLIT_ROWS and col_panels >= threads) or row_panels < threads
    if by_matrix:
        per_task = (batch + threads - 1) // threads
    elif by_columns:
        per_task = (col_panels + threads - 1) // threads * NR
    else:
        per_task = (row_panels + threads - 1) // threads * MR
    for t in prange(threads):
        lo = t * per_task
        At, Bt, Ct, mt, nt, b0, b1 = A, B, C, m, n, 0, batch
        if by_matrix:
            b0, b1 = lo, min(batch, lo + per_task)
        elif by_columns:  # columns lo... of b and out
            nt = min(per_task, n - lo)
            Bt = (B[0], B[1] + lo * B[4], B[2], B[3], B[4])
            Ct = (C[0], C[1] + lo * C[4], C[2], C[3], C[4])
        else:  # rows lo... of a and out
            mt = min(per_task, m - lo)
            At = (A[0], A[1] + lo * A[3], A[2], A[3], A[4])
            Ct = (C[0], C[1] + lo * C[3], C[2], C[3], C[4])
        if b1 > b0 and mt > 0 and nt > 0:
            apack, bpack = _pack_buffers(mt, nt, k, out.dtype)
            for bi in range(b0, b1):
                _matrix_serial(At, Bt, Ct, bi, mt, nt, k, apack, bpack)


@njit(cache=True, fastmath=_FASTMATH)
def _narrow_tile(k, a, oa, sai, sap, bpanel, c, o, si, sj, mr, n):
    """``c[:mr, :n] = A @ B`` over depth k for ``n <= NR`` (narrow tile), with ``A[i, p] = a[oa + i*sai + p*sap]``
    for i < MR and ``B[p, j] = bpanel[p*NR + j]`` (packed, zero-padded).

    ``_micro_tile``'s loops with the narrow tile's MR and NR, which must be compile-time constants for
    LLVM to keep the accumulators in registers (hence a function of its own, not an argument)."""
    MR = _narrow_rows(c.dtype)
    NR = _narrow_cols(c.dtype)
    acc = _narrow_tile_array(c.dtype)
    for t in range(MR * NR):
        acc[t] = 0
    for p in range(k):
        for j in range(NR):
            b_pj = bpanel[p * NR + j]
            for i in range(MR):
                acc[i * NR + j] += a[_u(oa + i * sai + p * sap)] * b_pj
    tile = _narrow_tile_array(c.dtype)  # copied out: indexing acc with a variable would keep it in memory
    for t in range(MR * NR):
        tile[t] = acc[t]
    for i in range(mr):
        for j in range(n):
            c[_u(o + i * si + j * sj)] = tile[i * NR + j]


@njit(cache=True, fastmath=_FASTMATH)
def _narrow_rows_product(A, B, C, bi, i0, i1, k, n, apanel, bpanel):
    """``out[bi, i0:i1] = a[bi, i0:i1] @ b[bi]`` for ``n <= NR`` of the narrow tile: B packed once, A read
    in place but for a last panel of fewer than MR rows (packed, zero-padded)."""
    a, ao, as0, ai, ap = A
    b, bo, bs0, bp, bj = B
    c, co, cs0, ci, cj = C
    MR = _narrow_rows(c.dtype)
    NR = _narrow_cols(c.dtype)
    for p in range(k):
        for j in range(NR):
            bpanel[p * NR + j] = b[_u(bo + bi * bs0 + p * bp + j * bj)] if j < n else 0
    for i in range(i0, i1, MR):
        mr = min(MR, i1 - i)
        oa = ao + bi * as0 + i * ai
        o = co + bi * cs0 + i * ci
        if mr == MR:
            _narrow_tile(k, a, oa, ai, ap, bpanel, c, o, ci, cj, mr, n)
        else:
            for p in range(k):
                for r in range(MR):
                    apanel[p * MR + r] = a[_u(oa + r * ai + p * ap)] if r < mr else 0
            _narrow_tile(k, apanel, np.intp(0), np.intp(1), np.intp(MR), bpanel, c, o, ci, cj, mr, n)


@njit(cache=True, fastmath=_FASTMATH)
def _gemm_narrow_serial(a, b, out):
    """Products with at most NR columns of the narrow tile, on the calling thread."""
    batch, m, k = a.shape
    A, B, C = _flat(a), _flat(b), _flat(out)
    apanel = np.empty(k * _narrow_rows(out.dtype), out.dtype)
    bpanel = np.empty(k * _narrow_cols(out.dtype), out.dtype)
    for bi in range(batch):
        _narrow_rows_product(A, B, C, bi, 0, m, k, b.shape[2], apanel, bpanel)


@njit(parallel=True, cache=True, fastmath=_FASTMATH)
def _gemm_narrow(a, b, out, threads):
    """Products with at most NR columns of the narrow tile: tasks of whole matrices, or of row ranges
    (whole panels) when the batch is smaller than the thread count; each packs its own B."""
    batch, m, k = a.shape
    n = b.shape[2]
    A, B, C = _flat(a), _flat(b), _flat(out)
    MR = _narrow_rows(out.dtype)
    NR = _narrow_cols(out.dtype)
    chunks = 1 if batch >= threads else (threads + batch - 1) // batch
    rows = ((m + chunks - 1) // chunks + MR - 1) // MR * MR
    for task in prange(batch * chunks):
        bi = task // chunks
        i0 = (task % chunks) * rows
        if i0 < m:
            _narrow_rows_product(A, B, C, bi, i0, min(m, i0 + rows), k, n, np.empty(k * MR, out.dtype),
                                 np.empty(k * NR, out.dtype))


@njit(cache=True, fastmath=_FASTMATH)
def _gemv_rows(A, B, C, bi, k, j0, w, acc):
    """``out[bi, 0, j0:j0+w] = a[bi, 0] @ b[bi, :, j0:j0+w]`` for ``b`` with contiguous rows.

    Streams ``b`` row by row, four rows per pass over the L1-resident accumulators ``acc`` (w long).
    """
    a, ao, as0, _, ap = A
    b, bo, bs0, bp, _ = B
    c, co, cs0, _, cj = C
    for j in range(w):
        acc[j] = 0
    a0 = ao + bi * as0
    o = bo + bi * bs0 + j0
    p = 0
    while p + 4 <= k:  # the additions stay in order along k: ((acc + x0 r0) + x1 r1) + ...
        x0, x1 = a[_u(a0 + p * ap)], a[_u(a0 + (p + 1) * ap)]
        x2, x3 = a[_u(a0 + (p + 2) * ap)], a[_u(a0 + (p + 3) * ap)]
        q = o + p * bp
        r0, r1 = b[_u(q):_u(q + w)], b[_u(q + bp):_u(q + bp + w)]
        r2, r3 = b[_u(q + 2 * bp):_u(q + 2 * bp + w)], b[_u(q + 3 * bp):_u(q + 3 * bp + w)]
        for j in range(w):
            acc[j] = acc[j] + x0 * r0[j] + x1 * r1[j] + x2 * r2[j] + x3 * r3[j]
        p += 4
    while p < k:
        x0 = a[_u(a0 + p * ap)]
        r0 = b[_u(o + p * bp):_u(o + p * bp + w)]
        for j in range(w):
            acc[j] += x0 * r0[j]
        p += 1
    q = co + bi * cs0 + j0 * cj
    if cj == 1:
        row = c[_u(q):_u(q + w)]
        for j in range(w):
            row[j] = acc[j]
    else:
        for j in range(w):
            c[_u(q + j * cj)] = acc[j]


@njit(cache=True, fastmath=_FASTMATH)
def _gemv_dots(A, B, C, bi, k, j0, w, arow):
    """``out[bi, 0, j0:j0+w] = a[bi, 0] @ b[bi, :, j0:j0+w]`` for ``b`` with contiguous columns.

    Dot products against a contiguous copy ``arow`` (k long) of ``a[bi, 0]``, each with DOT_LANES
    partial sums, added up at the end: it vectorizes without letting the compiler reassociate.
    """
    a, ao, as0, _, ap = A
    b, bo, bs0, _, bj = B
    c, co, cs0, _, cj = C
    for p in range(k):
        arow[p] = a[_u(ao + bi * as0 + p * ap)]
    lanes = _lanes_array(c.dtype)
    body = k - k % _DOT_LANES
    for j in range(j0, j0 + w):
        q = bo + bi * bs0 + j * bj
        col = b[_u(q):_u(q + k)]
        for t in range(_DOT_LANES):
            lanes[t] = 0
        for p0 in range(0, body, _DOT_LANES):
            x = arow[p0:p0 + _DOT_LANES]
            y = col[p0:p0 + _DOT_LANES]
            for t in range(_DOT_LANES):
                lanes[t] += x[t] * y[t]
        total = lanes[0]
        for t in range(1, _DOT_LANES):
            total += lanes[t]
        for p in range(body, k):
            total += arow[p] * col[p]
        c[_u(co + bi * cs0 + j * cj)] = total


@njit(parallel=True, cache=True, fastmath=_FASTMATH)
def _gemv(a, b, out, threads):
    """``m == 1``, ``b`` with contiguous rows or columns: tasks of equal column ranges (at most
    GEMV_COLS, at least one per thread) read ``b`` once."""
    batch, _, k = a.shape
    n = b.shape[2]
    A, B, C = _flat(a), _flat(b), _flat(out)
    by_rows = B[4] == 1
    chunks = max((n + _GEMV_COLS - 1) // _GEMV_COLS, (threads + batch - 1) // batch)
    width = min(n, ((n + chunks - 1) // chunks + 15) // 16 * 16)  # whole vectors
    chunks = (n + width - 1) // width
    for task in prange(batch * chunks):
        bi = task // chunks
        j0 = (task % chunks) * width
        w = min(width, n - j0)
        if by_rows:
            _gemv_rows(A, B, C, bi, k, j0, w, np.empty(w, out.dtype))
        else:
            _gemv_dots(A, B, C, bi, k, j0, w, np.empty(k, out.dtype))


def _signature(dtype: np.dtype, extra: tuple) -> tuple:
    """(a, b, out, *extra) as Numba types: any layout, inputs possibly read-only."""
    scalar = numba.from_dtype(dtype)
    return (types.Array(scalar, 3, "A", readonly=True), types.Array(scalar, 3, "A", readonly=True),
            types.Array(scalar, 3, "A"), *extra)


_compiled: set = set()
_compile_lock = threading.Lock()


def _ready(function, dtype: np.dtype, extra: tuple = ()):
    """``function`` compiled for ``dtype`` with its arrays typed as any-layout.

    One compiled version per dtype serves C, Fortran and strided arrays alike (Numba would otherwise
    compile one per mix of layouts). It is compiled on first use, or loaded from Numba's disk cache.
    """
    key = (function, dtype)
    if key not in _compiled:
        with _compile_lock:
            if key not in _compiled:
                function.disable_compile(False)
                try:
                    function.compile(_signature(dtype, extra))
                finally:
                    function.disable_compile(True)  # calls now convert their arrays to the any-layout version
                _compiled.add(key)
    return function


def _self_overlapping(x: np.ndarray) -> bool:
    """Whether distinct indices of ``x`` may share an address (the native kernel's rule)."""
    span = 1
    for size, stride in sorted(zip(x.shape, map(abs, x.strides)), key=lambda d: d[1]):
        if size > 1:
            if stride < span:
                return True
            span += (size - 1) * stride
    return False


def _padded_work(m: int, n: int, dtype: np.dtype) -> int:
    """Output elements computed, padding included, when m is tiled by MR rows and n by NR columns."""
    rows, cols = _TILES[dtype]
    return -(-m // rows) * rows * (-(-n // cols) * cols)


def gemm(a: np.ndarray, b: np.ndarray, out: np.ndarray, bias: np.ndarray | None = None,
         activation: str | None = None) -> None:
    """Batched ``out[i] = act(a[i] @ b[i] + bias)``, the contract of ``_C.gemm``: a (batch, m, k),
    b (batch, k, n), out (batch, m, n), bias (n,) or None, activation None/relu/gelu/sigmoid/tanh.

    The bias and activation run as a second parallel pass over ``out`` (the native kernel fuses them).
    """
    if out.ndim == 3:  # (other shape errors are _product's to report)
        check_epilogue(out, bias, activation)
    _product(a, b, out)
    apply_epilogue(out, bias, activation)


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b`` for 2-D arrays a (m, k), b (k, n) of one float dtype, any strides, into ``out`` (which may
    share memory with a or b, as in NumPy) or a new (m, n) array: the contract of ``_C.matmul``."""
    if not isinstance(a, np.ndarray) or not isinstance(b, np.ndarray):
        raise TypeError(f"matmul: expected NumPy arrays, got {type(a).__name__} and {type(b).__name__}")
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"matmul: expected 2-D arrays (m, k) and (k, n), got a{a.shape} and b{b.shape}")
    if a.dtype != b.dtype:
        raise TypeError(f"matmul: a has dtype {a.dtype}, b {b.dtype}; expected one float dtype")
    if a.dtype not in (np.float32, np.float64):
        raise TypeError(f"matmul: expected float32 or float64 arrays, got {a.dtype}")
    shape = (a.shape[0], b.shape[1])
    if out is None:  # a new array: no overlaps to check
        out = np.empty(shape, a.dtype)
        _run_product(a[None], b[None], out[None])
        return out
    if not isinstance(out, np.ndarray) or out.shape != shape or out.dtype != a.dtype:
        raise ValueError(f"matmul: out has shape {np.shape(out)} and dtype {getattr(out, 'dtype', None)}; "
                         f"expected shape {shape} and dtype {a.dtype}")
    if not out.flags.writeable:
        raise ValueError("matmul: out is read-only")
    if not out.flags.c_contiguous and _self_overlapping(out):
        raise ValueError(f"matmul: output strides {out.strides} make elements alias each other")
    if np.may_share_memory(out, a):
        a = a.copy()
    if np.may_share_memory(out, b):
        b = b.copy()
    _run_product(a[None], b[None], out[None])
    return out


def _product(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """Batched ``out[i] = a[i] @ b[i]``: a (batch, m, k), b (batch, k, n), out (batch, m, n), one float dtype.

    Any strides (zero, negative, transposed views); ``out`` must not overlap ``a`` or ``b``, nor
    itself. ``k == 0`` gives zeros.
    """
    _check_product(a, b, out)
    _run_product(a, b, out)


def _check_product(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """The checks of ``_product``."""
    if a.ndim != 3 or b.ndim != 3 or out.ndim != 3:
        raise ValueError(f"gemm: expected 3-D arrays, got a{a.shape}, b{b.shape}, out{out.shape}")
    batch, m, k = a.shape
    n = b.shape[2]
    if b.shape != (batch, k, n) or out.shape != (batch, m, n):
        raise ValueError(f"gemm: shapes a{a.shape}, b{b.shape}, out{out.shape} do not match")
    if not (a.dtype == b.dtype == out.dtype) or a.dtype not in (np.float32, np.float64):
        raise TypeError(f"gemm: expected one float32/float64 dtype, got {a.dtype}, {b.dtype}, {out.dtype}")
    if not out.flags.writeable:
        raise ValueError("gemm: out is read-only")
    if out.size == 0:
        return
    if not out.flags.c_contiguous and _self_overlapping(out):
        raise ValueError(f"gemm: output strides {out.strides} make elements alias each other")
    if np.may_share_memory(out, a):
        raise ValueError("gemm: output overlaps input a")
    if np.may_share_memory(out, b):
        raise ValueError("gemm: output overlaps input b")


def _run_product(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """``_product`` on arguments it would accept."""
    batch, m, k = a.shape
    n = b.shape[2]
    if out.size == 0:
        return
    if k == 0:
        out[...] = 0
        return
    if not (a.flags.aligned and b.flags.aligned and out.flags.aligned):
        _gemm_unaligned(a, b, out)
        return

    if n == 1 and m > 1:  # matrix @ vector: the transposed problem is vector @ matrix
        a, b, out = b.transpose(0, 2, 1), a.transpose(0, 2, 1), out.transpose(0, 2, 1)
        m, n = n, m
    dtype = out.dtype
    flops = 2 * batch * m * n * k
    threads = numba.get_num_threads() if flops >= _SERIAL_FLOPS else 1
    if m == 1 and (b.strides[2] == dtype.itemsize or b.strides[1] == dtype.itemsize):
        _ready(_gemv, dtype, (types.intp,))(a, b, out, threads)
        return
    if n <= _NARROW_TILES[dtype][1]:
        if threads == 1:
            _ready(_gemm_narrow_serial, dtype)(a, b, out)
        else:
            _ready(_gemm_narrow, dtype, (types.intp,))(a, b, out, threads)
        return
    if _padded_work(n, m, dtype) < 0.9 * _padded_work(m, n, dtype):  # e.g. n = 37: tile the transposed problem
        a, b, out = b.transpose(0, 2, 1), a.transpose(0, 2, 1), out.transpose(0, 2, 1)
        m, n = n, m
    if threads == 1:
        _ready(_gemm_serial, dtype)(a, b, out)
    else:
        _ready(_gemm_parallel, dtype, (types.intp,))(a, b, out, threads)


def _gemm_unaligned(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """Arrays whose data or strides are not multiples of the item size: work on (aligned) copies."""
    result = out if out.flags.aligned else np.empty(out.shape, out.dtype)
    _product(a if a.flags.aligned else a.copy(), b if b.flags.aligned else b.copy(), result)
    if result is not out:
        out[...] = result
