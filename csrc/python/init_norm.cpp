#include <pybind11/stl.h>

#include <optional>

#include "../cpu/norm/norm.h"
#include "arrays.h"

namespace pyneural::python {
namespace {

void layer_norm_forward(py::array x, std::optional<py::array> weight, std::optional<py::array> bias, double eps,
                        py::array out, py::array mean, py::array rstd) {
    const char* op = "layer_norm";
    require_ndim(x, 2, op, "x", "(rows, dim)");
    const index_t rows = x.shape(0), dim = x.shape(1);
    by_dtype(x, op, [&](auto zero) {
        using T = decltype(zero);
        const T* xp = contiguous_data<const T>(x, op, "x", {rows, dim});
        const T* wp = optional_contiguous<const T>(weight, op, "weight", {dim});
        const T* bp = optional_contiguous<const T>(bias, op, "bias", {dim});
        T* op_out = contiguous_data<T>(out, op, "out", {rows, dim});
        T* mp = contiguous_data<T>(mean, op, "mean", {rows});
        T* rp = contiguous_data<T>(rstd, op, "rstd", {rows});
        py::gil_scoped_release release;
        cpu::layer_norm_forward(xp, rows, dim, wp, bp, eps, op_out, mp, rp);
    });
}

void layer_norm_backward(py::array g, py::array x, std::optional<py::array> weight, py::array mean, py::array rstd,
                         std::optional<py::array> gx, std::optional<py::array> gweight,
                         std::optional<py::array> gbias) {
    const char* op = "layer_norm_backward";
    require_ndim(x, 2, op, "x", "(rows, dim)");
    const index_t rows = x.shape(0), dim = x.shape(1);
    by_dtype(x, op, [&](auto zero) {
        using T = decltype(zero);
        const T* gp = contiguous_data<const T>(g, op, "grad", {rows, dim});
        const T* xp = contiguous_data<const T>(x, op, "x", {rows, dim});
        const T* wp = optional_contiguous<const T>(weight, op, "weight", {dim});
        const T* mp = contiguous_data<const T>(mean, op, "mean", {rows});
        const T* rp = contiguous_data<const T>(rstd, op, "rstd", {rows});
        T* gxp = optional_contiguous<T>(gx, op, "grad_x", {rows, dim});
        T* gwp = optional_contiguous<T>(gweight, op, "grad_weight", {dim});
        T* gbp = optional_contiguous<T>(gbias, op, "grad_bias", {dim});
        py::gil_scoped_release release;
        cpu::layer_norm_backward(gp, xp, rows, dim, wp, mp, rp, gxp, gwp, gbp);
    });
}

void batch_norm_stats(py::array x, py::array mean, py::array var) {
    const char* op = "batch_norm";
    require_ndim(x, 3, op, "x", "(batch, channels, length)");
    const index_t n = x.shape(0), c = x.shape(1), l = x.shape(2);
    by_dtype(x, op, [&](auto zero) {
        using T = decltype(zero);
        const T* xp = contiguous_data<const T>(x, op, "x", {n, c, l});
        T* mp = contiguous_data<T>(mean, op, "mean", {c});
        T* vp = contiguous_data<T>(var, op, "var", {c});
        py::gil_scoped_release release;
        cpu::batch_norm_stats(xp, n, c, l, mp, vp);
    });
}

void batch_norm_apply(py::array x, py::array mean, py::array var, std::optional<py::array> weight,
                      std::optional<py::array> bias, double eps, py::array out) {
    const char* op = "batch_norm";
    require_ndim(x, 3, op, "x", "(batch, channels, length)");
    const index_t n = x.shape(0), c = x.shape(1), l = x.shape(2);
    by_dtype(x, op, [&](auto zero) {
        using T = decltype(zero);
        const T* xp = contiguous_data<const T>(x, op, "x", {n, c, l});
        const T* mp = contiguous_data<const T>(mean, op, "mean", {c});
        const T* vp = contiguous_data<const T>(var, op, "var", {c});
        const T* wp = optional_contiguous<const T>(weight, op, "weight", {c});
        const T* bp = optional_contiguous<const T>(bias, op, "bias", {c});
        T* outp = contiguous_data<T>(out, op, "out", {n, c, l});
        py::gil_scoped_release release;
        cpu::batch_norm_apply(xp, n, c, l, mp, vp, wp, bp, eps, outp);
    });
}

void batch_norm_backward(py::array g, py::array x, py::array mean, py::array var, std::optional<py::array> weight,
                         double eps, bool training, std::optional<py::array> gx, std::optional<py::array> gweight,
                         std::optional<py::array> gbias) {
    const char* op = "batch_norm_backward";
    require_ndim(x, 3, op, "x", "(batch, channels, length)");
    const index_t n = x.shape(0), c = x.shape(1), l = x.shape(2);
    by_dtype(x, op, [&](auto zero) {
        using T = decltype(zero);
        const T* gp = contiguous_data<const T>(g, op, "grad", {n, c, l});
        const T* xp = contiguous_data<const T>(x, op, "x", {n, c, l});
        const T* mp = contiguous_data<const T>(mean, op, "mean", {c});
        const T* vp = contiguous_data<const T>(var, op, "var", {c});
        const T* wp = optional_contiguous<const T>(weight, op, "weight", {c});
        T* gxp = optional_contiguous<T>(gx, op, "grad_x", {n, c, l});
        T* gwp = optional_contiguous<T>(gweight, op, "grad_weight", {c});
        T* gbp = optional_contiguous<T>(gbias, op, "grad_bias", {c});
        py::gil_scoped_release release;
        cpu::batch_norm_backward(gp, xp, n, c, l, mp, vp, wp, eps, training, gxp, gwp, gbp);
    });
}

}  // namespace

void init_norm(py::module_& m) {
    m.def("layer_norm_forward", &layer_norm_forward, py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("eps"),
          py::arg("out"), py::arg("mean"), py::arg("rstd"),
          "out = (x - mean) * rstd * weight + bias over each row of x (rows, dim); writes mean and rstd (rows,).\n"
          "weight, bias (dim,) or None; C-contiguous float32/float64 arrays of one dtype.");
    m.def("layer_norm_backward", &layer_norm_backward, py::arg("grad"), py::arg("x"), py::arg("weight"),
          py::arg("mean"), py::arg("rstd"), py::arg("grad_x"), py::arg("grad_weight"), py::arg("grad_bias"),
          "Gradients of layer_norm_forward into grad_x (rows, dim), grad_weight, grad_bias (dim,) (each optional).");
    m.def("batch_norm_stats", &batch_norm_stats, py::arg("x"), py::arg("mean"), py::arg("var"),
          "Per-channel mean and biased variance of x (batch, channels, length), one pass.");
    m.def("batch_norm_apply", &batch_norm_apply, py::arg("x"), py::arg("mean"), py::arg("var"), py::arg("weight"),
          py::arg("bias"), py::arg("eps"), py::arg("out"),
          "out = (x - mean[c]) / sqrt(var[c] + eps) * weight[c] + bias[c] for x, out (batch, channels, length).");
    m.def("batch_norm_backward", &batch_norm_backward, py::arg("grad"), py::arg("x"), py::arg("mean"), py::arg("var"),
          py::arg("weight"), py::arg("eps"), py::arg("training"), py::arg("grad_x"), py::arg("grad_weight"),
          py::arg("grad_bias"),
          "Gradients of batch_norm_apply (training: mean/var are the batch's own statistics).");
}

}  // namespace pyneural::python
