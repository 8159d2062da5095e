// The per-ISA dropout implementations (dropout_kernels.cpp compiled once per ISA).
#pragma once
#include "dropout.h"

namespace pyneural::cpu {

// Arguments as in dropout.h, already validated; `threshold` = ceil(p 2^53), `scale` = 1 / (1 - p).
template <class T>
struct DropoutFns {
    void (*forward)(const T*, T*, std::uint8_t*, index_t, std::uint64_t, double, std::uint64_t);
    void (*backward)(const T*, const std::uint8_t*, T*, index_t, double);
};

struct DropoutVariant {
    DropoutFns<float> f32;
    DropoutFns<double> f64;
};

namespace ref { DropoutVariant dropout_variant(); }
namespace avx2 { DropoutVariant dropout_variant(); }
namespace avx512 { DropoutVariant dropout_variant(); }

}  // namespace pyneural::cpu
