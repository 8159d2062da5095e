// The per-ISA softmax implementations (softmax_kernels.cpp compiled once per ISA).
#pragma once
#include "softmax.h"

namespace pyneural::cpu {

template <class T>
struct SoftmaxFns {
    void (*forward)(const T*, T*, index_t, index_t, index_t, bool);
    void (*backward)(const T*, const T*, T*, index_t, index_t, index_t, bool);
    void (*ce_forward)(const T*, const index_t*, T*, T*, index_t, index_t, double, index_t, const T*);
    void (*ce_backward)(const T*, const index_t*, const T*, const T*, T*, index_t, index_t, double, index_t, const T*);
};

struct SoftmaxVariant {
    SoftmaxFns<float> f32;
    SoftmaxFns<double> f64;
};

namespace ref { SoftmaxVariant softmax_variant(); }
namespace avx2 { SoftmaxVariant softmax_variant(); }
namespace avx512 { SoftmaxVariant softmax_variant(); }

}  // namespace pyneural::cpu
