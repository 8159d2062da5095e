// The pyneural._C module: CPU kernels. One init_<family> per binding file.
#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace pyneural::python {
void init_config(py::module_& m);
void init_gemm(py::module_& m);
void init_peak(py::module_& m);
}  // namespace pyneural::python

PYBIND11_MODULE(_C, m) {
    m.doc() = "pyneural CPU kernels (C++, per-ISA variants chosen at run time)";
    pyneural::python::init_config(m);
    pyneural::python::init_gemm(m);
    pyneural::python::init_peak(m);
}
