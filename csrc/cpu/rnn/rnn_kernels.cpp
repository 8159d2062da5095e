// Fused recurrent gate kernels, compiled once per ISA (PN_ISA = ref | avx2 | avx512): each row of the batch
// is one pass over its gate blocks in vectors, with the vectorised sigmoid/tanh of vec_math.h; the last
// partial vector goes through a zero-padded copy. Threads over the rows only when the step is big enough.
#include <immintrin.h>  // vec_math.h uses AVX/AVX-512 intrinsics where the variant has them
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <type_traits>

#include "rnn_variants.h"
#include "pyneural/parallel.h"

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
#pragma omp parallel for num_threads(t) if (t > 1) schedule(static)
    for (index_t r = 0; r < rows; ++r) f(r);
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

template <class T>
void lstm_cell_forward(const T* xg, const T* hg, const T* bias, const T* c_prev, index_t rows, index_t hidden,
                       T* gates, T* c, T* h) {
    const index_t H = hidden, G = 4 * hidden;
    over_rows(rows, kLstmCost * double(H), [&](index_t r) {
        const T *x = xg + r * G, *y = hg + r * G;
        T* s = gates + r * G;
        lanes<T>(H, [&](index_t j, auto n) {
            const VecT<T> i = vsigmoid<T>(ld<T>(x + j, n) + ld<T>(y + j, n) + ld<T>(at(bias, j), n));
            const VecT<T> f = vsigmoid<T>(ld<T>(x + H + j, n) + ld<T>(y + H + j, n) + ld<T>(at(bias, H + j), n));
            const VecT<T> g =
                vtanh<T>(ld<T>(x + 2 * H + j, n) + ld<T>(y + 2 * H + j, n) + ld<T>(at(bias, 2 * H + j), n));
            const VecT<T> o =
                vsigmoid<T>(ld<T>(x + 3 * H + j, n) + ld<T>(y + 3 * H + j, n) + ld<T>(at(bias, 3 * H + j), n));
            const VecT<T> cn = f * ld<T>(at(c_prev, r * H + j), n) + i * g;
            st<T>(s + j, i, n);
            st<T>(s + H + j, f, n);
            st<T>(s + 2 * H + j, g, n);
            st<T>(s + 3 * H + j, o, n);
            st<T>(c + r * H + j, cn, n);
            st<T>(h + r * H + j, o * vtanh<T>(cn), n);
        });
    });
}

template <class T>
void lstm_cell_backward(const T* gy, const T* dh, const T* dc, const T* gates, const T* c_prev, const T* c,
                        index_t rows, index_t hidden, T* dpre, T* dc_prev) {
    const index_t H = hidden, G = 4 * hidden;
    over_rows(rows, 0.7 * kLstmCost * double(H), [&](index_t r) {
        const T* s = gates + r * G;
        T* d = dpre + r * G;
        const index_t row = r * H;
        lanes<T>(H, [&](index_t j, auto n) {
            const VecT<T> i = ld<T>(s + j, n), f = ld<T>(s + H + j, n), g = ld<T>(s + 2 * H + j, n),
                          o = ld<T>(s + 3 * H + j, n);
            const VecT<T> dht = ld<T>(at(gy, row + j), n) + ld<T>(at(dh, row + j), n);
            const VecT<T> tc = vtanh<T>(ld<T>(c + row + j, n));
            const VecT<T> dct = ld<T>(at(dc, row + j), n) + dht * o * (T(1) - tc * tc);
            st<T>(d + j, dct * g * i * (T(1) - i), n);
            st<T>(d + H + j, dct * ld<T>(at(c_prev, row + j), n) * f * (T(1) - f), n);
            st<T>(d + 2 * H + j, dct * i * (T(1) - g * g), n);
            st<T>(d + 3 * H + j, dht * tc * o * (T(1) - o), n);
            if (dc_prev) st<T>(dc_prev + row + j, dct * f, n);
        });
    });
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
    return {&rnn_cell_forward<T>, &rnn_cell_backward<T>, &lstm_cell_forward<T>,
            &lstm_cell_backward<T>, &gru_cell_forward<T>, &gru_cell_backward<T>};
}

}  // namespace

RnnVariant rnn_variant() { return {kernels<float>(), kernels<double>()}; }

}  // namespace pyneural::cpu::PN_ISA
