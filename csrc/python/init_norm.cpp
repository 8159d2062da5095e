#include <pybind11/stl.h>

#include <optional>
#include <vector>

#include "../cpu/norm/norm.h"
#include "arrays.h"

namespace pyneural::python {
namespace {

using Shape = std::vector<index_t>;

std::string shape_text(const Shape& s) {
    std::string t = "(";
    for (size_t d = 0; d < s.size(); ++d) t += (d ? ", " : "") + std::to_string(s[d]);
    return t + (s.size() == 1 ? ",)" : ")");
}

// Pointer to the data of a C-contiguous array of dtype T and the given shape (checked); writable if T is not const.
template <class T>
T* data_of(py::array& x, const char* op, const char* name, const Shape& shape) {
    using U = std::remove_const_t<T>;
    PN_CHECK(py::dtype::of<U>().is(x.dtype()), op, ": ", name, " has dtype ", std::string(py::str(x.dtype())),
             ", expected ", std::string(py::str(py::dtype::of<U>())));
    bool same = x.ndim() == py::ssize_t(shape.size());
    for (size_t d = 0; same && d < shape.size(); ++d) same = x.shape(d) == shape[d];
    PN_CHECK(same, op, ": ", name, " has shape ", shape_str(x), ", expected ", shape_text(shape));
    PN_CHECK(x.flags() & py::array::c_style, op, ": ", name, " must be C-contiguous");
    if constexpr (!std::is_const_v<T>) {
        PN_CHECK(x.writeable(), op, ": ", name, " is read-only");
        return static_cast<T*>(x.mutable_data());
    } else {
        return static_cast<T*>(x.data());
    }
}

template <class T>
T* optional_data(std::optional<py::array>& x, const char* op, const char* name, const Shape& shape) {
    return x ? data_of<T>(*x, op, name, shape) : nullptr;
}

template <class Fn>
void by_dtype(const py::array& x, const char* op, Fn&& fn) {
    if (py::dtype::of<float>().is(x.dtype())) return fn(float{});
    if (py::dtype::of<double>().is(x.dtype())) return fn(double{});
    throw Error(message(op, ": unsupported dtype ", std::string(py::str(x.dtype())), "; expected float32 or float64"));
}

void require_ndim(const py::array& x, int ndim, const char* op, const char* name, const char* layout) {
    PN_CHECK(x.ndim() == ndim, op, ": ", name, " must be ", ndim, "-D ", layout, ", got shape ", shape_str(x));
}

void layer_norm_forward(py::array x, std::optional<py::array> weight, std::optional<py::array> bias, double eps,
                        py::array out, py::array mean, py::array rstd) {
    const char* op = "layer_norm";
    require_ndim(x, 2, op, "x", "(rows, dim)");
    const index_t rows = x.shape(0), dim = x.shape(1);
    by_dtype(x, op, [&](auto zero) {
        using T = decltype(zero);
        const T* xp = data_of<const T>(x, op, "x", {rows, dim});
        const T* wp = optional_data<const T>(weight, op, "weight", {dim});
        const T* bp = optional_data<const T>(bias, op, "bias", {dim});
        T* op_out = data_of<T>(out, op, "out", {rows, dim});
        T* mp = data_of<T>(mean, op, "mean", {rows});
        T* rp = data_of<T>(rstd, op, "rstd", {rows});
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
        const T* gp = data_of<const T>(g, op, "grad", {rows, dim});
        const T* xp = data_of<const T>(x, op, "x", {rows, dim});
        const T* wp = optional_data<const T>(weight, op, "weight", {dim});
        const T* mp = data_of<const T>(mean, op, "mean", {rows});
        const T* rp = data_of<const T>(rstd, op, "rstd", {rows});
        T* gxp = optional_data<T>(gx, op, "grad_x", {rows, dim});
        T* gwp = optional_data<T>(gweight, op, "grad_weight", {dim});
        T* gbp = optional_data<T>(gbias, op, "grad_bias", {dim});
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
        const T* xp = data_of<const T>(x, op, "x", {n, c, l});
        T* mp = data_of<T>(mean, op, "mean", {c});
        T* vp = data_of<T>(var, op, "var", {c});
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
        const T* xp = data_of<const T>(x, op, "x", {n, c, l});
        const T* mp = data_of<const T>(mean, op, "mean", {c});
        const T* vp = data_of<const T>(var, op, "var", {c});
        const T* wp = optional_data<const T>(weight, op, "weight", {c});
        const T* bp = optional_data<const T>(bias, op, "bias", {c});
        T* outp = data_of<T>(out, op, "out", {n, c, l});
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
        const T* gp = data_of<const T>(g, op, "grad", {n, c, l});
        const T* xp = data_of<const T>(x, op, "x", {n, c, l});
        const T* mp = data_of<const T>(mean, op, "mean", {c});
        const T* vp = data_of<const T>(var, op, "var", {c});
        const T* wp = optional_data<const T>(weight, op, "weight", {c});
        T* gxp = optional_data<T>(gx, op, "grad_x", {n, c, l});
        T* gwp = optional_data<T>(gweight, op, "grad_weight", {c});
        T* gbp = optional_data<T>(gbias, op, "grad_bias", {c});
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
