// GEMM in the BLIS structure (Van Zee & van de Geijn, "BLIS", TOMS 2015), compiled once per ISA
// (PN_ISA = ref | avx2 | avx512) with that ISA's flags, all in namespace pyneural::cpu::PN_ISA so
// no symbol is shared between variants. Loops, outer to inner:
//   jc (NC columns) > pc (KC depth): pack B block, shared by the threads (lives in L3)
//     ic (MC rows, split across threads): pack A block per thread (lives in L2)
//       jr (NR) > ir (MR): register-blocked micro-kernel on packed panels
// Packing absorbs any strides and transposes. The C++ here uses only C headers and GCC vector
// extensions, so no out-of-line library template can be emitted with this TU's ISA.
#include <immintrin.h>  // vec_math.h's AVX/AVX-512 intrinsics
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_variants.h"
#include "pyneural/cache.h"
#include "pyneural/parallel.h"


namespace pyneural::cpu::PN_ISA {
namespace {

#include "pyneural/isa.h"
#include "../activation/vec_math.h"  // the epilogue's activations: the same as the activation kernels'

#if defined(__AVX512F__)
constexpr int kMR = 12;  // 12 x 2 zmm accumulators + 2 for B + 1 broadcast of the 32 registers
#elif defined(__AVX2__)
constexpr int kMR = 6;   // 6 x 2 ymm accumulators of 16
#else
constexpr int kMR = 4;   // SSE2: 4 x 2 xmm accumulators of 16
#endif
constexpr int kNV = 2;   // vectors per row of the C tile
template <class T> constexpr int kNR = kNV * kVL<T>;

// ---- blocking: MC x KC of A in half of L2, KC x NC of B in a quarter of L3 but at most 4 L2s ----
// KC makes the B micro-panel (KC x NR) twice the L1 size: on Zen 4 a deeper panel, streamed from L2,
// beat the textbook half-of-L1 choice (2048^3 float32, one thread: 92% of peak against 85%).
// The B block is streamed again for every block of A, and the share of a 32 MB L3 that a guest of a shared
// machine gets does not keep 8 MB of it: AVX2 2048^3, one thread, 83-88% of peak with 8 MB, 86-91% with
// 4 MB, 89-92% with 2 MB (4 runs each); at 2 MB two threads lost on 1024^3. With 4 MB, builds alternating,
// 3 runs each: one thread 79-86% -> 83-89%, two threads 75-83% -> 82-90%.
struct Blocking {
    index_t mc, kc, nc;
};

index_t env_size(const char* name, index_t fallback) {
    const char* text = getenv(name);  // tuning knob for benchmarks
    const long value = text ? atol(text) : 0;
    return value > 0 ? value : fallback;
}

template <class T>
Blocking make_blocking() {
    const CacheSizes cache = cache_sizes();
    const index_t size = sizeof(T);
    index_t kc = env_size("PYNEURAL_GEMM_KC", 2 * cache.l1d / (kNR<T> * size));
    kc = max_i(32, min_i(kc, 1024));
    index_t mc = env_size("PYNEURAL_GEMM_MC", cache.l2 / 2 / (kc * size));
    mc = max_i(kMR, mc / kMR * kMR);
    index_t nc = env_size("PYNEURAL_GEMM_NC", min_i(cache.l3 / 4, 4 * cache.l2) / (kc * size));
    nc = max_i(kNR<T>, min_i(nc, 16384) / kNR<T> * kNR<T>);
    return {mc, kc, nc};
}

template <class T>
const Blocking& blocking() {
    static const Blocking b = make_blocking<T>();
    return b;
}

// ---- packing ----
// Packing a row-major A or a transposed B reads along one axis and writes along the other. Scalar
// copies are bound by one store per element; 4 x 4 blocks transposed in registers store whole vectors.

// dst[q * dst_stride + r] = src[r * src_stride + q] for r, q < 4.
template <class T>
inline void transpose4(const T* src, index_t src_stride, T* dst, index_t dst_stride) {
    typedef T V4 __attribute__((vector_size(4 * sizeof(T))));
    V4 r0, r1, r2, r3;
    memcpy(&r0, src, sizeof(V4));
    memcpy(&r1, src + src_stride, sizeof(V4));
    memcpy(&r2, src + 2 * src_stride, sizeof(V4));
    memcpy(&r3, src + 3 * src_stride, sizeof(V4));
    const V4 t0 = __builtin_shufflevector(r0, r1, 0, 4, 1, 5), t1 = __builtin_shufflevector(r0, r1, 2, 6, 3, 7);
    const V4 t2 = __builtin_shufflevector(r2, r3, 0, 4, 1, 5), t3 = __builtin_shufflevector(r2, r3, 2, 6, 3, 7);
    const V4 c0 = __builtin_shufflevector(t0, t2, 0, 1, 4, 5), c1 = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);
    const V4 c2 = __builtin_shufflevector(t1, t3, 0, 1, 4, 5), c3 = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);
    memcpy(dst, &c0, sizeof(V4));
    memcpy(dst + dst_stride, &c1, sizeof(V4));
    memcpy(dst + 2 * dst_stride, &c2, sizeof(V4));
    memcpy(dst + 3 * dst_stride, &c3, sizeof(V4));
}

// dst[q * dst_stride + r] = src[r * src_stride + q] for r < 2, q < 4: pairs stored whole.
template <class T>
inline void transpose2x4(const T* src, index_t src_stride, T* dst, index_t dst_stride) {
    typedef T V4 __attribute__((vector_size(4 * sizeof(T))));
    V4 r0, r1;
    memcpy(&r0, src, sizeof(V4));
    memcpy(&r1, src + src_stride, sizeof(V4));
    const V4 lo = __builtin_shufflevector(r0, r1, 0, 4, 1, 5), hi = __builtin_shufflevector(r0, r1, 2, 6, 3, 7);
    memcpy(dst, &lo, 2 * sizeof(T));
    memcpy(dst + dst_stride, reinterpret_cast<const T*>(&lo) + 2, 2 * sizeof(T));
    memcpy(dst + 2 * dst_stride, &hi, 2 * sizeof(T));
    memcpy(dst + 3 * dst_stride, reinterpret_cast<const T*>(&hi) + 2, 2 * sizeof(T));
}

// out[p * width + r] = src[r * stride + p] for r < lanes, p < kc: `lanes` unit-stride rows of length kc
// interleaved, in 4 x 4 blocks where whole, then 2 x 4 (AVX2's 6-row strips: rows 4 and 5).
template <class T>
void interleave_rows(const T* src, index_t stride, index_t lanes, index_t kc, T* out, index_t width) {
    const index_t whole_p = kc / 4 * 4, whole_r = lanes / 4 * 4, pair_r = lanes / 2 * 2;
    for (index_t p = 0; p < whole_p; p += 4) {
        for (index_t r = 0; r < whole_r; r += 4) transpose4(src + r * stride + p, stride, out + p * width + r, width);
        for (index_t r = whole_r; r < pair_r; r += 2)
            transpose2x4(src + r * stride + p, stride, out + p * width + r, width);
    }
    for (index_t r = pair_r; r < lanes; ++r)
        for (index_t p = 0; p < whole_p; ++p) out[p * width + r] = src[r * stride + p];
    for (index_t p = whole_p; p < kc; ++p)
        for (index_t r = 0; r < lanes; ++r) out[p * width + r] = src[r * stride + p];
}

// A block (mc x kc) -> strips of MR rows, each stored k-major: strip[p * MR + i]; rows past m are 0.
template <class T>
void pack_a_strip(const T* a, index_t rs, index_t cs, index_t rows, index_t kc, T* out) {
    if (rows == kMR && cs == 1) return interleave_rows(a, rs, index_t(kMR), kc, out, index_t(kMR));
    for (index_t p = 0; p < kc; ++p) {
        for (index_t i = 0; i < rows; ++i) out[p * kMR + i] = a[i * rs + p * cs];
        store_zeros(out + p * kMR + rows, kMR - rows);
    }
}

// B block (kc x nc) -> strips of NR columns, each stored row by row: strip[p * NR + j]; columns past n are 0.
template <class T>
void pack_b_strip(const T* b, index_t rs, index_t cs, index_t cols, index_t kc, T* out) {
    constexpr int NR = kNR<T>;
    if (cols == NR && cs == 1) {
        for (index_t p = 0; p < kc; ++p) memcpy(out + p * NR, b + p * rs, sizeof(T) * NR);
        return;
    }
    if (cols == NR && rs == 1) return interleave_rows(b, cs, index_t(NR), kc, out, index_t(NR));  // B^T
    for (index_t p = 0; p < kc; ++p) {
        for (index_t j = 0; j < cols; ++j) out[p * NR + j] = b[p * rs + j * cs];
        store_zeros(out + p * NR + cols, NR - cols);
    }
}

// One activation on a vector of C (the same functions as the activation kernels).
template <class T>
__attribute__((always_inline)) inline Vec<T> activate(Vec<T> v, Activation act) {
    switch (act) {
        case Activation::relu: return select<T>(v < T(0), Vec<T>{}, v);  // NaN passes through, as in PyTorch
        case Activation::gelu: return vgelu<T>(v);
        case Activation::sigmoid: return vsigmoid<T>(v);
        case Activation::tanh: return vtanh<T>(v);
        default: return v;
    }
}

// What the micro-kernel applies in registers on a tile's last depth block (so the tile is not read back
// from stores still in flight): a bias, `cols` NR values (unit stride) and/or `rows` one per row,
// `row_stride` apart (either may be null), then ReLU if `relu`. Other activations run over a strip later.
template <class T>
struct TileEpilogue {
    const T* cols = nullptr;
    const T* rows = nullptr;
    index_t row_stride = 0;
    bool relu = false;
};

// A finished tile of accumulators to C, straight from the registers: plus the bias (Bias), plus C's old value
// (Accumulate), then ReLU (Relu). Each choice is a separate copy, picked once per tile: tested per vector,
// GCC spilled the accumulators to the stack and copied them out in 16-byte halves, a cost that small depths
// do not amortise (AVX2, one thread: 128x10x256 55 -> 66 GFLOP/s, 0.6 -> 0.7 of NumPy; 64^3 +5%).
template <class T, int NV, int R, bool Accumulate, bool Relu, bool Bias>
__attribute__((always_inline)) inline void store_tile(const Vec<T> (&acc)[R][NV], T* __restrict c, index_t c_rs,
                                                      const TileEpilogue<T>& ep) {
    using V = Vec<T>;
    constexpr int VL = kVL<T>;
    V col_bias[NV] = {};
    if (Bias && ep.cols)
        for (int v = 0; v < NV; ++v) col_bias[v] = load(ep.cols + v * VL);
#pragma GCC unroll 32
    for (int i = 0; i < R; ++i, c += c_rs) {
        // One pointer stepped row by row (the empty asm hides that it is c + i * c_rs): GCC otherwise kept a pointer
        // per row live across the micro-kernel's loop, spilled to the stack beside 24 zmm accumulators and reloaded
        // before each store (AVX-512, one thread: 128x10x256 0.82 -> 0.92 of NumPy).
        asm("" : "+r"(c));
        const T row_bias = Bias && ep.rows ? ep.rows[i * ep.row_stride] : T(0);
        for (int v = 0; v < NV; ++v) {
            T* dst = c + v * VL;
            V x = acc[i][v];
            if constexpr (Bias) x += col_bias[v] + row_bias;
            if constexpr (Accumulate) x += load(dst);
            if constexpr (Relu) x = activate<T>(x, Activation::relu);
            store(dst, x);
        }
    }
}

// ---- micro-kernel: C (MR x NR) (+)= A strip (MR x kc) @ B (kc x NR, row p at b + p * b_rs) ----
// C's rows are c_rs apart with unit-stride columns: either the output itself (full tiles) or a tile
// buffer. b_rs is NR for packed B, B's row stride when the direct path reads B in place.
// A's element (i, p) is a[p * kMR + i] in a packed strip, or a[i * a_rs + p] for a row-major A read in place
// (InPlaceA: the direct path, where packing A would not be amortised).
// NV vectors per row: kNV for full strips, 1 for a last strip no wider than one vector (n = 10, 37...).
// R rows: kMR for full strips; a last strip of fewer rows may use fewer (the A strip keeps its kMR stride).
template <class T, int NV, int R = kMR, bool InPlaceA = false>
__attribute__((always_inline)) inline void micro_kernel(index_t kc, const T* __restrict a, const T* __restrict b,
                                                        index_t b_rs, T* __restrict c, index_t c_rs, bool accumulate,
                                                        TileEpilogue<T> ep, index_t a_rs = 0) {
    using V = Vec<T>;
    constexpr int VL = kVL<T>;
    V acc[R][NV];
    // C's tile is fetched into L2 while the product runs (into L1 it would be evicted again by B's panel):
    // its rows lie a row stride apart, in as many pages, and the loads at the end stalled the kernel
    // (AVX-512 4096x64x4096, one thread: 76 -> 89 GFLOP/s; AVX2 2048^3 with KC = 256: 74% -> 88% of peak).
    const T* pf = c;
#pragma GCC unroll 32
    for (int i = 0; i < R; ++i, pf += c_rs) {
        asm("" : "+r"(pf));  // as in store_tile: no pointer per row to keep
        for (int v = 0; v < NV; ++v) acc[i][v] = V{};
        __builtin_prefetch(pf, 1, 2);
        __builtin_prefetch(pf + NV * VL - 1, 1, 2);
    }
    // In place, A's rows are read through one pointer per group of G rows, each row addressed as pointer + index *
    // scale: a pointer per row would not fit in the general registers.
    constexpr int G = R % 4 == 0 ? 4 : 3, groups = InPlaceA ? R / G : 1;
    static_assert(!InPlaceA || R % G == 0, "rows in whole groups");
    const T* group[groups];
    for (int q = 0; q < groups; ++q) group[q] = a + q * G * a_rs;
    for (index_t p = 0; p < kc; ++p) {
        V bv[NV];
        for (int v = 0; v < NV; ++v) bv[v] = load(b + v * VL);
#pragma GCC unroll 32
        for (int i = 0; i < R; ++i) {
            const T ai = InPlaceA ? group[i / G][i % G * a_rs] : a[i];
            for (int v = 0; v < NV; ++v) acc[i][v] += ai * bv[v];
        }
        if constexpr (InPlaceA)
            for (int q = 0; q < groups; ++q) ++group[q];
        else
            a += kMR;
        b += b_rs;
    }
    switch (int(accumulate) * 4 + int(ep.relu) * 2 + int(ep.cols || ep.rows)) {
        case 0: return store_tile<T, NV, R, false, false, false>(acc, c, c_rs, ep);
        case 1: return store_tile<T, NV, R, false, false, true>(acc, c, c_rs, ep);
        case 2: return store_tile<T, NV, R, false, true, false>(acc, c, c_rs, ep);
        case 3: return store_tile<T, NV, R, false, true, true>(acc, c, c_rs, ep);
        case 4: return store_tile<T, NV, R, true, false, false>(acc, c, c_rs, ep);
        case 5: return store_tile<T, NV, R, true, false, true>(acc, c, c_rs, ep);
        case 6: return store_tile<T, NV, R, true, true, false>(acc, c, c_rs, ep);
        default: return store_tile<T, NV, R, true, true, true>(acc, c, c_rs, ep);
    }
}

// ---- output: C = tile (first depth block) or C += tile; after the last one, c = act(c + bias) ----
// Where C goes, and the epilogue applied on the last pass: c = act(c + bias).
template <class T>
struct Output {
    T* c;
    index_t rs, cs;
    const T* bias;
    index_t bias_stride;
    bool bias_on_rows;  // bias indexed by row (after the problem was transposed), else by column
    Activation act;
};

// row[j] = act(row[j] + bias[j] + row_bias) for j < n, in vectors: row and bias (null: none) unit-stride.
template <class T>
void epilogue_run(T* row, const T* bias, T row_bias, index_t n, Activation act) {
    constexpr index_t L = kVL<T>;
    for (index_t j = 0; j < n; j += L) {
        const index_t w = min_i(L, n - j);
        Vec<T> v = w == L ? load(row + j) : load_part(row + j, w);
        if (bias) v += w == L ? load(bias + j) : load_part(bias + j, w);
        v = activate<T>(v + row_bias, act);
        if (w == L) store(row + j, v);
        else store_part(row + j, v, w);
    }
}

// The epilogue on a finished block of C: c = act(c + bias), or only what the micro-kernels left (a
// non-ReLU activation) when `after_tiles`. Strided rows and biases go through a buffer.
template <class T>
void finish_tile(Output<T> out, index_t i0, index_t j0, index_t rows, index_t cols, bool after_tiles = false) {
    if (after_tiles) {
        out.bias = nullptr;
        if (out.act == Activation::relu) out.act = Activation::none;
    }
    if (!out.bias && out.act == Activation::none) return;
    constexpr index_t kChunk = 64;
    T buf[kChunk], bias_buf[kChunk];
    for (index_t i = 0; i < rows; ++i) {
        T* row = out.c + (i0 + i) * out.rs + j0 * out.cs;
        const T row_bias = out.bias && out.bias_on_rows ? out.bias[(i0 + i) * out.bias_stride] : T(0);
        const T* col_bias = out.bias && !out.bias_on_rows ? out.bias + j0 * out.bias_stride : nullptr;
        if (out.cs == 1 && (!col_bias || out.bias_stride == 1)) {
            epilogue_run(row, col_bias, row_bias, cols, out.act);
            continue;
        }
        for (index_t jc = 0; jc < cols; jc += kChunk) {
            const index_t w = min_i(kChunk, cols - jc);
            for (index_t j = 0; j < w; ++j) buf[j] = row[(jc + j) * out.cs];
            if (col_bias)
                for (index_t j = 0; j < w; ++j) bias_buf[j] = col_bias[(jc + j) * out.bias_stride];
            epilogue_run(buf, col_bias ? bias_buf : nullptr, row_bias, w, out.act);
            for (index_t j = 0; j < w; ++j) row[(jc + j) * out.cs] = buf[j];
        }
    }
}

// Copy a (rows x cols) result held in a row-major buffer with rows `ld` apart into C (or add it).
template <class T>
void store_block(const T* tile, index_t ld, const Output<T>& out, index_t i0, index_t j0, index_t rows, index_t cols,
                 bool accumulate) {
    for (index_t i = 0; i < rows; ++i) {
        T* row = out.c + (i0 + i) * out.rs + j0 * out.cs;
        const T* t = tile + i * ld;
        if (accumulate) for (index_t j = 0; j < cols; ++j) row[j * out.cs] += t[j];
        else for (index_t j = 0; j < cols; ++j) row[j * out.cs] = t[j];
    }
}

// The epilogue of a tile at (i0, j0), `cols` wide, on its last depth block: the bias (by row, by column in
// place, or a partial or strided one copied to NR values in `padded_bias`, zeros past the edge) and ReLU.
template <class T>
TileEpilogue<T> tile_epilogue(const Output<T>& out, index_t i0, index_t j0, index_t cols, bool last, T* padded_bias) {
    constexpr int NR = kNR<T>;
    TileEpilogue<T> ep;
    ep.relu = last && out.act == Activation::relu;
    if (!last || !out.bias) return ep;
    if (out.bias_on_rows) {
        ep.rows = out.bias + i0 * out.bias_stride;
        ep.row_stride = out.bias_stride;
    } else if (cols == NR && out.bias_stride == 1) {
        ep.cols = out.bias + j0;
    } else {
        for (index_t j = 0; j < NR; ++j) padded_bias[j] = j < cols ? out.bias[(j0 + j) * out.bias_stride] : T(0);
        ep.cols = padded_bias;
    }
    return ep;
}

// The micro-kernel with the fewest rows that covers `rows`: a last strip of up to a third or two thirds
// of kMR rows runs a shorter kernel instead of multiplying zero padding (m = 64 with kMR = 12: 64 rows of
// work, not 72).
template <class T, int NV>
void strip_kernel(index_t rows, index_t kc, const T* a, const T* b, index_t b_rs, T* c, index_t c_rs,
                  bool accumulate, TileEpilogue<T> ep) {
    if constexpr (kMR % 3 == 0) {
        if (rows <= kMR / 3) return micro_kernel<T, NV, kMR / 3>(kc, a, b, b_rs, c, c_rs, accumulate, ep);
        if (rows <= 2 * kMR / 3) return micro_kernel<T, NV, 2 * kMR / 3>(kc, a, b, b_rs, c, c_rs, accumulate, ep);
    }
    micro_kernel<T, NV>(kc, a, b, b_rs, c, c_rs, accumulate, ep);
}

// One register tile of C at (i0, j0): full tiles of a unit-stride C are written in place; edges and strided
// outputs go through a buffer. `first`/`last`: the first and last depth block of this tile; on the last, the
// bias and a ReLU are applied in registers. Other activations are left to the caller (finish_tile(..., true)
// over a strip of tiles, once their stores have left the pipeline).
template <class T>
void tile_product(index_t kc, const T* a, const T* b, index_t b_rs, const Output<T>& out, index_t i0, index_t j0,
                  index_t rows, index_t cols, bool first, bool last) {
    constexpr int NR = kNR<T>;
    T padded_bias[NR] __attribute__((aligned(64)));
    TileEpilogue<T> ep = tile_epilogue(out, i0, j0, cols, last, padded_bias);
    const bool whole_rows = rows == kMR || (kMR % 3 == 0 && (rows == kMR / 3 || rows == 2 * kMR / 3));
    if (whole_rows && cols == NR && out.cs == 1) {
        strip_kernel<T, kNV>(rows, kc, a, b, b_rs, out.c + i0 * out.rs + j0, out.rs, !first, ep);
    } else {
        const bool relu_after_sum = ep.relu && !first;  // the tile is added to C below: ReLU the sum
        ep.relu = ep.relu && first;
        T tile[kMR * NR] __attribute__((aligned(64)));
        if (cols <= kVL<T>)
            strip_kernel<T, 1>(rows, kc, a, b, b_rs, tile, NR, false, ep);
        else
            strip_kernel<T, kNV>(rows, kc, a, b, b_rs, tile, NR, false, ep);
        store_block(tile, NR, out, i0, j0, rows, cols, !first);
        if (relu_after_sum) {
            Output<T> relu_only = out;
            relu_only.bias = nullptr;
            finish_tile(relu_only, i0, j0, rows, cols);
        }
    }
}

// One panel of B (kc x NR, rows b_rs apart) against `rows` rows of packed A (strips of kMR, each kc deep): C's
// block at (i0, j0), `cols` wide. Whole tiles of a unit-stride C run the micro-kernel inline, without a call
// and the epilogue's setup per tile, which a small depth does not amortise; the rest goes through tile_product.
template <class T>
void panel_product(index_t kc, const T* a, index_t rows, const T* b, index_t b_rs, const Output<T>& out, index_t i0,
                   index_t j0, index_t cols, bool first, bool last) {
    T padded_bias[kNR<T>] __attribute__((aligned(64)));
    TileEpilogue<T> ep = tile_epilogue(out, i0, j0, cols, last, padded_bias);
    const index_t whole = cols == kNR<T> && out.cs == 1 ? rows / kMR : 0;
    for (index_t si = 0; si < whole; ++si) {
        micro_kernel<T, kNV>(kc, a + si * kMR * kc, b, b_rs, out.c + (i0 + si * kMR) * out.rs + j0, out.rs, !first, ep);
        if (ep.rows) ep.rows += kMR * ep.row_stride;
    }
    for (index_t si = whole; si * kMR < rows; ++si)
        tile_product(kc, a + si * kMR * kc, b, b_rs, out, i0 + si * kMR, j0, min_i(kMR, rows - si * kMR), cols, first,
                     last);
}

// The direct path's whole tiles of a row-major A read in place (rows a multiple of kMR, a_rs apart) against a
// panel of B NR wide, into a unit-stride C at column j0; one depth block, so the tiles are finished in registers.
// Not inlined: inside gemm_direct's loop it cost the packed-A case 2-4% (AVX2 24x100x256, 24x100x512).
template <class T>
__attribute__((noinline)) void panel_product_a_in_place(index_t kc, const T* a, index_t a_rs, index_t rows, const T* b,
                                                        index_t b_rs, const Output<T>& out, index_t j0) {
    T padded_bias[kNR<T>] __attribute__((aligned(64)));
    TileEpilogue<T> ep = tile_epilogue(out, index_t(0), j0, index_t(kNR<T>), true, padded_bias);
    for (index_t i0 = 0; i0 < rows; i0 += kMR) {
        micro_kernel<T, kNV, kMR, true>(kc, a + i0 * a_rs, b, b_rs, out.c + i0 * out.rs + j0, out.rs, false, ep, a_rs);
        if (ep.rows) ep.rows += kMR * ep.row_stride;
    }
}

// One matrix product c (m x n) = a (m x k) @ b (k x n) with strides, and its output.
template <class T>
struct Operands {
    const T* a;
    index_t a_rs, a_cs;
    const T* b;
    index_t b_rs, b_cs;
    index_t m, n, k;
    Output<T> out;

    // C^T = B^T A^T: the same memory, seen the other way round.
    Operands transposed() const {
        return {b, b_cs, b_rs, a, a_cs, a_rs, n, m, k,
                {out.c, out.cs, out.rs, out.bias, out.bias_stride, !out.bias_on_rows, out.act}};
    }
};

// k == 0: the product is zero, so C is just the epilogue of 0.
template <class T>
void store_empty_product(const Operands<T>& x) {
    for (index_t i = 0; i < x.m; ++i)
        for (index_t j = 0; j < x.n; ++j) x.out.c[i * x.out.rs + j * x.out.cs] = T(0);
    finish_tile(x.out, 0, 0, x.m, x.n);
}

// ---- packed path: the BLIS loops, threads over row blocks sharing the packed B ----
// Row blocks are taken from a queue rather than split evenly: on a shared machine one core may run at half
// speed for a while (another guest on its SMT sibling), and an even split then waits for it. The last
// blocks shrink (ChunkQueue), so the faster thread takes more rows and the team ends together: AVX2 1024^3
// on two threads, median of 12 runs 72% -> 77% of peak, best 76% -> 81% (peaks measured beside each run).
// Returns false if a buffer could not be allocated.
template <class T>
bool gemm_packed(const Operands<T>& x, int threads) {
    constexpr int NR = kNR<T>;
    constexpr index_t kPackRows = 16;
    const T *a = x.a, *b = x.b;
    const index_t a_rs = x.a_rs, a_cs = x.a_cs, b_rs = x.b_rs, b_cs = x.b_cs, m = x.m, n = x.n, k = x.k;
    const Blocking& bl = blocking<T>();
    const index_t kc_max = min_i(bl.kc, k), nc = min_i(bl.nc, round_up(n, NR));
    // Blocks of equal size (m = 130: 66 + 64 rows, not 126 + 4); on several threads the last ones smaller.
    const index_t mc = round_up((m + (m + bl.mc - 1) / bl.mc - 1) / ((m + bl.mc - 1) / bl.mc), kMR);
    const index_t least = threads > 1 ? min_i(mc, 2 * kMR) : mc;
    T* b_packed = scratch<T, 0>(kc_max * nc);
    if (!b_packed) return false;
    bool failed = false;
    ChunkQueue<index_t> row_blocks;

    team(threads, [&] {
        T* a_packed = scratch<T, 1>(mc * kc_max);
        for (index_t jc = 0; jc < n; jc += nc) {
            const index_t ncur = min_i(nc, n - jc), b_strips = (ncur + NR - 1) / NR;
            for (index_t pc = 0; pc < k; pc += kc_max) {
                const index_t kc = min_i(kc_max, k - pc);
                const bool first = pc == 0, last = pc + kc == k;
                if (thread_index() == 0) row_blocks.reset();  // no thread takes a block before the packing ends
                // A row-major B in blocks of rows across all strips, read row after row (one thread, AVX2 1024^3:
                // packing's share 3.3-3.6% -> 2.6%); a transposed one strip by strip, its source rows contiguous.
                const bool by_rows = b_cs == 1;
                share_dynamic(by_rows ? (kc + kPackRows - 1) / kPackRows : b_strips, [&](index_t task) {
                    const index_t p0 = by_rows ? task * kPackRows : 0, rows = by_rows ? min_i(kPackRows, kc - p0) : kc;
                    for (index_t s = by_rows ? 0 : task; s < (by_rows ? b_strips : task + 1); ++s)
                        pack_b_strip(b + (pc + p0) * b_rs + (jc + s * NR) * b_cs, b_rs, b_cs, min_i(NR, ncur - s * NR),
                                     rows, b_packed + s * NR * kc + p0 * NR);
                });
                index_t ic, mcur;
                while (row_blocks.take(m, least, mc, index_t(kMR), threads, ic, mcur)) {
                    if (!a_packed) {
#pragma omp atomic write
                        failed = true;
                        break;
                    }
                    const index_t a_strips = (mcur + kMR - 1) / kMR;
                    for (index_t s = 0; s < a_strips; ++s)
                        pack_a_strip(a + (ic + s * kMR) * a_rs + pc * a_cs, a_rs, a_cs, min_i(kMR, mcur - s * kMR), kc,
                                     a_packed + s * kMR * kc);
                    for (index_t sj = 0; sj < b_strips; ++sj) {
                        panel_product(kc, a_packed, mcur, b_packed + sj * NR * kc, index_t(NR), x.out, ic, jc + sj * NR,
                                      min_i(NR, ncur - sj * NR), first, last);
                        if (last) finish_tile(x.out, ic, jc + sj * NR, mcur, min_i(NR, ncur - sj * NR), true);
                    }
                }
                barrier();  // B's buffer is packed again next
            }
        }
    });
    return !failed;
}

// Each thread solves its own slice of x alone, `solve(slice)`, so no thread waits for another: a slice of
// whole column strips (few rows to share out; each thread packs its own copy of the small A) or of rows,
// cut at multiples of the shortest micro-kernel's height (m = 64 on two threads: 32 + 32 rows).
template <class T, class Solve>
bool in_slices(const Operands<T>& x, int threads, bool by_rows, Solve solve) {
    const index_t unit = by_rows ? (kMR % 3 == 0 ? kMR / 3 : kMR) : kNR<T>;
    const index_t size = by_rows ? x.m : x.n, slice = round_up((size + threads - 1) / threads, unit);
    bool failed = false;
    parallel_for(threads, threads, [&](int t) {
        const index_t start = t * slice;
        if (start >= size) return;
        Operands<T> part = x;
        const bool bias_sliced = part.out.bias && part.out.bias_on_rows == by_rows;
        if (by_rows) {
            part.a += start * x.a_rs;
            part.m = min_i(slice, x.m - start);
            part.out.c += start * x.out.rs;
        } else {
            part.b += start * x.b_cs;
            part.n = min_i(slice, x.n - start);
            part.out.c += start * x.out.cs;
        }
        if (bias_sliced) part.out.bias += start * part.out.bias_stride;
        if (!solve(part)) {
#pragma omp atomic write
            failed = true;
        }
    });
    return !failed;
}

// ---- direct path: small problems and few rows; B read in place (its rows must be unit-stride) ----
// One pass over k, so C is written once. A is packed whole (m x k is small next to the product) and
// only a partial last strip of B is copied, zero-padded to NR columns; threads split the column strips.
// A row-major A whose packing few strips of B would amortise is read in place instead, all but a partial last
// strip of rows (one thread, pn/np: AVX-512 64^3 0.93 -> 0.99, 48x64x64 0.97 -> 1.03, 48x32x128 0.97 -> 1.02;
// AVX2 64^3 0.89 -> 0.93). Past 8 strips the packing is amortised and AVX2 lost 5% in place (24x100x256).
template <class T>
bool gemm_direct(const Operands<T>& x, int threads) {
    constexpr int NR = kNR<T>;
    const index_t m = x.m, n = x.n, k = x.k, full = n / NR, strips = (n + NR - 1) / NR;
    const index_t a_strips = (m + kMR - 1) / kMR;
    const bool a_in_place = x.a_cs == 1 && strips == full && strips <= 8 && x.out.cs == 1;
    const index_t rows_in_place = a_in_place ? m / kMR * kMR : 0, packed_strips = a_strips - rows_in_place / kMR;
    // A is packed by the whole team into a buffer of its own: reusing the calling thread's slot 1 (its private
    // A panel in the packed path) would leave those lines in the other core's cache (two threads, an RNN
    // step's backward GEMM: 54 -> 47 us when it follows a forward one)
    T* a_packed = scratch<T, 3>(max_i(packed_strips, 1) * kMR * k);
    T* edge = strips > full ? scratch<T, 2>(k * NR) : nullptr;
    if (!a_packed || (strips > full && !edge)) return false;
    team(threads, [&] {
        if (edge && thread_index() == 0) pack_b_strip(x.b + full * NR, x.b_rs, index_t(1), n - full * NR, k, edge);
        share(packed_strips, [&](index_t s) {
            const index_t i0 = rows_in_place + s * kMR;
            pack_a_strip(x.a + i0 * x.a_rs, x.a_rs, x.a_cs, min_i(kMR, m - i0), k, a_packed + s * kMR * k);
        });
        share(strips, [&](index_t sj) {
            const T* b = sj < full ? x.b + sj * NR : edge;
            const index_t b_rs = sj < full ? x.b_rs : index_t(NR), cols = min_i(NR, n - sj * NR);
            if (rows_in_place > 0)
                panel_product_a_in_place(k, x.a, x.a_rs, rows_in_place, b, b_rs, x.out, sj * NR);
            if (rows_in_place < m)
                panel_product(k, a_packed, m - rows_in_place, b, b_rs, x.out, rows_in_place, sj * NR, cols, true, true);
            finish_tile(x.out, 0, sj * NR, m, cols, true);
        });
    });
    return true;
}

// ---- one row (m == 1): c = a @ B is memory-bound, so stream B once in its own layout ----
// out[c] = dot(x, y + c * ys) for c < C: each vector of x is loaded once for C columns of y.
template <class T, int C>
void dots(const T* x, const T* y, index_t ys, index_t k, T* out) {
    using V = Vec<T>;
    constexpr int VL = kVL<T>;
    V acc[C][2] = {};  // two chains per column hide the FMA latency
    index_t p = 0;
    for (; p + 2 * VL <= k; p += 2 * VL)
        for (int u = 0; u < 2; ++u) {
            V xv;
            memcpy(&xv, x + p + u * VL, sizeof(V));
            for (int c = 0; c < C; ++c) {
                V yv;
                memcpy(&yv, y + c * ys + p + u * VL, sizeof(V));
                acc[c][u] += xv * yv;
            }
        }
    for (int c = 0; c < C; ++c) {
        const V total = acc[c][0] + acc[c][1];
        T sum = 0;
        for (int l = 0; l < VL; ++l) sum += total[l];
        for (index_t q = p; q < k; ++q) sum += x[q] * y[c * ys + q];
        out[c] = sum;
    }
}

// acc[j] += sum over p < rows of a[p * a_cs] * b[p * b_rs + j], j < cols: four rows of b per pass, so acc
// (in L1) is loaded and stored once per four multiply-adds.
template <class T>
void add_rows(const T* __restrict a, index_t a_cs, const T* __restrict b, index_t b_rs, index_t rows, index_t cols,
              T* __restrict acc) {
    index_t p = 0;
    for (; p + 4 <= rows; p += 4) {
        const T a0 = a[p * a_cs], a1 = a[(p + 1) * a_cs], a2 = a[(p + 2) * a_cs], a3 = a[(p + 3) * a_cs];
        const T *r0 = b + p * b_rs, *r1 = r0 + b_rs, *r2 = r1 + b_rs, *r3 = r2 + b_rs;
        for (index_t j = 0; j < cols; ++j) acc[j] += a0 * r0[j] + a1 * r1[j] + a2 * r2[j] + a3 * r3[j];
    }
    for (; p < rows; ++p) {
        const T ap = a[p * a_cs];
        const T* r = b + p * b_rs;
        for (index_t j = 0; j < cols; ++j) acc[j] += ap * r[j];
    }
}

template <class T>
bool gemv(const Operands<T>& x, int threads) {
    constexpr index_t kChunk = 4096;  // columns of c accumulated (L1/L2) while long runs of B rows stream past
    const index_t n = x.n, k = x.k;
    if (x.b_cs == 1 && threads > 1 && n <= kChunk && k >= 64 * threads) {
        // Rows of B contiguous and short: each thread streams its own contiguous run of rows into partial
        // sums (threads splitting the columns would each read half of every row: 1 x 1024 x 1024 on two
        // threads 37 -> 30 us); the calling thread adds them up.
        T* partial = scratch<T, 2>(threads * n);
        if (!partial) return false;
        const index_t run = (k + threads - 1) / threads;
        parallel_for(threads, threads, [&](int t) {
            T* acc = partial + t * n;
            for (index_t j = 0; j < n; ++j) acc[j] = T(0);
            const index_t p0 = min_i(k, t * run);
            add_rows(x.a + p0 * x.a_cs, x.a_cs, x.b + p0 * x.b_rs, x.b_rs, min_i(run, k - p0), n, acc);
        });
        for (int t = 1; t < threads; ++t)
            for (index_t j = 0; j < n; ++j) partial[j] += partial[t * n + j];
        store_block(partial, n, x.out, 0, 0, 1, n, false);
        finish_tile(x.out, 0, 0, 1, n);
        return true;
    }
    if (x.b_cs == 1) {  // rows of B contiguous: c[j0:j1] += a[p] * B[p, j0:j1]
        const index_t chunk = min_i(kChunk, round_up((n + threads - 1) / threads, 64)), chunks = (n + chunk - 1) / chunk;
        parallel_for(threads, chunks, [&](index_t ch) {
            const index_t j0 = ch * chunk, cols = min_i(chunk, n - j0);
            T acc[kChunk] __attribute__((aligned(64)));
            for (index_t j = 0; j < cols; ++j) acc[j] = T(0);
            add_rows(x.a, x.a_cs, x.b + j0, x.b_rs, k, cols, acc);
            store_block(acc, kChunk, x.out, 0, j0, 1, cols, false);
            finish_tile(x.out, 0, j0, 1, cols);
        });
        return true;
    }
    // columns of B contiguous (B = W^T of a linear layer): c[j] = dot(a, B[:, j])
    const T* a = x.a;
    if (x.a_cs != 1) {
        T* packed = scratch<T, 2>(k);
        if (!packed) return false;
        for (index_t p = 0; p < k; ++p) packed[p] = x.a[p * x.a_cs];
        a = packed;
    }
    constexpr index_t kBlock = 64;
    const index_t blocks = (n + kBlock - 1) / kBlock;
    parallel_for(threads, blocks, [&](index_t bj) {
        T acc[kBlock];
        const index_t j0 = bj * kBlock, cols = min_i(kBlock, n - j0);
        index_t j = 0;
        for (; j + 4 <= cols; j += 4) dots<T, 4>(a, x.b + (j0 + j) * x.b_cs, x.b_cs, k, acc + j);
        for (; j < cols; ++j) dots<T, 1>(a, x.b + (j0 + j) * x.b_cs, x.b_cs, k, acc + j);
        store_block(acc, kBlock, x.out, 0, j0, 1, cols, false);
        finish_tile(x.out, 0, j0, 1, cols);
    });
    return true;
}

// Estimated cost of computing x as it stands, in vector FMAs: the micro-kernels' work on tiles padded
// to MR rows and to whole vectors of columns, plus packing, where gathering B with a non-unit column
// stride (a transposed operand) costs about a cycle per element and copying rows of B or A much less.
template <class T>
double cost(const Operands<T>& x) {
    const index_t cols = x.n / kNR<T> * kNR<T> + round_up(x.n % kNR<T>, kVL<T>);
    const double k = double(x.k);
    // rows the micro-kernels compute: the last strip is padded to a third of kMR (see strip_kernel)
    const index_t rows = kMR % 3 == 0 ? x.m / kMR * kMR + round_up(x.m % kMR, index_t(kMR / 3)) : round_up(x.m, kMR);
    const double compute = double(rows) * double(cols) * k / kVL<T>;
    // packing B with transposes runs in 4 x 4 register blocks: measured about half the cost of its compute
    // share, not a full gather (256x128x10 then runs transposed: 0.65 -> 0.81 of NumPy)
    const double pack_b = double(x.n) * k * (x.b_cs == 1 ? 0.1 : 0.5);
    const double pack_a = double(x.m) * k * 0.5;
    return compute + pack_a + pack_b;
}

template <class T>
bool gemm_one(Operands<T> x, int threads);

// Deep products with a small C (a convolution's weight gradient over a chunk of images: 128 x 64 x 7840):
// the depth split over the threads, each its own partial C in a buffer of its own, summed into C and the
// epilogue run after. Split by rows instead, every thread packed the whole of the deep B; by blocks of
// depth, the team met twice per block.
template <class T>
bool split_depth(const Operands<T>& x, int threads) {
    const index_t m = x.m, n = x.n, slice = round_up((x.k + threads - 1) / threads, 8);
    T* partials = scratch<T, 4>(threads * m * n);
    if (!partials) return false;
    bool failed = false;
    team(threads, [&] {
        share(index_t(threads), [&](index_t t) {
            const index_t start = t * slice, depth = min_i(slice, x.k - start);
            T* c = partials + t * m * n;
            if (depth <= 0) {
                memset(c, 0, size_t(m * n) * sizeof(T));
                return;
            }
            Operands<T> part{x.a + start * x.a_cs, x.a_rs, x.a_cs, x.b + start * x.b_rs, x.b_rs, x.b_cs, m, n, depth,
                             {c, n, 1, nullptr, 0, false, Activation::none}};
            if (!gemm_one(part, 1)) {
#pragma omp atomic write
                failed = true;
            }
        });
        share(m, [&](index_t i) {  // as gemv's depth split, row by row over the team
            T* row = partials + i * n;
            for (int t = 1; t < threads; ++t)
                for (index_t j = 0; j < n; ++j) row[j] += partials[(t * m + i) * n + j];
            store_block(row, n, x.out, i, 0, 1, n, false);
            finish_tile(x.out, i, 0, 1, n);
        });
    });
    return !failed;
}

template <class T>
bool gemm_one(Operands<T> x, int threads) {
    if (x.k == 0) {
        store_empty_product(x);
        return true;
    }
    // Orientation: one column is a matrix-vector product seen as one row; otherwise the cheaper way
    // round (e.g. n = 10 wastes most of a 32-wide tile, but transposing may mean gathering B).
    const bool vector_like = x.n == 1 && x.m > 1;
    if (vector_like || (x.m > 1 && cost(x.transposed()) < 0.9 * cost(x))) x = x.transposed();
    if (x.m == 1 && (x.b_cs == 1 || x.b_rs == 1)) return gemv(x, threads);
    if (threads > 1 && x.k >= 8 * max_i(x.m, x.n) && x.k >= 1024 * threads && x.m >= kMR &&
        threads * x.m * x.n * index_t(sizeof(T)) <= (index_t(4) << 20))
        return split_depth(x, threads);
    // Several threads: each computes its own rows, packing what it needs itself, so no thread waits for
    // another (fork/join ~1.2 us, a barrier ~0.5 us on the Zen 4 VM) or reads what another packed. Worth it
    // for small products, where the barriers dominate, and for mid-sized ones with rows enough to amortise
    // each thread's copy of B while every thread's B panel fits in L3 beside the others'. Two threads:
    // 128^3 27.5 -> 21.5 us, 128x784x256 175 -> 222 GFLOP/s. Past 5e8 flops sharing one packed B is as
    // fast or faster (AVX2 2048^3: 206 against 188 GFLOP/s).
    if (threads > 1 && x.m >= 2 * kMR * threads) {
        const Blocking& bl = blocking<T>();
        const double flops = 2.0 * double(x.m) * double(x.n) * double(x.k),
                     b_panel = double(min_i(bl.kc, x.k)) * double(min_i(bl.nc, x.n)) * sizeof(T);
        // Each thread packs the whole of the operand it does not slice: columns when B is much the larger and
        // must be transposed to pack (a conv weight gradient per image, 128 x 256 x 1152 against im2col's
        // columns: 187-200 -> 203-211 GFLOP/s). A unit-stride B packs by row copies, cheaper than A's
        // transposes: 128 x 256 x 784 lost 9% by columns.
        const bool by_columns = x.b_cs != 1 && x.n > 2 * x.m && x.n >= 64 * threads;
        if (flops <= 2e7 || (x.m >= 64 * threads && flops <= 5e8 && threads * b_panel <= cache_sizes().l3 / 2.0))
            return in_slices(x, threads, !by_columns, [](const Operands<T>& part) { return gemm_one(part, 1); });
    }
    // Packing B pays off when each packed element is reused enough: skip it for few rows or tiny products,
    // and for a few strips of rows whose packed A stays in L2 while each strip of B, read in place, is reused
    // from L2 (one thread) or L1 (two threads, which share L2 bandwidth). Zen 4, an RNN step: 64 x 128 x 512
    // one thread 101 -> 109 GFLOP/s, two 186 -> 193; 64 x 512 x 128 one thread 98 -> 106, two unchanged.
    const bool small = double(x.m) * double(x.n) * double(x.k) <= 64.0 * 64 * 64;
    const CacheSizes cache = cache_sizes();
    const double k_bytes = double(x.k) * sizeof(T), b_strip_limit = threads == 1 ? cache.l2 / 4.0 : double(cache.l1d);
    const bool few_rows =
        x.m <= 2 * kMR || (x.m <= 6 * kMR && x.m * k_bytes <= cache.l2 / 4.0 && kNR<T> * k_bytes <= b_strip_limit);
    // B read in place must have rows spread over the cache sets: rows a multiple of a large power of two
    // apart fall in few sets, so at most 16 of a strip's k rows may share one 64 KB-aligned position (a
    // batch over im2col column blocks 32 KB apart, two threads: 95 -> 154 GFLOP/s packed).
    const index_t row_bytes = x.b_rs * index_t(sizeof(T)), alignment = min_i(row_bytes & -row_bytes, 65536);
    const bool rows_spread = row_bytes > 0 && x.k * alignment <= 16 * 65536;
    if (x.b_cs == 1 && rows_spread && (few_rows || small)) return gemm_direct(x, threads);
    // Few strips of rows, or rows that fit one block of A: no other block of A would reuse a packed B shared by
    // the threads, so they take columns instead, each packing the small A itself and its own part of B with no
    // barrier between them (two threads, pn/np: AVX-512 128x4096x1024 0.81-1.04 -> 1.10-1.13, AVX2
    // 120x2048x2048 0.95-1.04 -> 1.02-1.07).
    const bool one_row_block = (x.m + kMR - 1) / kMR < 4 * threads || x.m <= blocking<T>().mc;
    if (threads > 1 && one_row_block && x.n >= 2 * threads * kNR<T>)
        return in_slices(x, threads, false, [](const Operands<T>& part) { return gemm_packed(part, 1); });
    return gemm_packed(x, threads);
}

template <class T>
bool gemm_impl(const GemmProblem<T>& p) {
    if (p.batch == 0 || p.m == 0 || p.n == 0) return true;
    const double flops = 2.0 * double(p.m) * double(p.n) * double(p.k);
    // At ~100 GFLOP/s a thread's 2.5e5 flops take 2.5 us: worth a fork/join of 1.2 us (Zen 4 VM) when the
    // threads need not wait for each other (in_slices). 64^3 on two threads: 6.1 -> 4.7 us.
    constexpr double kFlopsPerThread = 2.5e5;
    const int threads = p.serial ? 1 : threads_for(flops * double(p.batch), kFlopsPerThread);
    bool failed = false;
    auto run = [&](index_t bi, int t) {
        const Operands<T> x{p.a.data + bi * p.a.bs, p.a.rs, p.a.cs, p.b.data + bi * p.b.bs, p.b.rs, p.b.cs, p.m, p.n,
                            p.k, {p.c.data + bi * p.c.bs, p.c.rs, p.c.cs, p.bias, p.bias_stride, p.bias_on_rows, p.act}};
        if (!gemm_one(x, t)) {
#pragma omp atomic write
            failed = true;
        }
    };
    // Many small matrices: one thread per matrix beats splitting each one (and forking per matrix).
    if (threads > 1 && p.batch >= threads && threads_for(flops) < threads) {
        team(threads, [&] { share_dynamic(p.batch, [&](index_t bi) { run(bi, 1); }); });
        return !failed;
    }
    for (index_t bi = 0; bi < p.batch; ++bi) run(bi, threads);
    return !failed;
}

}  // namespace

GemmVariant gemm_variant() { return {&gemm_impl<float>, &gemm_impl<double>}; }

}  // namespace pyneural::cpu::PN_ISA
