// The per-ISA activation implementations (activation_kernels.cpp compiled once per ISA).
#pragma once
#include "pyneural/variant.h"
#include "activation.h"

namespace pyneural::cpu {

struct ActivationVariant {
    void (*forward_f32)(ActKind, const float*, float*, index_t, double);
    void (*forward_f64)(ActKind, const double*, double*, index_t, double);
    void (*backward_f32)(ActKind, const float*, const float*, float*, index_t, double);
    void (*backward_f64)(ActKind, const double*, const double*, double*, index_t, double);
};

PN_DECLARE_VARIANTS(ActivationVariant, activation_variant)

}  // namespace pyneural::cpu
