// Register-only FMA loops, one per ISA, for measuring the machine's floating-point peak.
#pragma once
#include "pyneural/variant.h"
#include "pyneural/common.h"

namespace pyneural::cpu {

// Each runs `iterations` rounds of independent FMAs and returns the floating-point operations done.
struct PeakVariant {
    double (*f32)(index_t iterations);
    double (*f64)(index_t iterations);
};

PN_DECLARE_VARIANTS(PeakVariant, peak_variant)

}  // namespace pyneural::cpu
