#include "conv.h"

#include <new>

#include "conv_variants.h"
#include "pyneural/error.h"

namespace pyneural::cpu {
namespace {

ConvVariant variant() { return PN_ACTIVE_VARIANT(conv_variant); }

void validate(const ConvShape& s, const char* op) {
    PN_CHECK(s.n >= 0 && s.c >= 0 && s.h >= 0 && s.w >= 0 && s.k >= 0, op, ": negative size in input (", s.n, ", ",
             s.c, ", ", s.h, ", ", s.w, ") or ", s.k, " output channels");
    PN_CHECK(s.kh >= 1 && s.kw >= 1, op, ": kernel size (", s.kh, ", ", s.kw, ") must be positive");
    PN_CHECK(s.sh >= 1 && s.sw >= 1, op, ": stride (", s.sh, ", ", s.sw, ") must be positive");
    PN_CHECK(s.ph >= 0 && s.pw >= 0, op, ": padding (", s.ph, ", ", s.pw, ") must be non-negative");
    PN_CHECK(s.dh >= 1 && s.dw >= 1, op, ": dilation (", s.dh, ", ", s.dw, ") must be positive");
    PN_CHECK(s.groups >= 1 && s.c % s.groups == 0 && s.k % s.groups == 0, op, ": groups=", s.groups,
             " must divide both the input channels (", s.c, ") and the output channels (", s.k, ")");
    const index_t oh = conv_output_size(s.h, s.kh, s.sh, s.ph, s.dh);
    const index_t ow = conv_output_size(s.w, s.kw, s.sw, s.pw, s.dw);
    PN_CHECK(oh >= 1 && ow >= 1, op, ": kernel (", s.kh, ", ", s.kw, ") with dilation (", s.dh, ", ", s.dw,
             ") is larger than the padded input (", s.h + 2 * s.ph, ", ", s.w + 2 * s.pw, ")");
    PN_CHECK(s.oh == oh && s.ow == ow, op, ": output size (", s.oh, ", ", s.ow, ") should be (", oh, ", ", ow, ")");
}

void check_pointers(bool ok, const char* op) { PN_CHECK(ok, op, ": null data pointer"); }

template <class T>
void forward(const ConvShape& s, const T* x, const T* weight, const T* bias, T* y, Activation act,
             const ConvFunctions<T>& f) {
    validate(s, "conv2d");
    if (s.n > 0 && s.k > 0) check_pointers(x && weight && y, "conv2d");
    if (!f.forward(s, x, weight, bias, y, act)) throw std::bad_alloc();
}

template <class T>
void backward_data(const ConvShape& s, const T* dy, const T* weight, T* dx, const ConvFunctions<T>& f) {
    validate(s, "conv2d_backward");
    if (s.n > 0 && s.c > 0) check_pointers(dx && (s.k == 0 || (dy && weight)), "conv2d_backward");
    if (!f.backward_data(s, dy, weight, dx)) throw std::bad_alloc();
}

template <class T>
void backward_weight(const ConvShape& s, const T* x, const T* dy, T* dweight, T* dbias, const ConvFunctions<T>& f) {
    validate(s, "conv2d_backward");
    if (s.k > 0) check_pointers(dweight && (s.n == 0 || (x && dy)), "conv2d_backward");
    if (!f.backward_weight(s, x, dy, dweight, dbias)) throw std::bad_alloc();
}

}  // namespace

index_t conv_output_size(index_t size, index_t kernel, index_t stride, index_t padding, index_t dilation) {
    const index_t span = dilation * (kernel - 1) + 1;
    const index_t room = size + 2 * padding - span;
    return room < 0 ? -1 : room / stride + 1;
}

void conv2d_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y, Activation act) {
    forward(s, x, w, b, y, act, variant().f32);
}
void conv2d_forward(const ConvShape& s, const double* x, const double* w, const double* b, double* y,
                    Activation act) {
    forward(s, x, w, b, y, act, variant().f64);
}
void conv2d_backward_data(const ConvShape& s, const float* dy, const float* w, float* dx) {
    backward_data(s, dy, w, dx, variant().f32);
}
void conv2d_backward_data(const ConvShape& s, const double* dy, const double* w, double* dx) {
    backward_data(s, dy, w, dx, variant().f64);
}
void conv2d_backward_weight(const ConvShape& s, const float* x, const float* dy, float* dw, float* db) {
    backward_weight(s, x, dy, dw, db, variant().f32);
}
void conv2d_backward_weight(const ConvShape& s, const double* x, const double* dy, double* dw, double* db) {
    backward_weight(s, x, dy, dw, db, variant().f64);
}

}  // namespace pyneural::cpu
