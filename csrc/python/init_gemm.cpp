#include "../cpu/gemm/gemm.h"
#include "arrays.h"

namespace pyneural::python {
namespace {

template <class T>
void gemm_typed(py::array& a, py::array& b, py::array& c) {
    cpu::GemmProblem<T> p{a.shape(0), a.shape(1), b.shape(2), a.shape(2),
                          batch_view<const T>(a, "gemm", "a"), batch_view<const T>(b, "gemm", "b"),
                          batch_view<T>(c, "gemm", "out")};
    PN_CHECK(b.shape(0) == p.batch && b.shape(1) == p.k && c.shape(0) == p.batch && c.shape(1) == p.m &&
              c.shape(2) == p.n,
          "gemm: shapes a", shape_str(a), ", b", shape_str(b), ", out", shape_str(c), " do not match");
    py::gil_scoped_release release;
    cpu::gemm(p);
}

void gemm(py::array a, py::array b, py::array out) {
    for (auto* x : {&a, &b, &out})
        PN_CHECK(x->ndim() == 3, "gemm: expected 3-D arrays, got a", shape_str(a), ", b", shape_str(b), ", out",
              shape_str(out));
    if (py::dtype::of<float>().is(out.dtype())) return gemm_typed<float>(a, b, out);
    if (py::dtype::of<double>().is(out.dtype())) return gemm_typed<double>(a, b, out);
    throw Error(message("gemm: unsupported dtype ", std::string(py::str(out.dtype())), "; expected float32 or float64"));
}

}  // namespace

void init_gemm(py::module_& m) {
    m.def("gemm", &gemm, py::arg("a"), py::arg("b"), py::arg("out"),
          "Batched out[i] = a[i] @ b[i]: a (batch, m, k), b (batch, k, n), out (batch, m, n); one float dtype, any strides.");
}

}  // namespace pyneural::python
