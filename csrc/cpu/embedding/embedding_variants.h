// The per-ISA embedding kernels (embedding_kernels.cpp compiled once per ISA, each in its namespace).
#pragma once
#include "embedding.h"

namespace pyneural::cpu {

// Arguments as in embedding.h, already validated.
template <class T>
struct EmbeddingKernels {
    void (*forward)(const T*, index_t, index_t, const std::int64_t*, index_t, T*);
    void (*backward)(const T*, const std::int64_t*, index_t, index_t, index_t, T*, index_t);
};

struct EmbeddingVariant {
    EmbeddingKernels<float> f32;
    EmbeddingKernels<double> f64;
};

namespace ref { EmbeddingVariant embedding_variant(); }
namespace avx2 { EmbeddingVariant embedding_variant(); }
namespace avx512 { EmbeddingVariant embedding_variant(); }

}  // namespace pyneural::cpu
