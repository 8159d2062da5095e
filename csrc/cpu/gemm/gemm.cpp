#include "gemm.h"

#include "gemm_variants.h"
#include <algorithm>
#include <array>
#include <new>
#include <utility>

#include "pyneural/checks.h"
#include "pyneural/error.h"

namespace pyneural::cpu {
namespace {

GemmVariant variant() { return PN_ACTIVE_VARIANT(gemm_variant); }

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

// Whether distinct indices may share an address: with dimensions sorted by |stride|, each stride must
// step past everything the smaller ones span (sufficient, and exact for the layouts NumPy produces).
bool self_overlapping(std::array<std::pair<index_t, index_t>, 3> dims) {
    for (auto& [size, stride] : dims) stride = stride < 0 ? -stride : stride;
    std::sort(dims.begin(), dims.end(), [](auto x, auto y) { return x.second < y.second; });
    index_t span = 1;
    for (auto [size, stride] : dims) {
        if (size <= 1) continue;
        if (stride < span) return true;
        span += (size - 1) * stride;
    }
    return false;
}

template <class T>
void validate(const GemmProblem<T>& p) {
    PN_CHECK(p.batch >= 0 && p.m >= 0 && p.n >= 0 && p.k >= 0, "gemm: negative size (batch=", p.batch, ", m=", p.m,
          ", n=", p.n, ", k=", p.k, ")");
    if (p.batch == 0 || p.m == 0 || p.n == 0) return;
    PN_CHECK(p.c.data != nullptr, "gemm: null output pointer");
    PN_CHECK(!self_overlapping({{{p.batch, p.c.bs}, {p.m, p.c.rs}, {p.n, p.c.cs}}}), "gemm: output strides (", p.c.bs,
          ", ", p.c.rs, ", ", p.c.cs, ") make elements alias each other");
    const char *clo, *chi, *lo, *hi;
    extent(p.c, p.batch, p.m, p.n, clo, chi);
    const Span c{clo, chi - clo};
    if (p.bias) {
        extent(StridedBatch<const T>{p.bias, 0, 0, p.bias_stride}, 1, 1, p.bias_on_rows ? p.m : p.n, lo, hi);
        PN_CHECK(!overlap(c, {lo, hi - lo}), "gemm: output overlaps the bias");
    }
    if (p.k == 0) return;
    PN_CHECK(p.a.data != nullptr && p.b.data != nullptr, "gemm: null input pointer");
    extent(p.a, p.batch, p.m, p.k, lo, hi);
    PN_CHECK(!overlap(c, {lo, hi - lo}), "gemm: output overlaps input a");
    extent(p.b, p.batch, p.k, p.n, lo, hi);
    PN_CHECK(!overlap(c, {lo, hi - lo}), "gemm: output overlaps input b");
}

}  // namespace

void gemm(const GemmProblem<float>& p) {
    validate(p);
    if (!variant().f32(p)) throw std::bad_alloc();
}

void gemm(const GemmProblem<double>& p) {
    validate(p);
    if (!variant().f64(p)) throw std::bad_alloc();
}

}  // namespace pyneural::cpu
