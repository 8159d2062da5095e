#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <utility>

#include "../cpu/conv/conv.h"
#include "arrays.h"

namespace pyneural::python {
namespace {

using Pair = std::pair<index_t, index_t>;

// A C-contiguous array of the given rank and dtype T (the kernels take dense NCHW).
template <class T>
T* dense(const py::array& a, int ndim, const char* op, const char* name, bool writable) {
    PN_CHECK(a.ndim() == ndim, op, ": ", name, " must be ", ndim, "-D, got shape ", shape_str(a));
    require_dtype(a, py::dtype::of<T>(), op, name);
    PN_CHECK(a.flags() & py::array::c_style, op, ": ", name, " must be C-contiguous");
    if (writable) PN_CHECK(a.writeable(), op, ": ", name, " is read-only");
    return static_cast<T*>(const_cast<void*>(a.data()));
}

// The convolution's shape from x (n, c, h, w) and weight (k, c / groups, kh, kw); checks y (n, k, oh, ow).
cpu::ConvShape conv_shape(const py::array& x, const py::array& w, const py::array& y, Pair stride, Pair padding,
                          Pair dilation, index_t groups, const char* op) {
    PN_CHECK(x.ndim() == 4 && w.ndim() == 4 && y.ndim() == 4, op, ": expected 4-D input, weight and output, got ",
             shape_str(x), ", ", shape_str(w), ", ", shape_str(y));
    PN_CHECK(groups >= 1 && w.shape(1) * groups == x.shape(1), op, ": input ", shape_str(x), " has ", x.shape(1),
             " channels but weight ", shape_str(w), " with groups=", groups, " expects ", w.shape(1) * groups);
    cpu::ConvShape s{x.shape(0), x.shape(1), x.shape(2), x.shape(3), w.shape(0), w.shape(2), w.shape(3),
                     stride.first, stride.second, padding.first, padding.second, dilation.first, dilation.second,
                     groups, y.shape(2), y.shape(3)};
    PN_CHECK(y.shape(0) == s.n && y.shape(1) == s.k, op, ": output ", shape_str(y), " does not fit input ",
             shape_str(x), " and weight ", shape_str(w));
    return s;
}

template <class T>
void forward_typed(py::array& x, py::array& w, const std::optional<py::array>& b, py::array& y,
                   const cpu::ConvShape& s, Activation act) {
    const T* bias = nullptr;
    if (b) {
        PN_CHECK(b->ndim() == 1 && b->shape(0) == s.k, "conv2d: bias must have shape (", s.k, ",), got ",
                 shape_str(*b));
        bias = dense<T>(*b, 1, "conv2d", "bias", false);
    }
    const T* xp = dense<T>(x, 4, "conv2d", "x", false);
    const T* wp = dense<T>(w, 4, "conv2d", "weight", false);
    T* yp = dense<T>(y, 4, "conv2d", "out", true);
    py::gil_scoped_release release;
    cpu::conv2d_forward(s, xp, wp, bias, yp, act);
}

void conv2d(py::array x, py::array w, std::optional<py::array> b, py::array out, Pair stride, Pair padding,
            Pair dilation, index_t groups, std::optional<std::string> activation) {
    const cpu::ConvShape s = conv_shape(x, w, out, stride, padding, dilation, groups, "conv2d");
    const Activation act = parse_activation(activation, "conv2d");
    if (py::dtype::of<float>().is(out.dtype())) return forward_typed<float>(x, w, b, out, s, act);
    if (py::dtype::of<double>().is(out.dtype())) return forward_typed<double>(x, w, b, out, s, act);
    unsupported_dtype("conv2d", out);
}

template <class T>
void backward_data_typed(py::array& dy, py::array& w, py::array& dx, const cpu::ConvShape& s) {
    const T* dyp = dense<T>(dy, 4, "conv2d_backward", "grad_output", false);
    const T* wp = dense<T>(w, 4, "conv2d_backward", "weight", false);
    T* dxp = dense<T>(dx, 4, "conv2d_backward", "grad_input", true);
    py::gil_scoped_release release;
    cpu::conv2d_backward_data(s, dyp, wp, dxp);
}

void conv2d_backward_data(py::array dy, py::array w, py::array dx, Pair stride, Pair padding, Pair dilation,
                          index_t groups) {
    const cpu::ConvShape s = conv_shape(dx, w, dy, stride, padding, dilation, groups, "conv2d_backward");
    if (py::dtype::of<float>().is(dx.dtype())) return backward_data_typed<float>(dy, w, dx, s);
    if (py::dtype::of<double>().is(dx.dtype())) return backward_data_typed<double>(dy, w, dx, s);
    unsupported_dtype("conv2d_backward", dx);
}

template <class T>
void backward_weight_typed(py::array& x, py::array& dy, py::array& dw, const std::optional<py::array>& db,
                           const cpu::ConvShape& s) {
    T* dbp = nullptr;
    if (db) {
        PN_CHECK(db->ndim() == 1 && db->shape(0) == s.k, "conv2d_backward: grad_bias must have shape (", s.k,
                 ",), got ", shape_str(*db));
        dbp = dense<T>(*db, 1, "conv2d_backward", "grad_bias", true);
    }
    const T* xp = dense<T>(x, 4, "conv2d_backward", "x", false);
    const T* dyp = dense<T>(dy, 4, "conv2d_backward", "grad_output", false);
    T* dwp = dense<T>(dw, 4, "conv2d_backward", "grad_weight", true);
    py::gil_scoped_release release;
    cpu::conv2d_backward_weight(s, xp, dyp, dwp, dbp);
}

void conv2d_backward_weight(py::array x, py::array dy, py::array dw, std::optional<py::array> db, Pair stride,
                            Pair padding, Pair dilation, index_t groups) {
    const cpu::ConvShape s = conv_shape(x, dw, dy, stride, padding, dilation, groups, "conv2d_backward");
    if (py::dtype::of<float>().is(dw.dtype())) return backward_weight_typed<float>(x, dy, dw, db, s);
    if (py::dtype::of<double>().is(dw.dtype())) return backward_weight_typed<double>(x, dy, dw, db, s);
    unsupported_dtype("conv2d_backward", dw);
}

}  // namespace

void init_conv(py::module_& m) {
    m.def("conv2d", &conv2d, py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("out"), py::arg("stride"),
          py::arg("padding"), py::arg("dilation"), py::arg("groups"), py::arg("activation") = py::none(),
          "out = act(conv2d(x, weight) + bias) on C-contiguous NCHW arrays of one float dtype: x (n, c, h, w),\n"
          "weight (k, c/groups, kh, kw), bias (k,) or None, out (n, k, oh, ow); stride/padding/dilation (h, w) pairs.");
    m.def("conv2d_backward_data", &conv2d_backward_data, py::arg("grad_output"), py::arg("weight"),
          py::arg("grad_input"), py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("groups"),
          "grad_input (n, c, h, w) of conv2d from grad_output (n, k, oh, ow) and weight; grad_input is overwritten.");
    m.def("conv2d_backward_weight", &conv2d_backward_weight, py::arg("x"), py::arg("grad_output"),
          py::arg("grad_weight"), py::arg("grad_bias"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
          py::arg("groups"),
          "grad_weight (k, c/groups, kh, kw) and grad_bias (k,) or None of conv2d; both are overwritten.");
}

}  // namespace pyneural::python
