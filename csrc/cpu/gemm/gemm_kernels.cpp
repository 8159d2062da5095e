// GEMM compute, compiled once per ISA (PN_ISA = ref | avx2 | avx512) with that ISA's flags.
// Everything here lives in namespace pyneural::cpu::PN_ISA so no symbol is shared between variants.
// Correct for any strides; speed comes with the BLIS-structured kernel (packing + micro-kernels).
#include "gemm_variants.h"
#include "pyneural/parallel.h"

namespace pyneural::cpu::PN_ISA {
namespace {

constexpr index_t kTile = 256;  // columns of c accumulated in a stack buffer per row

template <class T>
void gemm_impl(const GemmProblem<T>& p) {
    const index_t batch = p.batch, m = p.m, n = p.n, k = p.k;
    if (batch == 0 || m == 0 || n == 0) return;
    const auto a = p.a, b = p.b;
    const auto c = p.c;
    const int threads = threads_for(2.0 * double(batch) * double(m) * double(n) * double(k));
#pragma omp parallel for collapse(2) schedule(static) num_threads(threads) if (threads > 1)
    for (index_t bi = 0; bi < batch; ++bi) {
        for (index_t i = 0; i < m; ++i) {
            const T* a_row = a.data + bi * a.bs + i * a.rs;
            T* c_row = c.data + bi * c.bs + i * c.rs;
            for (index_t j0 = 0; j0 < n; j0 += kTile) {
                const index_t nj = (n - j0) < kTile ? (n - j0) : kTile;
                T acc[kTile] = {};
                for (index_t q = 0; q < k; ++q) {
                    const T aiq = a_row[q * a.cs];
                    const T* b_row = b.data + bi * b.bs + q * b.rs + j0 * b.cs;
                    if (b.cs == 1) {
                        for (index_t j = 0; j < nj; ++j) acc[j] += aiq * b_row[j];
                    } else {
                        for (index_t j = 0; j < nj; ++j) acc[j] += aiq * b_row[j * b.cs];
                    }
                }
                for (index_t j = 0; j < nj; ++j) c_row[(j0 + j) * c.cs] = acc[j];
            }
        }
    }
}

}  // namespace

GemmVariant gemm_variant() { return {&gemm_impl<float>, &gemm_impl<double>}; }

}  // namespace pyneural::cpu::PN_ISA
