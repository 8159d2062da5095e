// 2-D pooling on contiguous (planes, h, w) arrays, planes = n * c of an NCHW tensor, PyTorch's semantics.
#pragma once
#include "pyneural/common.h"

namespace pyneural::cpu {

// Window (oy, ox) covers input rows oy * sh - ph + i * dh, i < kh (likewise columns); taps outside the
// input are skipped (max) or count as zeros (average, with count_include_pad).
struct PoolShape {
    index_t planes, h, w;     // input
    index_t oh, ow;           // output (checked against pool_output_size, ceil_mode included)
    index_t kh, kw;           // window
    index_t sh, sw;           // stride
    index_t ph, pw;           // padding on each side
    index_t dh, dw;           // dilation (max pooling; 1 for average pooling)
    bool ceil_mode;
};

// PyTorch's pooling output length along one axis (below 1 when the window does not fit).
index_t pool_output_size(index_t size, index_t kernel, index_t stride, index_t padding, index_t dilation,
                         bool ceil_mode);

// y = window maxima; indices = flat h * w + w position of each maximum in its plane (NaN wins, as in PyTorch;
// -1 for a window that dilation leaves without any input pixel, whose maximum is -inf).
void max_pool2d_forward(const PoolShape& s, const float* x, float* y, index_t* indices);
void max_pool2d_forward(const PoolShape& s, const double* x, double* y, index_t* indices);
// dx (overwritten) = dy scattered to the recorded maxima.
void max_pool2d_backward(const PoolShape& s, const float* dy, const index_t* indices, float* dx);
void max_pool2d_backward(const PoolShape& s, const double* dy, const index_t* indices, double* dx);

// Window means; the divisor counts padding taps when count_include_pad (PyTorch's default), never the
// part of a ceil_mode window past the padding.
void avg_pool2d_forward(const PoolShape& s, bool count_include_pad, const float* x, float* y);
void avg_pool2d_forward(const PoolShape& s, bool count_include_pad, const double* x, double* y);
void avg_pool2d_backward(const PoolShape& s, bool count_include_pad, const float* dy, float* dx);
void avg_pool2d_backward(const PoolShape& s, bool count_include_pad, const double* dy, double* dx);

// Adaptive average pooling to (oh, ow): output row oy averages input rows [floor(oy h / oh), ceil((oy + 1) h / oh)).
// Only planes, h, w, oh and ow of the shape are used.
void adaptive_avg_pool2d_forward(const PoolShape& s, const float* x, float* y);
void adaptive_avg_pool2d_forward(const PoolShape& s, const double* x, double* y);
void adaptive_avg_pool2d_backward(const PoolShape& s, const float* dy, float* dx);
void adaptive_avg_pool2d_backward(const PoolShape& s, const double* dy, double* dx);

}  // namespace pyneural::cpu
