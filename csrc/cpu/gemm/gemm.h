// GEMM entry point: validates its arguments, then runs the active CPU variant.
#pragma once
#include "pyneural/common.h"

namespace pyneural::cpu {

// c[b] = a[b] @ b[b] for b < batch; a is (m, k), b (k, n), c (m, n), any strides (0 broadcasts).
template <class T>
struct GemmProblem {
    index_t batch, m, n, k;
    StridedBatch<const T> a, b;
    StridedBatch<T> c;
};

void gemm(const GemmProblem<float>& p);
void gemm(const GemmProblem<double>& p);

}  // namespace pyneural::cpu
