// Fused gate kernels of the recurrent layers (RNN, LSTM, GRU): one call per time step does all the
// element-wise work of a cell after the two GEMMs (xg = x W_ih^T + b_ih for all steps, hg = h W_hh^T per
// step), and saves what the backward step needs. Every array is C-contiguous with `rows` (batch) rows;
// `hidden` is the hidden size H. The entry points validate their arguments, then run the active variant.
#pragma once
#include "pyneural/common.h"

namespace pyneural::cpu {

// Elman RNN: h = act(xg + hg + bias), act = tanh (relu == false) or relu. xg, hg, h (rows, H);
// bias (H,) or null.
template <class T>
void rnn_cell_forward(bool relu, const T* xg, const T* hg, const T* bias, index_t rows, index_t hidden, T* h);

// dpre = (gy + dh) * act'(h), the gradient of the pre-activation from the output h of the forward step.
// gy (the gradient of this step's output) and dh (from the next step) may each be null (zero).
template <class T>
void rnn_cell_backward(bool relu, const T* gy, const T* dh, const T* h, index_t rows, index_t hidden, T* dpre);

// LSTM, gate order i, f, g, o: pre = xg + hg + bias (rows, 4H), i, f, o = sigmoid, g = tanh,
// c = f * c_prev + i * g, h = o * tanh(c). gates (rows, 4H) receives the activated i, f, g, o.
// c_prev (rows, H) may be null (zero).
template <class T>
void lstm_cell_forward(const T* xg, const T* hg, const T* bias, const T* c_prev, index_t rows, index_t hidden,
                       T* gates, T* c, T* h);

// Backward of lstm_cell_forward for the total h gradient gy + dh and the c gradient dc (each may be null):
// dpre (rows, 4H) the gradient of the pre-activations, dc_prev (rows, H) that of c_prev (may be null).
template <class T>
void lstm_cell_backward(const T* gy, const T* dh, const T* dc, const T* gates, const T* c_prev, const T* c,
                        index_t rows, index_t hidden, T* dpre, T* dc_prev);

// GRU (PyTorch's form), gate order r, z, n: r = sigmoid(xg_r + hg_r + b_r), z likewise,
// n = tanh(xg_n + r * (hg_n + b_n)), h = (1 - z) * n + z * h_prev. xg, hg (rows, 3H); bias (3H,) or null
// is the hidden bias b_hh; h_prev (rows, H) may be null (zero). gates (rows, 4H) receives r, z, n and
// hg_n + b_n.
template <class T>
void gru_cell_forward(const T* xg, const T* hg, const T* bias, const T* h_prev, index_t rows, index_t hidden,
                      T* gates, T* h);

// Backward of gru_cell_forward for the total h gradient gy + dh (each may be null): dxg (rows, 3H) the
// gradient of xg, dhg (rows, 3H) that of hg + bias (they differ in the n block: dhg_n = dxg_n * r), and
// dh_prev (rows, H) the direct part z * (gy + dh) of the h_prev gradient (the GEMM part dhg W_hh is the
// caller's).
template <class T>
void gru_cell_backward(const T* gy, const T* dh, const T* gates, const T* h_prev, index_t rows, index_t hidden,
                       T* dxg, T* dhg, T* dh_prev);

// A whole LSTM sequence (one layer and direction) in one call: for each step t, in reverse order if
// `reverse`, hg = h_prev @ w_t then lstm_cell_forward. xg (steps, B, 4H) holds the input projections,
// w_t (H, 4H) is W_hh^T, bias (4H,) or null. states (2, steps + 1, B, H): h then c, each with the initial
// state in slot `steps` (reverse) or 0, which zero_h0 / zero_c0 declare zero (the first GEMM is skipped);
// the state after step t goes to slot t (reverse) or t + 1. gates (steps, B, 4H) receives every step's
// activated gates when `save`, else it is a (1, B, 4H) scratch.
template <class T>
void lstm_sequence_forward(const T* xg, const T* w_t, const T* bias, index_t steps, index_t batch, index_t hidden,
                           bool reverse, bool zero_h0, bool zero_c0, bool save, T* states, T* gates);

// Backward of lstm_sequence_forward (run with save) for the gradient grad_states of its states array
// (any slot may carry gradient): dxg (steps, B, 4H) the gradient of the pre-activations; dh, dc (B, H) the
// gradients carried into the initial slot from the first step (dh only when need_h0; the initial slot's
// own gradient is the caller's to add). w_hh (4H, H). The weight gradients are the caller's (one GEMM).
template <class T>
void lstm_sequence_backward(const T* grad_states, const T* states, const T* gates, const T* w_hh, index_t steps,
                            index_t batch, index_t hidden, bool reverse, bool need_h0, T* dxg, T* dh, T* dc);

}  // namespace pyneural::cpu
