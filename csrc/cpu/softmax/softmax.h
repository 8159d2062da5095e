// Softmax, log-softmax and the fused softmax cross-entropy over the rows of a contiguous (rows, cols) array.
#pragma once
#include "pyneural/common.h"

namespace pyneural::cpu {

// Softmax (or log_softmax when `log`) along the middle axis of a contiguous (outer, dim, inner) array:
// rows of a matrix when inner == 1, any other axis of an N-d array otherwise. y may be x itself.
void softmax_forward(const float* x, float* y, index_t outer, index_t dim, index_t inner, bool log);
void softmax_forward(const double* x, double* y, index_t outer, index_t dim, index_t inner, bool log);

// gx from the upstream gradient g and the forward's output y, same layout:
// softmax: gx = y * (g - sum(g * y)); log_softmax: gx = g - exp(y) * sum(g). gx may be g itself.
void softmax_backward(const float* g, const float* y, float* gx, index_t outer, index_t dim, index_t inner, bool log);
void softmax_backward(const double* g, const double* y, double* gx, index_t outer, index_t dim, index_t inner,
                      bool log);

// Cross-entropy of each row of logits (rows, classes) against target class indices (int64), with optional
// per-class weights w (classes,) (null: all 1), as PyTorch:
// loss[r] = (1 - smoothing) w[t] (lse - x[t]) + smoothing / classes * sum_c w[c] (lse - x[c]),
// lse[r] = logsumexp(row) (kept for the backward). Rows whose target is ignore_index get loss 0. A target
// outside [0, classes) that is not ignore_index throws pyneural::Error.
void cross_entropy_forward(const float* logits, const index_t* target, float* loss, float* lse, index_t rows,
                           index_t classes, double smoothing, index_t ignore_index, const float* weight = nullptr);
void cross_entropy_forward(const double* logits, const index_t* target, double* loss, double* lse, index_t rows,
                           index_t classes, double smoothing, index_t ignore_index, const double* weight = nullptr);

// grad[r, c] = grad_loss[r] * (a exp(x[r, c] - lse[r]) - (1 - smoothing) w[t] [c == t] - smoothing / classes w[c]),
// a = (1 - smoothing) w[t] + smoothing / classes * sum(w) (w null: all 1, a = 1); rows with target ignore_index
// get zeros.
void cross_entropy_backward(const float* logits, const index_t* target, const float* lse, const float* grad_loss,
                            float* grad, index_t rows, index_t classes, double smoothing, index_t ignore_index,
                            const float* weight = nullptr);
void cross_entropy_backward(const double* logits, const index_t* target, const double* lse,
                            const double* grad_loss, double* grad, index_t rows, index_t classes, double smoothing,
                            index_t ignore_index, const double* weight = nullptr);

}  // namespace pyneural::cpu
