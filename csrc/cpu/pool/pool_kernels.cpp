// Pooling kernels, compiled once per ISA (PN_ISA = ref | avx2 | avx512); one OpenMP task per plane.
// Windows are clipped to the input once per output row/column, so the inner loops read only valid pixels.
#include <immintrin.h>  // isa.h's masked loads and stores
#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include <type_traits>
#include <utility>

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

// One output of max pooling by the scalar rules (windows clipped to the input; the first maximum wins, the
// first NaN wins over everything): used at borders and where no vector block fits.
template <class T>
void max_scalar(const PoolShape& s, const T* in, index_t y0, index_t i0, index_t i1, index_t ox, T* out,
                index_t* where) {
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
    out[ox] = best;
    where[ox] = best_at;
}

// N output columns at a time, in vectors of N lanes (N * sizeof(T) of 16 bytes or more, so narrow rows
// such as 12 or 4 outputs still fill whole vectors). Lane l holds output column ox0 + l; every tap is a
// vector compare and two selects, in the scalar loop's tap order, so ties and NaN resolve the same way.
template <class T, int N>
struct MaxLanes {
    typedef T V __attribute__((vector_size(N * sizeof(T))));
    using I = typename std::conditional<sizeof(T) == 4, int32_t, int64_t>::type;  // a compare's lane type
    typedef I VI __attribute__((vector_size(N * sizeof(T))));
    // output indices (a lane type that depends on T: GCC drops a dependent vector_size on a plain int64_t)
    using W = typename std::conditional<sizeof(T) != 0, int64_t, T>::type;
    typedef W VW __attribute__((vector_size(N * sizeof(int64_t))));

    static V load(const T* p) {
        V v;
        memcpy(&v, p, sizeof v);  // an unaligned vector load once inlined
        return v;
    }
    template <size_t... L>
    static V even(V a, V b, std::index_sequence<L...>) { return __builtin_shufflevector(a, b, (2 * L)...); }
    template <size_t... L>
    static V odd(V a, V b, std::index_sequence<L...>) { return __builtin_shufflevector(a, b, (2 * L + 1)...); }

    // Takes tap v (offset `at` from each lane's window start) when it beats the lane's best so far.
    static void take(V v, I at, V& best, VI& best_at) {
        const VI wins = (v > best) | ((v != v) & (best == best));  // larger, or the first NaN
        best = wins ? v : best;
        best_at = wins ? at : best_at;
    }

    // Outputs ox0 .. ox0 + N - 1 of a row whose window rows are [i0, i1) (non-empty) and whose taps all lie
    // inside the input row; SW is the column stride (1 or 2: contiguous loads, or pairs split by shuffles).
    template <int SW>
    static void block(const PoolShape& s, const T* in, index_t y0, index_t i0, index_t i1, index_t ox0, T* out,
                      index_t* where) {
        constexpr auto lanes = std::make_index_sequence<N>();
        const index_t x0 = ox0 * SW - s.pw;  // window start of lane 0
        V best;
        VI best_at;
        for (int l = 0; l < N; ++l) {
            best[l] = -INFINITY;
            best_at[l] = I((y0 + i0 * s.dh) * s.w);  // the first tap, as in the scalar loop
        }
        for (index_t i = i0; i < i1; ++i) {
            const index_t row = (y0 + i * s.dh) * s.w;
            const T* p = in + row + x0;
            if (SW == 1) {
                for (index_t j = 0; j < s.kw; ++j) take(load(p + j * s.dw), I(row + j * s.dw), best, best_at);
            } else if (s.dw == 1) {  // taps j and j + 1 are the even and odd lanes of one pair of loads
                for (index_t j = 0; j < s.kw; j += 2) {
                    const V a = load(p + j), b = load(p + j + N);
                    take(even(a, b, lanes), I(row + j), best, best_at);
                    if (j + 1 < s.kw) take(odd(a, b, lanes), I(row + j + 1), best, best_at);
                }
            } else {
                for (index_t j = 0; j < s.kw; ++j) {
                    const T* q = p + j * s.dw;
                    take(even(load(q), load(q + N), lanes), I(row + j * s.dw), best, best_at);
                }
            }
        }
        memcpy(out + ox0, &best, sizeof best);
        // widened and offset in registers (the lane offsets fold to a constant), stored as whole vectors
        W offsets[N];
        for (int l = 0; l < N; ++l) offsets[l] = W(l * SW);
        VW at;
        memcpy(&at, offsets, sizeof at);
        at += __builtin_convertvector(best_at, VW) + W(x0);
        memcpy(where + ox0, &at, sizeof at);
    }

    // Output row oy: vector blocks over the columns whose windows lie inside the input, scalar elsewhere.
    // A last block that would pass the end is moved back to end there (recomputing a few outputs). With
    // stride 2 the loads may reach one element past the last tap: blocks that would read past the plane go
    // scalar.
    template <int SW>
    static void row(const PoolShape& s, const T* in, index_t oy, T* out, index_t* where) {
        const index_t y0 = oy * s.sh - s.ph;
        index_t i0, i1;
        clip_taps(y0, s.kh, s.dh, s.h, i0, i1);
        const index_t span = (s.kw - 1) * s.dw;
        const index_t lo = min_i((s.pw + SW - 1) / SW, s.ow);  // first column with x0 >= 0
        const index_t room = s.w - 1 - span + s.pw;             // last x0 + pw with x0 + span inside
        const index_t hi = room < 0 ? lo : max_i(lo, min_i(room / SW + 1, s.ow));
        if (i0 < i1 && hi - lo >= N) {
            // end of the last load past the last tap: pairs of loads for an even kernel end on its last tap
            const index_t load_end = SW == 1 ? N : s.dw == 1 && s.kw % 2 == 0 ? 2 * N - 1 : 2 * N;
            index_t done = lo;
            const index_t last_row = (y0 + (i1 - 1) * s.dh) * s.w;
            for (index_t ox0 = lo; ox0 < hi; ox0 += N) {
                const index_t start = min_i(ox0, hi - N);
                const index_t reach = last_row + start * SW - s.pw + span + load_end;
                if (reach > s.h * s.w) break;  // the rest goes scalar
                block<SW>(s, in, y0, i0, i1, start, out, where);
                done = start + N;
            }
            for (index_t ox = 0; ox < lo; ++ox) max_scalar(s, in, y0, i0, i1, ox, out, where);
            for (index_t ox = done; ox < s.ow; ++ox) max_scalar(s, in, y0, i0, i1, ox, out, where);
            return;
        }
        for (index_t ox = 0; ox < s.ow; ++ox) max_scalar(s, in, y0, i0, i1, ox, out, where);
    }
};

template <class T, int N>
void max_plane(const PoolShape& s, const T* in, T* out, index_t* where) {
    for (index_t oy = 0; oy < s.oh; ++oy) {
        if (s.sw == 1) {
            MaxLanes<T, N>::template row<1>(s, in, oy, out + oy * s.ow, where + oy * s.ow);
        } else {
            MaxLanes<T, N>::template row<2>(s, in, oy, out + oy * s.ow, where + oy * s.ow);
        }
    }
}

template <class T>
void max_forward(const PoolShape& s, const T* x, T* y, index_t* indices) {
    constexpr int VL = kVL<T>, NARROW = 16 / int(sizeof(T));  // lanes of a full and of a 16-byte vector
    // widest vector the output rows fill; strides past 2 and planes past int32 offsets stay scalar
    const bool vector = s.sw <= 2 && s.ow >= NARROW && (sizeof(T) == 8 || s.h * s.w < (index_t(1) << 31));
    const int lanes = !vector ? 0 : s.ow >= VL ? VL : s.ow >= VL / 2 ? VL / 2 : s.ow >= VL / 4 ? VL / 4 : NARROW;
    // work in flop-equivalents of the time taken (measured: 4 ns per output of a 2x2 window, 8x8 to 24x24
    // planes, about 32 per input pixel and tap), so that batches taking 100 us and more get both threads
    const int t = plane_threads(s, 32 * (s.h * s.w + s.oh * s.ow * s.kh * s.kw));
    parallel_for(t, s.planes, [&](index_t plane) {
        const T* in = x + plane * s.h * s.w;
        T* out = y + plane * s.oh * s.ow;
        index_t* where = indices + plane * s.oh * s.ow;
        if (lanes == VL) {
            max_plane<T, VL>(s, in, out, where);
        } else if (lanes == VL / 2 && VL / 2 >= NARROW) {
            max_plane<T, (VL / 2 >= NARROW ? VL / 2 : NARROW)>(s, in, out, where);
        } else if (lanes == VL / 4 && VL / 4 >= NARROW) {
            max_plane<T, (VL / 4 >= NARROW ? VL / 4 : NARROW)>(s, in, out, where);
        } else if (lanes == NARROW) {
            max_plane<T, NARROW>(s, in, out, where);
        } else {
            for (index_t oy = 0; oy < s.oh; ++oy) {
                const index_t y0 = oy * s.sh - s.ph;
                index_t i0, i1;
                clip_taps(y0, s.kh, s.dh, s.h, i0, i1);
                for (index_t ox = 0; ox < s.ow; ++ox)
                    max_scalar(s, in, y0, i0, i1, ox, out + oy * s.ow, where + oy * s.ow);
            }
        }
    });
}

template <class T>
void max_backward(const PoolShape& s, const T* dy, const index_t* indices, T* dx) {
    const int t = plane_threads(s, s.h * s.w + s.oh * s.ow);
    parallel_for(t, s.planes, [&](index_t plane) {
        T* in = dx + plane * s.h * s.w;
        memset(in, 0, size_t(s.h * s.w) * sizeof(T));
        const T* g = dy + plane * s.oh * s.ow;
        const index_t* where = indices + plane * s.oh * s.ow;
        for (index_t p = 0; p < s.oh * s.ow; ++p)
            if (where[p] >= 0) in[where[p]] += g[p];
    });
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
    parallel_for(t, s.planes, [&](index_t plane) {
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
    });
}

template <class T>
void avg_backward(const PoolShape& s, bool count_include_pad, const T* dy, T* dx) {
    const int t = plane_threads(s, s.oh * s.ow * s.kh * s.kw);
    parallel_for(t, s.planes, [&](index_t plane) {
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
    });
}

// PyTorch's adaptive window [floor(o * size / out), ceil((o + 1) * size / out)).
void adaptive_window(index_t o, index_t size, index_t out, index_t& lo, index_t& hi) {
    lo = o * size / out;
    hi = ((o + 1) * size + out - 1) / out;
}

template <class T>
void adaptive_forward(const PoolShape& s, const T* x, T* y) {
    const int t = plane_threads(s, s.h * s.w + s.oh * s.ow);
    parallel_for(t, s.planes, [&](index_t plane) {
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
    });
}

template <class T>
void adaptive_backward(const PoolShape& s, const T* dy, T* dx) {
    const int t = plane_threads(s, s.h * s.w + s.oh * s.ow);
    parallel_for(t, s.planes, [&](index_t plane) {
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
    });
}

template <class T>
PoolFunctions<T> functions() {
    return {&max_forward<T>, &max_backward<T>, &avg_forward<T>, &avg_backward<T>, &adaptive_forward<T>,
            &adaptive_backward<T>};
}

}  // namespace

PoolVariant pool_variant() { return {functions<float>(), functions<double>()}; }

}  // namespace pyneural::cpu::PN_ISA
