// Element-wise losses (mse, l1, smooth_l1, binary cross-entropy with and without logits) and the
// negative log-likelihood gather, forward and backward, on contiguous arrays.
#pragma once
#include "pyneural/common.h"

namespace pyneural::cpu {

enum class LossKind : int { mse = 0, l1 = 1, smooth_l1 = 2, bce = 3, bce_logits = 4 };

// loss[i] = weight[i] * l(x[i], y[i]) for i < n (weight null: 1), with PyTorch's l:
//   mse (x-y)^2; l1 |x-y|; smooth_l1 0.5 d^2/beta if |d| < beta else |d| - beta/2 (beta 0: l1);
//   bce -(y max(log x, -100) + (1-y) max(log(1-x), -100));
//   bce_logits (1-y) x + (1 + (pos_weight-1) y) log(1 + exp(-x)) (pos_weight null: 1), computed stably.
// `loss` may be null (only the sum is wanted). Returns the sum of the n losses, accumulated in double over
// fixed blocks in a fixed order, so the result does not depend on the thread count.
double loss_forward(LossKind kind, const float* x, const float* y, const float* weight, const float* pos_weight,
                    float* loss, index_t n, double beta);
double loss_forward(LossKind kind, const double* x, const double* y, const double* weight,
                    const double* pos_weight, double* loss, index_t n, double beta);

// grad_x[i] = d loss[i] / d x[i] * (grad ? grad[i] : scale): `scale` is the upstream gradient of a sum (or
// of a mean, divided by n), `grad` that of reduction 'none'. grad_x may be grad itself.
void loss_backward(LossKind kind, const float* x, const float* y, const float* weight, const float* pos_weight,
                   const float* grad, double scale, float* grad_x, index_t n, double beta);
void loss_backward(LossKind kind, const double* x, const double* y, const double* weight,
                   const double* pos_weight, const double* grad, double scale, double* grad_x, index_t n,
                   double beta);

// Negative log-likelihood of x (outer, classes, inner) at int64 targets (outer, inner): for each position
// r = (o, i) with target t != ignore_index, loss[r] = -weight[t] x[o, t, i] (weight null: 1); ignored
// positions get 0. `loss` may be null. sums[0] = sum of the losses, sums[1] = sum of weight[t] over the
// non-ignored positions (the divisor of 'mean'). A target outside [0, classes) throws pyneural::Error.
void nll_forward(const float* x, const index_t* target, const float* weight, float* loss, index_t outer,
                 index_t classes, index_t inner, index_t ignore_index, double* sums);
void nll_forward(const double* x, const index_t* target, const double* weight, double* loss, index_t outer,
                 index_t classes, index_t inner, index_t ignore_index, double* sums);

// grad_x (outer, classes, inner) = 0, then grad_x[o, t, i] = -weight[t] * (grad ? grad[r] : scale).
void nll_backward(const index_t* target, const float* weight, const float* grad, double scale, float* grad_x,
                  index_t outer, index_t classes, index_t inner, index_t ignore_index);
void nll_backward(const index_t* target, const double* weight, const double* grad, double scale, double* grad_x,
                  index_t outer, index_t classes, index_t inner, index_t ignore_index);

}  // namespace pyneural::cpu
