#include "pool.h"

#include "pool_variants.h"
#include "pyneural/error.h"

namespace pyneural::cpu {
namespace {

PoolVariant variant() { return PN_ACTIVE_VARIANT(pool_variant); }

// Window pooling (max or average): PyTorch's rules for sizes, stride, padding and dilation.
void validate_window(const PoolShape& s, const char* op) {
    PN_CHECK(s.planes >= 0 && s.h >= 0 && s.w >= 0, op, ": negative input size (", s.planes, ", ", s.h, ", ", s.w,
             ")");
    PN_CHECK(s.kh >= 1 && s.kw >= 1, op, ": kernel_size (", s.kh, ", ", s.kw, ") must be positive");
    PN_CHECK(s.sh >= 1 && s.sw >= 1, op, ": stride (", s.sh, ", ", s.sw, ") must be positive");
    PN_CHECK(s.dh >= 1 && s.dw >= 1, op, ": dilation (", s.dh, ", ", s.dw, ") must be positive");
    PN_CHECK(s.ph >= 0 && s.pw >= 0 && 2 * s.ph <= s.kh && 2 * s.pw <= s.kw, op, ": padding (", s.ph, ", ", s.pw,
             ") must be non-negative and at most half of kernel_size (", s.kh, ", ", s.kw, ")");
    const index_t oh = pool_output_size(s.h, s.kh, s.sh, s.ph, s.dh, s.ceil_mode);
    const index_t ow = pool_output_size(s.w, s.kw, s.sw, s.pw, s.dw, s.ceil_mode);
    PN_CHECK(oh >= 1 && ow >= 1, op, ": window (", s.kh, ", ", s.kw, ") with dilation (", s.dh, ", ", s.dw,
             ") is larger than the padded input (", s.h + 2 * s.ph, ", ", s.w + 2 * s.pw, ")");
    PN_CHECK(s.oh == oh && s.ow == ow, op, ": output size (", s.oh, ", ", s.ow, ") should be (", oh, ", ", ow, ")");
}

void validate_adaptive(const PoolShape& s, const char* op) {
    PN_CHECK(s.planes >= 0 && s.h >= 1 && s.w >= 1, op, ": input planes must be non-empty, got (", s.planes, ", ",
             s.h, ", ", s.w, ")");
    PN_CHECK(s.oh >= 1 && s.ow >= 1, op, ": output size (", s.oh, ", ", s.ow, ") must be positive");
}

void check_pointers(const PoolShape& s, bool ok, const char* op) {
    PN_CHECK(s.planes == 0 || ok, op, ": null data pointer");
}

template <class T>
void max_forward(const PoolShape& s, const T* x, T* y, index_t* indices) {
    validate_window(s, "max_pool2d");
    check_pointers(s, x && y && indices, "max_pool2d");
    const PoolVariant v = variant();
    v.of<T>().max_forward(s, x, y, indices);
}

template <class T>
void max_backward(const PoolShape& s, const T* dy, const index_t* indices, T* dx) {
    validate_window(s, "max_pool2d_backward");
    check_pointers(s, dy && indices && dx, "max_pool2d_backward");
    // indices come from the caller: an out-of-plane one would write out of bounds
    const index_t count = s.planes * s.oh * s.ow, plane = s.h * s.w;
    for (index_t p = 0; p < count; ++p)
        PN_CHECK(indices[p] >= -1 && indices[p] < plane, "max_pool2d_backward: index ", indices[p], " at position ", p,
                 " is outside the ", s.h, " x ", s.w, " input plane");
    const PoolVariant v = variant();
    v.of<T>().max_backward(s, dy, indices, dx);
}

template <class T>
void avg_forward(const PoolShape& s, bool include_pad, const T* x, T* y) {
    validate_window(s, "avg_pool2d");
    PN_CHECK(s.dh == 1 && s.dw == 1, "avg_pool2d: dilation is not supported");
    check_pointers(s, x && y, "avg_pool2d");
    const PoolVariant v = variant();
    v.of<T>().avg_forward(s, include_pad, x, y);
}

template <class T>
void avg_backward(const PoolShape& s, bool include_pad, const T* dy, T* dx) {
    validate_window(s, "avg_pool2d_backward");
    PN_CHECK(s.dh == 1 && s.dw == 1, "avg_pool2d_backward: dilation is not supported");
    check_pointers(s, dy && dx, "avg_pool2d_backward");
    const PoolVariant v = variant();
    v.of<T>().avg_backward(s, include_pad, dy, dx);
}

template <class T>
void adaptive_forward(const PoolShape& s, const T* x, T* y) {
    validate_adaptive(s, "adaptive_avg_pool2d");
    check_pointers(s, x && y, "adaptive_avg_pool2d");
    const PoolVariant v = variant();
    v.of<T>().adaptive_forward(s, x, y);
}

template <class T>
void adaptive_backward(const PoolShape& s, const T* dy, T* dx) {
    validate_adaptive(s, "adaptive_avg_pool2d_backward");
    check_pointers(s, dy && dx, "adaptive_avg_pool2d_backward");
    const PoolVariant v = variant();
    v.of<T>().adaptive_backward(s, dy, dx);
}

}  // namespace

index_t pool_output_size(index_t size, index_t kernel, index_t stride, index_t padding, index_t dilation,
                         bool ceil_mode) {
    const index_t room = size + 2 * padding - dilation * (kernel - 1) - 1;
    if (room < 0) return -1;
    index_t out = (room + (ceil_mode ? stride - 1 : 0)) / stride + 1;
    if (ceil_mode && (out - 1) * stride >= size + padding) --out;  // the last window must start inside
    return out;
}

void max_pool2d_forward(const PoolShape& s, const float* x, float* y, index_t* i) { max_forward(s, x, y, i); }
void max_pool2d_forward(const PoolShape& s, const double* x, double* y, index_t* i) { max_forward(s, x, y, i); }
void max_pool2d_backward(const PoolShape& s, const float* dy, const index_t* i, float* dx) {
    max_backward(s, dy, i, dx);
}
void max_pool2d_backward(const PoolShape& s, const double* dy, const index_t* i, double* dx) {
    max_backward(s, dy, i, dx);
}
void avg_pool2d_forward(const PoolShape& s, bool p, const float* x, float* y) { avg_forward(s, p, x, y); }
void avg_pool2d_forward(const PoolShape& s, bool p, const double* x, double* y) { avg_forward(s, p, x, y); }
void avg_pool2d_backward(const PoolShape& s, bool p, const float* dy, float* dx) { avg_backward(s, p, dy, dx); }
void avg_pool2d_backward(const PoolShape& s, bool p, const double* dy, double* dx) { avg_backward(s, p, dy, dx); }
void adaptive_avg_pool2d_forward(const PoolShape& s, const float* x, float* y) { adaptive_forward(s, x, y); }
void adaptive_avg_pool2d_forward(const PoolShape& s, const double* x, double* y) { adaptive_forward(s, x, y); }
void adaptive_avg_pool2d_backward(const PoolShape& s, const float* dy, float* dx) { adaptive_backward(s, dy, dx); }
void adaptive_avg_pool2d_backward(const PoolShape& s, const double* dy, double* dx) {
    adaptive_backward(s, dy, dx);
}

}  // namespace pyneural::cpu
