#include "norm.h"

#include <cmath>
#include <initializer_list>
#include <new>

#include "norm_variants.h"
#include "pyneural/checks.h"
#include "pyneural/error.h"

namespace pyneural::cpu {
namespace {

NormVariant variant() { return PN_ACTIVE_VARIANT(norm_variant); }

void check_sizes(const char* op, std::initializer_list<index_t> sizes) {
    for (index_t s : sizes) PN_CHECK(s >= 0, op, ": negative size ", s);
}

void check_eps(const char* op, double eps) {
    PN_CHECK(std::isfinite(eps) && eps >= 0, op, ": eps must be finite and >= 0, got ", eps);
}

}  // namespace

template <class T>
void layer_norm_forward(const T* x, index_t rows, index_t dim, const T* weight, const T* bias, double eps, T* out,
                        T* mean, T* rstd) {
    check_sizes("layer_norm", {rows, dim});
    check_eps("layer_norm", eps);
    if (rows == 0) return;
    PN_CHECK(dim > 0, "layer_norm: normalized size is 0 for ", rows, " rows");
    PN_CHECK(x && out && mean && rstd, "layer_norm: null array pointer");
    check_disjoint("layer_norm", {span(out, rows * dim), span(mean, rows), span(rstd, rows)},
                   {span(x, rows * dim), span(weight, dim), span(bias, dim)});
    variant().of<T>().layer_norm_forward(x, rows, dim, weight, bias, eps, out, mean, rstd);
}

template <class T>
void layer_norm_backward(const T* g, const T* x, index_t rows, index_t dim, const T* weight, const T* mean,
                         const T* rstd, T* gx, T* gweight, T* gbias) {
    check_sizes("layer_norm_backward", {rows, dim});
    if (rows == 0) {  // no rows: the parameter gradients are empty sums
        for (index_t j = 0; j < dim; ++j) {
            if (gweight) gweight[j] = 0;
            if (gbias) gbias[j] = 0;
        }
        return;
    }
    PN_CHECK(dim > 0, "layer_norm_backward: normalized size is 0 for ", rows, " rows");
    PN_CHECK(g && x && mean && rstd, "layer_norm_backward: null array pointer");
    check_disjoint("layer_norm_backward", {span(gx, rows * dim), span(gweight, dim), span(gbias, dim)},
                   {span(g, rows * dim), span(x, rows * dim), span(weight, dim), span(mean, rows), span(rstd, rows)});
    if (!variant().of<T>().layer_norm_backward(g, x, rows, dim, weight, mean, rstd, gx, gweight, gbias))
        throw std::bad_alloc();
}

template <class T>
void batch_norm_stats(const T* x, index_t n, index_t c, index_t l, T* mean, T* var) {
    check_sizes("batch_norm", {n, c, l});
    if (c == 0) return;
    PN_CHECK(mean && var && (x || n * l == 0), "batch_norm: null array pointer");
    check_disjoint("batch_norm", {span(mean, c), span(var, c)}, {span(x, n * c * l)});
    variant().of<T>().batch_norm_stats(x, n, c, l, mean, var);
}

template <class T>
void batch_norm_apply(const T* x, index_t n, index_t c, index_t l, const T* mean, const T* var, const T* weight,
                      const T* bias, double eps, T* out) {
    check_sizes("batch_norm", {n, c, l});
    check_eps("batch_norm", eps);
    if (n * c * l == 0) return;
    PN_CHECK(x && out && mean && var, "batch_norm: null array pointer");
    check_disjoint("batch_norm", {span(out, n * c * l)},
                   {span(x, n * c * l), span(mean, c), span(var, c), span(weight, c), span(bias, c)});
    if (!variant().of<T>().batch_norm_apply(x, n, c, l, mean, var, weight, bias, eps, out)) throw std::bad_alloc();
}

template <class T>
void batch_norm_backward(const T* g, const T* x, index_t n, index_t c, index_t l, const T* mean, const T* var,
                         const T* weight, double eps, bool training, T* gx, T* gweight, T* gbias) {
    check_sizes("batch_norm_backward", {n, c, l});
    check_eps("batch_norm_backward", eps);
    if (c == 0) return;
    PN_CHECK(mean && var && ((g && x) || n * l == 0), "batch_norm_backward: null array pointer");
    check_disjoint("batch_norm_backward", {span(gx, n * c * l), span(gweight, c), span(gbias, c)},
                   {span(g, n * c * l), span(x, n * c * l), span(mean, c), span(var, c), span(weight, c)});
    if (!variant().of<T>().batch_norm_backward(g, x, n, c, l, mean, var, weight, eps, training, gx, gweight, gbias))
        throw std::bad_alloc();
}

#define PN_NORM_INSTANTIATE(T)                                                                                     \
    template void layer_norm_forward<T>(const T*, index_t, index_t, const T*, const T*, double, T*, T*, T*);       \
    template void layer_norm_backward<T>(const T*, const T*, index_t, index_t, const T*, const T*, const T*, T*,   \
                                         T*, T*);                                                                  \
    template void batch_norm_stats<T>(const T*, index_t, index_t, index_t, T*, T*);                                \
    template void batch_norm_apply<T>(const T*, index_t, index_t, index_t, const T*, const T*, const T*,            \
                                      const T*, double, T*);                                                       \
    template void batch_norm_backward<T>(const T*, const T*, index_t, index_t, index_t, const T*, const T*,        \
                                         const T*, double, bool, T*, T*, T*);
PN_NORM_INSTANTIATE(float)
PN_NORM_INSTANTIATE(double)
#undef PN_NORM_INSTANTIATE

}  // namespace pyneural::cpu
