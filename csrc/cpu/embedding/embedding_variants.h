// The per-ISA embedding kernels (embedding_kernels.cpp compiled once per ISA, each in its namespace).
#pragma once
#include "pyneural/variant.h"
#include "embedding.h"

namespace pyneural::cpu {

// Arguments as in embedding.h, already validated.
template <class T>
struct EmbeddingKernels {
    void (*forward)(const T*, index_t, index_t, const std::int64_t*, index_t, T*);
    void (*backward)(const T*, const std::int64_t*, index_t, index_t, index_t, T*, index_t);
};

using EmbeddingVariant = ByDtype<EmbeddingKernels>;

PN_DECLARE_VARIANTS(EmbeddingVariant, embedding_variant)

}  // namespace pyneural::cpu
