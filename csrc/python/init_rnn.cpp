#include <pybind11/stl.h>

#include <optional>
#include <tuple>
#include <string>

#include "../cpu/rnn/rnn.h"
#include "arrays.h"

namespace pyneural::python {
namespace {

using Opt = std::optional<py::array>;

bool parse_nonlinearity(const std::string& name, const char* op) {
    if (name == "tanh") return false;
    if (name == "relu") return true;
    throw Error(message(op, ": unknown nonlinearity '", name, "'; expected 'tanh' or 'relu'"));
}

// (rows, hidden) of the array that fixes a call's shapes.
std::pair<index_t, index_t> rows_hidden(const py::array& a, const char* op, const char* name) {
    require_ndim(a, 2, op, name, "(batch, hidden)");
    return {a.shape(0), a.shape(1)};
}

void rnn_cell_forward(const std::string& nonlinearity, py::array xg, py::array hg, Opt bias, py::array h) {
    const char* op = "rnn_cell_forward";
    const bool relu = parse_nonlinearity(nonlinearity, op);
    auto [rows, hidden] = rows_hidden(h, op, "h");
    by_dtype(h, op, [&](auto zero) {
        using T = decltype(zero);
        const T* xp = contiguous_data<const T>(xg, op, "xg", {rows, hidden});
        const T* yp = contiguous_data<const T>(hg, op, "hg", {rows, hidden});
        const T* bp = optional_contiguous<const T>(bias, op, "bias", {hidden});
        T* hp = contiguous_data<T>(h, op, "h", {rows, hidden});
        py::gil_scoped_release release;
        cpu::rnn_cell_forward(relu, xp, yp, bp, rows, hidden, hp);
    });
}

void rnn_cell_backward(const std::string& nonlinearity, Opt gy, Opt dh, py::array h, py::array dpre) {
    const char* op = "rnn_cell_backward";
    const bool relu = parse_nonlinearity(nonlinearity, op);
    auto [rows, hidden] = rows_hidden(h, op, "h");
    by_dtype(h, op, [&](auto zero) {
        using T = decltype(zero);
        const T* gp = optional_contiguous<const T>(gy, op, "grad_output", {rows, hidden});
        const T* dp = optional_contiguous<const T>(dh, op, "grad_h", {rows, hidden});
        const T* hp = contiguous_data<const T>(h, op, "h", {rows, hidden});
        T* outp = contiguous_data<T>(dpre, op, "grad_pre", {rows, hidden});
        py::gil_scoped_release release;
        cpu::rnn_cell_backward(relu, gp, dp, hp, rows, hidden, outp);
    });
}

void lstm_cell_forward(py::array xg, py::array hg, Opt bias, Opt c_prev, py::array gates, py::array c,
                       py::array h) {
    const char* op = "lstm_cell_forward";
    auto [rows, hidden] = rows_hidden(h, op, "h");
    by_dtype(h, op, [&](auto zero) {
        using T = decltype(zero);
        const T* xp = contiguous_data<const T>(xg, op, "xg", {rows, 4 * hidden});
        const T* yp = contiguous_data<const T>(hg, op, "hg", {rows, 4 * hidden});
        const T* bp = optional_contiguous<const T>(bias, op, "bias", {4 * hidden});
        const T* cpp = optional_contiguous<const T>(c_prev, op, "c_prev", {rows, hidden});
        T* sp = contiguous_data<T>(gates, op, "gates", {rows, 4 * hidden});
        T* cp = contiguous_data<T>(c, op, "c", {rows, hidden});
        T* hp = contiguous_data<T>(h, op, "h", {rows, hidden});
        py::gil_scoped_release release;
        cpu::lstm_cell_forward(xp, yp, bp, cpp, rows, hidden, sp, cp, hp);
    });
}

void lstm_cell_backward(Opt gy, Opt dh, Opt dc, py::array gates, Opt c_prev, py::array c, py::array dpre,
                        Opt dc_prev) {
    const char* op = "lstm_cell_backward";
    auto [rows, hidden] = rows_hidden(c, op, "c");
    by_dtype(c, op, [&](auto zero) {
        using T = decltype(zero);
        const T* gp = optional_contiguous<const T>(gy, op, "grad_output", {rows, hidden});
        const T* dhp = optional_contiguous<const T>(dh, op, "grad_h", {rows, hidden});
        const T* dcp = optional_contiguous<const T>(dc, op, "grad_c", {rows, hidden});
        const T* sp = contiguous_data<const T>(gates, op, "gates", {rows, 4 * hidden});
        const T* cpp = optional_contiguous<const T>(c_prev, op, "c_prev", {rows, hidden});
        const T* cp = contiguous_data<const T>(c, op, "c", {rows, hidden});
        T* dpp = contiguous_data<T>(dpre, op, "grad_pre", {rows, 4 * hidden});
        T* dcpp = optional_contiguous<T>(dc_prev, op, "grad_c_prev", {rows, hidden});
        py::gil_scoped_release release;
        cpu::lstm_cell_backward(gp, dhp, dcp, sp, cpp, cp, rows, hidden, dpp, dcpp);
    });
}

void gru_cell_forward(py::array xg, py::array hg, Opt bias, Opt h_prev, py::array gates, py::array h) {
    const char* op = "gru_cell_forward";
    auto [rows, hidden] = rows_hidden(h, op, "h");
    by_dtype(h, op, [&](auto zero) {
        using T = decltype(zero);
        const T* xp = contiguous_data<const T>(xg, op, "xg", {rows, 3 * hidden});
        const T* yp = contiguous_data<const T>(hg, op, "hg", {rows, 3 * hidden});
        const T* bp = optional_contiguous<const T>(bias, op, "bias", {3 * hidden});
        const T* hpp = optional_contiguous<const T>(h_prev, op, "h_prev", {rows, hidden});
        T* sp = contiguous_data<T>(gates, op, "gates", {rows, 4 * hidden});
        T* hp = contiguous_data<T>(h, op, "h", {rows, hidden});
        py::gil_scoped_release release;
        cpu::gru_cell_forward(xp, yp, bp, hpp, rows, hidden, sp, hp);
    });
}

void gru_cell_backward(Opt gy, Opt dh, py::array gates, Opt h_prev, py::array dxg, py::array dhg,
                       py::array dh_prev) {
    const char* op = "gru_cell_backward";
    auto [rows, hidden] = rows_hidden(dh_prev, op, "grad_h_prev");
    by_dtype(dh_prev, op, [&](auto zero) {
        using T = decltype(zero);
        const T* gp = optional_contiguous<const T>(gy, op, "grad_output", {rows, hidden});
        const T* dhp = optional_contiguous<const T>(dh, op, "grad_h", {rows, hidden});
        const T* sp = contiguous_data<const T>(gates, op, "gates", {rows, 4 * hidden});
        const T* hpp = optional_contiguous<const T>(h_prev, op, "h_prev", {rows, hidden});
        T* dxp = contiguous_data<T>(dxg, op, "grad_xg", {rows, 3 * hidden});
        T* dyp = contiguous_data<T>(dhg, op, "grad_hg", {rows, 3 * hidden});
        T* dhpp = contiguous_data<T>(dh_prev, op, "grad_h_prev", {rows, hidden});
        py::gil_scoped_release release;
        cpu::gru_cell_backward(gp, dhp, sp, hpp, rows, hidden, dxp, dyp, dhpp);
    });
}

// (steps, batch, hidden) of an LSTM sequence from its states array (2, steps + 1, batch, hidden).
std::tuple<index_t, index_t, index_t> sequence_dims(const py::array& states, const char* op) {
    require_ndim(states, 4, op, "states", "(2, steps + 1, batch, hidden)");
    PN_CHECK(states.shape(0) == 2 && states.shape(1) >= 2, op, ": states has shape ", shape_str(states),
             ", expected (2, steps + 1, batch, hidden) with steps >= 1");
    return {states.shape(1) - 1, states.shape(2), states.shape(3)};
}

void lstm_sequence_forward(py::array xg, py::array w_t, Opt bias, py::array states, py::array gates, bool reverse,
                           bool zero_h0, bool zero_c0) {
    const char* op = "lstm_sequence_forward";
    auto [steps, batch, hidden] = sequence_dims(states, op);
    const index_t G = 4 * hidden;
    require_ndim(gates, 3, op, "gates", "(steps or 1, batch, 4 * hidden)");
    const bool save = gates.shape(0) == steps;
    by_dtype(states, op, [&](auto zero) {
        using T = decltype(zero);
        const T* xp = contiguous_data<const T>(xg, op, "xg", {steps, batch, G});
        const T* wp = contiguous_data<const T>(w_t, op, "w_t", {hidden, G});
        const T* bp = optional_contiguous<const T>(bias, op, "bias", {G});
        T* sp = contiguous_data<T>(states, op, "states", {2, steps + 1, batch, hidden});
        T* gp = contiguous_data<T>(gates, op, "gates", {save ? steps : 1, batch, G});
        py::gil_scoped_release release;
        cpu::lstm_sequence_forward(xp, wp, bp, steps, batch, hidden, reverse, zero_h0, zero_c0, save, sp, gp);
    });
}

void lstm_sequence_backward(py::array grad_states, py::array states, py::array gates, py::array w_hh, bool reverse,
                            bool need_h0, py::array dxg, py::array dh, py::array dc) {
    const char* op = "lstm_sequence_backward";
    auto [steps, batch, hidden] = sequence_dims(states, op);
    const index_t G = 4 * hidden;
    by_dtype(states, op, [&](auto zero) {
        using T = decltype(zero);
        const T* gsp = contiguous_data<const T>(grad_states, op, "grad_states", {2, steps + 1, batch, hidden});
        const T* sp = contiguous_data<const T>(states, op, "states", {2, steps + 1, batch, hidden});
        const T* gp = contiguous_data<const T>(gates, op, "gates", {steps, batch, G});
        const T* wp = contiguous_data<const T>(w_hh, op, "w_hh", {G, hidden});
        T* dxp = contiguous_data<T>(dxg, op, "grad_xg", {steps, batch, G});
        T* dhp = contiguous_data<T>(dh, op, "grad_h", {batch, hidden});
        T* dcp = contiguous_data<T>(dc, op, "grad_c", {batch, hidden});
        py::gil_scoped_release release;
        cpu::lstm_sequence_backward(gsp, sp, gp, wp, steps, batch, hidden, reverse, need_h0, dxp, dhp, dcp);
    });
}

}  // namespace

void init_rnn(py::module_& m) {
    m.def("rnn_cell_forward", &rnn_cell_forward, py::arg("nonlinearity"), py::arg("xg"), py::arg("hg"),
          py::arg("bias"), py::arg("h"),
          "h = act(xg + hg + bias), act 'tanh' or 'relu'; xg, hg, h (batch, H), bias (H,) or None.");
    m.def("rnn_cell_backward", &rnn_cell_backward, py::arg("nonlinearity"), py::arg("grad_output"),
          py::arg("grad_h"), py::arg("h"), py::arg("grad_pre"),
          "grad_pre = (grad_output + grad_h) * act'(h) from the forward's output h; either grad may be None.");
    m.def("lstm_cell_forward", &lstm_cell_forward, py::arg("xg"), py::arg("hg"), py::arg("bias"), py::arg("c_prev"),
          py::arg("gates"), py::arg("c"), py::arg("h"),
          "LSTM step (gates i, f, g, o) from xg, hg (batch, 4H), bias (4H,) or None, c_prev (batch, H) or None;\n"
          "writes the activated gates (batch, 4H), c and h (batch, H).");
    m.def("lstm_cell_backward", &lstm_cell_backward, py::arg("grad_output"), py::arg("grad_h"), py::arg("grad_c"),
          py::arg("gates"), py::arg("c_prev"), py::arg("c"), py::arg("grad_pre"), py::arg("grad_c_prev"),
          "Backward of lstm_cell_forward: grad_pre (batch, 4H) and grad_c_prev (batch, H) or None.");
    m.def("gru_cell_forward", &gru_cell_forward, py::arg("xg"), py::arg("hg"), py::arg("bias"), py::arg("h_prev"),
          py::arg("gates"), py::arg("h"),
          "GRU step (gates r, z, n; PyTorch's form) from xg, hg (batch, 3H), hidden bias (3H,) or None and\n"
          "h_prev (batch, H) or None; writes r, z, n, hg_n + b_n into gates (batch, 4H) and h (batch, H).");
    m.def("gru_cell_backward", &gru_cell_backward, py::arg("grad_output"), py::arg("grad_h"), py::arg("gates"),
          py::arg("h_prev"), py::arg("grad_xg"), py::arg("grad_hg"), py::arg("grad_h_prev"),
          "Backward of gru_cell_forward: grad_xg, grad_hg (batch, 3H) and the direct part z * grad of grad_h_prev.");
    m.def("lstm_sequence_forward", &lstm_sequence_forward, py::arg("xg"), py::arg("w_t"), py::arg("bias"),
          py::arg("states"), py::arg("gates"), py::arg("reverse"), py::arg("zero_h0"), py::arg("zero_c0"),
          "A whole LSTM layer direction: per step hg = h_prev @ w_t (w_t = W_hh^T, (H, 4H)) and the fused cell, in\n"
          "one call (one parallel region). xg (T, B, 4H); states (2, T + 1, B, H) with the initial h, c in slot\n"
          "T (reverse) or 0; gates (T, B, 4H) saved, or (1, B, 4H) scratch.");
    m.def("lstm_sequence_backward", &lstm_sequence_backward, py::arg("grad_states"), py::arg("states"),
          py::arg("gates"), py::arg("w_hh"), py::arg("reverse"), py::arg("need_h0"), py::arg("grad_xg"),
          py::arg("grad_h"), py::arg("grad_c"),
          "Backward of lstm_sequence_forward: grad_xg (T, B, 4H) and the h, c gradients (B, H) carried into the\n"
          "initial slot (grad_h only when need_h0); w_hh (4H, H).");
}

}  // namespace pyneural::python
