// Embedding gather and scatter-add, compiled once per ISA (PN_ISA = ref | avx2 | avx512).
// The backward gives each thread a block of rows of grad_weight: it walks all the indices but adds only
// the rows it owns, so repeated indices add up without atomics and in a fixed order, and the threads
// share out the random row accesses (split by columns instead, each thread made every access: two
// threads slower than one).
#include <immintrin.h>  // isa.h's masked loads and stores
#include <stdlib.h>
#include <string.h>

#include "embedding_variants.h"
#include "pyneural/parallel.h"

namespace pyneural::cpu::PN_ISA {
namespace {

#include "pyneural/isa.h"

template <class T>
void embedding_forward(const T* weight, index_t rows, index_t dim, const std::int64_t* indices, index_t count,
                       T* out) {
    (void)rows;
    const int t = threads_for(double(count) * double(dim));
    parallel_for(t, count,
                 [&](index_t i) { memcpy(out + i * dim, weight + indices[i] * dim, size_t(dim) * sizeof(T)); });
}

// dst[j] += src[j] for j < n.
template <class T>
void add_row(T* dst, const T* src, index_t n) {
    constexpr int VL = kVL<T>;
    index_t j = 0;
    for (; j + VL <= n; j += VL) {
        Vec<T> a, b;
        memcpy(&a, dst + j, sizeof a);
        memcpy(&b, src + j, sizeof b);
        a += b;
        memcpy(dst + j, &a, sizeof a);
    }
    for (; j < n; ++j) dst[j] += src[j];
}

template <class T>
void embedding_backward(const T* grad, const std::int64_t* indices, index_t count, index_t dim, index_t padding_idx,
                        T* grad_weight, index_t rows) {
    const int t = threads_for(double(count) * double(dim) + double(rows) * double(dim));
    const index_t block = (rows + t - 1) / t;
    parallel_for(t, t, [&](index_t b) {
        const index_t r0 = min_i(rows, b * block), r1 = min_i(rows, r0 + block);
        memset(grad_weight + r0 * dim, 0, size_t((r1 - r0) * dim) * sizeof(T));
        for (index_t i = 0; i < count; ++i) {
            const std::int64_t r = indices[i];
            if (r < r0 || r >= r1 || r == padding_idx) continue;
            add_row(grad_weight + r * dim, grad + i * dim, dim);
        }
    });
}

template <class T>
EmbeddingKernels<T> kernels() {
    return {&embedding_forward<T>, &embedding_backward<T>};
}

}  // namespace

EmbeddingVariant embedding_variant() { return {kernels<float>(), kernels<double>()}; }

}  // namespace pyneural::cpu::PN_ISA
