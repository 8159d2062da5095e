// The per-ISA optimizer updates (optim_kernels.cpp compiled once per ISA, each in its namespace).
#pragma once
#include "pyneural/variant.h"
#include "optim.h"

namespace pyneural::cpu {

struct OptimVariant {
    void (*sgd_f32)(const SgdUpdate<float>&);
    void (*sgd_f64)(const SgdUpdate<double>&);
    void (*adam_f32)(const AdamUpdate<float>&);
    void (*adam_f64)(const AdamUpdate<double>&);
    void (*rmsprop_f32)(const RmspropUpdate<float>&);
    void (*rmsprop_f64)(const RmspropUpdate<double>&);
    void (*adagrad_f32)(const AdagradUpdate<float>&);
    void (*adagrad_f64)(const AdagradUpdate<double>&);
};

PN_DECLARE_VARIANTS(OptimVariant, optim_variant)

}  // namespace pyneural::cpu
