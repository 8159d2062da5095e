#include "pyneural/cpu_features.h"

#include "pyneural/cache.h"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <utility>
#include <unistd.h>

#include "pyneural/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define PN_X86 1
#endif

namespace pyneural {
namespace {

#ifdef PN_X86
// XCR0 says which register states the OS saves on a context switch; CPUID alone is not enough.
std::uint64_t read_xcr0() {
    std::uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return (std::uint64_t(edx) << 32) | eax;
}
#endif

CpuFeatures detect() {
    CpuFeatures f;
#ifdef PN_X86
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return f;
    char vendor[13] = {};
    std::memcpy(vendor, &b, 4);
    std::memcpy(vendor + 4, &d, 4);
    std::memcpy(vendor + 8, &c, 4);
    f.vendor = vendor;
    unsigned max_leaf = a;
    __get_cpuid(1, &a, &b, &c, &d);
    const bool fma = c & bit_FMA, osxsave = c & bit_OSXSAVE, avx = c & bit_AVX;
    const std::uint64_t xcr0 = osxsave ? read_xcr0() : 0;
    const bool ymm_state = (xcr0 & 0x6) == 0x6;     // SSE + AVX state
    const bool zmm_state = (xcr0 & 0xe6) == 0xe6;   // + opmask, ZMM_Hi256, Hi16_ZMM
    bool avx2 = false, f512 = false, bw = false, dq = false, vl = false;
    if (max_leaf >= 7) {
        __get_cpuid_count(7, 0, &a, &b, &c, &d);
        avx2 = b & bit_AVX2;
        f512 = b & bit_AVX512F;
        dq = b & bit_AVX512DQ;
        bw = b & bit_AVX512BW;
        vl = b & bit_AVX512VL;
    }
    f.avx2_fma = avx && avx2 && fma && ymm_state;
    f.avx512 = f.avx2_fma && f512 && dq && bw && vl && zmm_state;
    f.flags = message(avx ? "avx " : "", avx2 ? "avx2 " : "", fma ? "fma " : "", f512 ? "avx512f " : "",
                      dq ? "avx512dq " : "", bw ? "avx512bw " : "", vl ? "avx512vl " : "",
                      "xcr0=0x", std::hex, xcr0);
#endif
#if defined(_SC_LEVEL1_DCACHE_SIZE)
    // glibc reads these from CPUID; keep the defaults where it does not know (0 or -1).
    for (auto [name, field] : {std::pair{_SC_LEVEL1_DCACHE_SIZE, &f.l1d}, std::pair{_SC_LEVEL2_CACHE_SIZE, &f.l2},
                               std::pair{_SC_LEVEL3_CACHE_SIZE, &f.l3}}) {
        const long bytes = sysconf(name);
        if (bytes > 0) *field = bytes;
    }
#endif
    return f;
}

bool compiled(Isa isa) {
    switch (isa) {
        case Isa::ref: return true;
#ifdef PN_HAVE_AVX2
        case Isa::avx2: return true;
#endif
#ifdef PN_HAVE_AVX512
        case Isa::avx512: return true;
#endif
        default: return false;
    }
}

bool runnable(Isa isa) {
    const CpuFeatures& f = cpu_features();
    return isa == Isa::ref || (isa == Isa::avx2 && f.avx2_fma) || (isa == Isa::avx512 && f.avx512);
}

std::atomic<int> g_active{-1};

}  // namespace

const CpuFeatures& cpu_features() {
    static const CpuFeatures features = detect();
    return features;
}

std::vector<Isa> supported_isas() {
    std::vector<Isa> out;
    for (Isa isa : {Isa::ref, Isa::avx2, Isa::avx512})
        if (compiled(isa) && runnable(isa)) out.push_back(isa);
    return out;
}

Isa active_isa() {
    int v = g_active.load(std::memory_order_relaxed);
    if (v < 0) {
        v = int(supported_isas().back());
        g_active.store(v, std::memory_order_relaxed);
    }
    return Isa(v);
}

void set_active_isa(Isa isa) {
    PN_CHECK(compiled(isa), "cpu variant '", isa_name(isa), "' was not compiled into this build");
    PN_CHECK(runnable(isa), "this CPU (or OS) does not support the '", isa_name(isa), "' variant (detected: ",
          cpu_features().flags, ")");
    g_active.store(int(isa), std::memory_order_relaxed);
}

const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::ref: return "ref";
        case Isa::avx2: return "avx2";
        case Isa::avx512: return "avx512";
    }
    return "?";
}

Isa parse_isa(const std::string& name) {
    for (Isa isa : {Isa::ref, Isa::avx2, Isa::avx512})
        if (name == isa_name(isa)) return isa;
    throw Error(message("unknown cpu variant '", name, "'; expected ref, avx2 or avx512"));
}

}  // namespace pyneural

namespace pyneural {

CacheSizes cache_sizes() {
    const CpuFeatures& f = cpu_features();
    return {f.l1d, f.l2, f.l3};
}

}  // namespace pyneural
