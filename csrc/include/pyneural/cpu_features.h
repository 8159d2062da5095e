// Which CPU kernel variant runs: detected once by CPUID + XGETBV, overridable for tests.
#pragma once
#include <string>
#include <vector>

namespace pyneural {

enum class Isa { ref = 0, avx2 = 1, avx512 = 2 };

struct CpuFeatures {
    bool avx2_fma = false;  // AVX2 + FMA + OS-enabled ymm state
    bool avx512 = false;    // AVX-512 F/BW/DQ/VL + OS-enabled zmm and opmask state
    std::string vendor, flags;
    long l1d = 32 * 1024, l2 = 512 * 1024, l3 = 8 * 1024 * 1024;  // bytes per core (l3: shared), read at run time
};

const CpuFeatures& cpu_features();
std::vector<Isa> supported_isas();   // variants compiled in AND runnable here, best last
Isa active_isa();
void set_active_isa(Isa isa);        // throws pyneural::Error if unsupported
const char* isa_name(Isa isa);
Isa parse_isa(const std::string& name);  // throws pyneural::Error on an unknown name

}  // namespace pyneural
