#include "../cpu/peak/peak.h"
#include "arrays.h"

namespace pyneural::python {

void init_peak(py::module_& m) {
    m.def("measure_peak", [](const std::string& variant, const std::string& dtype, int threads, double seconds) {
        PN_CHECK(dtype == "float32" || dtype == "float64", "measure_peak: dtype must be float32 or float64, got ", dtype);
        const Isa isa = parse_isa(variant);
        py::gil_scoped_release release;
        return cpu::measure_peak_gflops(isa, dtype == "float64", threads, seconds);
    }, py::arg("variant"), py::arg("dtype") = "float32", py::arg("threads") = 1, py::arg("seconds") = 0.2,
          "GFLOP/s of a register-only FMA loop of the given CPU variant on `threads` threads.");
}

}  // namespace pyneural::python
