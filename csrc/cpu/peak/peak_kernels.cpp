// FMA throughput loop, compiled once per ISA. 12 independent accumulators cover FMA latency x ports
// (4 cycles x 2 pipes on current x86 cores) so the loop is bound by throughput alone.
#include <immintrin.h>  // isa.h's masked loads and stores
#include <stdlib.h>
#include <string.h>

#include "peak_variants.h"

namespace pyneural::cpu::PN_ISA {
namespace {

#include "pyneural/isa.h"

constexpr int kChains = 12;

template <class T>
double fma_loop(index_t iterations) {
    using V = Vec<T>;
    V acc[kChains];
    for (int r = 0; r < kChains; ++r) acc[r] = V{} + T(r) * T(1e-3);
    V x = V{} + T(0.999999), y = V{} + T(1e-7);
    for (index_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
        for (int r = 0; r < kChains; ++r) acc[r] = acc[r] * x + y;
        __asm__ volatile("" : "+x"(x));  // keep x opaque so the loop cannot be folded
    }
    T sum = 0;
    for (int r = 0; r < kChains; ++r)
        for (int l = 0; l < kVL<T>; ++l) sum += acc[r][l];
    volatile T sink = sum;  // the result is observable, so the loop is not removed
    (void)sink;
    return 2.0 * double(iterations) * kChains * kVL<T>;
}

}  // namespace

PeakVariant peak_variant() { return {&fma_loop<float>, &fma_loop<double>}; }

}  // namespace pyneural::cpu::PN_ISA
