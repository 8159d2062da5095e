// Element-wise losses and the NLL gather, compiled once per ISA (PN_ISA = ref | avx2 | avx512): one vector
// loop per loss kind over contiguous memory, blocks shared over threads; sums accumulate in double per block
// and the block sums are added in block order, so the result is the same for any thread count.
#include <immintrin.h>  // vec_math.h uses AVX/AVX-512 intrinsics where the variant has them
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loss_variants.h"
#include "pyneural/parallel.h"

namespace pyneural::cpu::PN_ISA {
namespace {

#include "../activation/vec_math.h"

constexpr index_t kBlock = 16384;  // elements per thread task (64-128 KiB per operand)

// Running sums in double lanes: a float vector is split into halves, each widened to one double vector
// (two native registers; a double-width vector type spills on AVX2).
typedef float VecHalfF __attribute__((vector_size(kVectorBytes / 2)));
struct Acc {
    VecD a, b;
};

template <class T>
struct Params {
    T beta, inv_beta, half_inv_beta, half_beta;
};

template <class T>
__attribute__((always_inline)) inline VecT<T> sign(VecT<T> d) {  // 0 for NaN, as PyTorch's l1 gradient
    return select<T>(d > T(0), splat<T>(T(1)), select<T>(d < T(0), splat<T>(T(-1)), VecT<T>{}));
}

// The per-element loss (before the weight).
template <LossKind K, class T>
__attribute__((always_inline)) inline VecT<T> value(VecT<T> x, VecT<T> y, VecT<T> pw, const Params<T>& p) {
    const VecT<T> d = x - y;
    if constexpr (K == LossKind::mse) {
        return d * d;
    } else if constexpr (K == LossKind::l1) {
        return vabs<T>(d);
    } else if constexpr (K == LossKind::smooth_l1) {
        const VecT<T> a = vabs<T>(d);
        return select<T>(a < p.beta, d * d * p.half_inv_beta, a - p.half_beta);
    } else if constexpr (K == LossKind::bce) {
        VecT<T> lx = vlog<T>(x), l1x = vlog1p<T>(-x);
        lx = select<T>(lx < T(-100), splat<T>(T(-100)), lx);  // PyTorch's clamp (NaN stays NaN)
        l1x = select<T>(l1x < T(-100), splat<T>(T(-100)), l1x);
        return -(y * lx + (T(1) - y) * l1x);
    } else {
        // (1 - y) x + lw (log1p(e^-|x|) + max(-x, 0)), lw = 1 + (pw - 1) y, with the linear terms combined
        // (x < 0: -pw y x) so that no large terms cancel
        const VecT<T> lw = T(1) + (pw - T(1)) * y;
        const VecT<T> linear = select<T>(x < T(0), -(pw * y) * x, (T(1) - y) * x);
        return linear + lw * vlog1p<T>(vexp<T, false>(-vabs<T>(x)));
    }
}

// d value / d x.
template <LossKind K, class T>
__attribute__((always_inline)) inline VecT<T> slope(VecT<T> x, VecT<T> y, VecT<T> pw, const Params<T>& p) {
    const VecT<T> d = x - y;
    if constexpr (K == LossKind::mse) {
        return d + d;
    } else if constexpr (K == LossKind::l1) {
        return sign<T>(d);
    } else if constexpr (K == LossKind::smooth_l1) {  // NaN gives NaN, as PyTorch
        return select<T>(d < -p.beta, splat<T>(T(-1)), select<T>(d > p.beta, splat<T>(T(1)), d * p.inv_beta));
    } else if constexpr (K == LossKind::bce) {
        constexpr T eps = T(double(1e-12f));  // PyTorch's EPSILON, a float32 constant
        VecT<T> den = (T(1) - x) * x;
        den = select<T>(den < eps, splat<T>(eps), den);
        return d / den;
    } else {  // (1 + (pw - 1) y) sigmoid(x) - pw y
        return (T(1) + (pw - T(1)) * y) * vsigmoid<T>(x) - pw * y;
    }
}

// acc += v, float lanes widened to double.
template <class T>
__attribute__((always_inline)) inline void accumulate(Acc& acc, VecT<T> v) {
    if constexpr (sizeof(T) == 4) {
        VecHalfF lo, hi;
        memcpy(&lo, &v, sizeof(lo));
        memcpy(&hi, reinterpret_cast<const char*>(&v) + sizeof(lo), sizeof(hi));
        acc.a += __builtin_convertvector(lo, VecD);
        acc.b += __builtin_convertvector(hi, VecD);
    } else {
        acc.a += v;
    }
}

// Sum of the weighted losses of one block, written to out when it is not null.
template <LossKind K, class T>
double forward_block(const T* x, const T* y, const T* w, const T* pw, T* out, index_t n, const Params<T>& p) {
    using V = VecT<T>;
    constexpr index_t L = kLanes<T>;
    Acc acc = {VecD{}, VecD{}};
    const V one = splat<T>(T(1));
    index_t i = 0;
    for (; i + L <= n; i += L) {
        V l = value<K, T>(load<T>(x + i), load<T>(y + i), pw ? load<T>(pw + i) : one, p);
        if (w) l *= load<T>(w + i);
        if (out) memcpy(out + i, &l, sizeof(V));
        accumulate<T>(acc, l);
    }
    if (i < n) {
        const index_t k = n - i;
        // padding 0.5 keeps every log finite; the padded lanes are dropped below
        V l = value<K, T>(load_part<T>(x + i, k, T(0.5)), load_part<T>(y + i, k, T(0.5)),
                          pw ? load_part<T>(pw + i, k, T(1)) : one, p);
        if (w) l *= load_part<T>(w + i, k, T(0));
        if (out) memcpy(out + i, &l, size_t(k) * sizeof(T));
        MaskT<T> keep;
        for (int j = 0; j < L; ++j) keep[j] = j < k ? -1 : 0;
        accumulate<T>(acc, select<T>(keep, l, V{}));
    }
    double s = 0.0;
    for (int j = 0; j < kLanes<double>; ++j) s += acc.a[j] + acc.b[j];
    return s;
}

template <LossKind K, class T>
void backward_block(const T* x, const T* y, const T* w, const T* pw, const T* g, T scale, T* gx, index_t n,
                    const Params<T>& p) {
    using V = VecT<T>;
    constexpr index_t L = kLanes<T>;
    const V one = splat<T>(T(1)), sv = splat<T>(scale);
    index_t i = 0;
    for (; i + L <= n; i += L) {
        V r = slope<K, T>(load<T>(x + i), load<T>(y + i), pw ? load<T>(pw + i) : one, p);
        if (w) r *= load<T>(w + i);
        r *= g ? load<T>(g + i) : sv;
        memcpy(gx + i, &r, sizeof(V));
    }
    if (i < n) {
        const index_t k = n - i;
        V r = slope<K, T>(load_part<T>(x + i, k, T(0.5)), load_part<T>(y + i, k, T(0.5)),
                          pw ? load_part<T>(pw + i, k, T(1)) : one, p);
        if (w) r *= load_part<T>(w + i, k, T(0));
        r *= g ? load_part<T>(g + i, k, T(0)) : sv;
        memcpy(gx + i, &r, size_t(k) * sizeof(T));
    }
}

constexpr double cost(LossKind kind) {  // rough flops per element, so small cheap problems stay on one thread
    return kind == LossKind::bce || kind == LossKind::bce_logits ? 60 : 4;
}

template <LossKind K, class T>
double forward_kind(const T* x, const T* y, const T* w, const T* pw, T* out, index_t n, const Params<T>& p) {
    const index_t blocks = (n + kBlock - 1) / kBlock;
    int t = threads_for(cost(K) * double(n));
    double* partial = t > 1 ? static_cast<double*>(malloc(size_t(blocks) * sizeof(double))) : nullptr;
    if (!partial) t = 1;  // the same block sums in the same order, on one thread
    double total = 0.0;
    if (t == 1) {
        for (index_t b = 0; b < blocks; ++b) {
            const index_t start = b * kBlock, len = n - start < kBlock ? n - start : kBlock;
            total += forward_block<K, T>(x + start, y + start, w ? w + start : w, pw ? pw + start : pw,
                                         out ? out + start : out, len, p);
        }
        return total;
    }
    parallel_for(t, blocks, [&](index_t b) {
        const index_t start = b * kBlock, len = n - start < kBlock ? n - start : kBlock;
        partial[b] = forward_block<K, T>(x + start, y + start, w ? w + start : w, pw ? pw + start : pw,
                                         out ? out + start : out, len, p);
    });
    for (index_t b = 0; b < blocks; ++b) total += partial[b];
    free(partial);
    return total;
}

template <LossKind K, class T>
void backward_kind(const T* x, const T* y, const T* w, const T* pw, const T* g, T scale, T* gx, index_t n,
                   const Params<T>& p) {
    const index_t blocks = (n + kBlock - 1) / kBlock;
    const int t = threads_for(cost(K) * double(n));
    parallel_for(t, blocks, [&](index_t b) {
        const index_t start = b * kBlock, len = n - start < kBlock ? n - start : kBlock;
        backward_block<K, T>(x + start, y + start, w ? w + start : w, pw ? pw + start : pw, g ? g + start : g, scale,
                             gx + start, len, p);
    });
}

template <class T>
Params<T> params(double beta) {
    return {T(beta), T(beta > 0 ? 1.0 / beta : 0.0), T(beta > 0 ? 0.5 / beta : 0.0), T(0.5 * beta)};
}

template <class T>
double forward(LossKind kind, const T* x, const T* y, const T* w, const T* pw, T* out, index_t n, double beta) {
    const Params<T> p = params<T>(beta);
    switch (kind) {
        case LossKind::mse: return forward_kind<LossKind::mse, T>(x, y, w, pw, out, n, p);
        case LossKind::smooth_l1:
            if (beta > 0) return forward_kind<LossKind::smooth_l1, T>(x, y, w, pw, out, n, p);
            [[fallthrough]];  // beta 0: l1, as PyTorch
        case LossKind::l1: return forward_kind<LossKind::l1, T>(x, y, w, pw, out, n, p);
        case LossKind::bce: return forward_kind<LossKind::bce, T>(x, y, w, pw, out, n, p);
        case LossKind::bce_logits: return forward_kind<LossKind::bce_logits, T>(x, y, w, pw, out, n, p);
    }
    return 0.0;
}

template <class T>
void backward(LossKind kind, const T* x, const T* y, const T* w, const T* pw, const T* g, double scale, T* gx,
              index_t n, double beta) {
    const Params<T> p = params<T>(beta);
    const T s = T(scale);
    switch (kind) {
        case LossKind::mse: return backward_kind<LossKind::mse, T>(x, y, w, pw, g, s, gx, n, p);
        case LossKind::smooth_l1:
            if (beta > 0) return backward_kind<LossKind::smooth_l1, T>(x, y, w, pw, g, s, gx, n, p);
            [[fallthrough]];
        case LossKind::l1: return backward_kind<LossKind::l1, T>(x, y, w, pw, g, s, gx, n, p);
        case LossKind::bce: return backward_kind<LossKind::bce, T>(x, y, w, pw, g, s, gx, n, p);
        case LossKind::bce_logits: return backward_kind<LossKind::bce_logits, T>(x, y, w, pw, g, s, gx, n, p);
    }
}

// ---- negative log-likelihood: a gather of one value per position ----
constexpr index_t kNllBlock = 4096;

template <class T>
void nll_forward(const T* x, const index_t* target, const T* w, T* loss, index_t outer, index_t classes,
                 index_t inner, index_t ignore_index, double* sums) {
    const index_t rows = outer * inner, blocks = (rows + kNllBlock - 1) / kNllBlock;
    int t = threads_for(4.0 * double(rows));
    double* partial = t > 1 ? static_cast<double*>(malloc(size_t(blocks) * 2 * sizeof(double))) : nullptr;
    if (!partial) t = 1;
    auto block = [=](index_t b, double* out2) {
        const index_t start = b * kNllBlock, end = rows - start < kNllBlock ? rows : start + kNllBlock;
        index_t o = start / inner, i = start % inner;
        double s = 0.0, sw = 0.0;
        for (index_t r = start; r < end; ++r) {
            const index_t tr = target[r];
            double l = 0.0;  // the product in double: exact for float, so the sum has no rounding per term
            if (tr != ignore_index) {
                const double wt = w ? double(w[tr]) : 1.0;
                l = -wt * double(x[(o * classes + tr) * inner + i]);
                sw += wt;
            }
            if (loss) loss[r] = T(l);
            s += l;
            if (++i == inner) i = 0, ++o;
        }
        out2[0] = s;
        out2[1] = sw;
    };
    sums[0] = sums[1] = 0.0;
    if (t == 1) {
        for (index_t b = 0; b < blocks; ++b) {
            double two[2];
            block(b, two);
            sums[0] += two[0];
            sums[1] += two[1];
        }
        return;
    }
    parallel_for(t, blocks, [&](index_t b) { block(b, partial + 2 * b); });
    for (index_t b = 0; b < blocks; ++b) sums[0] += partial[2 * b], sums[1] += partial[2 * b + 1];
    free(partial);
}

template <class T>
void nll_backward(const index_t* target, const T* w, const T* g, double scale, T* gx, index_t outer, index_t classes,
                  index_t inner, index_t ignore_index) {
    const T s = T(scale);
    const int t = threads_for(double(outer) * double(classes) * double(inner));
    parallel_for(t, outer, [&](index_t o) {
        T* slab = gx + o * classes * inner;
        memset(slab, 0, size_t(classes * inner) * sizeof(T));
        for (index_t i = 0; i < inner; ++i) {
            const index_t r = o * inner + i, tr = target[r];
            if (tr == ignore_index) continue;
            slab[tr * inner + i] = -(w ? w[tr] : T(1)) * (g ? g[r] : s);
        }
    });
}

template <class T>
LossFns<T> fns() {
    return {&forward<T>, &backward<T>, &nll_forward<T>, &nll_backward<T>};
}

}  // namespace

LossVariant loss_variant() { return {fns<float>(), fns<double>()}; }

}  // namespace pyneural::cpu::PN_ISA
