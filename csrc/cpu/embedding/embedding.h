// Embedding kernels: a row gather from a weight matrix and its scatter-add backward.
// Arrays are C-contiguous; indices are int64. The entry points validate every index.
#pragma once
#include "pyneural/common.h"

namespace pyneural::cpu {

// out[i, :] = weight[indices[i], :] for i < count; weight (rows, dim), out (count, dim).
template <class T>
void embedding_forward(const T* weight, index_t rows, index_t dim, const std::int64_t* indices, index_t count, T* out);

// grad_weight = 0, then grad_weight[indices[i], :] += grad[i, :] for i < count (repeated indices add up),
// and the padding_idx row (if 0 <= padding_idx < rows; -1 for none) stays zero.
template <class T>
void embedding_backward(const T* grad, const std::int64_t* indices, index_t count, index_t dim, index_t padding_idx,
                        T* grad_weight, index_t rows);

}  // namespace pyneural::cpu
