#include <cuda_runtime.h>

#include "runtime.h"

namespace pyneural::cuda {
namespace {
cudaError_t g_last = cudaSuccess;
}

int device_count() {
    int count = 0;
    g_last = cudaGetDeviceCount(&count);
    return g_last == cudaSuccess ? count : 0;
}

std::string last_error() { return g_last == cudaSuccess ? "no error" : cudaGetErrorString(g_last); }

int runtime_version() {
    int v = 0;
    cudaRuntimeGetVersion(&v);
    return v;
}

}  // namespace pyneural::cuda
