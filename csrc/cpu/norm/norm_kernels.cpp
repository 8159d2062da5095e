// Normalisation kernels, compiled once per ISA (PN_ISA = ref | avx2 | avx512) with that ISA's flags.
//
// Statistics are accumulated in one pass as SHIFTED sums: S = sum(x - K), Q = sum((x - K)^2) with K one
// element of the same row/channel, so var = Q/M - (S/M)^2 does not cancel catastrophically when
// |mean| >> std (the shift brings the data near zero; the error then grows with (K - mean)^2 / var,
// which is small because K is a sample of the data). Runs of up to kChunk elements (kRowsPerRun rows
// per column in the (n, c) layout) are summed in T vector lanes (short sums: error ~ run length / lanes
// * eps) and the run totals in double: two-level sums, accurate for float32 without converting every
// element to double, and one read of x. The backward's per-channel sums are accumulated the same way.
#include <immintrin.h>  // isa.h's masked loads and stores
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "norm_variants.h"
#include "pyneural/parallel.h"


namespace pyneural::cpu::PN_ISA {
namespace {

#include "pyneural/isa.h"

constexpr index_t kChunk = 2048;   // elements summed in T lanes before the total goes into double
constexpr index_t kColumns = 256;  // channel (or column) block of the column-wise reductions
constexpr index_t kRowsPerRun = 64;  // rows whose column sums are added in T before the totals go into double

template <class T>
inline T hsum(Vec<T> v) {
    T s = 0;
    for (int i = 0; i < kVL<T>; ++i) s += v[i];
    return s;
}

// sum(x - shift) and sum((x - shift)^2) over n contiguous elements.
template <class T>
void shifted_sums(const T* x, index_t n, T shift, double& sum, double& sumsq) {
    constexpr int VL = kVL<T>;
    const Vec<T> k = Vec<T>{} + shift;
    double s = 0, q = 0;
    for (index_t start = 0; start < n; start += kChunk) {
        const index_t end = min_i(n, start + kChunk);
        Vec<T> s0{}, s1{}, q0{}, q1{};
        index_t i = start;
        for (; i + 2 * VL <= end; i += 2 * VL) {
            const Vec<T> a = load(x + i) - k, b = load(x + i + VL) - k;
            s0 += a;
            s1 += b;
            q0 += a * a;
            q1 += b * b;
        }
        T cs = hsum<T>(s0 + s1), cq = hsum<T>(q0 + q1);
        for (; i < end; ++i) {
            const T d = x[i] - shift;
            cs += d;
            cq += d * d;
        }
        s += cs;
        q += cq;
    }
    sum = s;
    sumsq = q;
}

// sum(g) and sum(g * (x - center)) over n contiguous elements.
template <class T>
void grad_sums(const T* g, const T* x, index_t n, T center, double& sum_g, double& sum_gx) {
    constexpr int VL = kVL<T>;
    const Vec<T> k = Vec<T>{} + center;
    double s = 0, d = 0;
    for (index_t start = 0; start < n; start += kChunk) {
        const index_t end = min_i(n, start + kChunk);
        Vec<T> s0{}, s1{}, d0{}, d1{};
        index_t i = start;
        for (; i + 2 * VL <= end; i += 2 * VL) {
            const Vec<T> g0 = load(g + i), g1 = load(g + i + VL);
            s0 += g0;
            s1 += g1;
            d0 += g0 * (load(x + i) - k);
            d1 += g1 * (load(x + i + VL) - k);
        }
        T cs = hsum<T>(s0 + s1), cd = hsum<T>(d0 + d1);
        for (; i < end; ++i) {
            cs += g[i];
            cd += g[i] * (x[i] - center);
        }
        s += cs;
        d += cd;
    }
    sum_g = s;
    sum_gx = d;
}

// Column sums of one row for the (n, c) layout: sum[j] += x[j] - shift[j], sumsq[j] += (x[j] - shift[j])^2.
template <class T>
void add_shifted_row(const T* x, const T* shift, index_t width, T* sum, T* sumsq) {
    constexpr int VL = kVL<T>;
    index_t j = 0;
    for (; j + VL <= width; j += VL) {
        const Vec<T> d = load(x + j) - load(shift + j);
        store(sum + j, load(sum + j) + d);
        store(sumsq + j, load(sumsq + j) + d * d);
    }
    for (; j < width; ++j) {
        const T d = x[j] - shift[j];
        sum[j] += d;
        sumsq[j] += d * d;
    }
}

// Column sums of one row for the (n, c) layout: sum_g[j] += g[j], sum_gx[j] += g[j] * (x[j] - center[j]).
template <class T>
void add_grad_row(const T* g, const T* x, const T* center, index_t width, T* sum_g, T* sum_gx) {
    constexpr int VL = kVL<T>;
    index_t j = 0;
    for (; j + VL <= width; j += VL) {
        const Vec<T> gj = load(g + j);
        store(sum_g + j, load(sum_g + j) + gj);
        store(sum_gx + j, load(sum_gx + j) + gj * (load(x + j) - load(center + j)));
    }
    for (; j < width; ++j) {
        sum_g[j] += g[j];
        sum_gx[j] += g[j] * (x[j] - center[j]);
    }
}

// out = x * a + b over n contiguous elements (scalars a, b).
template <class T>
void affine_scalar(const T* x, index_t n, T a, T b, T* out) {
    constexpr int VL = kVL<T>;
    const Vec<T> va = Vec<T>{} + a, vb = Vec<T>{} + b;
    index_t i = 0;
    for (; i + VL <= n; i += VL) store(out + i, load(x + i) * va + vb);
    for (; i < n; ++i) out[i] = x[i] * a + b;
}

// out = x * a + b element-wise over n contiguous elements (arrays a, b).
template <class T>
void affine_arrays(const T* x, index_t n, const T* a, const T* b, T* out) {
    constexpr int VL = kVL<T>;
    index_t i = 0;
    for (; i + VL <= n; i += VL) store(out + i, load(x + i) * load(a + i) + load(b + i));
    for (; i < n; ++i) out[i] = x[i] * a[i] + b[i];
}

// out = g * a + x * b + c (scalars) over n contiguous elements.
template <class T>
void linear2_scalar(const T* g, const T* x, index_t n, T a, T b, T c, T* out) {
    constexpr int VL = kVL<T>;
    const Vec<T> va = Vec<T>{} + a, vb = Vec<T>{} + b, vc = Vec<T>{} + c;
    index_t i = 0;
    for (; i + VL <= n; i += VL) store(out + i, load(g + i) * va + load(x + i) * vb + vc);
    for (; i < n; ++i) out[i] = g[i] * a + x[i] * b + c;
}

// out = g * a + x * b + c (arrays) over n contiguous elements.
template <class T>
void linear2_arrays(const T* g, const T* x, index_t n, const T* a, const T* b, const T* c, T* out) {
    constexpr int VL = kVL<T>;
    index_t i = 0;
    for (; i + VL <= n; i += VL) store(out + i, load(g + i) * load(a + i) + load(x + i) * load(b + i) + load(c + i));
    for (; i < n; ++i) out[i] = g[i] * a[i] + x[i] * b[i] + c[i];
}

// ------------------------------------------------------------------------------------------ layer_norm

template <class T, bool HasWeight, bool HasBias>
void layer_norm_row(const T* x, index_t dim, const T* weight, const T* bias, T m, T r, T* out) {
    constexpr int VL = kVL<T>;
    const Vec<T> vm = Vec<T>{} + m, vr = Vec<T>{} + r;
    index_t j = 0;
    for (; j + VL <= dim; j += VL) {
        Vec<T> y = (load(x + j) - vm) * vr;
        if constexpr (HasWeight) y *= load(weight + j);
        if constexpr (HasBias) y += load(bias + j);
        store(out + j, y);
    }
    for (; j < dim; ++j) {
        T y = (x[j] - m) * r;
        if constexpr (HasWeight) y *= weight[j];
        if constexpr (HasBias) y += bias[j];
        out[j] = y;
    }
}

template <class T>
void layer_norm_forward(const T* x, index_t rows, index_t dim, const T* weight, const T* bias, double eps, T* out,
                        T* mean, T* rstd) {
    const int t = threads_for(6.0 * double(rows) * double(dim));
    parallel_for(t, rows, [&](index_t r) {
        const T* xr = x + r * dim;
        // Two passes over a row that stays in cache: the mean, then shifted sums around it.
        double s, q;
        shifted_sums(xr, dim, T(0), s, q);
        const double m0 = s / double(dim);
        shifted_sums(xr, dim, T(m0), s, q);
        const double shift_mean = s / double(dim);
        double var = q / double(dim) - shift_mean * shift_mean;
        if (var < 0) var = 0;
        const T m = T(double(T(m0)) + shift_mean), inv = T(1.0 / sqrt(var + eps));
        mean[r] = m;
        rstd[r] = inv;
        T* o = out + r * dim;
        if (weight && bias) layer_norm_row<T, true, true>(xr, dim, weight, bias, m, inv, o);
        else if (weight) layer_norm_row<T, true, false>(xr, dim, weight, bias, m, inv, o);
        else if (bias) layer_norm_row<T, false, true>(xr, dim, weight, bias, m, inv, o);
        else layer_norm_row<T, false, false>(xr, dim, weight, bias, m, inv, o);
    });
}

// One row of the backward, g and x read while in cache:
//   gx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)) with gw = g * weight, xhat = (x - mean) * rstd,
// and the row's share of the parameter gradients added to sum_g (for bias) and sum_gx (for weight).
template <class T, bool HasWeight, bool WantGx, bool WantParams>
void layer_norm_grad_row(const T* g, const T* x, index_t dim, const T* weight, T m, T r, T* gx, T* sum_g,
                         T* sum_gx) {
    constexpr int VL = kVL<T>;
    const Vec<T> vm = Vec<T>{} + m, vr = Vec<T>{} + r;
    T mean_g = 0, mean_gx = 0;
    if constexpr (WantGx) {
        Vec<T> s0{}, d0{};
        index_t j = 0;
        for (; j + VL <= dim; j += VL) {
            Vec<T> gw = load(g + j);
            if constexpr (HasWeight) gw *= load(weight + j);
            s0 += gw;
            d0 += gw * ((load(x + j) - vm) * vr);
        }
        T s = hsum<T>(s0), d = hsum<T>(d0);
        for (; j < dim; ++j) {
            T gw = g[j];
            if constexpr (HasWeight) gw *= weight[j];
            s += gw;
            d += gw * ((x[j] - m) * r);
        }
        mean_g = s / T(dim);
        mean_gx = d / T(dim);
    }
    const Vec<T> vmg = Vec<T>{} + mean_g, vmgx = Vec<T>{} + mean_gx;
    index_t j = 0;
    for (; j + VL <= dim; j += VL) {
        const Vec<T> gj = load(g + j), xhat = (load(x + j) - vm) * vr;
        if constexpr (WantParams) {
            store(sum_g + j, load(sum_g + j) + gj);
            store(sum_gx + j, load(sum_gx + j) + gj * xhat);
        }
        if constexpr (WantGx) {
            Vec<T> gw = gj;
            if constexpr (HasWeight) gw *= load(weight + j);
            store(gx + j, vr * (gw - vmg - xhat * vmgx));
        }
    }
    for (; j < dim; ++j) {
        const T xhat = (x[j] - m) * r;
        if constexpr (WantParams) {
            sum_g[j] += g[j];
            sum_gx[j] += g[j] * xhat;
        }
        if constexpr (WantGx) {
            T gw = g[j];
            if constexpr (HasWeight) gw *= weight[j];
            gx[j] = r * (gw - mean_g - xhat * mean_gx);
        }
    }
}

template <class T, bool HasWeight, bool WantGx, bool WantParams>
void layer_norm_grad_rows(const T* g, const T* x, index_t rows, index_t dim, const T* weight, const T* mean,
                          const T* rstd, T* gx, T* partial, int t) {
    team(t, [&] {
        const int tid = thread_index();
        T* sum_g = WantParams ? partial + index_t(tid) * 2 * dim : nullptr;
        T* sum_gx = WantParams ? sum_g + dim : nullptr;
        share(rows, [&](index_t r) {
            layer_norm_grad_row<T, HasWeight, WantGx, WantParams>(g + r * dim, x + r * dim, dim, weight, mean[r],
                                                                  rstd[r], WantGx ? gx + r * dim : nullptr,
                                                                  sum_g, sum_gx);
        });
    });
}

// One pass over g and x: each thread adds its rows' parameter gradients into its own partial sums,
// which are added up at the end (no second pass over the rows for weight and bias).
template <class T>
bool layer_norm_backward(const T* g, const T* x, index_t rows, index_t dim, const T* weight, const T* mean,
                         const T* rstd, T* gx, T* gweight, T* gbias) {
    const int t = threads_for(8.0 * double(rows) * double(dim));
    const bool params = gweight || gbias;
    T* partial = nullptr;
    if (params) {
        partial = static_cast<T*>(calloc(size_t(t) * 2 * size_t(dim), sizeof(T)));
        if (!partial) return false;
    }
    if (weight) {
        if (gx && params) layer_norm_grad_rows<T, true, true, true>(g, x, rows, dim, weight, mean, rstd, gx, partial, t);
        else if (gx) layer_norm_grad_rows<T, true, true, false>(g, x, rows, dim, weight, mean, rstd, gx, partial, t);
        else if (params) layer_norm_grad_rows<T, true, false, true>(g, x, rows, dim, weight, mean, rstd, gx, partial, t);
    } else {
        if (gx && params) layer_norm_grad_rows<T, false, true, true>(g, x, rows, dim, weight, mean, rstd, gx, partial, t);
        else if (gx) layer_norm_grad_rows<T, false, true, false>(g, x, rows, dim, weight, mean, rstd, gx, partial, t);
        else if (params) layer_norm_grad_rows<T, false, false, true>(g, x, rows, dim, weight, mean, rstd, gx, partial, t);
    }
    if (params) {
        for (index_t j = 0; j < dim; ++j) {
            T sg = 0, sgx = 0;
            for (int k = 0; k < t; ++k) {
                sg += partial[index_t(k) * 2 * dim + j];
                sgx += partial[index_t(k) * 2 * dim + dim + j];
            }
            if (gbias) gbias[j] = sg;
            if (gweight) gweight[j] = sgx;
        }
        free(partial);
    }
    return true;
}

// ------------------------------------------------------------------------------------------ batch_norm

template <class T>
void batch_norm_stats(const T* x, index_t n, index_t c, index_t l, T* mean, T* var) {
    const double count = double(n) * double(l);
    if (count == 0) {
        for (index_t ch = 0; ch < c; ++ch) mean[ch] = var[ch] = T(NAN);
        return;
    }
    const int t = threads_for(3.0 * count * double(c));
    if (l == 1) {  // (n, c): rows of channels; sum down the columns, threads over blocks of channels
        const index_t blocks = (c + kColumns - 1) / kColumns;
        const int tb = int(min_i(t, blocks));
        parallel_for(tb, blocks, [&](index_t bk) {
            const index_t c0 = bk * kColumns, width = min_i(kColumns, c - c0);
            T shift[kColumns], run_s[kColumns], run_q[kColumns];
            double s[kColumns], q[kColumns];
            for (index_t j = 0; j < width; ++j) {
                shift[j] = x[c0 + j];
                s[j] = q[j] = 0;
            }
            for (index_t i0 = 0; i0 < n; i0 += kRowsPerRun) {  // runs of rows summed in T, totals in double
                for (index_t j = 0; j < width; ++j) run_s[j] = run_q[j] = 0;
                for (index_t i = i0; i < min_i(n, i0 + kRowsPerRun); ++i)
                    add_shifted_row(x + i * c + c0, shift, width, run_s, run_q);
                for (index_t j = 0; j < width; ++j) {
                    s[j] += run_s[j];
                    q[j] += run_q[j];
                }
            }
            for (index_t j = 0; j < width; ++j) {
                const double ms = s[j] / count, v = q[j] / count - ms * ms;
                mean[c0 + j] = T(double(shift[j]) + ms);
                var[c0 + j] = T(v < 0 ? 0 : v);
            }
        });
        return;
    }
    parallel_for(t, c, [&](index_t ch) {
        const T shift = x[ch * l];
        double s = 0, q = 0;
        for (index_t i = 0; i < n; ++i) {
            double rs, rq;
            shifted_sums(x + (i * c + ch) * l, l, shift, rs, rq);
            s += rs;
            q += rq;
        }
        const double ms = s / count, v = q / count - ms * ms;
        mean[ch] = T(double(shift) + ms);
        var[ch] = T(v < 0 ? 0 : v);
    });
}

// out = x * a[ch] + b[ch] over x (n, c, l).
template <class T>
void per_channel_affine(const T* x, index_t n, index_t c, index_t l, const T* a, const T* b, T* out) {
    const int t = threads_for(2.0 * double(n) * double(c) * double(l));
    if (l == 1) {
        parallel_for(t, n, [&](index_t i) { affine_arrays(x + i * c, c, a, b, out + i * c); });
        return;
    }
    parallel_for(t, n * c, [&](index_t r) { affine_scalar(x + r * l, l, a[r % c], b[r % c], out + r * l); });
}

template <class T>
bool batch_norm_apply(const T* x, index_t n, index_t c, index_t l, const T* mean, const T* var, const T* weight,
                      const T* bias, double eps, T* out) {
    T* coef = static_cast<T*>(malloc(size_t(2 * c + 1) * sizeof(T)));
    if (!coef) return false;
    T *scale = coef, *shift = coef + c;
    for (index_t ch = 0; ch < c; ++ch) {
        const double s = (weight ? double(weight[ch]) : 1.0) / sqrt(double(var[ch]) + eps);
        scale[ch] = T(s);
        shift[ch] = T((bias ? double(bias[ch]) : 0.0) - double(mean[ch]) * s);
    }
    per_channel_affine(x, n, c, l, scale, shift, out);
    free(coef);
    return true;
}

// sum(g) and sum(g * (x - mean)) per channel.
template <class T>
void batch_norm_grad_sums(const T* g, const T* x, index_t n, index_t c, index_t l, const T* mean, double* sum_g,
                          double* sum_gx) {
    const int t = threads_for(4.0 * double(n) * double(c) * double(l));
    if (l == 1) {
        const index_t blocks = (c + kColumns - 1) / kColumns;
        const int tb = int(min_i(t, blocks));
        parallel_for(tb, blocks, [&](index_t bk) {
            const index_t c0 = bk * kColumns, width = min_i(kColumns, c - c0);
            T run_s[kColumns], run_d[kColumns];
            double s[kColumns], d[kColumns];
            for (index_t j = 0; j < width; ++j) s[j] = d[j] = 0;
            for (index_t i0 = 0; i0 < n; i0 += kRowsPerRun) {
                for (index_t j = 0; j < width; ++j) run_s[j] = run_d[j] = 0;
                for (index_t i = i0; i < min_i(n, i0 + kRowsPerRun); ++i)
                    add_grad_row(g + i * c + c0, x + i * c + c0, mean + c0, width, run_s, run_d);
                for (index_t j = 0; j < width; ++j) {
                    s[j] += run_s[j];
                    d[j] += run_d[j];
                }
            }
            for (index_t j = 0; j < width; ++j) {
                sum_g[c0 + j] = s[j];
                sum_gx[c0 + j] = d[j];
            }
        });
        return;
    }
    parallel_for(t, c, [&](index_t ch) {
        double s = 0, d = 0;
        for (index_t i = 0; i < n; ++i) {
            double rs, rd;
            grad_sums(g + (i * c + ch) * l, x + (i * c + ch) * l, l, mean[ch], rs, rd);
            s += rs;
            d += rd;
        }
        sum_g[ch] = s;
        sum_gx[ch] = d;
    });
}

template <class T>
bool batch_norm_backward(const T* g, const T* x, index_t n, index_t c, index_t l, const T* mean, const T* var,
                         const T* weight, double eps, bool training, T* gx, T* gweight, T* gbias) {
    const bool need_sums = gweight || gbias || (gx && training);
    double* sums = static_cast<double*>(malloc(size_t(2 * c + 1) * sizeof(double)));
    T* coef = static_cast<T*>(malloc(size_t(3 * c + 1) * sizeof(T)));
    if (!sums || !coef) {
        free(sums);
        free(coef);
        return false;
    }
    double *sum_g = sums, *sum_gx = sums + c;
    if (need_sums) batch_norm_grad_sums(g, x, n, c, l, mean, sum_g, sum_gx);
    for (index_t ch = 0; ch < c; ++ch) {
        const double inv = 1.0 / sqrt(double(var[ch]) + eps);
        if (gbias) gbias[ch] = T(sum_g[ch]);
        if (gweight) gweight[ch] = T(sum_gx[ch] * inv);
        if (!gx) continue;
        // gx = a * g + b * x + k: the affine scale a, and in training the terms through mean and var.
        const double a = (weight ? double(weight[ch]) : 1.0) * inv;
        double b = 0, k = 0;
        if (training) {
            const double count = double(n) * double(l);
            b = -a * inv * inv * sum_gx[ch] / count;
            k = -a * sum_g[ch] / count - b * double(mean[ch]);
        }
        coef[ch] = T(a);
        coef[c + ch] = T(b);
        coef[2 * c + ch] = T(k);
    }
    if (gx) {
        const T *a = coef, *b = coef + c, *k = coef + 2 * c;
        const int t = threads_for(4.0 * double(n) * double(c) * double(l));
        if (l == 1) {
            parallel_for(t, n, [&](index_t i) { linear2_arrays(g + i * c, x + i * c, c, a, b, k, gx + i * c); });
        } else {
            parallel_for(t, n * c, [&](index_t r) {
                
                linear2_scalar(g + r * l, x + r * l, l, a[r % c], b[r % c], k[r % c], gx + r * l);
            });
        }
    }
    free(sums);
    free(coef);
    return true;
}

template <class T>
NormKernels<T> kernels() {
    return {&layer_norm_forward<T>, &layer_norm_backward<T>, &batch_norm_stats<T>, &batch_norm_apply<T>,
            &batch_norm_backward<T>};
}

}  // namespace

NormVariant norm_variant() { return {kernels<float>(), kernels<double>()}; }

}  // namespace pyneural::cpu::PN_ISA
