#include "gemm.h"

#include "gemm_variants.h"
#include "pyneural/cpu_features.h"
#include <utility>

#include "pyneural/error.h"

namespace pyneural::cpu {
namespace {

GemmVariant variant() {
    switch (active_isa()) {
#ifdef PN_HAVE_AVX512
        case Isa::avx512: return avx512::gemm_variant();
#endif
#ifdef PN_HAVE_AVX2
        case Isa::avx2: return avx2::gemm_variant();
#endif
        default: return ref::gemm_variant();
    }
}

// Byte range [lo, hi) touched by a strided batch (strides may be zero or negative).
template <class T>
void extent(const StridedBatch<T>& x, index_t batch, index_t rows, index_t cols, const char*& lo, const char*& hi) {
    index_t first = 0, last = 0;
    for (auto [n, s] : {std::pair{batch, x.bs}, std::pair{rows, x.rs}, std::pair{cols, x.cs}}) {
        (s < 0 ? first : last) += (n - 1) * s;
    }
    lo = reinterpret_cast<const char*>(x.data + first);
    hi = reinterpret_cast<const char*>(x.data + last + 1);
}

template <class T>
void validate(const GemmProblem<T>& p) {
    check(p.batch >= 0 && p.m >= 0 && p.n >= 0 && p.k >= 0, "gemm: negative size (batch=", p.batch, ", m=", p.m,
          ", n=", p.n, ", k=", p.k, ")");
    if (p.batch == 0 || p.m == 0 || p.n == 0) return;
    check(p.c.data != nullptr, "gemm: null output pointer");
    // The output must not overlap itself: distinct (b, i, j) need distinct addresses.
    check((p.m == 1 || p.c.rs != 0) && (p.n == 1 || p.c.cs != 0) && (p.batch == 1 || p.c.bs != 0),
          "gemm: output strides (", p.c.bs, ", ", p.c.rs, ", ", p.c.cs, ") alias elements");
    if (p.k == 0) return;
    check(p.a.data != nullptr && p.b.data != nullptr, "gemm: null input pointer");
    const char *clo, *chi, *lo, *hi;
    extent(p.c, p.batch, p.m, p.n, clo, chi);
    extent(p.a, p.batch, p.m, p.k, lo, hi);
    check(hi <= clo || chi <= lo, "gemm: output overlaps input a");
    extent(p.b, p.batch, p.k, p.n, lo, hi);
    check(hi <= clo || chi <= lo, "gemm: output overlaps input b");
}

}  // namespace

void gemm(const GemmProblem<float>& p) {
    validate(p);
    variant().f32(p);
}

void gemm(const GemmProblem<double>& p) {
    validate(p);
    variant().f64(p);
}

}  // namespace pyneural::cpu
