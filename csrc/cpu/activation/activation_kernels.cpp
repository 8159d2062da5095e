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
// Whether GELU's pieces (vec_math.h) cover a block, judged by its first 256 elements: a block of N(0, 1)-like
// data takes the pieces, and the closed form out of line for its rare vectors outside them; a wider one
// (where most vectors would miss) the closed form throughout, with no per-vector test. Both inline in one
// loop cost the wide data 10-20% (the closed form's constants no longer stayed in registers).
bool pieces_cover(const float* x, index_t n) {
    const index_t m = n < 256 ? n : 256;
    VecF lo = splat<float>(0.0f), hi = lo;
    index_t i = 0;
    for (; i + 16 <= m; i += 16) {
        VecF v;
        memcpy(&v, x + i, sizeof(v));
        lo = vmin<float>(lo, v);
        hi = vmax<float>(hi, v);
    }
    float low = _mm512_reduce_min_ps((__m512)lo), high = _mm512_reduce_max_ps((__m512)hi);
    for (; i < m; ++i) {
        low = x[i] < low ? x[i] : low;
        high = x[i] > high ? x[i] : high;
    }
    return low >= kPiecesLow && high <= kPiecesHigh;  // a NaN is caught by the per-vector test
}

__attribute__((noinline)) VecF gelu_far(VecF x) { return vgelu<float>(x); }
__attribute__((noinline)) VecF gelu_grad_far(VecF x) { return vgelu_grad<float>(x); }

void gelu_forward_block(const float* x, float* y, index_t n) {
    if (!pieces_cover(x, n)) return map_unary<float>(x, y, n, [](VecF v) { return vgelu<float>(v); });
    const GaussPieces& pieces = gauss_pieces();
    map_unary<float>(x, y, n, [&pieces](VecF v) __attribute__((always_inline)) {
        VecF cdf;
        return gauss_piece(v, pieces.cdf, cdf) ? v * cdf : gelu_far(v);
    });
}

void gelu_backward_block(const float* g, const float* x, float* out, index_t n) {
    if (!pieces_cover(x, n))
        return map_binary<float>(g, x, out, n, [](VecF gv, VecF v) { return gv * vgelu_grad<float>(v); });
    const GaussPieces& pieces = gauss_pieces();
    map_binary<float>(g, x, out, n, [&pieces](VecF gv, VecF v) __attribute__((always_inline)) {
        VecF grad;
        return gv * (gauss_piece(v, pieces.grad, grad) ? grad : gelu_grad_far(v));
    });
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
