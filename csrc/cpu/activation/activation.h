// Element-wise activations, forward and backward, on contiguous arrays.
#pragma once
#include "pyneural/common.h"

namespace pyneural::cpu {

enum class ActKind : int { relu = 0, leaky_relu = 1, elu = 2, gelu = 3, silu = 4, sigmoid = 5, tanh = 6 };

// y[i] = f(x[i]) for i < n. `alpha`: negative_slope of leaky_relu, alpha of elu (ignored otherwise).
// y may be x itself (in place); any other overlap is rejected.
void activation_forward(ActKind kind, const float* x, float* y, index_t n, double alpha);
void activation_forward(ActKind kind, const double* x, double* y, index_t n, double alpha);

// grad_in[i] = grad_out[i] * f'(.) where `saved` is what PyTorch saves: the forward's OUTPUT for
// sigmoid and tanh, its INPUT for the others. grad_in may be grad_out or saved itself.
void activation_backward(ActKind kind, const float* grad_out, const float* saved, float* grad_in, index_t n,
                         double alpha);
void activation_backward(ActKind kind, const double* grad_out, const double* saved, double* grad_in, index_t n,
                         double alpha);

// Name of an activation ("relu", ...), for messages.
const char* activation_name(ActKind kind);

}  // namespace pyneural::cpu
