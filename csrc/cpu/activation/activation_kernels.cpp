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
            return map_unary<T>(x, y, n, [](V v) { return v * gauss_cdf<T>(v, gauss<T>(v)); });
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
            return map_binary<T>(g, s, out, n, [](V gv, V x) {  // d/dx x Phi(x) = Phi(x) + x phi(x)
                if constexpr (sizeof(T) == 4) {
                    V pdf;
                    const V cdf = gauss_cdf_pdf_float(x, pdf);
                    return gv * (cdf + x * pdf);
                } else {
                    const V e = gauss<T>(x);
                    return gv * (gauss_cdf<T>(x, e) + x * e * T(0.39894228040143267794));
                }
            });
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
