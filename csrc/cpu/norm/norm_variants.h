// The per-ISA normalisation kernels (norm_kernels.cpp compiled once per ISA, each in its namespace).
#pragma once
#include "pyneural/variant.h"
#include "norm.h"

namespace pyneural::cpu {

// Arguments as in norm.h, already validated. Functions returning bool return false when out of memory.
template <class T>
struct NormKernels {
    void (*layer_norm_forward)(const T*, index_t, index_t, const T*, const T*, double, T*, T*, T*);
    bool (*layer_norm_backward)(const T*, const T*, index_t, index_t, const T*, const T*, const T*, T*, T*, T*);
    void (*batch_norm_stats)(const T*, index_t, index_t, index_t, T*, T*);
    bool (*batch_norm_apply)(const T*, index_t, index_t, index_t, const T*, const T*, const T*, const T*, double, T*);
    bool (*batch_norm_backward)(const T*, const T*, index_t, index_t, index_t, const T*, const T*, const T*, double,
                                bool, T*, T*, T*);
};

using NormVariant = ByDtype<NormKernels>;

PN_DECLARE_VARIANTS(NormVariant, norm_variant)

}  // namespace pyneural::cpu
