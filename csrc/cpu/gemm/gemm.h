// GEMM entry point: validates its arguments, then runs the active CPU variant.
#pragma once
#include "pyneural/common.h"

namespace pyneural::cpu {

// c[b] = act(a[b] @ b[b] + bias) for b < batch; a is (m, k), b (k, n), c (m, n), any strides (0 broadcasts);
// bias (optional, length n, stride bias_stride) is added to every row; with bias_on_rows it has length m
// and bias[i] is added to row i (a per-channel bias for an output laid out channels x pixels).
template <class T>
struct GemmProblem {
    index_t batch, m, n, k;
    StridedBatch<const T> a, b;
    StridedBatch<T> c;
    const T* bias = nullptr;
    index_t bias_stride = 1;
    Activation act = Activation::none;
    bool bias_on_rows = false;
    bool serial = false;  // one thread, whatever the size (a caller that already runs one part per thread)
};

void gemm(const GemmProblem<float>& p);
void gemm(const GemmProblem<double>& p);

}  // namespace pyneural::cpu
