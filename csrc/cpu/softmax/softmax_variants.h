// The per-ISA softmax implementations (softmax_kernels.cpp compiled once per ISA).
#pragma once
#include "pyneural/variant.h"
#include "softmax.h"

namespace pyneural::cpu {

template <class T>
struct SoftmaxFns {
    void (*forward)(const T*, T*, index_t, index_t, index_t, bool);
    void (*backward)(const T*, const T*, T*, index_t, index_t, index_t, bool);
    void (*ce_forward)(const T*, const index_t*, T*, T*, index_t, index_t, double, index_t, const T*);
    void (*ce_backward)(const T*, const index_t*, const T*, const T*, T*, index_t, index_t, double, index_t, const T*);
};

using SoftmaxVariant = ByDtype<SoftmaxFns>;

PN_DECLARE_VARIANTS(SoftmaxVariant, softmax_variant)

}  // namespace pyneural::cpu
