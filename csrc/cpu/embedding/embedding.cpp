#include "embedding.h"

#include "embedding_variants.h"
#include "pyneural/checks.h"
#include "pyneural/error.h"

namespace pyneural::cpu {
namespace {

EmbeddingVariant variant() { return PN_ACTIVE_VARIANT(embedding_variant); }

void check_indices(const char* op, const std::int64_t* indices, index_t count, index_t rows, index_t dim) {
    PN_CHECK(count >= 0 && rows >= 0 && dim >= 0, op, ": negative size (count=", count, ", rows=", rows, ", dim=",
             dim, ")");
    PN_CHECK(indices || count == 0, op, ": null indices pointer");
    for (index_t i = 0; i < count; ++i)
        PN_CHECK(indices[i] >= 0 && indices[i] < rows, op, ": index ", indices[i], " (at position ", i,
                 ") is out of range for a weight of shape (", rows, ", ", dim, ")");
}

}  // namespace

template <class T>
void embedding_forward(const T* weight, index_t rows, index_t dim, const std::int64_t* indices, index_t count,
                       T* out) {
    check_indices("embedding", indices, count, rows, dim);
    if (count == 0 || dim == 0) return;
    PN_CHECK(weight && out, "embedding: null array pointer");
    PN_CHECK(!overlaps(out, count * dim, weight, rows * dim) && !overlaps(out, count * dim, indices, count),
             "embedding: the output overlaps an input");
    variant().of<T>().forward(weight, rows, dim, indices, count, out);
}

template <class T>
void embedding_backward(const T* grad, const std::int64_t* indices, index_t count, index_t dim, index_t padding_idx,
                        T* grad_weight, index_t rows) {
    check_indices("embedding_backward", indices, count, rows, dim);
    PN_CHECK(padding_idx >= -1 && padding_idx < rows, "embedding_backward: padding_idx ", padding_idx,
             " is out of range for ", rows, " rows (-1 for none)");
    if (rows == 0 || dim == 0) return;
    PN_CHECK(grad_weight && (grad || count == 0), "embedding_backward: null array pointer");
    PN_CHECK(!overlaps(grad_weight, rows * dim, grad, count * dim) && !overlaps(grad_weight, rows * dim, indices, count),
             "embedding_backward: grad_weight overlaps an input");
    variant().of<T>().backward(grad, indices, count, dim, padding_idx, grad_weight, rows);
}

template void embedding_forward<float>(const float*, index_t, index_t, const std::int64_t*, index_t, float*);
template void embedding_forward<double>(const double*, index_t, index_t, const std::int64_t*, index_t, double*);
template void embedding_backward<float>(const float*, const std::int64_t*, index_t, index_t, index_t, float*, index_t);
template void embedding_backward<double>(const double*, const std::int64_t*, index_t, index_t, index_t, double*,
                                         index_t);

}  // namespace pyneural::cpu
