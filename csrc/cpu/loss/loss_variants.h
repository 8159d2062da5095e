// The per-ISA loss implementations (loss_kernels.cpp compiled once per ISA).
#pragma once
#include "pyneural/variant.h"
#include "loss.h"

namespace pyneural::cpu {

// Arguments as in loss.h, already validated.
template <class T>
struct LossFns {
    double (*forward)(LossKind, const T*, const T*, const T*, const T*, T*, index_t, double);
    void (*backward)(LossKind, const T*, const T*, const T*, const T*, const T*, double, T*, index_t, double);
    void (*nll_forward)(const T*, const index_t*, const T*, T*, index_t, index_t, index_t, index_t, double*);
    void (*nll_backward)(const index_t*, const T*, const T*, double, T*, index_t, index_t, index_t, index_t);
};

using LossVariant = ByDtype<LossFns>;

PN_DECLARE_VARIANTS(LossVariant, loss_variant)

}  // namespace pyneural::cpu
