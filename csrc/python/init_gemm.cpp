#include <pybind11/stl.h>

#include <optional>

#include "../cpu/gemm/gemm.h"
#include "arrays.h"

namespace pyneural::python {
namespace {

// Below this many multiply-adds, releasing and re-taking the GIL costs more than it lets others run.
constexpr double kReleaseGilWork = 1 << 20;

template <class T>
void run_gemm(const cpu::GemmProblem<T>& p) {
    if (double(p.batch) * double(p.m) * double(p.n) * double(p.k) >= kReleaseGilWork) {
        py::gil_scoped_release release;
        cpu::gemm(p);
    } else {
        cpu::gemm(p);
    }
}

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
    run_gemm(p);
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

// A 2-D view (rows, cols) as one batch entry.
template <class T>
StridedBatch<T> matrix_view(const py::array& x, const char* name) {
    return {static_cast<T*>(const_cast<void*>(x.data())), 0, element_stride(x, 0, "matmul", name),
            element_stride(x, 1, "matmul", name)};
}

template <class T>
py::array matmul_typed(const py::array& a, const py::array& b) {
    const index_t m = a.shape(0), k = a.shape(1), n = b.shape(1);
    py::array_t<T> c({m, n});
    cpu::GemmProblem<T> p{1, m, n, k, matrix_view<const T>(a, "a"), matrix_view<const T>(b, "b"),
                          {c.mutable_data(), 0, n, 1}};
    run_gemm(p);
    return std::move(c);
}

// The common case of `a @ b` with the least overhead: two 2-D arrays of one float dtype, any strides,
// into a new C-contiguous array (no batch views or output to check on the Python side).
py::array matmul(const py::array& a, const py::array& b) {
    PN_CHECK(a.ndim() == 2 && b.ndim() == 2 && a.shape(1) == b.shape(0), "matmul: expected 2-D arrays (m, k) and "
             "(k, n), got a", shape_str(a), " and b", shape_str(b));
    if (!a.dtype().is(b.dtype()))
        throw_type_error("matmul: a has dtype ", dtype_str(a.dtype()), ", b ", dtype_str(b.dtype()),
                         "; expected one float dtype");
    if (py::dtype::of<float>().is(a.dtype())) return matmul_typed<float>(a, b);
    if (py::dtype::of<double>().is(a.dtype())) return matmul_typed<double>(a, b);
    unsupported_dtype("matmul", a);
}

}  // namespace

void init_gemm(py::module_& m) {
    m.def("gemm", &gemm, py::arg("a"), py::arg("b"), py::arg("out"), py::arg("bias") = py::none(),
          py::arg("activation") = py::none(),
          "Batched out[i] = act(a[i] @ b[i] + bias): a (batch, m, k), b (batch, k, n), out (batch, m, n), bias (n,);\n"
          "one float dtype, any strides; activation: None, 'relu', 'gelu', 'sigmoid' or 'tanh'.");
    m.def("matmul", &matmul, py::arg("a"), py::arg("b"),
          "a @ b for 2-D arrays a (m, k) and b (k, n) of one float dtype, any strides: a new (m, n) array.");
}

}  // namespace pyneural::python
