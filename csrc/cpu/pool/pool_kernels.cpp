// Pooling kernels, compiled once per ISA (PN_ISA = ref | avx2 | avx512); one OpenMP task per plane.
// Windows are clipped to the input once per output row/column, so the inner loops read only valid pixels.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pool_variants.h"
#include "pyneural/parallel.h"

namespace pyneural::cpu::PN_ISA {
namespace {

#include "pyneural/isa.h"

int plane_threads(const PoolShape& s, index_t work_per_plane) {
    return threads_for(double(s.planes) * double(work_per_plane));
}

// First tap index >= 0 of a window starting at `start` with step `dilation` (PyTorch skips leading
// out-of-range taps the same way), and the end of its taps inside [0, size).
void clip_taps(index_t start, index_t kernel, index_t dilation, index_t size, index_t& first, index_t& end) {
    first = 0;
    while (first < kernel && start + first * dilation < 0) ++first;
    end = kernel;
    while (end > first && start + (end - 1) * dilation >= size) --end;
}

template <class T>
void max_forward(const PoolShape& s, const T* x, T* y, index_t* indices) {
    const int t = plane_threads(s, s.oh * s.ow * s.kh * s.kw);
#pragma omp parallel for num_threads(t) if (t > 1)
    for (index_t plane = 0; plane < s.planes; ++plane) {
        const T* in = x + plane * s.h * s.w;
        T* out = y + plane * s.oh * s.ow;
        index_t* where = indices + plane * s.oh * s.ow;
        for (index_t oy = 0; oy < s.oh; ++oy) {
            const index_t y0 = oy * s.sh - s.ph;
            index_t i0, i1;
            clip_taps(y0, s.kh, s.dh, s.h, i0, i1);
            for (index_t ox = 0; ox < s.ow; ++ox) {
                const index_t x0 = ox * s.sw - s.pw;
                index_t j0, j1;
                clip_taps(x0, s.kw, s.dw, s.w, j0, j1);
                T best = -INFINITY;
                // an empty window (possible with dilation) has no maximum: -inf, and index -1 (no gradient)
                index_t best_at = i0 < i1 && j0 < j1 ? (y0 + i0 * s.dh) * s.w + x0 + j0 * s.dw : -1;
                for (index_t i = i0; i < i1; ++i) {
                    const index_t row = (y0 + i * s.dh) * s.w;
                    for (index_t j = j0; j < j1; ++j) {
                        const index_t at = row + x0 + j * s.dw;
                        const T v = in[at];
                        if (v > best || v != v) {
                            best = v;
                            best_at = at;
                            if (v != v) goto done;  // NaN wins: the first one stays
                        }
                    }
                }
            done:
                out[oy * s.ow + ox] = best;
                where[oy * s.ow + ox] = best_at;
            }
        }
    }
}

template <class T>
void max_backward(const PoolShape& s, const T* dy, const index_t* indices, T* dx) {
    const int t = plane_threads(s, s.h * s.w + s.oh * s.ow);
#pragma omp parallel for num_threads(t) if (t > 1)
    for (index_t plane = 0; plane < s.planes; ++plane) {
        T* in = dx + plane * s.h * s.w;
        memset(in, 0, size_t(s.h * s.w) * sizeof(T));
        const T* g = dy + plane * s.oh * s.ow;
        const index_t* where = indices + plane * s.oh * s.ow;
        for (index_t p = 0; p < s.oh * s.ow; ++p)
            if (where[p] >= 0) in[where[p]] += g[p];
    }
}

// Rows or columns [lo, hi) of window o, clipped to the input, and the divisor's extent along that axis.
void avg_window(index_t o, index_t stride, index_t padding, index_t kernel, index_t size, index_t& lo, index_t& hi,
                index_t& padded) {
    lo = o * stride - padding;
    hi = lo + kernel;
    if (hi > size + padding) hi = size + padding;
    padded = hi - lo;
    if (lo < 0) lo = 0;
    if (hi > size) hi = size;
}

template <class T>
T avg_scale(index_t y_lo, index_t y_hi, index_t y_padded, index_t x_lo, index_t x_hi, index_t x_padded,
            bool count_include_pad) {
    const index_t count = count_include_pad ? y_padded * x_padded : (y_hi - y_lo) * (x_hi - x_lo);
    return count > 0 ? T(1) / T(count) : T(0);
}

template <class T>
void avg_forward(const PoolShape& s, bool count_include_pad, const T* x, T* y) {
    const int t = plane_threads(s, s.oh * s.ow * s.kh * s.kw);
#pragma omp parallel for num_threads(t) if (t > 1)
    for (index_t plane = 0; plane < s.planes; ++plane) {
        const T* in = x + plane * s.h * s.w;
        T* out = y + plane * s.oh * s.ow;
        for (index_t oy = 0; oy < s.oh; ++oy) {
            index_t y_lo, y_hi, y_padded;
            avg_window(oy, s.sh, s.ph, s.kh, s.h, y_lo, y_hi, y_padded);
            for (index_t ox = 0; ox < s.ow; ++ox) {
                index_t x_lo, x_hi, x_padded;
                avg_window(ox, s.sw, s.pw, s.kw, s.w, x_lo, x_hi, x_padded);
                T total = 0;
                for (index_t iy = y_lo; iy < y_hi; ++iy)
                    for (index_t ix = x_lo; ix < x_hi; ++ix) total += in[iy * s.w + ix];
                out[oy * s.ow + ox] =
                    total * avg_scale<T>(y_lo, y_hi, y_padded, x_lo, x_hi, x_padded, count_include_pad);
            }
        }
    }
}

template <class T>
void avg_backward(const PoolShape& s, bool count_include_pad, const T* dy, T* dx) {
    const int t = plane_threads(s, s.oh * s.ow * s.kh * s.kw);
#pragma omp parallel for num_threads(t) if (t > 1)
    for (index_t plane = 0; plane < s.planes; ++plane) {
        T* in = dx + plane * s.h * s.w;
        memset(in, 0, size_t(s.h * s.w) * sizeof(T));
        const T* g = dy + plane * s.oh * s.ow;
        for (index_t oy = 0; oy < s.oh; ++oy) {
            index_t y_lo, y_hi, y_padded;
            avg_window(oy, s.sh, s.ph, s.kh, s.h, y_lo, y_hi, y_padded);
            for (index_t ox = 0; ox < s.ow; ++ox) {
                index_t x_lo, x_hi, x_padded;
                avg_window(ox, s.sw, s.pw, s.kw, s.w, x_lo, x_hi, x_padded);
                const T share =
                    g[oy * s.ow + ox] * avg_scale<T>(y_lo, y_hi, y_padded, x_lo, x_hi, x_padded, count_include_pad);
                for (index_t iy = y_lo; iy < y_hi; ++iy)
                    for (index_t ix = x_lo; ix < x_hi; ++ix) in[iy * s.w + ix] += share;
            }
        }
    }
}

// PyTorch's adaptive window [floor(o * size / out), ceil((o + 1) * size / out)).
void adaptive_window(index_t o, index_t size, index_t out, index_t& lo, index_t& hi) {
    lo = o * size / out;
    hi = ((o + 1) * size + out - 1) / out;
}

template <class T>
void adaptive_forward(const PoolShape& s, const T* x, T* y) {
    const int t = plane_threads(s, s.h * s.w + s.oh * s.ow);
#pragma omp parallel for num_threads(t) if (t > 1)
    for (index_t plane = 0; plane < s.planes; ++plane) {
        const T* in = x + plane * s.h * s.w;
        T* out = y + plane * s.oh * s.ow;
        for (index_t oy = 0; oy < s.oh; ++oy) {
            index_t y_lo, y_hi;
            adaptive_window(oy, s.h, s.oh, y_lo, y_hi);
            for (index_t ox = 0; ox < s.ow; ++ox) {
                index_t x_lo, x_hi;
                adaptive_window(ox, s.w, s.ow, x_lo, x_hi);
                T total = 0;
                for (index_t iy = y_lo; iy < y_hi; ++iy)
                    for (index_t ix = x_lo; ix < x_hi; ++ix) total += in[iy * s.w + ix];
                out[oy * s.ow + ox] = total / T((y_hi - y_lo) * (x_hi - x_lo));
            }
        }
    }
}

template <class T>
void adaptive_backward(const PoolShape& s, const T* dy, T* dx) {
    const int t = plane_threads(s, s.h * s.w + s.oh * s.ow);
#pragma omp parallel for num_threads(t) if (t > 1)
    for (index_t plane = 0; plane < s.planes; ++plane) {
        T* in = dx + plane * s.h * s.w;
        memset(in, 0, size_t(s.h * s.w) * sizeof(T));
        const T* g = dy + plane * s.oh * s.ow;
        for (index_t oy = 0; oy < s.oh; ++oy) {
            index_t y_lo, y_hi;
            adaptive_window(oy, s.h, s.oh, y_lo, y_hi);
            for (index_t ox = 0; ox < s.ow; ++ox) {
                index_t x_lo, x_hi;
                adaptive_window(ox, s.w, s.ow, x_lo, x_hi);
                const T share = g[oy * s.ow + ox] / T((y_hi - y_lo) * (x_hi - x_lo));
                for (index_t iy = y_lo; iy < y_hi; ++iy)
                    for (index_t ix = x_lo; ix < x_hi; ++ix) in[iy * s.w + ix] += share;
            }
        }
    }
}

template <class T>
PoolFunctions<T> functions() {
    return {&max_forward<T>, &max_backward<T>, &avg_forward<T>, &avg_backward<T>, &adaptive_forward<T>,
            &adaptive_backward<T>};
}

}  // namespace

PoolVariant pool_variant() { return {functions<float>(), functions<double>()}; }

}  // namespace pyneural::cpu::PN_ISA
