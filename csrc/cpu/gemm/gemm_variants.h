// The per-ISA GEMM implementations (gemm_kernels.cpp compiled once per ISA, each in its namespace).
#pragma once
#include "gemm.h"

namespace pyneural::cpu {

struct GemmVariant {
    void (*f32)(const GemmProblem<float>&);
    void (*f64)(const GemmProblem<double>&);
};

namespace ref { GemmVariant gemm_variant(); }
namespace avx2 { GemmVariant gemm_variant(); }
namespace avx512 { GemmVariant gemm_variant(); }

}  // namespace pyneural::cpu
