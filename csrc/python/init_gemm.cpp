#include <pybind11/stl.h>

#include <optional>

#include "../cpu/gemm/gemm.h"
#include "arrays.h"

namespace pyneural::python {
namespace {

template <class T>
void gemm_typed(py::array& a, py::array& b, py::array& c, const std::optional<py::array>& bias, Activation act) {
    cpu::GemmProblem<T> p{a.shape(0), a.shape(1), b.shape(2), a.shape(2),
                          batch_view<const T>(a, "gemm", "a"), batch_view<const T>(b, "gemm", "b"),
                          batch_view<T>(c, "gemm", "out")};
    PN_CHECK(b.shape(0) == p.batch && b.shape(1) == p.k && c.shape(0) == p.batch && c.shape(1) == p.m &&
                 c.shape(2) == p.n,
             "gemm: shapes a", shape_str(a), ", b", shape_str(b), ", out", shape_str(c), " do not match");
    if (bias) {
        PN_CHECK(bias->ndim() == 1 && bias->shape(0) == p.n, "gemm: bias must have shape (", p.n, ",), got ",
                 shape_str(*bias));
        if (!py::dtype::of<T>().is(bias->dtype()))
            throw_type_error("gemm: bias dtype ", dtype_str(bias->dtype()), " differs from out's");
        p.bias = static_cast<const T*>(bias->data());
        p.bias_stride = element_stride(*bias, 0, "gemm", "bias");
    }
    p.act = act;
    py::gil_scoped_release release;
    cpu::gemm(p);
}

void gemm(py::array a, py::array b, py::array out, std::optional<py::array> bias,
          std::optional<std::string> activation) {
    for (auto* x : {&a, &b, &out})
        PN_CHECK(x->ndim() == 3, "gemm: expected 3-D arrays, got a", shape_str(a), ", b", shape_str(b), ", out",
                 shape_str(out));
    const Activation act = parse_activation(activation, "gemm");
    if (py::dtype::of<float>().is(out.dtype())) return gemm_typed<float>(a, b, out, bias, act);
    if (py::dtype::of<double>().is(out.dtype())) return gemm_typed<double>(a, b, out, bias, act);
    unsupported_dtype("gemm", out);
}

}  // namespace

void init_gemm(py::module_& m) {
    m.def("gemm", &gemm, py::arg("a"), py::arg("b"), py::arg("out"), py::arg("bias") = py::none(),
          py::arg("activation") = py::none(),
          "Batched out[i] = act(a[i] @ b[i] + bias): a (batch, m, k), b (batch, k, n), out (batch, m, n), bias (n,);\n"
          "one float dtype, any strides; activation: None, 'relu', 'gelu', 'sigmoid' or 'tanh'.");
}

}  // namespace pyneural::python
