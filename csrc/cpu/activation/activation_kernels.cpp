// Element-wise activations, compiled once per ISA (PN_ISA = ref | avx2 | avx512): one vector loop per
// activation over contiguous memory, the tail through a zero-padded vector, blocks shared over threads.
#include <immintrin.h>  // vec_math.h uses AVX/AVX-512 intrinsics where the variant has them
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "activation_variants.h"
#include "pyneural/parallel.h"

namespace pyneural::cpu::PN_ISA {
namespace {

#include "vec_math.h"

constexpr index_t kBlock = 16384;  // elements per thread task: 64-128 KiB, well inside L2

// Rough cost in flops per element, so cheap activations on small arrays stay on one thread.
double cost(ActKind kind) {
    switch (kind) {
        case ActKind::relu:
        case ActKind::leaky_relu: return 1;
        case ActKind::gelu: return 80;
        default: return 25;
    }
}

#if defined(__AVX512F__)
// Whether GELU's pieces (vec_math.h) suit a block, judged by its first 16 vectors: when at most 4 of them
// hold a value the pieces miss, it takes them; otherwise (10 N(0, 1) data, say, a fifth of whose values are
// below -7.87) the closed form throughout, with no per-lane test.
bool pieces_suit(const float* x, index_t n) {
    int misses = 0;
    for (index_t i = 0; i + 16 <= n && i < 256; i += 16) {
        VecF v;
        memcpy(&v, x + i, sizeof(v));
        misses += _mm512_cmp_ps_mask((__m512)v, _mm512_set1_ps(-kPiecesEnd), _CMP_NGE_UQ) != 0;
    }
    return misses <= 4;
}

// GELU in closed form over n elements: y = GELU(x), or y = g GELU'(x) (grad).
template <bool grad>
void gelu_closed(const float* g, const float* x, float* y, index_t n) {
    if constexpr (grad) map_binary<float>(g, x, y, n, [](VecF gv, VecF v) { return gv * vgelu_grad<float>(v); });
    else map_unary<float>(x, y, n, [](VecF v) { return vgelu<float>(v); });
}

// The lanes the pieces missed (x < -kPiecesEnd, NaN), gathered into whole vectors for the closed form and
// put back: a miss costs its lanes' share of a closed-form vector rather than a whole one. Gathered as they
// are found, since y may be x or g.
template <bool grad>
struct MissedLanes {
    static constexpr int kCapacity = 256;
    float x[kCapacity], g[grad ? kCapacity : 1], y[kCapacity];
    int32_t at[kCapacity];  // where each lane's result goes
    int n = 0;

    void add(float* out, int32_t i, __mmask16 lanes, VecF v, VecF gv) {
        if (n > kCapacity - 16) flush(out);
        const __m512i lane = _mm512_add_epi32(_mm512_set1_epi32(i), _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
                                                                                       10, 11, 12, 13, 14, 15));
        // compress into a register and store it whole (compress to memory is slow on Zen 4)
        _mm512_storeu_si512(at + n, _mm512_maskz_compress_epi32(lanes, lane));
        _mm512_storeu_ps(x + n, _mm512_maskz_compress_ps(lanes, (__m512)v));
        if constexpr (grad) _mm512_storeu_ps(g + n, _mm512_maskz_compress_ps(lanes, (__m512)gv));
        n += __builtin_popcount(lanes);
    }

    void flush(float* out) {
        gelu_closed<grad>(g, x, y, n);
        for (int k = 0; k < n; ++k) out[at[k]] = y[k];
        n = 0;
    }
};

// The same over a block (n <= kBlock): its full vectors through the pieces, the lanes that miss redone in
// closed form (inline in the loop, the closed form's constants no longer stayed in registers: 10-20%
// slower on wide data).
template <bool grad>
void gelu_block_pieces(const float* g, const float* x, float* y, index_t n) {
    const PieceRegisters pieces(grad ? gauss_pieces().grad : gauss_pieces().cdf);
    MissedLanes<grad> missed;
    const index_t full = n / 16 * 16;
    for (index_t i = 0; i < full; i += 16) {
        VecF v, gv{}, r;
        memcpy(&v, x + i, sizeof(v));
        if (grad) memcpy(&gv, g + i, sizeof(gv));
        const __mmask16 lanes = gauss_piece<grad>(v, pieces, r);
        if (lanes) missed.add(y, int32_t(i), lanes, v, gv);
        r *= grad ? gv : v;
        memcpy(y + i, &r, sizeof(r));
    }
    missed.flush(y);
    gelu_closed<grad>(grad ? g + full : g, x + full, y + full, n - full);
}

void gelu_forward_block(const float* x, float* y, index_t n) {
    if (pieces_suit(x, n)) return gelu_block_pieces<false>(nullptr, x, y, n);
    gelu_closed<false>(nullptr, x, y, n);
}

void gelu_backward_block(const float* g, const float* x, float* out, index_t n) {
    if (pieces_suit(x, n)) return gelu_block_pieces<true>(g, x, out, n);
    gelu_closed<true>(g, x, out, n);
}
#endif

template <class T>
void forward_block(ActKind kind, const T* x, T* y, index_t n, T alpha) {
    using V = VecT<T>;
    switch (kind) {
        case ActKind::relu:  // NaN passes through, as in PyTorch
            return map_unary<T>(x, y, n, [](V v) { return select<T>(v < T(0), V{}, v); });
        case ActKind::leaky_relu:
            return map_unary<T>(x, y, n, [alpha](V v) { return select<T>(v < T(0), v * alpha, v); });
        case ActKind::elu:
            return map_unary<T>(x, y, n, [alpha](V v) { return select<T>(v > T(0), v, alpha * vexpm1<T>(v)); });
        case ActKind::gelu:
#if defined(__AVX512F__)
            if constexpr (sizeof(T) == 4) return gelu_forward_block(x, y, n);
#endif
            return map_unary<T>(x, y, n, [](V v) { return vgelu<T>(v); });
        case ActKind::silu: return map_unary<T>(x, y, n, [](V v) { return v * vsigmoid<T>(v); });
        case ActKind::sigmoid: return map_unary<T>(x, y, n, [](V v) { return vsigmoid<T>(v); });
        case ActKind::tanh: return map_unary<T>(x, y, n, [](V v) { return vtanh<T>(v); });
    }
}

// `s` is the saved input (or the output, for sigmoid and tanh).
template <class T>
void backward_block(ActKind kind, const T* g, const T* s, T* out, index_t n, T alpha) {
    using V = VecT<T>;
    switch (kind) {
        case ActKind::relu:
            // x <= 0 rather than !(x > 0): a NaN input passes the gradient, as in PyTorch
            return map_binary<T>(g, s, out, n, [](V gv, V x) { return select<T>(x <= T(0), V{}, gv); });
        case ActKind::leaky_relu:
            return map_binary<T>(g, s, out, n, [alpha](V gv, V x) { return select<T>(x > T(0), gv, gv * alpha); });
        case ActKind::elu:
            return map_binary<T>(g, s, out, n,
                                 [alpha](V gv, V x) { return select<T>(x > T(0), gv, gv * alpha * vexp<T>(x)); });
        case ActKind::gelu:
#if defined(__AVX512F__)
            if constexpr (sizeof(T) == 4) return gelu_backward_block(g, s, out, n);
#endif
            return map_binary<T>(g, s, out, n, [](V gv, V x) { return gv * vgelu_grad<T>(x); });
        case ActKind::silu:
            return map_binary<T>(g, s, out, n, [](V gv, V x) {
                const V sg = vsigmoid<T>(x);
                return gv * sg * (T(1) + x * (T(1) - sg));
            });
        case ActKind::sigmoid:
            return map_binary<T>(g, s, out, n, [](V gv, V y) { return gv * y * (T(1) - y); });
        case ActKind::tanh:
            return map_binary<T>(g, s, out, n, [](V gv, V y) { return gv * (T(1) - y * y); });
    }
}

template <class T>
void forward(ActKind kind, const T* x, T* y, index_t n, double alpha) {
    const index_t blocks = (n + kBlock - 1) / kBlock;
    const int t = threads_for(cost(kind) * double(n));
    parallel_for(t, blocks, [&](index_t b) {
        const index_t start = b * kBlock, len = n - start < kBlock ? n - start : kBlock;
        forward_block<T>(kind, x + start, y + start, len, T(alpha));
    });
}

template <class T>
void backward(ActKind kind, const T* g, const T* s, T* out, index_t n, double alpha) {
    const index_t blocks = (n + kBlock - 1) / kBlock;
    const int t = threads_for(cost(kind) * double(n));
    parallel_for(t, blocks, [&](index_t b) {
        const index_t start = b * kBlock, len = n - start < kBlock ? n - start : kBlock;
        backward_block<T>(kind, g + start, s + start, out + start, len, T(alpha));
    });
}

}  // namespace

ActivationVariant activation_variant() {
    return {&forward<float>, &forward<double>, &backward<float>, &backward<double>};
}

}  // namespace pyneural::cpu::PN_ISA
