#include "rnn.h"

#include <initializer_list>
#include <new>

#include "pyneural/checks.h"
#include "pyneural/error.h"
#include "rnn_variants.h"

namespace pyneural::cpu {
namespace {

RnnVariant variant() { return PN_ACTIVE_VARIANT(rnn_variant); }

// Sizes are non-negative; required arrays are present; outputs overlap neither the inputs nor each other
// (a row's outputs are written while later rows' inputs are still to be read). False: nothing to do.
bool check(const char* op, index_t rows, index_t hidden, std::initializer_list<const void*> required,
           std::initializer_list<Span> outputs, std::initializer_list<Span> inputs) {
    PN_CHECK(rows >= 0 && hidden >= 0, op, ": negative size (rows ", rows, ", hidden ", hidden, ")");
    if (rows == 0 || hidden == 0) return false;
    for (const void* p : required) PN_CHECK(p != nullptr, op, ": null array pointer");
    check_disjoint(op, outputs, inputs);
    return true;
}

}  // namespace

template <class T>
void rnn_cell_forward(bool relu, const T* xg, const T* hg, const T* bias, index_t rows, index_t hidden, T* h) {
    const index_t n = rows * hidden;
    if (!check("rnn_cell_forward", rows, hidden, {xg, hg, h}, {span(h, n)},
               {span(xg, n), span(hg, n), span(bias, hidden)}))
        return;
    variant().of<T>().rnn_cell_forward(relu, xg, hg, bias, rows, hidden, h);
}

template <class T>
void rnn_cell_backward(bool relu, const T* gy, const T* dh, const T* h, index_t rows, index_t hidden, T* dpre) {
    const index_t n = rows * hidden;
    if (!check("rnn_cell_backward", rows, hidden, {h, dpre}, {span(dpre, n)}, {span(gy, n), span(dh, n), span(h, n)}))
        return;
    variant().of<T>().rnn_cell_backward(relu, gy, dh, h, rows, hidden, dpre);
}

template <class T>
void lstm_cell_forward(const T* xg, const T* hg, const T* bias, const T* c_prev, index_t rows, index_t hidden,
                       T* gates, T* c, T* h) {
    const index_t n = rows * hidden;
    if (!check("lstm_cell_forward", rows, hidden, {xg, hg, gates, c, h},
               {span(gates, 4 * n), span(c, n), span(h, n)},
               {span(xg, 4 * n), span(hg, 4 * n), span(bias, 4 * hidden), span(c_prev, n)}))
        return;
    variant().of<T>().lstm_cell_forward(xg, hg, bias, c_prev, rows, hidden, gates, c, h);
}

template <class T>
void lstm_cell_backward(const T* gy, const T* dh, const T* dc, const T* gates, const T* c_prev, const T* c,
                        index_t rows, index_t hidden, T* dpre, T* dc_prev) {
    const index_t n = rows * hidden;
    if (!check("lstm_cell_backward", rows, hidden, {gates, c, dpre}, {span(dpre, 4 * n), span(dc_prev, n)},
               {span(gy, n), span(dh, n), span(dc, n), span(gates, 4 * n), span(c_prev, n), span(c, n)}))
        return;
    variant().of<T>().lstm_cell_backward(gy, dh, dc, gates, c_prev, c, rows, hidden, dpre, dc_prev);
}

template <class T>
void gru_cell_forward(const T* xg, const T* hg, const T* bias, const T* h_prev, index_t rows, index_t hidden,
                      T* gates, T* h) {
    const index_t n = rows * hidden;
    if (!check("gru_cell_forward", rows, hidden, {xg, hg, gates, h}, {span(gates, 4 * n), span(h, n)},
               {span(xg, 3 * n), span(hg, 3 * n), span(bias, 3 * hidden), span(h_prev, n)}))
        return;
    variant().of<T>().gru_cell_forward(xg, hg, bias, h_prev, rows, hidden, gates, h);
}

template <class T>
void gru_cell_backward(const T* gy, const T* dh, const T* gates, const T* h_prev, index_t rows, index_t hidden,
                       T* dxg, T* dhg, T* dh_prev) {
    const index_t n = rows * hidden;
    if (!check("gru_cell_backward", rows, hidden, {gates, dxg, dhg, dh_prev},
               {span(dxg, 3 * n), span(dhg, 3 * n), span(dh_prev, n)},
               {span(gy, n), span(dh, n), span(gates, 4 * n), span(h_prev, n)}))
        return;
    variant().of<T>().gru_cell_backward(gy, dh, gates, h_prev, rows, hidden, dxg, dhg, dh_prev);
}

template <class T>
void lstm_sequence_forward(const T* xg, const T* w_t, const T* bias, index_t steps, index_t batch, index_t hidden,
                           bool reverse, bool zero_h0, bool zero_c0, bool save, T* states, T* gates) {
    const char* op = "lstm_sequence_forward";
    PN_CHECK(steps >= 1, op, ": expected at least one step, got ", steps);
    const index_t n = batch * hidden, all = steps * n;
    if (!check(op, batch, hidden, {xg, w_t, states, gates}, {span(states, 2 * (all + n)), span(gates, 4 * (save ? all : n))},
               {span(xg, 4 * all), span(w_t, 4 * hidden * hidden), span(bias, 4 * hidden)}))
        return;
    if (!variant().of<T>().lstm_sequence_forward(xg, w_t, bias, steps, batch, hidden, reverse, zero_h0, zero_c0, save,
                                                 states, gates))
        throw std::bad_alloc();
}

template <class T>
void lstm_sequence_backward(const T* grad_states, const T* states, const T* gates, const T* w_hh, index_t steps,
                            index_t batch, index_t hidden, bool reverse, bool need_h0, T* dxg, T* dh, T* dc) {
    const char* op = "lstm_sequence_backward";
    PN_CHECK(steps >= 1, op, ": expected at least one step, got ", steps);
    const index_t n = batch * hidden, all = steps * n;
    if (!check(op, batch, hidden, {grad_states, states, gates, w_hh, dxg, dh, dc},
               {span(dxg, 4 * all), span(dh, n), span(dc, n)},
               {span(grad_states, 2 * (all + n)), span(states, 2 * (all + n)), span(gates, 4 * all),
                span(w_hh, 4 * hidden * hidden)}))
        return;
    if (!variant().of<T>().lstm_sequence_backward(grad_states, states, gates, w_hh, steps, batch, hidden, reverse,
                                                  need_h0, dxg, dh, dc))
        throw std::bad_alloc();
}

#define PN_RNN_INSTANTIATE(T)                                                                                    \
    template void rnn_cell_forward<T>(bool, const T*, const T*, const T*, index_t, index_t, T*);                 \
    template void rnn_cell_backward<T>(bool, const T*, const T*, const T*, index_t, index_t, T*);                \
    template void lstm_cell_forward<T>(const T*, const T*, const T*, const T*, index_t, index_t, T*, T*, T*);    \
    template void lstm_cell_backward<T>(const T*, const T*, const T*, const T*, const T*, const T*, index_t,     \
                                        index_t, T*, T*);                                                        \
    template void gru_cell_forward<T>(const T*, const T*, const T*, const T*, index_t, index_t, T*, T*);         \
    template void gru_cell_backward<T>(const T*, const T*, const T*, const T*, index_t, index_t, T*, T*, T*);   \
    template void lstm_sequence_forward<T>(const T*, const T*, const T*, index_t, index_t, index_t, bool, bool, bool, \
                                           bool, T*, T*);                                                        \
    template void lstm_sequence_backward<T>(const T*, const T*, const T*, const T*, index_t, index_t, index_t, bool, \
                                            bool, T*, T*, T*);
PN_RNN_INSTANTIATE(float)
PN_RNN_INSTANTIATE(double)
#undef PN_RNN_INSTANTIATE

}  // namespace pyneural::cpu
