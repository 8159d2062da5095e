// The machine's measured FMA peak, for benchmarks to report kernels as a fraction of it.
#pragma once
#include "pyneural/cpu_features.h"

namespace pyneural::cpu {

// GFLOP/s of `threads` threads running the `isa` FMA loop for about `seconds`.
double measure_peak_gflops(Isa isa, bool f64, int threads, double seconds);

}  // namespace pyneural::cpu
