#include <cstdint>
#include <vector>

#include "../cpu/dropout/dropout.h"
#include "arrays.h"

namespace pyneural::python {
namespace {

void dropout_forward(py::array x, py::array out, py::array mask, double p, std::uint64_t seed) {
    const char* op = "dropout";
    const std::vector<index_t> shape = shape_of(x);
    by_dtype(x, op, [&](auto zero) {
        using T = decltype(zero);
        const T* xp = contiguous_data<const T>(x, op, "x", shape);
        T* outp = contiguous_data<T>(out, op, "out", shape);
        auto* mp = contiguous_data<std::uint8_t>(mask, op, "mask", shape);
        py::gil_scoped_release release;
        cpu::dropout_forward(xp, outp, mp, index_t(x.size()), p, seed);
    });
}

void dropout_backward(py::array grad, py::array mask, double p, py::array out) {
    const char* op = "dropout_backward";
    const std::vector<index_t> shape = shape_of(grad);
    by_dtype(grad, op, [&](auto zero) {
        using T = decltype(zero);
        const T* gp = contiguous_data<const T>(grad, op, "grad", shape);
        const auto* mp = contiguous_data<const std::uint8_t>(mask, op, "mask", shape);
        T* outp = contiguous_data<T>(out, op, "out", shape);
        py::gil_scoped_release release;
        cpu::dropout_backward(gp, mp, outp, index_t(grad.size()), p);
    });
}

}  // namespace

void init_dropout(py::module_& m) {
    m.def("dropout_forward", &dropout_forward, py::arg("x"), py::arg("out"), py::arg("mask"), py::arg("p"),
          py::arg("seed"),
          "Inverted dropout: mask (uint8) from a SplitMix64 hash of (seed, index), kept with probability 1 - p;\n"
          "out = x * mask / (1 - p). Same mask for any thread count and in the Numba backend.");
    m.def("dropout_backward", &dropout_backward, py::arg("grad"), py::arg("mask"), py::arg("p"), py::arg("out"),
          "out = grad * mask / (1 - p).");
}

}  // namespace pyneural::python
