// 2-D convolution (cross-correlation, as PyTorch's conv2d) on contiguous NCHW arrays.
// x (n, c, h, w), weight (k, c / groups, kh, kw), bias (k) or null, y (n, k, oh, ow);
// oh = (h + 2 ph - dh (kh - 1) - 1) / sh + 1, likewise ow. conv1d is the case h = kh = 1.
#pragma once
#include "pyneural/common.h"

namespace pyneural::cpu {

struct ConvShape {
    index_t n, c, h, w;       // input
    index_t k, kh, kw;        // output channels, kernel height and width
    index_t sh, sw;           // stride
    index_t ph, pw;           // zero padding on each side
    index_t dh, dw;           // dilation
    index_t groups;
    index_t oh, ow;           // output size (checked against the formula above)
};

// Output height or width for one axis; negative when the kernel does not fit the padded input.
index_t conv_output_size(index_t size, index_t kernel, index_t stride, index_t padding, index_t dilation);

// y = act(conv(x, weight) + bias)
void conv2d_forward(const ConvShape& s, const float* x, const float* weight, const float* bias, float* y,
                    Activation act);
void conv2d_forward(const ConvShape& s, const double* x, const double* weight, const double* bias, double* y,
                    Activation act);

// dx = gradient of the loss with respect to x, given dy (n, k, oh, ow); dx is overwritten.
void conv2d_backward_data(const ConvShape& s, const float* dy, const float* weight, float* dx);
void conv2d_backward_data(const ConvShape& s, const double* dy, const double* weight, double* dx);

// dweight (k, c / groups, kh, kw) and dbias (k, or null) from x and dy; both are overwritten.
void conv2d_backward_weight(const ConvShape& s, const float* x, const float* dy, float* dweight, float* dbias);
void conv2d_backward_weight(const ConvShape& s, const double* x, const double* dy, double* dweight, double* dbias);

}  // namespace pyneural::cpu
