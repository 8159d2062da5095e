// Embedding gather and scatter-add, compiled once per ISA (PN_ISA = ref | avx2 | avx512).
// The backward splits the columns between threads: every thread walks all the indices but owns its
// columns of grad_weight, so repeated indices add up without atomics and in a fixed order.
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
    // Column slices of whole vectors (at least 64 columns each) so threads never share a cache line much.
    const index_t slice = round_up(max_i(64, (dim + t - 1) / t), kVL<T>);
    const index_t slices = (dim + slice - 1) / slice;
    const int ts = int(min_i(t, slices));
    parallel_for(ts, slices, [&](index_t s) {
        const index_t j0 = s * slice, width = min_i(slice, dim - j0);
        for (index_t r = 0; r < rows; ++r) memset(grad_weight + r * dim + j0, 0, size_t(width) * sizeof(T));
        for (index_t i = 0; i < count; ++i) {
            if (indices[i] == padding_idx) continue;
            add_row(grad_weight + indices[i] * dim + j0, grad + i * dim + j0, width);
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
