// Normalisation kernels: layer_norm (rows of a matrix) and batch_norm (channels of an (N, C, L) array).
// Every array is C-contiguous; the entry points validate their arguments, then run the active CPU variant.
#pragma once
#include "pyneural/common.h"

namespace pyneural::cpu {

// out[r, :] = (x[r, :] - mean[r]) * rstd[r] * weight + bias for r < rows; x and out are (rows, dim);
// weight and bias (dim,) may be null (1 and 0). mean and rstd (rows,) receive the statistics for backward.
template <class T>
void layer_norm_forward(const T* x, index_t rows, index_t dim, const T* weight, const T* bias, double eps, T* out,
                        T* mean, T* rstd);

// Gradients of layer_norm_forward for the output gradient g (rows, dim); gx (rows, dim), gweight and
// gbias (dim,) may each be null (not wanted). mean and rstd are those of the forward.
template <class T>
void layer_norm_backward(const T* g, const T* x, index_t rows, index_t dim, const T* weight, const T* mean,
                         const T* rstd, T* gx, T* gweight, T* gbias);

// Per-channel mean and biased variance of x (n, c, l) over its n and l axes, in one pass over x.
template <class T>
void batch_norm_stats(const T* x, index_t n, index_t c, index_t l, T* mean, T* var);

// out = (x - mean[ch]) / sqrt(var[ch] + eps) * weight[ch] + bias[ch] for x and out (n, c, l);
// weight and bias may be null. Training and eval modes differ only in which statistics are passed.
template <class T>
void batch_norm_apply(const T* x, index_t n, index_t c, index_t l, const T* mean, const T* var, const T* weight,
                      const T* bias, double eps, T* out);

// Gradients of batch_norm_apply. training: mean/var are the batch's own statistics, so they depend on x
// (the standard two-reduction form); otherwise they are constants (running statistics).
// gx (n, c, l), gweight and gbias (c,) may each be null.
template <class T>
void batch_norm_backward(const T* g, const T* x, index_t n, index_t c, index_t l, const T* mean, const T* var,
                         const T* weight, double eps, bool training, T* gx, T* gweight, T* gbias);

}  // namespace pyneural::cpu
