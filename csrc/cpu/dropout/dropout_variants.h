// The per-ISA dropout implementations (dropout_kernels.cpp compiled once per ISA).
#pragma once
#include "pyneural/variant.h"
#include "dropout.h"

namespace pyneural::cpu {

// Arguments as in dropout.h, already validated; `threshold` = ceil(p 2^53), `scale` = 1 / (1 - p).
template <class T>
struct DropoutFns {
    void (*forward)(const T*, T*, std::uint8_t*, index_t, std::uint64_t, double, std::uint64_t);
    void (*backward)(const T*, const std::uint8_t*, T*, index_t, double);
};

using DropoutVariant = ByDtype<DropoutFns>;

PN_DECLARE_VARIANTS(DropoutVariant, dropout_variant)

}  // namespace pyneural::cpu
