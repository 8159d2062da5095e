#include "peak.h"

#include <chrono>

#include "peak_variants.h"
#include "pyneural/error.h"

namespace pyneural::cpu {
namespace {

PeakVariant variant(Isa isa) { return PN_VARIANT_FOR(peak_variant, isa); }

}  // namespace

double measure_peak_gflops(Isa isa, bool f64, int threads, double seconds) {
    bool supported = false;
    for (Isa s : supported_isas()) supported |= s == isa;
    PN_CHECK(supported, "measure_peak: cpu variant '", isa_name(isa), "' is not supported here");
    PN_CHECK(threads >= 1 && seconds > 0, "measure_peak: bad threads=", threads, " or seconds=", seconds);
    auto loop = f64 ? variant(isa).f64 : variant(isa).f32;
    constexpr index_t kChunk = 1 << 20;
    loop(kChunk / 8);  // warm up: wake the core to its sustained clock
    double flops = 0;
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0;
#pragma omp parallel num_threads(threads) reduction(+ : flops)
    {
        const auto mine = std::chrono::steady_clock::now();
        while (std::chrono::duration<double>(std::chrono::steady_clock::now() - mine).count() < seconds)
            flops += loop(kChunk);
    }
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return flops / elapsed * 1e-9;
}

}  // namespace pyneural::cpu
