#include "softmax.h"

#include "pyneural/checks.h"
#include "pyneural/error.h"
#include "softmax_variants.h"

namespace pyneural::cpu {
namespace {

SoftmaxVariant variant() { return PN_ACTIVE_VARIANT(softmax_variant); }

void check_sizes(const char* op, index_t rows, index_t cols) {
    PN_CHECK(rows >= 0 && cols >= 0, op, ": negative size (rows=", rows, ", cols=", cols, ")");
}

void check_sizes(const char* op, index_t outer, index_t dim, index_t inner) {
    PN_CHECK(outer >= 0 && dim >= 0 && inner >= 0, op, ": negative size (outer=", outer, ", dim=", dim,
             ", inner=", inner, ")");
}

template <class T>
void forward(const T* x, T* y, index_t outer, index_t dim, index_t inner, bool log) {
    const char* op = log ? "log_softmax" : "softmax";
    check_sizes(op, outer, dim, inner);
    const index_t n = outer * dim * inner;
    if (n == 0) return;
    PN_CHECK(x && y, op, ": null pointer");
    PN_CHECK(x == y || !overlaps(x, n, y, n), op, ": output partially overlaps the input");
    SoftmaxVariant v = variant();
    v.of<T>().forward(x, y, outer, dim, inner, log);
}

template <class T>
void backward(const T* g, const T* y, T* gx, index_t outer, index_t dim, index_t inner, bool log) {
    const char* op = log ? "log_softmax_backward" : "softmax_backward";
    check_sizes(op, outer, dim, inner);
    const index_t n = outer * dim * inner;
    if (n == 0) return;
    PN_CHECK(g && y && gx, op, ": null pointer");
    PN_CHECK(gx == g || !overlaps(g, n, gx, n), op, ": output partially overlaps grad");
    PN_CHECK(!overlaps(y, n, gx, n), op, ": output overlaps the saved softmax");
    SoftmaxVariant v = variant();
    v.of<T>().backward(g, y, gx, outer, dim, inner, log);
}

void check_targets(const index_t* target, index_t rows, index_t classes, index_t ignore_index) {
    for (index_t r = 0; r < rows; ++r) {
        const index_t t = target[r];
        PN_CHECK(t == ignore_index || (t >= 0 && t < classes), "cross_entropy: target ", t, " at position ", r,
                 " is out of range for ", classes, " classes (expected 0 <= target < ", classes,
                 " or ignore_index=", ignore_index, ")");
    }
}

template <class T>
void ce_forward(const T* x, const index_t* target, T* loss, T* lse, index_t rows, index_t classes, double smoothing,
                index_t ignore_index, const T* w) {
    check_sizes("cross_entropy", rows, classes);
    PN_CHECK(smoothing >= 0.0 && smoothing <= 1.0, "cross_entropy: label_smoothing must be in [0, 1], got ",
             smoothing);
    if (rows == 0) return;
    PN_CHECK(classes > 0, "cross_entropy: logits have 0 classes for ", rows, " targets");
    PN_CHECK(x && target && loss && lse, "cross_entropy: null pointer");
    PN_CHECK(!overlaps(loss, rows, x, rows * classes) && !overlaps(lse, rows, x, rows * classes) &&
                 !overlaps(loss, rows, lse, rows) && !overlaps(loss, rows, target, rows) &&
                 !overlaps(lse, rows, target, rows),
             "cross_entropy: outputs overlap the inputs or each other");
    PN_CHECK(!w || (!overlaps(loss, rows, w, classes) && !overlaps(lse, rows, w, classes)),
             "cross_entropy: outputs overlap the weight");
    check_targets(target, rows, classes, ignore_index);
    SoftmaxVariant v = variant();
    v.of<T>().ce_forward(x, target, loss, lse, rows, classes, smoothing, ignore_index, w);
}

template <class T>
void ce_backward(const T* x, const index_t* target, const T* lse, const T* gl, T* grad, index_t rows,
                 index_t classes, double smoothing, index_t ignore_index, const T* w) {
    check_sizes("cross_entropy_backward", rows, classes);
    PN_CHECK(smoothing >= 0.0 && smoothing <= 1.0, "cross_entropy_backward: label_smoothing must be in [0, 1], got ",
             smoothing);
    if (rows * classes == 0) return;
    PN_CHECK(x && target && lse && gl && grad, "cross_entropy_backward: null pointer");
    PN_CHECK(!overlaps(grad, rows * classes, target, rows) && !overlaps(grad, rows * classes, lse, rows) &&
                 !overlaps(grad, rows * classes, gl, rows) && (grad == x || !overlaps(grad, rows * classes, x, rows * classes)),
             "cross_entropy_backward: grad overlaps an input");
    PN_CHECK(!w || !overlaps(grad, rows * classes, w, classes), "cross_entropy_backward: grad overlaps the weight");
    check_targets(target, rows, classes, ignore_index);
    SoftmaxVariant v = variant();
    v.of<T>().ce_backward(x, target, lse, gl, grad, rows, classes, smoothing, ignore_index, w);
}

}  // namespace

void softmax_forward(const float* x, float* y, index_t o, index_t d, index_t i, bool log) { forward(x, y, o, d, i, log); }
void softmax_forward(const double* x, double* y, index_t o, index_t d, index_t i, bool log) {
    forward(x, y, o, d, i, log);
}
void softmax_backward(const float* g, const float* y, float* gx, index_t o, index_t d, index_t i, bool log) {
    backward(g, y, gx, o, d, i, log);
}
void softmax_backward(const double* g, const double* y, double* gx, index_t o, index_t d, index_t i, bool log) {
    backward(g, y, gx, o, d, i, log);
}
void cross_entropy_forward(const float* x, const index_t* t, float* loss, float* lse, index_t r, index_t c, double s,
                           index_t ig, const float* w) {
    ce_forward(x, t, loss, lse, r, c, s, ig, w);
}
void cross_entropy_forward(const double* x, const index_t* t, double* loss, double* lse, index_t r, index_t c,
                           double s, index_t ig, const double* w) {
    ce_forward(x, t, loss, lse, r, c, s, ig, w);
}
void cross_entropy_backward(const float* x, const index_t* t, const float* lse, const float* gl, float* g, index_t r,
                            index_t c, double s, index_t ig, const float* w) {
    ce_backward(x, t, lse, gl, g, r, c, s, ig, w);
}
void cross_entropy_backward(const double* x, const index_t* t, const double* lse, const double* gl, double* g,
                            index_t r, index_t c, double s, index_t ig, const double* w) {
    ce_backward(x, t, lse, gl, g, r, c, s, ig, w);
}

}  // namespace pyneural::cpu
