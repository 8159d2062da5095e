// The per-ISA GEMM implementations (gemm_kernels.cpp compiled once per ISA, each in its namespace).
#pragma once
#include "pyneural/variant.h"
#include "gemm.h"

namespace pyneural::cpu {

// Each returns false when it could not allocate its packing buffers.
struct GemmVariant {
    bool (*f32)(const GemmProblem<float>&);
    bool (*f64)(const GemmProblem<double>&);
};

PN_DECLARE_VARIANTS(GemmVariant, gemm_variant)

}  // namespace pyneural::cpu
