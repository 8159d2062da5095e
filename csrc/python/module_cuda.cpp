// The pyneural._cuda module: GPU kernels (device queries for now).
#include <pybind11/pybind11.h>

#include <string>

#include "../cuda/runtime.h"

namespace py = pybind11;

PYBIND11_MODULE(_cuda, m) {
    m.doc() = "pyneural CUDA kernels";
    m.def("device_count", &pyneural::cuda::device_count, "CUDA devices visible (0 without a driver or GPU).");
    m.def("last_error", &pyneural::cuda::last_error);
    m.def("cuda_version", [] {
        const int v = pyneural::cuda::runtime_version();
        return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10);
    });
}
