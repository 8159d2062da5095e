#include "loss.h"

#include "loss_variants.h"
#include "pyneural/checks.h"
#include "pyneural/error.h"

namespace pyneural::cpu {
namespace {

LossVariant variant() { return PN_ACTIVE_VARIANT(loss_variant); }

const char* kind_name(LossKind kind) {
    switch (kind) {
        case LossKind::mse: return "mse_loss";
        case LossKind::l1: return "l1_loss";
        case LossKind::smooth_l1: return "smooth_l1_loss";
        case LossKind::bce: return "binary_cross_entropy";
        case LossKind::bce_logits: return "binary_cross_entropy_with_logits";
    }
    throw Error(message("loss: unknown loss kind ", int(kind)));
}

template <class T>
void check_common(const char* op, LossKind kind, const T* x, const T* y, const T* pos_weight, index_t n, double beta) {
    PN_CHECK(n >= 0, op, ": negative size n=", n);
    PN_CHECK(n == 0 || (x && y), op, ": null input pointer");
    PN_CHECK(!pos_weight || kind == LossKind::bce_logits, op,
             ": pos_weight is only for binary_cross_entropy_with_logits");
    PN_CHECK(kind != LossKind::smooth_l1 || beta >= 0.0, op, ": beta must be >= 0, got ", beta);
}

template <class T>
double forward(LossKind kind, const T* x, const T* y, const T* w, const T* pw, T* loss, index_t n, double beta) {
    const char* op = kind_name(kind);
    check_common(op, kind, x, y, pw, n, beta);
    if (n == 0) return 0.0;
    PN_CHECK(!overlaps(loss, n, x, n) && !overlaps(loss, n, y, n) && !overlaps(loss, n, w, n) &&
                 !overlaps(loss, n, pw, n),
             op, ": the loss output overlaps an input");
    return variant().of<T>().forward(kind, x, y, w, pw, loss, n, beta);
}

template <class T>
void backward(LossKind kind, const T* x, const T* y, const T* w, const T* pw, const T* g, double scale, T* gx,
              index_t n, double beta) {
    const char* op = kind_name(kind);
    check_common(op, kind, x, y, pw, n, beta);
    if (n == 0) return;
    PN_CHECK(gx, op, ": null grad_x pointer");
    PN_CHECK(!overlaps(gx, n, x, n) && !overlaps(gx, n, y, n) && !overlaps(gx, n, w, n) && !overlaps(gx, n, pw, n) &&
                 (gx == g || !overlaps(gx, n, g, n)),
             op, ": grad_x overlaps an input");
    variant().of<T>().backward(kind, x, y, w, pw, g, scale, gx, n, beta);
}

void check_nll(const char* op, const index_t* target, index_t outer, index_t classes, index_t inner,
               index_t ignore_index) {
    PN_CHECK(outer >= 0 && classes >= 0 && inner >= 0, op, ": negative size (outer=", outer, ", classes=", classes,
             ", inner=", inner, ")");
    const index_t rows = outer * inner;
    PN_CHECK(rows == 0 || target, op, ": null target pointer");
    for (index_t r = 0; r < rows; ++r) {
        const index_t t = target[r];
        PN_CHECK(t == ignore_index || (t >= 0 && t < classes), op, ": target ", t, " at position ", r,
                 " is out of range for ", classes, " classes (expected 0 <= target < ", classes,
                 " or ignore_index=", ignore_index, ")");
    }
}

template <class T>
void nll_fwd(const T* x, const index_t* target, const T* w, T* loss, index_t outer, index_t classes, index_t inner,
             index_t ignore_index, double* sums) {
    const char* op = "nll_loss";
    check_nll(op, target, outer, classes, inner, ignore_index);
    PN_CHECK(sums, op, ": null sums pointer");
    sums[0] = sums[1] = 0.0;
    const index_t rows = outer * inner;
    if (rows == 0) return;
    PN_CHECK(x || classes == 0, op, ": null input pointer");
    PN_CHECK(!overlaps(loss, rows, x, outer * classes * inner) && !overlaps(loss, rows, target, rows) &&
                 !overlaps(loss, rows, w, classes),
             op, ": the loss output overlaps an input");
    variant().of<T>().nll_forward(x, target, w, loss, outer, classes, inner, ignore_index, sums);
}

template <class T>
void nll_bwd(const index_t* target, const T* w, const T* g, double scale, T* gx, index_t outer, index_t classes,
             index_t inner, index_t ignore_index) {
    const char* op = "nll_loss_backward";
    check_nll(op, target, outer, classes, inner, ignore_index);
    const index_t n = outer * classes * inner;
    if (n == 0) return;
    PN_CHECK(gx, op, ": null grad_x pointer");
    PN_CHECK(!overlaps(gx, n, target, outer * inner) && !overlaps(gx, n, w, classes) &&
                 !overlaps(gx, n, g, outer * inner),
             op, ": grad_x overlaps an input");
    variant().of<T>().nll_backward(target, w, g, scale, gx, outer, classes, inner, ignore_index);
}

}  // namespace

double loss_forward(LossKind k, const float* x, const float* y, const float* w, const float* pw, float* l, index_t n,
                    double beta) {
    return forward(k, x, y, w, pw, l, n, beta);
}
double loss_forward(LossKind k, const double* x, const double* y, const double* w, const double* pw, double* l,
                    index_t n, double beta) {
    return forward(k, x, y, w, pw, l, n, beta);
}
void loss_backward(LossKind k, const float* x, const float* y, const float* w, const float* pw, const float* g,
                   double s, float* gx, index_t n, double beta) {
    backward(k, x, y, w, pw, g, s, gx, n, beta);
}
void loss_backward(LossKind k, const double* x, const double* y, const double* w, const double* pw, const double* g,
                   double s, double* gx, index_t n, double beta) {
    backward(k, x, y, w, pw, g, s, gx, n, beta);
}
void nll_forward(const float* x, const index_t* t, const float* w, float* l, index_t o, index_t c, index_t i,
                 index_t ig, double* sums) {
    nll_fwd(x, t, w, l, o, c, i, ig, sums);
}
void nll_forward(const double* x, const index_t* t, const double* w, double* l, index_t o, index_t c, index_t i,
                 index_t ig, double* sums) {
    nll_fwd(x, t, w, l, o, c, i, ig, sums);
}
void nll_backward(const index_t* t, const float* w, const float* g, double s, float* gx, index_t o, index_t c,
                  index_t i, index_t ig) {
    nll_bwd(t, w, g, s, gx, o, c, i, ig);
}
void nll_backward(const index_t* t, const double* w, const double* g, double s, double* gx, index_t o, index_t c,
                  index_t i, index_t ig) {
    nll_bwd(t, w, g, s, gx, o, c, i, ig);
}

}  // namespace pyneural::cpu
