// The per-ISA activation implementations (activation_kernels.cpp compiled once per ISA).
#pragma once
#include "activation.h"

namespace pyneural::cpu {

struct ActivationVariant {
    void (*forward_f32)(ActKind, const float*, float*, index_t, double);
    void (*forward_f64)(ActKind, const double*, double*, index_t, double);
    void (*backward_f32)(ActKind, const float*, const float*, float*, index_t, double);
    void (*backward_f64)(ActKind, const double*, const double*, double*, index_t, double);
};

namespace ref { ActivationVariant activation_variant(); }
namespace avx2 { ActivationVariant activation_variant(); }
namespace avx512 { ActivationVariant activation_variant(); }

}  // namespace pyneural::cpu
