// The pyneural._C module: CPU kernels. Each csrc/python/init_<name>.cpp binds one family; CMake lists
// them in pn_inits.inc as PN_INIT(<name>).
#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace pyneural::python {
#define PN_INIT(name) void init_##name(py::module_& m);
#include "pn_inits.inc"
#undef PN_INIT
}  // namespace pyneural::python

PYBIND11_MODULE(_C, m) {
    m.doc() = "pyneural CPU kernels (C++, per-ISA variants chosen at run time)";
#define PN_INIT(name) pyneural::python::init_##name(m);
#include "pn_inits.inc"
#undef PN_INIT
}
