// Fused recurrent gate kernels, compiled once per ISA (PN_ISA = ref | avx2 | avx512): each row of the batch
// is one pass over its gate blocks in vectors, with the vectorised sigmoid/tanh of vec_math.h; the last
// partial vector goes through a zero-padded copy. Threads over the rows only when the step is big enough.
#include <immintrin.h>  // vec_math.h uses AVX/AVX-512 intrinsics where the variant has them
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <type_traits>

#include "../gemm/gemm.h"  // the sequence kernels' recurrent GEMMs (the active variant's, one thread each)
#include "pyneural/parallel.h"
#include "rnn_variants.h"

namespace pyneural::cpu::PN_ISA {
namespace {

#include "../activation/vec_math.h"

// Work per hidden unit of one row in threads_for's units (1e6 ~ 10 us), from measured step times
// (AVX-512, float32: an LSTM step of 64 x 128 units takes ~40 us forward, ~28 us backward), so that a
// step of that size is shared by two threads.
constexpr double kRnnCost = 100, kLstmCost = 500, kGruCost = 350;

// p + offset, or null when p is null (an absent optional array reads as zeros).
template <class T>
__attribute__((always_inline)) inline const T* at(const T* p, index_t offset) {
    return p ? p + offset : nullptr;
}

// n elements at p (zeros when p is null) in a vector; n is a compile-time constant for whole vectors.
template <class T, class N>
__attribute__((always_inline)) inline VecT<T> ld(const T* p, N n) {
    VecT<T> v = VecT<T>{};
    if (p) memcpy(&v, p, size_t(n) * sizeof(T));
    return v;
}

template <class T, class N>
__attribute__((always_inline)) inline void st(T* p, VecT<T> v, N n) {
    memcpy(p, &v, size_t(n) * sizeof(T));
}

// f(j, n) over the hidden units j, j + n of one row: whole vectors, then the tail.
template <class T, class F>
__attribute__((always_inline)) inline void lanes(index_t hidden, F f) {
    constexpr index_t L = kLanes<T>;
    index_t j = 0;
    for (; j + L <= hidden; j += L) f(j, std::integral_constant<index_t, L>{});
    if (j < hidden) f(j, hidden - j);
}

template <class F>
void over_rows(index_t rows, double flops_per_row, F f) {
    const int t = threads_for(flops_per_row * double(rows));
    parallel_for(t, rows, [&](index_t r) { f(r); });
}

template <class T>
__attribute__((always_inline)) inline VecT<T> relu(VecT<T> v) {
    return select<T>(v < T(0), VecT<T>{}, v);  // NaN passes through, as in PyTorch
}

// ------------------------------------------------------------------------------------------ RNN

template <class T>
void rnn_cell_forward(bool use_relu, const T* xg, const T* hg, const T* bias, index_t rows, index_t hidden, T* h) {
    over_rows(rows, kRnnCost * double(hidden), [&](index_t r) {
        const T *x = xg + r * hidden, *y = hg + r * hidden;
        T* out = h + r * hidden;
        lanes<T>(hidden, [&](index_t j, auto n) {
            const VecT<T> pre = ld<T>(x + j, n) + ld<T>(y + j, n) + ld<T>(at(bias, j), n);
            st<T>(out + j, use_relu ? relu<T>(pre) : vtanh<T>(pre), n);
        });
    });
}

template <class T>
void rnn_cell_backward(bool use_relu, const T* gy, const T* dh, const T* h, index_t rows, index_t hidden, T* dpre) {
    over_rows(rows, 4.0 * double(hidden), [&](index_t r) {
        const index_t row = r * hidden;
        lanes<T>(hidden, [&](index_t j, auto n) {
            const VecT<T> g = ld<T>(at(gy, row + j), n) + ld<T>(at(dh, row + j), n);
            const VecT<T> y = ld<T>(h + row + j, n);
            st<T>(dpre + row + j, use_relu ? select<T>(y > T(0), g, VecT<T>{}) : g * (T(1) - y * y), n);
        });
    });
}

// ------------------------------------------------------------------------------------------ LSTM

// One row of an LSTM step over `units` hidden units. x (xg), s (gates), bias: gate blocks H apart; y (hg):
// gate blocks y_gate apart (H, or the width of a thread's slice in the sequence kernel). Null y, bias or
// c_prev read as zeros.
template <class T>
__attribute__((always_inline)) inline void lstm_forward_row(const T* x, index_t H, const T* y, index_t y_gate,
                                                            const T* bias, const T* c_prev, T* s, T* c, T* h,
                                                            index_t units) {
    lanes<T>(units, [&](index_t j, auto n) {
        auto pre = [&](int g) {
            return ld<T>(x + g * H + j, n) + ld<T>(at(y, g * y_gate + j), n) + ld<T>(at(bias, g * H + j), n);
        };
        const VecT<T> i = vsigmoid<T>(pre(0)), f = vsigmoid<T>(pre(1)), g = vtanh<T>(pre(2)),
                      o = vsigmoid<T>(pre(3));
        const VecT<T> cn = f * ld<T>(at(c_prev, j), n) + i * g;
        st<T>(s + j, i, n);
        st<T>(s + H + j, f, n);
        st<T>(s + 2 * H + j, g, n);
        st<T>(s + 3 * H + j, o, n);
        st<T>(c + j, cn, n);
        st<T>(h + j, o * vtanh<T>(cn), n);
    });
}

// One row of the LSTM backward step over `units` units: the h gradient gy + dh, the c gradient dc + dc2
// (any may be null); s (gates) and d (dpre) have gate blocks H apart. dc_prev may be dc (in place).
template <class T>
__attribute__((always_inline)) inline void lstm_backward_row(const T* gy, const T* dh, const T* dc, const T* dc2,
                                                             const T* s, index_t H, const T* c_prev, const T* c,
                                                             T* d, T* dc_prev, index_t units) {
    lanes<T>(units, [&](index_t j, auto n) {
        const VecT<T> i = ld<T>(s + j, n), f = ld<T>(s + H + j, n), g = ld<T>(s + 2 * H + j, n),
                      o = ld<T>(s + 3 * H + j, n);
        const VecT<T> dht = ld<T>(at(gy, j), n) + ld<T>(at(dh, j), n);
        const VecT<T> tc = vtanh<T>(ld<T>(c + j, n));
        const VecT<T> dct = ld<T>(at(dc, j), n) + ld<T>(at(dc2, j), n) + dht * o * (T(1) - tc * tc);
        st<T>(d + j, dct * g * i * (T(1) - i), n);
        st<T>(d + H + j, dct * ld<T>(at(c_prev, j), n) * f * (T(1) - f), n);
        st<T>(d + 2 * H + j, dct * i * (T(1) - g * g), n);
        st<T>(d + 3 * H + j, dht * tc * o * (T(1) - o), n);
        if (dc_prev) st<T>(dc_prev + j, dct * f, n);
    });
}

template <class T>
void lstm_cell_forward(const T* xg, const T* hg, const T* bias, const T* c_prev, index_t rows, index_t hidden,
                       T* gates, T* c, T* h) {
    const index_t H = hidden, G = 4 * hidden;
    over_rows(rows, kLstmCost * double(H), [&](index_t r) {
        lstm_forward_row(xg + r * G, H, hg + r * G, H, bias, at(c_prev, r * H), gates + r * G, c + r * H, h + r * H, H);
    });
}

template <class T>
void lstm_cell_backward(const T* gy, const T* dh, const T* dc, const T* gates, const T* c_prev, const T* c,
                        index_t rows, index_t hidden, T* dpre, T* dc_prev) {
    const index_t H = hidden, G = 4 * hidden;
    over_rows(rows, 0.7 * kLstmCost * double(H), [&](index_t r) {
        const index_t row = r * H;
        lstm_backward_row(at(gy, row), at(dh, row), at(dc, row), static_cast<const T*>(nullptr), gates + r * G, H,
                          at(c_prev, row), c + row, dpre + r * G, dc_prev ? dc_prev + row : nullptr, H);
    });
}

// ---------------------------------------------------------------------------- LSTM, whole sequences
// One parallel region for the whole sequence, one barrier per step. Thread p owns the hidden units
// [j0, j1) throughout: the recurrent GEMM's columns of those units' four gates (copied side by side, so
// one GEMM computes them and they stay in that core's cache) and those units' part of every cell step.
// What the threads exchange is h (forward) or the gate gradients (backward) of each step.

struct Units {
    index_t j0, j1;
};

// Thread p's units: slices of whole vectors.
template <class T>
Units units_of(int p, int threads, index_t hidden) {
    const index_t per = round_up((hidden + threads - 1) / threads, kLanes<T>);
    const index_t j0 = min_i(index_t(p) * per, hidden);
    return {j0, min_i(j0 + per, hidden)};
}

// Threads for a sequence whose steps each cost `step_flops`: at most one per vector of hidden units.
template <class T>
int sequence_threads(double step_flops, index_t hidden) {
    const int t = threads_for(step_flops);
    const index_t vectors = (hidden + kLanes<T> - 1) / kLanes<T>;
    return vectors < t ? int(vectors) : t;
}

// c (m x n, row stride c_rs) = a (m x k, row stride a_rs) @ b (k x n, row stride b_rs) on this thread.
// False if the GEMM failed (out of memory): the caller raises after its parallel region.
template <class T>
bool serial_gemm(index_t m, index_t n, index_t k, const T* a, index_t a_rs, const T* b, index_t b_rs, T* c,
                 index_t c_rs) {
    GemmProblem<T> g{1, m, n, k, {a, 0, a_rs, 1}, {b, 0, b_rs, 1}, {c, 0, c_rs, 1}};
    g.serial = true;
    try {
        gemm(g);
    } catch (...) {
        return false;
    }
    return true;
}

template <class T>
bool lstm_sequence_forward(const T* xg, const T* w_t, const T* bias, index_t steps, index_t batch, index_t hidden,
                           bool reverse, bool zero_h0, bool zero_c0, bool save, T* states, T* gates) {
    const index_t B = batch, H = hidden, G = 4 * hidden, slot = B * H;
    T* work = scratch<T, 0>(H * G + B * G);  // W_hh^T with each thread's gate columns side by side, then hg
    if (!work) return false;
    T *w_own = work, *hg = work + H * G;
    T *hs = states, *cs = states + (steps + 1) * slot;
    const int threads = sequence_threads<T>(2.0 * double(B) * double(H) * double(G) + kLstmCost * double(B * H), H);
    bool failed = false;
    team(threads, [&] {
        const Units u = units_of<T>(thread_index(), threads, H);
        const index_t w = u.j1 - u.j0, col = 4 * u.j0;  // this thread's columns of w_own and hg
        for (index_t r = 0; r < H; ++r)
            for (int g = 0; g < 4; ++g) memcpy(w_own + r * G + col + g * w, w_t + r * G + g * H + u.j0, w * sizeof(T));
        for (index_t k = 0; k < steps; ++k) {
            const index_t t = reverse ? steps - 1 - k : k, prev = reverse ? t + 1 : t, next = reverse ? t : t + 1;
            const bool h_zero = k == 0 && zero_h0, c_zero = k == 0 && zero_c0;
            if (w > 0 && !h_zero && !serial_gemm(B, 4 * w, H, hs + prev * slot, H, w_own + col, G, hg + col, G)) {
#pragma omp atomic write
                failed = true;
            }
            T* s = gates + (save ? t * B * G : 0);
            for (index_t r = 0; r < B && w > 0; ++r) {
                const index_t row = r * H + u.j0;
                lstm_forward_row(xg + t * B * G + r * G + u.j0, H, h_zero ? nullptr : hg + r * G + col, w,
                                 at(bias, u.j0), c_zero ? nullptr : cs + prev * slot + row, s + r * G + u.j0,
                                 cs + next * slot + row, hs + next * slot + row, w);
            }
            barrier();
        }
    });
    return !failed;
}

template <class T>
bool lstm_sequence_backward(const T* grad_states, const T* states, const T* gates, const T* w_hh, index_t steps,
                            index_t batch, index_t hidden, bool reverse, bool need_h0, T* dxg, T* dh, T* dc) {
    const index_t B = batch, H = hidden, G = 4 * hidden, slot = B * H;
    const T *gh = grad_states, *gc = grad_states + (steps + 1) * slot, *cs = states + (steps + 1) * slot;
    const int threads =
        sequence_threads<T>(2.0 * double(B) * double(H) * double(G) + 0.7 * kLstmCost * double(B * H), H);
    bool failed = false;
    team(threads, [&] {
        const Units u = units_of<T>(thread_index(), threads, H);
        const index_t w = u.j1 - u.j0;
        for (index_t k = 0; k < steps; ++k) {
            const index_t t = reverse ? k : steps - 1 - k, prev = reverse ? t + 1 : t, next = reverse ? t : t + 1;
            T* d = dxg + t * B * G;
            for (index_t r = 0; r < B && w > 0; ++r) {
                const index_t row = r * H + u.j0;
                lstm_backward_row(gh + next * slot + row, k == 0 ? nullptr : dh + row, gc + next * slot + row,
                                  k == 0 ? nullptr : dc + row, gates + t * B * G + r * G + u.j0, H,
                                  cs + prev * slot + row, cs + next * slot + row, d + r * G + u.j0, dc + row, w);
            }
            barrier();
            // dh_prev[:, own units] = dpre (B x 4H, every thread's gates) @ W_hh[:, own units]
            if (w > 0 && (k + 1 < steps || need_h0) && !serial_gemm(B, w, G, d, G, w_hh + u.j0, H, dh + u.j0, H)) {
#pragma omp atomic write
                failed = true;
            }
        }
    });
    return !failed;
}

// ------------------------------------------------------------------------------------------ GRU

template <class T>
void gru_cell_forward(const T* xg, const T* hg, const T* bias, const T* h_prev, index_t rows, index_t hidden,
                      T* gates, T* h) {
    const index_t H = hidden, G = 3 * hidden;
    over_rows(rows, kGruCost * double(H), [&](index_t r) {
        const T *x = xg + r * G, *y = hg + r * G;
        T* s = gates + r * 4 * H;
        lanes<T>(H, [&](index_t j, auto n) {
            const VecT<T> rg = vsigmoid<T>(ld<T>(x + j, n) + ld<T>(y + j, n) + ld<T>(at(bias, j), n));
            const VecT<T> z = vsigmoid<T>(ld<T>(x + H + j, n) + ld<T>(y + H + j, n) + ld<T>(at(bias, H + j), n));
            const VecT<T> hn = ld<T>(y + 2 * H + j, n) + ld<T>(at(bias, 2 * H + j), n);
            const VecT<T> nn = vtanh<T>(ld<T>(x + 2 * H + j, n) + rg * hn);
            const VecT<T> hp = ld<T>(at(h_prev, r * H + j), n);
            st<T>(s + j, rg, n);
            st<T>(s + H + j, z, n);
            st<T>(s + 2 * H + j, nn, n);
            st<T>(s + 3 * H + j, hn, n);
            st<T>(h + r * H + j, nn + z * (hp - nn), n);
        });
    });
}

template <class T>
void gru_cell_backward(const T* gy, const T* dh, const T* gates, const T* h_prev, index_t rows, index_t hidden,
                       T* dxg, T* dhg, T* dh_prev) {
    const index_t H = hidden, G = 3 * hidden;
    over_rows(rows, 20.0 * double(H), [&](index_t r) {
        const T* s = gates + r * 4 * H;
        T *dx = dxg + r * G, *dy = dhg + r * G;
        const index_t row = r * H;
        lanes<T>(H, [&](index_t j, auto n) {
            const VecT<T> rg = ld<T>(s + j, n), z = ld<T>(s + H + j, n), nn = ld<T>(s + 2 * H + j, n),
                          hn = ld<T>(s + 3 * H + j, n);
            const VecT<T> dht = ld<T>(at(gy, row + j), n) + ld<T>(at(dh, row + j), n);
            const VecT<T> hp = ld<T>(at(h_prev, row + j), n);
            const VecT<T> dn = dht * (T(1) - z) * (T(1) - nn * nn);
            const VecT<T> dz = dht * (hp - nn) * z * (T(1) - z);
            const VecT<T> dr = dn * hn * rg * (T(1) - rg);
            st<T>(dx + j, dr, n);
            st<T>(dx + H + j, dz, n);
            st<T>(dx + 2 * H + j, dn, n);
            st<T>(dy + j, dr, n);
            st<T>(dy + H + j, dz, n);
            st<T>(dy + 2 * H + j, dn * rg, n);
            st<T>(dh_prev + row + j, dht * z, n);
        });
    });
}

template <class T>
RnnKernels<T> kernels() {
    return {&rnn_cell_forward<T>,      &rnn_cell_backward<T>,      &lstm_cell_forward<T>,
            &lstm_cell_backward<T>,    &gru_cell_forward<T>,       &gru_cell_backward<T>,
            &lstm_sequence_forward<T>, &lstm_sequence_backward<T>};
}

}  // namespace

RnnVariant rnn_variant() { return {kernels<float>(), kernels<double>()}; }

}  // namespace pyneural::cpu::PN_ISA
