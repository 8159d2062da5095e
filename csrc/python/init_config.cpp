#include <pybind11/stl.h>

#include "arrays.h"
#include "pyneural/cpu_features.h"
#include "pyneural/parallel.h"

namespace pyneural::python {

void init_config(py::module_& m) {
    m.def("cpu_variant", [] { return std::string(isa_name(active_isa())); }, "The CPU kernel variant in use.");
    m.def("cpu_variants", [] {
        std::vector<std::string> names;
        for (Isa isa : supported_isas()) names.push_back(isa_name(isa));
        return names;
    }, "Variants compiled in and runnable on this CPU and OS, best last.");
    m.def("set_cpu_variant", [](const std::string& name) { set_active_isa(parse_isa(name)); }, py::arg("name"),
          "Force a CPU variant (ref, avx2, avx512); ValueError if unsupported here.");
    m.def("cpu_features", [] {
        const CpuFeatures& f = cpu_features();
        return f.vendor + ": " + f.flags;
    }, "CPU vendor and the features CPUID and XGETBV report.");
    m.def("set_num_threads", &set_num_threads, py::arg("n"));
    m.def("get_num_threads", &num_threads);
    m.def("has_openmp", &has_openmp);
    m.def("build_info", [] {
        return message(
#if defined(__clang__)
            "clang ", __clang_major__, ".", __clang_minor__,
#elif defined(__GNUC__)
            "gcc ", __GNUC__, ".", __GNUC_MINOR__,
#else
            "unknown compiler",
#endif
            ", C++", __cplusplus / 100 % 100);
    });
}

}  // namespace pyneural::python
