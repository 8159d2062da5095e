// The per-ISA convolution implementations (conv_kernels.cpp compiled once per ISA, each in its namespace).
#pragma once
#include "pyneural/variant.h"
#include "conv.h"

namespace pyneural::cpu {

// Each returns false when it could not allocate its work buffers.
template <class T>
struct ConvFunctions {
    bool (*forward)(const ConvShape&, const T*, const T*, const T*, T*, Activation);
    bool (*backward_data)(const ConvShape&, const T*, const T*, T*);
    bool (*backward_weight)(const ConvShape&, const T*, const T*, T*, T*);
};

using ConvVariant = ByDtype<ConvFunctions>;

PN_DECLARE_VARIANTS(ConvVariant, conv_variant)

}  // namespace pyneural::cpu
