// Softmax, log-softmax and softmax cross-entropy over contiguous rows, compiled once per ISA: each row in
// vector passes (max, sum of exp, write), threads over rows.
#include <immintrin.h>  // vec_math.h uses AVX/AVX-512 intrinsics where the variant has them
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pyneural/parallel.h"
#include "softmax_variants.h"

namespace pyneural::cpu::PN_ISA {
namespace {

#include "../activation/vec_math.h"

template <class T>
__attribute__((always_inline)) inline T lane_sum(VecT<T> v) {
    T s = 0;
    for (int i = 0; i < kLanes<T>; ++i) s += v[i];
    return s;
}

// Largest element (NaN is skipped here; it reaches the result through the sum of exponentials).
template <class T>
T row_max(const T* x, index_t n) {
    using V = VecT<T>;
    constexpr index_t L = kLanes<T>;
    V m = splat<T>(T(-INFINITY));
    index_t i = 0;
    for (; i + L <= n; i += L) m = vmax<T>(load<T>(x + i), m);
    if (i < n) m = vmax<T>(load_part<T>(x + i, n - i, T(-INFINITY)), m);
    T r = m[0];
    for (int k = 1; k < kLanes<T>; ++k) r = m[k] > r ? m[k] : r;
    return r;
}

// sum exp(x - m); the exponentials are stored into `e` when it is not null.
template <class T>
T row_sum_exp(const T* x, index_t n, T m, T* e) {
    using V = VecT<T>;
    constexpr index_t L = kLanes<T>;
    V acc = V{};
    index_t i = 0;
    for (; i + L <= n; i += L) {
        const V v = vexp<T, false>(load<T>(x + i) - m);
        if (e) store<T>(e + i, v);
        acc += v;
    }
    if (i < n) {
        const V xv = load_part<T>(x + i, n - i, T(-INFINITY));
        const V v = select<T>(xv == T(-INFINITY), V{}, vexp<T, false>(xv - m));  // padding: exp(-inf) = 0
        if (e) store_part<T>(e + i, v, n - i);
        acc += v;
    }
    return lane_sum<T>(acc);
}

template <class T>
T row_sum(const T* x, index_t n) {
    using V = VecT<T>;
    constexpr index_t L = kLanes<T>;
    V acc = V{};
    index_t i = 0;
    for (; i + L <= n; i += L) {
        V v;
        memcpy(&v, x + i, sizeof(V));
        acc += v;
    }
    if (i < n) acc += load_part<T>(x + i, n - i, T(0));
    return lane_sum<T>(acc);
}

template <class T>
T row_dot(const T* a, const T* b, index_t n) {
    using V = VecT<T>;
    constexpr index_t L = kLanes<T>;
    V acc = V{};
    index_t i = 0;
    for (; i + L <= n; i += L) {
        V u, v;
        memcpy(&u, a + i, sizeof(V));
        memcpy(&v, b + i, sizeof(V));
        acc += u * v;
    }
    if (i < n) acc += load_part<T>(a + i, n - i, T(0)) * load_part<T>(b + i, n - i, T(0));
    return lane_sum<T>(acc);
}

template <class T>
int row_threads(index_t rows, index_t cols) {
    const int t = threads_for(20.0 * double(rows) * double(cols));
    return rows < t ? int(rows) : t;
}

template <class T>
void forward_rows(const T* x, T* y, index_t rows, index_t cols, bool log) {
    using V = VecT<T>;
    const int t = row_threads<T>(rows, cols);
    parallel_for(t, rows, [&](index_t r) {
        const T* xr = x + r * cols;
        T* yr = y + r * cols;
        const T m = row_max<T>(xr, cols);  // a row of -inf gives m = -inf and NaN below, as in PyTorch
        if (log) {
            const T shift = m + ::log(row_sum_exp<T>(xr, cols, m, nullptr));
            map_binary<T>(xr, xr, yr, cols, [shift](V v, V) { return v - shift; });
        } else {
            const T inv = T(1) / row_sum_exp<T>(xr, cols, m, yr);
            map_binary<T>(yr, yr, yr, cols, [inv](V v, V) { return v * inv; });
        }
    });
}

template <class T>
void backward_rows(const T* g, const T* y, T* gx, index_t rows, index_t cols, bool log) {
    using V = VecT<T>;
    const int t = row_threads<T>(rows, cols);
    parallel_for(t, rows, [&](index_t r) {
        const T* gr = g + r * cols;
        const T* yr = y + r * cols;
        T* out = gx + r * cols;
        if (log) {
            const T total = row_sum<T>(gr, cols);
            map_binary<T>(gr, yr, out, cols, [total](V gv, V yv) { return gv - vexp<T, false>(yv) * total; });
        } else {
            const T dot = row_dot<T>(gr, yr, cols);
            map_binary<T>(gr, yr, out, cols, [dot](V gv, V yv) { return yv * (gv - dot); });
        }
    });
}

// ---- softmax along a non-last axis: (outer, dim, inner), vectors run along inner (unit stride) ----
constexpr index_t kColumnChunk = 256;  // inner positions per task: their max and sum stay in registers/L1

// One pass over n <= kColumnChunk inner positions of an outer slice, for each of the dim rows (`inner`
// apart): f(offset in the slice, position in the chunk, lanes) per vector, the last one partial.
template <class T, class F>
__attribute__((always_inline)) inline void column_pass(index_t dim, index_t inner, index_t n, F f) {
    constexpr index_t L = kLanes<T>;
    for (index_t d = 0; d < dim; ++d) {
        index_t j = 0;
        for (; j + L <= n; j += L) f(d * inner + j, j, L);
        if (j < n) f(d * inner + j, j, n - j);
    }
}

// n <= lanes elements: a whole vector, or a part padded with `pad`.
template <class T>
__attribute__((always_inline)) inline VecT<T> load_n(const T* p, index_t n, T pad) {
    return n == kLanes<T> ? load<T>(p) : load_part<T>(p, n, pad);
}

template <class T>
void softmax_columns(const T* x, T* y, index_t dim, index_t inner, index_t n, bool log) {
    using V = VecT<T>;
    T m[kColumnChunk] __attribute__((aligned(64)));
    T s[kColumnChunk] __attribute__((aligned(64)));
    for (index_t j = 0; j < n; ++j) m[j] = T(-INFINITY), s[j] = T(0);
    column_pass<T>(dim, inner, n, [&](index_t at, index_t j, index_t k) {
        const V v = load_n<T>(x + at, k, T(-INFINITY)), mv = load_n<T>(m + j, k, T(-INFINITY));
        store_part<T>(m + j, select<T>(v > mv, v, mv), k);
    });
    column_pass<T>(dim, inner, n, [&](index_t at, index_t j, index_t k) {
        const V e = vexp<T, false>(load_n<T>(x + at, k, T(0)) - load_n<T>(m + j, k, T(0)));
        if (!log) store_part<T>(y + at, e, k);
        store_part<T>(s + j, load_n<T>(s + j, k, T(0)) + e, k);
    });
    if (log) {
        for (index_t j = 0; j < n; ++j) s[j] = m[j] + ::log(s[j]);  // the shift x - y
        column_pass<T>(dim, inner, n, [&](index_t at, index_t j, index_t k) {
            store_part<T>(y + at, load_n<T>(x + at, k, T(0)) - load_n<T>(s + j, k, T(0)), k);
        });
    } else {
        for (index_t j = 0; j < n; ++j) s[j] = T(1) / s[j];
        column_pass<T>(dim, inner, n, [&](index_t at, index_t j, index_t k) {
            store_part<T>(y + at, load_n<T>(y + at, k, T(0)) * load_n<T>(s + j, k, T(0)), k);
        });
    }
}

template <class T>
void softmax_columns_backward(const T* g, const T* y, T* gx, index_t dim, index_t inner, index_t n, bool log) {
    using V = VecT<T>;
    T acc[kColumnChunk] __attribute__((aligned(64)));
    for (index_t j = 0; j < n; ++j) acc[j] = T(0);
    column_pass<T>(dim, inner, n, [&](index_t at, index_t j, index_t k) {
        const V gv = load_n<T>(g + at, k, T(0));
        const V term = log ? gv : gv * load_n<T>(y + at, k, T(0));
        store_part<T>(acc + j, load_n<T>(acc + j, k, T(0)) + term, k);
    });
    column_pass<T>(dim, inner, n, [&](index_t at, index_t j, index_t k) {
        const V gv = load_n<T>(g + at, k, T(0)), yv = load_n<T>(y + at, k, T(0)), a = load_n<T>(acc + j, k, T(0));
        store_part<T>(gx + at, log ? gv - vexp<T, false>(yv) * a : yv * (gv - a), k);
    });
}

template <class T>
void forward(const T* x, T* y, index_t outer, index_t dim, index_t inner, bool log) {
    if (inner == 1) return forward_rows<T>(x, y, outer, dim, log);
    const index_t chunks = (inner + kColumnChunk - 1) / kColumnChunk, tasks = outer * chunks;
    const int t = row_threads<T>(tasks, dim * (inner < kColumnChunk ? inner : kColumnChunk));
    parallel_for(t, tasks, [&](index_t task) {
        const index_t o = task / chunks, j0 = task % chunks * kColumnChunk;
        const index_t n = inner - j0 < kColumnChunk ? inner - j0 : kColumnChunk;
        const index_t base = o * dim * inner + j0;
        softmax_columns<T>(x + base, y + base, dim, inner, n, log);
    });
}

template <class T>
void backward(const T* g, const T* y, T* gx, index_t outer, index_t dim, index_t inner, bool log) {
    if (inner == 1) return backward_rows<T>(g, y, gx, outer, dim, log);
    const index_t chunks = (inner + kColumnChunk - 1) / kColumnChunk, tasks = outer * chunks;
    const int t = row_threads<T>(tasks, dim * (inner < kColumnChunk ? inner : kColumnChunk));
    parallel_for(t, tasks, [&](index_t task) {
        const index_t o = task / chunks, j0 = task % chunks * kColumnChunk;
        const index_t n = inner - j0 < kColumnChunk ? inner - j0 : kColumnChunk;
        const index_t base = o * dim * inner + j0;
        softmax_columns_backward<T>(g + base, y + base, gx + base, dim, inner, n, log);
    });
}

// Cross-entropy per row; with class weights w, loss = (1 - eps) w[t] (lse - x[t]) + eps / C (sum(w) lse - w . x).
template <class T>
void ce_forward(const T* x, const index_t* target, T* loss, T* lse, index_t rows, index_t classes, double smoothing,
                index_t ignore_index, const T* w) {
    const int t = row_threads<T>(rows, classes);
    const T eps = T(smoothing);
    const T wsum = w && eps != T(0) ? row_sum<T>(w, classes) : T(0);
    parallel_for(t, rows, [&](index_t r) {
        const T* xr = x + r * classes;
        const T m = row_max<T>(xr, classes);
        const T l = m + ::log(row_sum_exp<T>(xr, classes, m, nullptr));
        lse[r] = l;
        const index_t tr = target[r];
        if (tr == ignore_index) {
            loss[r] = T(0);
            return;
        }
        T value;
        if (w) {
            value = (T(1) - eps) * w[tr] * (l - xr[tr]);
            if (eps != T(0)) value += eps / T(classes) * (wsum * l - row_dot<T>(w, xr, classes));
        } else {
            value = l - (T(1) - eps) * xr[tr];
            if (eps != T(0)) value -= eps / T(classes) * row_sum<T>(xr, classes);
        }
        loss[r] = value;
    });
}

template <class T>
void ce_backward(const T* x, const index_t* target, const T* lse, const T* gl, T* grad, index_t rows, index_t classes,
                 double smoothing, index_t ignore_index, const T* w) {
    using V = VecT<T>;
    const int t = row_threads<T>(rows, classes);
    const T eps = T(smoothing);
    const T wsum = w && eps != T(0) ? row_sum<T>(w, classes) : T(0);
    parallel_for(t, rows, [&](index_t r) {
        T* out = grad + r * classes;
        const index_t tr = target[r];
        if (tr == ignore_index) {
            memset(out, 0, classes * sizeof(T));
            return;
        }
        const T g = gl[r], l = lse[r], wt = w ? w[tr] : T(1);
        const T floor = g * eps / T(classes);  // times w[c] when weighted
        const T a = w ? g * ((T(1) - eps) * wt + eps / T(classes) * wsum) : g;
        if (w && eps != T(0)) {
            map_binary<T>(x + r * classes, w, out, classes,
                          [a, l, floor](V v, V wv) { return vexp<T, false>(v - l) * a - wv * floor; });
        } else {
            map_binary<T>(x + r * classes, x + r * classes, out, classes,
                          [a, l, floor](V v, V) { return vexp<T, false>(v - l) * a - floor; });
        }
        out[tr] -= g * (T(1) - eps) * wt;
    });
}

template <class T>
SoftmaxFns<T> fns() {
    return {&forward<T>, &backward<T>, &ce_forward<T>, &ce_backward<T>};
}

}  // namespace

SoftmaxVariant softmax_variant() { return {fns<float>(), fns<double>()}; }

}  // namespace pyneural::cpu::PN_ISA
