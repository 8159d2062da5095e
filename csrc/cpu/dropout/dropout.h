// Inverted dropout with a counter-based random mask: element i is kept when a hash of (seed, i) says so, so
// the mask depends on nothing but the seed and the index (same for any thread count and in the Numba twin).
#pragma once
#include <cstdint>

#include "pyneural/common.h"

namespace pyneural::cpu {

// The hash: the i-th output of SplitMix64 started at `seed` (Steele, Lea & Flood, "Fast splittable
// pseudorandom number generators", OOPSLA 2014), used as a counter-based generator in the manner of
// Salmon et al., "Parallel random numbers: as easy as 1, 2, 3" (SC 2011). Element i is kept when its top 53
// bits, as an integer u in [0, 2^53), satisfy u >= ceil(p 2^53), i.e. u / 2^53 >= p: probability 1 - p.
//
// mask[i] = kept (1 or 0); out[i] = x[i] * (kept ? 1 / (1 - p) : 0) (so NaN * 0 stays NaN, as PyTorch);
// 0 <= p < 1. out may be x.
void dropout_forward(const float* x, float* out, std::uint8_t* mask, index_t n, double p, std::uint64_t seed);
void dropout_forward(const double* x, double* out, std::uint8_t* mask, index_t n, double p, std::uint64_t seed);

// grad_x[i] = grad[i] * (mask[i] ? 1 / (1 - p) : 0). grad_x may be grad.
void dropout_backward(const float* grad, const std::uint8_t* mask, float* grad_x, index_t n, double p);
void dropout_backward(const double* grad, const std::uint8_t* mask, double* grad_x, index_t n, double p);

}  // namespace pyneural::cpu
