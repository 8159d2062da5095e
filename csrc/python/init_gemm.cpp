#include <pybind11/stl.h>

#include <optional>

#include "../cpu/gemm/gemm.h"
#include "arrays.h"
#include "pyneural/checks.h"

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

// The bytes an array's elements lie in, for any strides (negative ones included).
Span extent(const py::array& x) {
    if (x.size() == 0) return {nullptr, 0};
    const char* lo = static_cast<const char*>(x.data());
    index_t bytes = x.itemsize();
    for (py::ssize_t d = 0; d < x.ndim(); ++d) {
        const index_t reach = index_t(x.strides(d)) * (x.shape(d) - 1);
        if (reach < 0) lo += reach;
        bytes += reach < 0 ? -reach : reach;
    }
    return {lo, bytes};
}

template <class T>
py::array matmul_typed(py::array a, py::array b, std::optional<py::array> out) {
    const index_t m = a.shape(0), k = a.shape(1), n = b.shape(1);
    py::array c;
    if (out) {
        c = *out;
        PN_CHECK(c.ndim() == 2 && c.shape(0) == m && c.shape(1) == n && py::dtype::of<T>().is(c.dtype()),
                 "matmul: out has shape ", shape_str(c), " and dtype ", dtype_str(c.dtype()), "; expected shape (",
                 m, ", ", n, ") and dtype ", dtype_str(py::dtype::of<T>()));
        PN_CHECK(c.writeable(), "matmul: out is read-only");
        // as NumPy allows, out may share memory with an input: the product then reads a copy of it
        if (overlap(extent(c), extent(a))) a = py::array(a.attr("copy")());
        if (overlap(extent(c), extent(b))) b = py::array(b.attr("copy")());
    } else {
        c = py::array_t<T>({m, n});
    }
    cpu::GemmProblem<T> p{1, m, n, k, matrix_view<const T>(a, "a"), matrix_view<const T>(b, "b"),
                          matrix_view<T>(c, "out")};
    run_gemm(p);
    return c;
}

// The common case of `a @ b` with the least overhead: two 2-D arrays of one float dtype, any strides,
// into `out` (2-D, any strides) or a new C-contiguous array; no batch views to build on the Python side.
py::array matmul(py::array a, py::array b, std::optional<py::array> out) {
    PN_CHECK(a.ndim() == 2 && b.ndim() == 2 && a.shape(1) == b.shape(0), "matmul: expected 2-D arrays (m, k) and "
             "(k, n), got a", shape_str(a), " and b", shape_str(b));
    if (!a.dtype().is(b.dtype()))
        throw_type_error("matmul: a has dtype ", dtype_str(a.dtype()), ", b ", dtype_str(b.dtype()),
                         "; expected one float dtype");
    if (py::dtype::of<float>().is(a.dtype())) return matmul_typed<float>(a, b, out);
    if (py::dtype::of<double>().is(a.dtype())) return matmul_typed<double>(a, b, out);
    unsupported_dtype("matmul", a);
}

}  // namespace

void init_gemm(py::module_& m) {
    m.def("gemm", &gemm, py::arg("a"), py::arg("b"), py::arg("out"), py::arg("bias") = py::none(),
          py::arg("activation") = py::none(),
          "Batched out[i] = act(a[i] @ b[i] + bias): a (batch, m, k), b (batch, k, n), out (batch, m, n), bias (n,);\n"
          "one float dtype, any strides; activation: None, 'relu', 'gelu', 'sigmoid' or 'tanh'.");
    m.def("matmul", &matmul, py::arg("a"), py::arg("b"), py::arg("out") = py::none(),
          "a @ b for 2-D arrays a (m, k) and b (k, n) of one float dtype, any strides, into out (m, n) (which\n"
          "may share memory with a or b, as in NumPy) or a new array; returns the result.");
}

}  // namespace pyneural::python
