// Fused optimizer updates, compiled once per ISA (PN_ISA = ref | avx2 | avx512) with that ISA's flags.
// Each update reads the parameter, gradient and state buffers once and writes them back once, a vector
// at a time (GCC vector extensions; square roots through the ISA's intrinsics, since the vectorizer
// leaves sqrt to libm when errno handling is on). The arithmetic follows torch.optim's single-tensor
// code operation by operation (lerp's two forms included), so results match PyTorch to rounding.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "optim_variants.h"
#include "pyneural/parallel.h"

namespace pyneural::cpu::PN_ISA {
namespace {

#include "pyneural/isa.h"

inline VecF vsqrt(VecF x) {
#if defined(__AVX512F__)
    return (VecF)_mm512_sqrt_ps((__m512)x);
#elif defined(__AVX2__)
    return (VecF)_mm256_sqrt_ps((__m256)x);
#elif defined(__SSE2__)
    return (VecF)_mm_sqrt_ps((__m128)x);
#else
    for (int l = 0; l < kVL<float>; ++l) x[l] = sqrtf(x[l]);
    return x;
#endif
}

inline VecD vsqrt(VecD x) {
#if defined(__AVX512F__)
    return (VecD)_mm512_sqrt_pd((__m512d)x);
#elif defined(__AVX2__)
    return (VecD)_mm256_sqrt_pd((__m256d)x);
#elif defined(__SSE2__)
    return (VecD)_mm_sqrt_pd((__m128d)x);
#else
    for (int l = 0; l < kVL<double>; ++l) x[l] = sqrt(x[l]);
    return x;
#endif
}

// Runs body(p, g, s0, s1, s2) on every vector of elements [lo, hi) (null state buffers read as zeros and
// are not written).
template <class T, class Body>
void slice(index_t lo, index_t hi, T* param, const T* grad, T* s0, T* s1, T* s2, const Body& body) {
    using V = Vec<T>;
    constexpr index_t L = kVL<T>;
    index_t i = lo;
    for (; i + L <= hi; i += L) {
        V p = load(param + i), a = s0 ? load(s0 + i) : V{}, b = s1 ? load(s1 + i) : V{},
          c = s2 ? load(s2 + i) : V{};
        body(p, load(grad + i), a, b, c);
        store(param + i, p);
        if (s0) store(s0 + i, a);
        if (s1) store(s1 + i, b);
        if (s2) store(s2 + i, c);
    }
    if (i < hi) {
        const index_t w = hi - i;
        V p = load_part(param + i, w), a = s0 ? load_part(s0 + i, w) : V{},
          b = s1 ? load_part(s1 + i, w) : V{}, c = s2 ? load_part(s2 + i, w) : V{};
        body(p, load_part(grad + i, w), a, b, c);
        store_part(param + i, p, w);
        if (s0) store_part(s0 + i, a, w);
        if (s1) store_part(s1 + i, b, w);
        if (s2) store_part(s2 + i, c, w);
    }
}

// slice() over all n elements, threads over contiguous runs of whole vectors when the work pays for them
// (a small update calls the loop directly: entering even a one-thread OpenMP region costs a microsecond).
template <class T, class Body>
void for_each_vector(index_t n, T* param, const T* grad, T* s0, T* s1, T* s2, double flops_per_element,
                     const Body& body) {
    const int threads = threads_for(double(n) * flops_per_element);
    if (threads <= 1) return slice(0, n, param, grad, s0, s1, s2, body);
    const index_t per_thread = round_up((n + threads - 1) / threads, index_t(kVL<T>));
    parallel_for(threads, threads, [&](int t) {
        const index_t lo = min_i(n, t * per_thread);
        slice(lo, min_i(n, lo + per_thread), param, grad, s0, s1, s2, body);
    });
}

// torch.lerp(start, end, weight): the form depends on the weight, for accuracy near either end.
template <class V, class T>
inline V lerp(V start, V end, T weight) {
    return weight < T(0.5) ? start + weight * (end - start) : end - (end - start) * (T(1) - weight);
}

// The gradient with the regularisers' terms: g + l1 * sign(p) (sign(0) = 0, as autograd's d|p|/dp), then
// + l2 * p — the order torch.optim sees when the L1 penalty is part of the loss.
template <class V, class T>
inline V regularised(V g, V p, T l2, T l1) {
    if (l1 != T(0)) g = g + (p > T(0) ? V{} + l1 : (p < T(0) ? V{} - l1 : V{}));
    return l2 != T(0) ? g + l2 * p : g;
}

template <class T>
void sgd(const SgdUpdate<T>& u) {
    using V = Vec<T>;
    const T lr = T(u.lr), momentum = T(u.momentum), keep = T(1 - u.dampening), wd = T(u.weight_decay);
    const T l1 = T(u.l1_weight_decay);
    const bool use_momentum = u.momentum != 0, nesterov = u.nesterov, first = u.first_step;
    for_each_vector(u.n, u.param, u.grad, use_momentum ? u.momentum_buffer : nullptr, (T*)nullptr, (T*)nullptr,
                    6.0, [&](V& p, V g, V& buf, V&, V&) {
        V d = regularised(g, p, wd, l1);
        if (use_momentum) {
            buf = first ? d : buf * momentum + keep * d;
            d = nesterov ? d + momentum * buf : buf;
        }
        p = p + (-lr) * d;
    });
}

template <class T>
void adam(const AdamUpdate<T>& u) {
    using V = Vec<T>;
    const double correction1 = 1 - pow(u.beta1, double(u.step)), correction2 = 1 - pow(u.beta2, double(u.step));
    const T step_size = T(u.lr / correction1), correction2_sqrt = T(sqrt(correction2)), eps = T(u.eps);
    const T w1 = T(1 - u.beta1), beta2 = T(u.beta2), w2 = T(1 - u.beta2), wd = T(u.weight_decay);
    const T shrink = T(1 - u.lr * u.weight_decay), l1 = T(u.l1_weight_decay);
    const bool decoupled = u.decoupled, decay = u.weight_decay != 0, amsgrad = u.max_exp_avg_sq != nullptr;
    for_each_vector(u.n, u.param, u.grad, u.exp_avg, u.exp_avg_sq, u.max_exp_avg_sq, 12.0,
                    [&](V& p, V g, V& m, V& v, V& v_max) {
        g = regularised(g, p, decoupled ? T(0) : wd, l1);
        if (decay && decoupled) p = p * shrink;
        m = lerp(m, g, w1);
        v = v * beta2 + w2 * g * g;
        if (amsgrad) v_max = v_max >= v ? v_max : v;  // a NaN in v propagates, as torch.maximum's
        const V denom = vsqrt(amsgrad ? v_max : v) / correction2_sqrt + eps;
        p = p + (-step_size) * (m / denom);
    });
}

template <class T>
void rmsprop(const RmspropUpdate<T>& u) {
    using V = Vec<T>;
    const T lr = T(u.lr), alpha = T(u.alpha), w = T(1 - u.alpha), eps = T(u.eps), wd = T(u.weight_decay);
    const T momentum = T(u.momentum), l1 = T(u.l1_weight_decay);
    const bool centered = u.centered, use_momentum = u.momentum > 0;
    for_each_vector(u.n, u.param, u.grad, u.square_avg, use_momentum ? u.momentum_buffer : nullptr,
                    centered ? u.grad_avg : nullptr, 12.0, [&](V& p, V g, V& sq, V& buf, V& avg_g) {
        g = regularised(g, p, wd, l1);
        sq = sq * alpha + w * g * g;
        V avg;
        if (centered) {
            avg_g = lerp(avg_g, g, w);
            avg = vsqrt(sq + T(-1) * avg_g * avg_g) + eps;
        } else {
            avg = vsqrt(sq) + eps;
        }
        if (use_momentum) {
            buf = buf * momentum + g / avg;
            p = p + (-lr) * buf;
        } else {
            p = p + (-lr) * (g / avg);
        }
    });
}

template <class T>
void adagrad(const AdagradUpdate<T>& u) {
    using V = Vec<T>;
    const T lr = T(u.lr), eps = T(u.eps), wd = T(u.weight_decay), l1 = T(u.l1_weight_decay);
    for_each_vector(u.n, u.param, u.grad, u.state_sum, (T*)nullptr, (T*)nullptr, 8.0,
                    [&](V& p, V g, V& sum, V&, V&) {
        g = regularised(g, p, wd, l1);
        sum = sum + g * g;
        p = p + (-lr) * (g / (vsqrt(sum) + eps));
    });
}

}  // namespace

OptimVariant optim_variant() {
    return {&sgd<float>, &sgd<double>, &adam<float>, &adam<double>,
            &rmsprop<float>, &rmsprop<double>, &adagrad<float>, &adagrad<double>};
}

}  // namespace pyneural::cpu::PN_ISA
