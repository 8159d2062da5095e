// Convolution as im2col + GEMM (the robust algorithm every library falls back to), compiled once per ISA
// (PN_ISA = ref | avx2 | avx512) in namespace pyneural::cpu::PN_ISA like the GEMM.
//   forward:          y[i, g]   = W[g] (kg x rows) @ col[i, g] (rows x ohw), bias + activation in the GEMM epilogue
//   backward data:    dcol[i,g] = W[g]^T @ dy[i, g], then col2im scatter-adds dcol into dx
//   backward weight:  dW[g]     = dy[:, g] (kg x images*ohw) @ col[:, g]^T, one GEMM per chunk of images
// rows = (c / groups) * kh * kw. Images go in chunks whose column matrices fit a bounded buffer; col
// holds a chunk as (groups, rows, images, ohw), so a group's columns of all images form one matrix.
// A 1x1 convolution with stride 1 and no padding needs no im2col: each input plane block is the matrix.
#include <immintrin.h>  // isa.h's masked loads and stores
#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include <type_traits>

#include "../gemm/gemm.h"
#include "conv_variants.h"
#include "pyneural/parallel.h"


namespace pyneural::cpu::PN_ISA {
namespace {

#include "pyneural/isa.h"

// Column buffers of a chunk take at most this many bytes (or one image's, if larger): big enough for
// long GEMMs, small enough to stay in the outer caches (2 MiB measured best, 256 KiB to 8 MiB tried).
constexpr index_t kColumnBytes = index_t(2) << 20;

struct Geometry {
    index_t cg, kg;    // input and output channels per group
    index_t hw, ohw;   // pixels of an input and an output plane
    index_t rows;      // column-matrix rows per group: cg * kh * kw
    index_t taps;      // kh * kw
    bool direct;       // 1x1, stride 1, no padding: the input is already the column matrix
};

Geometry geometry(const ConvShape& s) {
    Geometry g;
    g.cg = s.c / s.groups;
    g.kg = s.k / s.groups;
    g.hw = s.h * s.w;
    g.ohw = s.oh * s.ow;
    g.taps = s.kh * s.kw;
    g.rows = g.cg * g.taps;
    g.direct = s.kh == 1 && s.kw == 1 && s.sh == 1 && s.sw == 1 && s.ph == 0 && s.pw == 0;
    return g;
}

template <class T>
index_t chunk_images(const ConvShape& s, const Geometry& g) {
    const index_t per_image = max_i(1, s.c * g.taps * g.ohw * index_t(sizeof(T)));
    return max_i(1, min_i(s.n, kColumnBytes / per_image));
}

// A call's work buffer: up to kCachedBytes the calling thread's cached one (scratch slot Slot, 5 and up: the
// GEMM's are 0-4), else malloc'ed and freed on every way out (exceptions from the GEMM included). A fresh
// column buffer per call faulted its pages in again whenever glibc had returned them to the system after
// other large frees: 1-1.5 ms of a stride-2 layer's 7.5 ms forward.
constexpr index_t kCachedBytes = index_t(8) << 20;
template <class T, int Slot = -1>
struct Buffer {
    T* data = nullptr;
    bool owned = false;
    explicit Buffer(index_t count) {
        if (count <= 0) return;
        if constexpr (Slot >= 0) {
            if (count * index_t(sizeof(T)) <= kCachedBytes) {
                data = scratch<T, Slot>(count);
                return;
            }
        }
        owned = true;
        data = static_cast<T*>(malloc(size_t(count) * sizeof(T)));
    }
    ~Buffer() {
        if (owned) free(data);
    }
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
};

// Output columns [lo, hi) whose input column ox * sw + x0 lies inside [0, w).
void valid_columns(const ConvShape& s, index_t x0, index_t& lo, index_t& hi) {
    lo = x0 >= 0 ? 0 : min_i((-x0 + s.sw - 1) / s.sw, s.ow);
    hi = x0 > s.w - 1 ? 0 : min_i((s.w - 1 - x0) / s.sw + 1, s.ow);
    if (hi < lo) hi = lo;
}

// The kh * kw column-matrix rows of one input plane (h, w): row (i, j) at col + (i * kw + j) * ld, one
// entry per output pixel; taps that fall in the padding read zero.
template <class T>
void im2col_plane(const ConvShape& s, const T* plane, T* col, index_t ld) {
    // the shape in locals: the vector stores below may alias anything, so fields of s were reloaded after
    // each one and the loads waited on them (a 128-channel layer's im2col: 30% of its backward)
    const index_t oh = s.oh, ow = s.ow, h = s.h, w = s.w, sh = s.sh, sw = s.sw;
    for (index_t i = 0; i < s.kh; ++i) {
        for (index_t j = 0; j < s.kw; ++j) {
            T* row = col + (i * s.kw + j) * ld;
            const index_t x0 = j * s.dw - s.pw, y0 = i * s.dh - s.ph;
            index_t lo, hi;
            valid_columns(s, x0, lo, hi);
            for (index_t oy = 0; oy < oh; ++oy) {
                T* out = row + oy * ow;
                const index_t iy = oy * sh + y0;
                if (iy < 0 || iy >= h) {
                    store_zeros(out, ow);
                    continue;
                }
                const T* in = plane + iy * w + x0;
                store_zeros(out, lo);
                if (sw == 1) {
                    copy_run(out + lo, in + lo, hi - lo);
                } else if (sw == 2) {  // a constant stride, which the compiler gathers with permutes
                    for (index_t ox = lo; ox < hi; ++ox) out[ox] = in[2 * ox];
                } else {
                    for (index_t ox = lo; ox < hi; ++ox) out[ox] = in[ox * sw];
                }
                store_zeros(out + hi, ow - hi);
            }
        }
    }
}

// The adjoint of im2col_plane: adds each column-matrix entry into the input pixel it was read from.
template <class T>
void col2im_plane(const ConvShape& s, const T* col, index_t ld, T* plane) {
    for (index_t i = 0; i < s.kh; ++i) {
        for (index_t j = 0; j < s.kw; ++j) {
            const T* row = col + (i * s.kw + j) * ld;
            const index_t x0 = j * s.dw - s.pw;
            index_t lo, hi;
            valid_columns(s, x0, lo, hi);
            for (index_t oy = 0; oy < s.oh; ++oy) {
                const index_t iy = oy * s.sh - s.ph + i * s.dh;
                if (iy < 0 || iy >= s.h) continue;
                const T* out = row + oy * s.ow;
                T* in = plane + iy * s.w + x0;
                if (s.sw == 1) {
                    for (index_t ox = lo; ox < hi; ++ox) in[ox] += out[ox];
                } else {
                    for (index_t ox = lo; ox < hi; ++ox) in[ox * s.sw] += out[ox];
                }
            }
        }
    }
}

// col2im_plane for unit column stride, gathered instead of scattered: each dx row is written once, as the
// sum over the taps that read it of their column-matrix rows loaded shifted (lanes whose output column
// falls outside the row read neighbours and are masked out). col2im_plane's read-modify-write per tap
// overlaps the vector stores of the tap before, and each such load waits for them (LeNet's second layer:
// most of the data gradient's time). Loads reach (kw - 1) dw + pw + VL elements past either end of col.
template <class T>
void col2im_rows(const ConvShape& s, const T* col, index_t ld, T* plane) {
    constexpr index_t VL = kVL<T>;
    using I = typename std::conditional<sizeof(T) == 4, int32_t, int64_t>::type;
    typedef I VI __attribute__((vector_size(kVectorBytes)));
    VI lane;
    for (index_t l = 0; l < VL; ++l) lane[l] = I(l);
    for (index_t iy = 0; iy < s.h; ++iy) {
        for (index_t x0 = 0; x0 < s.w; x0 += VL) {
            Vec<T> acc = Vec<T>{};
            for (index_t i = 0; i < s.kh; ++i) {
                const index_t t = iy + s.ph - i * s.dh;  // oy * sh for the output row reading input row iy
                if (t < 0 || t % s.sh != 0 || t / s.sh >= s.oh) continue;
                const T* row = col + i * s.kw * ld + (t / s.sh) * s.ow;
                for (index_t j = 0; j < s.kw; ++j) {
                    const index_t ox0 = x0 + s.pw - j * s.dw;  // output column read by lane 0
                    if (ox0 >= s.ow || ox0 + VL <= 0) continue;
                    Vec<T> v;
                    memcpy(&v, row + j * ld + ox0, sizeof v);  // an unaligned vector load once inlined
                    if (ox0 >= 0 && ox0 + VL <= s.ow) {
                        acc += v;
                    } else {
                        const VI ox = lane + I(ox0);
                        acc += (ox >= 0) & (ox < I(s.ow)) ? v : Vec<T>{};
                    }
                }
            }
            const index_t count = min_i(VL, s.w - x0);
            if (count == VL) {
                memcpy(plane + iy * s.w + x0, &acc, sizeof acc);
            } else {
                T lanes[VL];
                memcpy(lanes, &acc, sizeof acc);
                memcpy(plane + iy * s.w + x0, lanes, size_t(count) * sizeof(T));
            }
        }
    }
}

// Work of copying one column-matrix element (im2col, col2im) in the flops of threads_for(): about 0.5 ns
// each (32 images, 64 channels, 3x3 stride 2 on 32x32: 2.4 ms for 4.7M), the time of ~50 GEMM flops. At
// 4 per element a 2 MB chunk stayed on one thread: that layer's forward on two threads 10.4 -> 8.3 ms.
constexpr double kColumnCopyFlops = 50;

// Where the rows of input channel ch of image i start in a chunk's column buffer.
index_t column_offset(const Geometry& g, index_t ld, index_t i, index_t ch) {
    const index_t group = ch / g.cg, channel = ch % g.cg;
    return group * g.rows * ld + channel * g.taps * ld + i * g.ohw;
}

// Column matrices of images [0, images) of x (a chunk) into col, one task per (image, channel).
template <class T>
void fill_columns(const ConvShape& s, const Geometry& g, const T* x, index_t images, T* col) {
    const index_t ld = images * g.ohw, tasks = images * s.c;
    const int t = threads_for(kColumnCopyFlops * double(tasks) * double(g.taps * g.ohw));
    parallel_for(t, tasks, [&](index_t task) {
        const index_t i = task / s.c, ch = task % s.c;
        im2col_plane(s, x + task * g.hw, col + column_offset(g, ld, i, ch), ld);
    });
}

// ---- direct forward for few input channels (first layers): im2col would give a GEMM of depth
// c * kh * kw < 32, whose output tiles get too few FMAs each to hide their loads and stores. Instead
// each output row is computed in vector registers: a block of output channels x 2 vectors of pixels (or
// x 2 rows of one vector), every kernel tap one broadcast weight times a shifted input row of a zero-padded
// copy of the image. ----
constexpr int kBlockK = kVectorBytes == 64 ? 8 : 4;  // 16 accumulators of 32 zmm; 8 of 16 ymm/xmm
// Rows of 2 vectors take more channels per block: 24 of 32 zmm accumulate (12 of 16 ymm/xmm), so each
// pair of input loads feeds 24 FMAs (3x3 over 64 channels on 32x32 images, one thread, AVX-512: 84 -> 95
// GFLOP/s; 5x5 over 32: 93 -> 98).
constexpr int kWideBlockK = kVectorBytes == 64 ? 12 : 6;

// Output channels [0, k) in register blocks of kWideBlockK while whole ones remain, then in blocks of
// kBlockK or half of it: run(std::integral_constant<int, KB>, k_begin, k_end).
template <class Run>
void in_channel_blocks(index_t k, Run run) {
    const index_t whole = k / kWideBlockK * kWideBlockK, rest = k - whole;
    run(std::integral_constant<int, kWideBlockK>{}, 0, whole);
    if (rest > kBlockK / 2) run(std::integral_constant<int, kBlockK>{}, whole, k);
    else if (rest > 0) run(std::integral_constant<int, kBlockK / 2>{}, whole, k);
}
constexpr int kRowBlock = 4;  // output rows per register block when a row is one (half-width) vector
// Measured (one thread, AVX-512, float32, against im2col + GEMM): depth 18 and 27 (3x3 over 2 or 3 channels)
// and 25 (5x5 over 1) win by 15-30%; depth 9 (3x3 over 1 channel, 32 outputs) loses by 15%. Deeper
// kernels win too when output rows fill whole 2-vector blocks (3x3 over 64 channels on 32x32 images, in
// blocks of 8 channels: 85 against 72 GFLOP/s; 5x5 over 32: 97 against 59) or are one vector long (16x16
// images, 3x3 over 32 and 128 channels, 1 row x 16 channels: 97 against 72, 100 against 92; 2 rows x 12
// channels are 3-5% faster again); rows that leave blocks half empty lose (16x16 in 2-vector blocks: 44
// against 64).
constexpr index_t kDirectMinDepth = 12, kDirectMaxDepth = 32;

// Lanes of a half-width vector when that still holds 16 bytes, else of a full one.
template <class T>
constexpr int half_lanes() {
    return kVL<T> / 2 >= 16 / int(sizeof(T)) ? kVL<T> / 2 : kVL<T>;
}

// N-lane vectors (full or half width) for the direct kernels.
template <class T, int N>
struct Lanes {
    typedef T V __attribute__((vector_size(N * sizeof(T))));
};

template <class T>
bool direct_applies(const ConvShape& s) {
    const index_t depth = s.c * s.kh * s.kw;
    if (s.groups != 1 || s.sw != 1 || s.ow < 8 || depth < kDirectMinDepth) return false;
    if (depth <= kDirectMaxDepth) return true;  // few input channels
    // 1x1 stays a plain GEMM; rows of half a vector (8x8 images in AVX-512 float) run in half-width vectors
    return s.kh * s.kw > 1 && (s.ow % (2 * kVL<T>) == 0 || s.ow == kVL<T> || s.ow == half_lanes<T>());
}

template <class T, class V = Vec<T>>
V load_vec(const T* p) {
    V v;
    memcpy(&v, p, sizeof v);  // an unaligned vector load once inlined
    return v;
}

template <class T>
T activate_scalar(T v, Activation act) {
    switch (act) {
        case Activation::relu: return v < T(0) ? T(0) : v;  // NaN passes through, as in PyTorch
        case Activation::gelu: return T(0.5 * double(v) * (1.0 + erf(double(v) * 0.70710678118654752440)));
        case Activation::sigmoid: return T(1.0 / (1.0 + exp(-double(v))));
        case Activation::tanh: return T(tanh(double(v)));
        default: return v;
    }
}

// One vector of output pixels (count of them valid): bias, activation, store.
template <class T, class V>
void store_pixels(T* out, V v, T bias, Activation act, index_t count) {
    constexpr index_t VL = index_t(sizeof(V) / sizeof(T));
    v += bias;
    if (act == Activation::relu) v = v < T(0) ? T(0) : v;  // NaN passes through
    if (count == VL && (act == Activation::none || act == Activation::relu)) {
        memcpy(out, &v, sizeof v);  // a whole vector: one (inlined) unaligned store
        return;
    }
    T lanes[VL];
    memcpy(lanes, &v, sizeof v);
    if (act != Activation::none && act != Activation::relu)
        for (index_t l = 0; l < count; ++l) lanes[l] = activate_scalar(lanes[l], act);
    memcpy(out, lanes, size_t(count) * sizeof(T));
}

// Output rows of one image from its padded copy xp (c, hp, wp): KB output channels x NV vectors of pixels
// per register block. A last block that would end past the row is moved back to end at it (recomputing a
// few pixels), so stores are whole vectors whenever the row holds one.
template <class T, int N, int NV, int KB>
void direct_rows(const ConvShape& s, const T* xp, index_t hp, index_t wp, const T* weight, const T* bias,
                 T* y_image, Activation act, index_t k_begin, index_t k_end) {
    using V = typename Lanes<T, N>::V;
    constexpr index_t VL = N;
    const index_t depth = s.c * s.kh * s.kw;
    for (index_t k0 = k_begin; k0 < k_end; k0 += KB) {
        const index_t kb = min_i(KB, k_end - k0);
        const T* w_rows[KB];  // channels past k_end repeat the last one; their results are dropped
        for (int b = 0; b < KB; ++b) w_rows[b] = weight + (k0 + min_i(b, kb - 1)) * depth;
        for (index_t oy = 0; oy < s.oh; ++oy) {
            for (index_t ox0 = 0; ox0 < s.ow; ox0 += NV * VL) {
                index_t at[NV];
                for (int v = 0; v < NV; ++v) at[v] = ox0 + v * VL;
                if (s.ow >= NV * VL && ox0 + NV * VL > s.ow) {
                    for (int v = 0; v < NV; ++v) at[v] = s.ow - NV * VL + v * VL;
                } else if (s.ow >= VL) {
                    for (int v = 0; v < NV; ++v)
                        if (at[v] + VL > s.ow) at[v] = s.ow - VL;
                }
                V acc[KB][NV];
                for (int b = 0; b < KB; ++b)
                    for (int v = 0; v < NV; ++v) acc[b][v] = V{};
                index_t tap = 0;
                for (index_t c = 0; c < s.c; ++c) {
                    for (index_t i = 0; i < s.kh; ++i) {
                        const T* row = xp + (c * hp + oy * s.sh + i * s.dh) * wp;
                        for (index_t j = 0; j < s.kw; ++j, ++tap) {
                            V a[NV];
                            for (int v = 0; v < NV; ++v) a[v] = load_vec<T, V>(row + j * s.dw + at[v]);
                            for (int b = 0; b < KB; ++b) {
                                const T wv = w_rows[b][tap];
                                for (int v = 0; v < NV; ++v) acc[b][v] += wv * a[v];
                            }
                        }
                    }
                }
                for (index_t b = 0; b < kb; ++b) {
                    T* out = y_image + ((k0 + b) * s.oh + oy) * s.ow;
                    const T bv = bias ? bias[k0 + b] : T(0);
                    for (int v = 0; v < NV; ++v)
                        if (at[v] < s.ow) store_pixels(out + at[v], acc[b][v], bv, act, min_i(VL, s.ow - at[v]));
                }
            }
        }
    }
}

// Rows exactly one N-lane vector long: each register block takes NV consecutive output rows of KB channels,
// so every broadcast weight feeds NV vectors (with one row per block it fed one). A last block that would
// pass the bottom is moved up to end there (recomputing a few rows).
template <class T, int N, int NV, int KB>
void direct_row_blocks(const ConvShape& s, const T* xp, index_t hp, index_t wp, const T* weight, const T* bias,
                       T* y_image, Activation act, index_t k_begin, index_t k_end) {
    using V = typename Lanes<T, N>::V;
    const index_t depth = s.c * s.kh * s.kw;
    for (index_t k0 = k_begin; k0 < k_end; k0 += KB) {
        const index_t kb = min_i(KB, k_end - k0);
        const T* w_rows[KB];  // channels past k_end repeat the last one; their results are dropped
        for (int b = 0; b < KB; ++b) w_rows[b] = weight + (k0 + min_i(b, kb - 1)) * depth;
        for (index_t oy0 = 0; oy0 < s.oh; oy0 += NV) {
            const index_t oy = min_i(oy0, s.oh - NV);
            V acc[KB][NV];
            for (int b = 0; b < KB; ++b)
                for (int v = 0; v < NV; ++v) acc[b][v] = V{};
            index_t tap = 0;
            for (index_t c = 0; c < s.c; ++c) {
                for (index_t i = 0; i < s.kh; ++i) {
                    const T* row = xp + (c * hp + oy * s.sh + i * s.dh) * wp;
                    for (index_t j = 0; j < s.kw; ++j, ++tap) {
                        V a[NV];
                        for (int v = 0; v < NV; ++v) a[v] = load_vec<T, V>(row + v * s.sh * wp + j * s.dw);
                        for (int b = 0; b < KB; ++b) {
                            const T wv = w_rows[b][tap];
                            for (int v = 0; v < NV; ++v) acc[b][v] += wv * a[v];
                        }
                    }
                }
            }
            for (index_t b = 0; b < kb; ++b) {
                T* out = y_image + ((k0 + b) * s.oh + oy) * s.ow;
                const T bv = bias ? bias[k0 + b] : T(0);
                for (int v = 0; v < NV; ++v) store_pixels(out + v * s.ow, acc[b][v], bv, act, index_t(N));
            }
        }
    }
}

template <class T>
bool forward_direct(const ConvShape& s, const T* x, const T* weight, const T* bias, T* y, Activation act) {
    constexpr index_t VL = kVL<T>;
    const index_t depth = s.c * s.kh * s.kw;
    const index_t hp = s.h + 2 * s.ph;
    // rows of exactly one vector: one vector per block and twice the channels, not half-empty blocks
    const bool one_vector = s.ow == VL, half_vector = !one_vector && s.ow == half_lanes<T>();
    // padded rows are wide enough for the whole vectors read past the last output pixel (rows of one
    // vector read no further than the row: a copy half the size to clear and to keep in cache)
    const index_t read = one_vector || half_vector ? s.ow : round_up(s.ow, 2 * VL);
    const index_t wp = max_i(s.w + 2 * s.pw, read + (s.kw - 1) * s.dw);
    const double flops = 2.0 * double(s.n) * double(s.k) * double(s.oh * s.ow) * double(depth);
    const int t = threads_for(flops);
    bool failed = false;
    team(t, [&] {
        share_dynamic(s.n, [&](index_t n) {
            T* xp = scratch<T, 0>(s.c * hp * wp);
            if (!xp) {
#pragma omp atomic write
                failed = true;
                return;
            }
            memset(xp, 0, size_t(s.c * hp * wp) * sizeof(T));
            for (index_t c = 0; c < s.c; ++c)
                for (index_t iy = 0; iy < s.h; ++iy)
                    copy_run(xp + (c * hp + iy + s.ph) * wp + s.pw, x + ((n * s.c + c) * s.h + iy) * s.w, s.w);
            T* y_image = y + n * s.k * s.oh * s.ow;
            if (one_vector && s.oh >= 2) {
                in_channel_blocks(s.k, [&](auto kb, index_t k_begin, index_t k_end) {
                    direct_row_blocks<T, kVL<T>, 2, decltype(kb)::value>(s, xp, hp, wp, weight, bias, y_image, act,
                                                                         k_begin, k_end);
                });
            } else if (one_vector) {
                direct_rows<T, kVL<T>, 1, 2 * kBlockK>(s, xp, hp, wp, weight, bias, y_image, act, 0, s.k);
            } else if (half_vector && s.oh >= kRowBlock) {
                direct_row_blocks<T, half_lanes<T>(), kRowBlock, 2 * kBlockK / kRowBlock>(s, xp, hp, wp, weight, bias,
                                                                                     y_image, act, 0, s.k);
            } else if (half_vector) {
                direct_rows<T, half_lanes<T>(), 1, 2 * kBlockK>(s, xp, hp, wp, weight, bias, y_image, act, 0, s.k);
            } else {
                in_channel_blocks(s.k, [&](auto kb, index_t k_begin, index_t k_end) {
                    direct_rows<T, kVL<T>, 2, decltype(kb)::value>(s, xp, hp, wp, weight, bias, y_image, act, k_begin,
                                                                   k_end);
                });
            }
        });
    });
    return !failed;
}

template <class T>
bool forward(const ConvShape& s, const T* x, const T* weight, const T* bias, T* y, Activation act) {
    const Geometry g = geometry(s);
    if (s.n > 0 && s.k > 0 && direct_applies<T>(s)) return forward_direct(s, x, weight, bias, y, act);
    if (s.n == 0 || s.k == 0 || g.ohw == 0) return true;
    const index_t chunk = g.direct ? s.n : chunk_images<T>(s, g);
    Buffer<T, 5> col(g.direct ? 0 : s.c * g.taps * g.ohw * chunk);
    if (!g.direct && !col.data) return false;
    for (index_t n0 = 0; n0 < s.n; n0 += chunk) {
        const index_t images = min_i(chunk, s.n - n0), ld = images * g.ohw;
        if (!g.direct) fill_columns(s, g, x + n0 * s.c * g.hw, images, col.data);
        for (index_t group = 0; group < s.groups; ++group) {
            const StridedBatch<const T> columns =
                g.direct ? StridedBatch<const T>{x + n0 * s.c * g.hw + group * g.cg * g.hw, s.c * g.hw, g.hw, 1}
                         : StridedBatch<const T>{col.data + group * g.rows * ld, g.ohw, ld, 1};
            GemmProblem<T> p{images, g.kg, g.ohw, g.rows, {weight + group * g.kg * g.rows, 0, g.rows, 1}, columns,
                             {y + n0 * s.k * g.ohw + group * g.kg * g.ohw, s.k * g.ohw, g.ohw, 1}};
            p.bias = bias ? bias + group * g.kg : nullptr;
            p.bias_on_rows = true;
            p.act = act;
            gemm(p);
        }
    }
    return true;
}

// With unit stride, the data gradient is itself a convolution: of dy, padded by d (k - 1) - p, with the
// kernels flipped and their channel axes swapped (per group). When that convolution suits the direct
// forward kernel, it replaces GEMM + col2im (measured: 5x5 over 32 channels, 32x32 images: 72 -> 93 GFLOP/s).
template <class T>
bool backward_data_as_convolution(const ConvShape& s, const Geometry& g, const T* dy, const T* weight, T* dx,
                                  bool& done) {
    ConvShape t = s;
    t.c = s.k;
    t.k = s.c;
    t.h = s.oh;
    t.w = s.ow;
    t.oh = s.h;
    t.ow = s.w;
    t.ph = s.dh * (s.kh - 1) - s.ph;
    t.pw = s.dw * (s.kw - 1) - s.pw;
    // few input channels would leave most of each register block of output channels empty (3 of 8: 46 -> 32)
    done = s.sh == 1 && s.sw == 1 && t.ph >= 0 && t.pw >= 0 && s.c >= 2 * kBlockK && direct_applies<T>(t);
    if (!done) return true;
    Buffer<T> flipped(s.c * g.kg * g.taps);  // (c, k / groups, kh, kw)
    if (!flipped.data) return false;
    for (index_t group = 0; group < s.groups; ++group)
        for (index_t kk = 0; kk < g.kg; ++kk)
            for (index_t ch = 0; ch < g.cg; ++ch)
                for (index_t tap = 0; tap < g.taps; ++tap)
                    flipped.data[((group * g.cg + ch) * g.kg + kk) * g.taps + (g.taps - 1 - tap)] =
                        weight[((group * g.kg + kk) * g.cg + ch) * g.taps + tap];
    return forward_direct(t, dy, flipped.data, static_cast<const T*>(nullptr), dx, Activation::none);
}

template <class T>
bool backward_data(const ConvShape& s, const T* dy, const T* weight, T* dx) {
    const Geometry g = geometry(s);
    if (s.n == 0 || s.c == 0 || g.hw == 0) return true;
    if (s.k == 0) {  // no output channel reads x
        memset(dx, 0, size_t(s.n * s.c * g.hw) * sizeof(T));
        return true;
    }
    bool done = false;
    if (!backward_data_as_convolution(s, g, dy, weight, dx, done)) return false;
    if (done) return true;
    const index_t chunk = g.direct ? s.n : chunk_images<T>(s, g);
    // unit column stride: dx gathered row by row (col2im_rows), whose shifted loads reach `margin` past the
    // ends of the column buffer
    const bool gather = s.sw == 1;
    const index_t margin = gather ? (s.kw - 1) * s.dw + s.pw + kVL<T> : 0;
    Buffer<T, 5> col_buffer(g.direct ? 0 : s.c * g.taps * g.ohw * chunk + 2 * margin);
    if (!g.direct && !col_buffer.data) return false;
    T* col = g.direct ? nullptr : col_buffer.data + margin;
    if (!g.direct && margin > 0) {  // the margins are read but masked out: keep them finite
        memset(col_buffer.data, 0, size_t(margin) * sizeof(T));
        memset(col + s.c * g.taps * g.ohw * chunk, 0, size_t(margin) * sizeof(T));
    }
    for (index_t n0 = 0; n0 < s.n; n0 += chunk) {
        const index_t images = min_i(chunk, s.n - n0), ld = images * g.ohw;
        T* dx_chunk = dx + n0 * s.c * g.hw;
        for (index_t group = 0; group < s.groups; ++group) {
            const StridedBatch<T> dcol =
                g.direct ? StridedBatch<T>{dx_chunk + group * g.cg * g.hw, s.c * g.hw, g.hw, 1}
                         : StridedBatch<T>{col + group * g.rows * ld, g.ohw, ld, 1};
            gemm(GemmProblem<T>{images, g.rows, g.ohw, g.kg, {weight + group * g.kg * g.rows, 0, 1, g.rows},
                                {dy + n0 * s.k * g.ohw + group * g.kg * g.ohw, s.k * g.ohw, g.ohw, 1}, dcol});
        }
        if (g.direct) continue;
        const index_t tasks = images * s.c;
        const int t = threads_for(kColumnCopyFlops * double(tasks) * double(g.taps * g.ohw));
        parallel_for(t, tasks, [&](index_t task) {
            const index_t i = task / s.c, ch = task % s.c;
            T* plane = dx_chunk + task * g.hw;
            if (gather) {
                col2im_rows(s, col + column_offset(g, ld, i, ch), ld, plane);
            } else {
                memset(plane, 0, size_t(g.hw) * sizeof(T));
                col2im_plane(s, col + column_offset(g, ld, i, ch), ld, plane);
            }
        });
    }
    return true;
}

// Sum of count values in vector lanes (two vectors in flight; a scalar chain would wait on every add).
template <class T>
T plane_sum(const T* p, index_t count) {
    constexpr index_t VL = kVL<T>;
    Vec<T> a0 = Vec<T>{}, a1 = Vec<T>{};
    index_t e = 0;
    for (; e + 2 * VL <= count; e += 2 * VL) {
        a0 += load_vec(p + e);
        a1 += load_vec(p + e + VL);
    }
    if (e + VL <= count) {
        a0 += load_vec(p + e);
        e += VL;
    }
    a0 += a1;
    T total = 0;
    for (index_t l = 0; l < VL; ++l) total += a0[l];
    for (; e < count; ++e) total += p[e];
    return total;
}

template <class T>
void bias_gradient(const ConvShape& s, const Geometry& g, const T* dy, T* dbias) {
    const int t = threads_for(double(s.n) * double(s.k) * double(g.ohw));
    parallel_for(t, s.k, [&](index_t kk) {
        double total = 0;  // summed in double: many terms
        for (index_t i = 0; i < s.n; ++i) total += double(plane_sum(dy + (i * s.k + kk) * g.ohw, g.ohw));
        dbias[kk] = T(total);
    });
}

// ---- backward weight for few input channels (first layers): im2col + GEMM sums over the output pixels
// with only c * kh * kw < 32 columns per weight row, so its tiles get too few FMAs to hide their loads.
// Instead, per image, dW[k, c, i, j] += sum over (oy, ox) of dy[k, oy, ox] * x[c, oy sh + i dh, ox + j dw]
// runs in vector registers along ox: a block of KB output channels x JB taps of one kernel row, each
// accumulator fed one dy row vector (reused JB times) times one shifted x row vector (reused KB times).
// The block sums are added into per-thread vector accumulators, reduced across lanes and threads at the
// end. Where a load would leave its row, zero-padded copies of each image's x and dy (rows padded to whole
// vectors, channels to a whole block) keep it in bounds; x lanes past the output row are masked to zero, so
// Inf/NaN pixels that no output reads stay out of the sums. ----
constexpr index_t kDirectWeightSumBytes = index_t(256) << 10;

template <class T>
bool direct_weight_applies(const ConvShape& s) {
    if (s.groups != 1 || s.sw != 1 || s.kh * s.kw == 1 || s.ow < 16 / index_t(sizeof(T))) return false;
    if (s.c * s.kh * s.kw <= kDirectMaxDepth) return true;  // few input channels
    // deeper kernels when rows fill whole vectors and the per-thread vector sums stay in L2 (measured, one
    // thread, AVX-512 float: LeNet's 5x5 over 6 channels on 12x12 images 31 -> 42 GFLOP/s; 3x3 over 32 to
    // 128 channels, whose sums take megabytes, lose against the GEMM by 30-60%), or for 5-tap rows (4 x 5
    // register blocks) up to 2 MiB of sums (5x5 over 32 channels on 32x32 images: 65 -> 93 GFLOP/s). With
    // 16 registers the blocks are too small to win (AVX2: 1.24 -> 1.34 ms on LeNet's layer): the GEMM stays.
    if (kVectorBytes < 64) return false;
    const index_t lanes = s.ow % kVL<T> == 0 ? kVL<T> : half_lanes<T>();
    const index_t sum_bytes = s.k * s.c * s.kh * s.kw * lanes * index_t(sizeof(T));
    return s.ow % lanes == 0 &&
           (sum_bytes <= kDirectWeightSumBytes || (s.kw == 5 && sum_bytes <= 8 * kDirectWeightSumBytes));
}

template <class T, int N>
struct WeightLanes {
    typedef T V __attribute__((vector_size(N * sizeof(T))));
    using I = typename std::conditional<sizeof(T) == 4, int32_t, int64_t>::type;  // a lane mask's type
    typedef I VI __attribute__((vector_size(N * sizeof(T))));

    static V load(const T* p) {
        V v;
        memcpy(&v, p, sizeof v);  // an unaligned vector load once inlined
        return v;
    }

    // One vector of output pixels (at) of one dy row per channel (kstride apart) and one x row.
    template <int KB, int JB, bool MASK>
    static void pixels(const T* dy_row, index_t kstride, const T* x_row, index_t dw, index_t at, VI keep,
                       V (&acc)[KB][JB]) {
        V d[KB];
        for (int b = 0; b < KB; ++b) d[b] = load(dy_row + b * kstride + at);
        for (int j = 0; j < JB; ++j) {
            V xv = load(x_row + j * dw + at);
            if (MASK) xv = keep ? xv : V{};
            for (int b = 0; b < KB; ++b) acc[b][j] += d[b] * xv;
        }
    }

    // One image: xp (c, hp, wp) and dyp (k or more channels, oh, owp), in place or padded copies; sums
    // (k, c, kh, kw) of N-lane vectors.
    template <int KB, int JB>
    static void image(const ConvShape& s, const T* xp, index_t hp, index_t wp, const T* dyp, index_t owp, T* sums) {
        const index_t full = s.ow / N, kstride = s.oh * owp;
        VI keep;
        for (int l = 0; l < N; ++l) keep[l] = full * N + l < s.ow ? I(-1) : I(0);
        for (index_t c = 0; c < s.c; ++c) {
            for (index_t i = 0; i < s.kh; ++i) {
                for (index_t k0 = 0; k0 < s.k; k0 += KB) {
                    // a last block past k moves back to end at k (its first channels are already done),
                    // unless k < KB, when dyp holds zero channels up to KB
                    const index_t kb0 = s.k >= KB ? min_i(k0, s.k - KB) : 0;
                    for (index_t j0 = 0; j0 < s.kw; j0 += JB) {
                        V acc[KB][JB];
                        for (int b = 0; b < KB; ++b)
                            for (int j = 0; j < JB; ++j) acc[b][j] = V{};
                        for (index_t oy = 0; oy < s.oh; ++oy) {
                            const T* dy_row = dyp + kb0 * kstride + oy * owp;
                            const T* x_row = xp + (c * hp + oy * s.sh + i * s.dh) * wp + j0 * s.dw;
                            for (index_t v = 0; v < full; ++v)
                                pixels<KB, JB, false>(dy_row, kstride, x_row, s.dw, v * N, keep, acc);
                            if (full * N < s.ow)
                                pixels<KB, JB, true>(dy_row, kstride, x_row, s.dw, full * N, keep, acc);
                        }
                        // channels done before and channels and taps past the ends (padding): dropped
                        for (index_t b = k0 - kb0; b < min_i(KB, s.k - kb0); ++b) {
                            for (index_t j = 0; j < min_i(JB, s.kw - j0); ++j) {
                                T* slot = sums + (((kb0 + b) * s.c + c) * s.kh * s.kw + i * s.kw + j0 + j) * N;
                                const V total = load(slot) + acc[b][j];
                                memcpy(slot, &total, sizeof total);
                            }
                        }
                    }
                }
            }
        }
    }

    template <int JB>
    static bool run(const ConvShape& s, const T* x, const T* dy, T* dweight) {
        constexpr int registers = kVectorBytes == 64 ? 32 : 16;
        // as many channels as the registers hold next to the taps, but 4 x 3 taps with 32 registers (measured:
        // 7 x 3 ran 5-10% slower, the compiler then reloading dy from memory for every tap)
        constexpr int fit = (registers - 3) / (JB + 1) < 8 ? (registers - 3) / (JB + 1) : 8;
        constexpr int KB = JB == 3 && fit > 4 ? 4 : fit;
        const index_t weights = s.k * s.c * s.kh * s.kw;
        const index_t owp = round_up(s.ow, N), kwp = round_up(s.kw, JB);
        // x and dy are read in place when every load stays inside their rows; else from padded copies
        const bool copy_dy = s.ow != owp || s.k < KB;
        const bool copy_x = s.ow != owp || s.kw != kwp || s.ph > 0 || s.pw > 0;
        const index_t hp = s.h + 2 * s.ph, wp = copy_x ? max_i(s.w + 2 * s.pw, owp + (kwp - 1) * s.dw) : s.w;
        const index_t x_size = copy_x ? s.c * hp * wp : 0, dy_size = copy_dy ? max_i(s.k, KB) * s.oh * owp : 0;
        const int t = threads_for(2.0 * double(s.n) * double(s.k) * double(s.oh * s.ow) * double(weights / s.k));
        Buffer<T> sums(index_t(t) * weights * N);
        if (!sums.data) return false;
        bool failed = false;
        team(t, [&] {
            const int tid = thread_index();
            T* own_sums = sums.data + index_t(tid) * weights * N;
            memset(own_sums, 0, size_t(weights * N) * sizeof(T));  // each thread its own (and its pages)
            T* copies = x_size + dy_size > 0 ? scratch<T, 0>(x_size + dy_size) : nullptr;
            if (copies) memset(copies, 0, size_t(x_size + dy_size) * sizeof(T));  // the padding stays zero
            share(s.n, [&](index_t n) {
                if (x_size + dy_size > 0 && !copies) {
#pragma omp atomic write
                    failed = true;
                    return;
                }
                const T* x_image = x + n * s.c * s.h * s.w;
                const T* dy_image = dy + n * s.k * s.oh * s.ow;
                if (copy_x) {
                    for (index_t c = 0; c < s.c; ++c)
                        for (index_t iy = 0; iy < s.h; ++iy)
                            copy_run(copies + (c * hp + iy + s.ph) * wp + s.pw, x_image + (c * s.h + iy) * s.w, s.w);
                    x_image = copies;
                }
                if (copy_dy) {
                    T* dyp = copies + x_size;
                    for (index_t kk = 0; kk < s.k; ++kk)
                        for (index_t oy = 0; oy < s.oh; ++oy)
                            copy_run(dyp + (kk * s.oh + oy) * owp, dy_image + (kk * s.oh + oy) * s.ow, s.ow);
                    dy_image = dyp;
                }
                image<KB, JB>(s, x_image, hp, wp, dy_image, owp, own_sums);
            });
        });
        if (failed) return false;
        // the lanes and threads' sums added up on all threads: serially, with the memset above, they had made
        // two threads slower than one (128 -> 128 channels on 16 x 16 images: 2 x 9 MB of sums)
        parallel_for(t, weights, [&](index_t e) {
            T total = 0;
            for (int tid = 0; tid < t; ++tid)
                for (int l = 0; l < N; ++l) total += sums.data[(index_t(tid) * weights + e) * N + l];
            dweight[e] = total;
        });
        return true;
    }

    static bool run(const ConvShape& s, const T* x, const T* dy, T* dweight) {
        switch (s.kw) {  // whole kernel rows per block for the common widths; others in blocks of 4 taps
            case 3: return run<3>(s, x, dy, dweight);
            case 5: return run<5>(s, x, dy, dweight);
            default: return run<4>(s, x, dy, dweight);
        }
    }
};

template <class T>
bool backward_weight_direct(const ConvShape& s, const T* x, const T* dy, T* dweight) {
    constexpr int VL = kVL<T>, HALF = VL / 2 >= 16 / int(sizeof(T)) ? VL / 2 : VL;
    // half-width vectors when they leave fewer lanes empty at the end of a row (24 pixels: 3 x 8, not 2 x 16)
    if (HALF < VL && round_up(s.ow, HALF) < round_up(s.ow, VL)) return WeightLanes<T, HALF>::run(s, x, dy, dweight);
    return WeightLanes<T, VL>::run(s, x, dy, dweight);
}

template <class T>
bool backward_weight(const ConvShape& s, const T* x, const T* dy, T* dweight, T* dbias) {
    const Geometry g = geometry(s);
    if (dbias) bias_gradient(s, g, dy, dbias);
    const index_t weights = s.k * g.rows;
    if (weights == 0) return true;
    if (s.n == 0) {
        memset(dweight, 0, size_t(weights) * sizeof(T));
        return true;
    }
    if (direct_weight_applies<T>(s)) return backward_weight_direct(s, x, dy, dweight);
    // Two ways to sum over images: one GEMM per image into partial sums, or dy regrouped as
    // (k, images, ohw) so one long GEMM spans all images of a chunk. The long GEMM runs faster; the
    // partial sums skip copying dy, which wins when the column rows are far fewer than the output
    // pixels (few input channels: measured on (64,1,32,28,3) and (32,3,32,32,3), lost on (32,64,64,32,3)).
    const bool per_image = g.rows * 16 <= g.ohw;
    index_t chunk = chunk_images<T>(s, g);
    if (per_image) chunk = max_i(1, min_i(chunk, kColumnBytes / index_t(sizeof(T)) / weights));
    const bool use_x = g.direct && (per_image || chunk == 1);  // a direct convolution's columns are x itself
    Buffer<T, 5> col(use_x ? 0 : s.c * g.taps * g.ohw * chunk);
    Buffer<T, 6> dy_rows(!per_image && chunk > 1 ? s.k * g.ohw * chunk : 0);
    Buffer<T, 7> partial(per_image ? weights * chunk : (s.n > chunk ? weights : 0));
    if ((!use_x && !col.data) || (!per_image && chunk > 1 && !dy_rows.data) ||
        ((per_image || s.n > chunk) && !partial.data))
        return false;
    for (index_t n0 = 0; n0 < s.n; n0 += chunk) {
        const index_t images = min_i(chunk, s.n - n0), ld = images * g.ohw;
        const T* x_chunk = x + n0 * s.c * g.hw;
        const T* dy_chunk = dy + n0 * s.k * g.ohw;
        if (!use_x) fill_columns(s, g, x_chunk, images, col.data);
        if (per_image) {
            for (index_t group = 0; group < s.groups; ++group) {
                const StridedBatch<const T> columns =
                    use_x ? StridedBatch<const T>{x_chunk + group * g.cg * g.hw, s.c * g.hw, 1, g.hw}
                          : StridedBatch<const T>{col.data + group * g.rows * ld, g.ohw, 1, ld};
                gemm(GemmProblem<T>{images, g.kg, g.rows, g.ohw,
                                    {dy_chunk + group * g.kg * g.ohw, s.k * g.ohw, g.ohw, 1}, columns,
                                    {partial.data + group * g.kg * g.rows, weights, g.rows, 1}});
            }
            const int t = threads_for(double(images) * double(weights));
            parallel_for(t, weights, [&](index_t e) {
                T total = n0 == 0 ? T(0) : dweight[e];
                for (index_t i = 0; i < images; ++i) total += partial.data[i * weights + e];
                dweight[e] = total;
            });
            continue;
        }
        if (chunk > 1) {
            const index_t tasks = images * s.k;
            const int t = threads_for(double(tasks) * double(g.ohw));
            parallel_for(t, tasks, [&](index_t task) {
                const index_t i = task / s.k, kk = task % s.k;
                memcpy(dy_rows.data + kk * ld + i * g.ohw, dy_chunk + task * g.ohw, size_t(g.ohw) * sizeof(T));
            });
        }
        T* out = n0 == 0 ? dweight : partial.data;
        for (index_t group = 0; group < s.groups; ++group) {
            const StridedBatch<const T> grads =
                chunk > 1 ? StridedBatch<const T>{dy_rows.data + group * g.kg * ld, 0, ld, 1}
                          : StridedBatch<const T>{dy_chunk + group * g.kg * g.ohw, 0, g.ohw, 1};
            const StridedBatch<const T> columns =
                use_x ? StridedBatch<const T>{x_chunk + group * g.cg * g.hw, 0, 1, g.hw}
                      : StridedBatch<const T>{col.data + group * g.rows * ld, 0, 1, ld};
            gemm(GemmProblem<T>{1, g.kg, g.rows, ld, grads, columns, {out + group * g.kg * g.rows, 0, g.rows, 1}});
        }
        if (n0 > 0) {
            for (index_t e = 0; e < weights; ++e) dweight[e] += partial.data[e];
        }
    }
    return true;
}

}  // namespace

ConvVariant conv_variant() {
    return {{&forward<float>, &backward_data<float>, &backward_weight<float>},
            {&forward<double>, &backward_data<double>, &backward_weight<double>}};
}

}  // namespace pyneural::cpu::PN_ISA
