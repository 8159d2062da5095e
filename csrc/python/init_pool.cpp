#include <pybind11/stl.h>

#include <string>
#include <utility>

#include "../cpu/pool/pool.h"
#include "arrays.h"

namespace pyneural::python {
namespace {

using Pair = std::pair<index_t, index_t>;

// A C-contiguous 4-D array of dtype T (the kernels take dense NCHW planes).
template <class T>
T* dense4(const py::array& a, const char* op, const char* name, bool writable) {
    PN_CHECK(a.ndim() == 4, op, ": ", name, " must be 4-D (N, C, H, W), got shape ", shape_str(a));
    require_dtype(a, py::dtype::of<T>(), op, name);
    PN_CHECK(a.flags() & py::array::c_style, op, ": ", name, " must be C-contiguous");
    if (writable) PN_CHECK(a.writeable(), op, ": ", name, " is read-only");
    return static_cast<T*>(const_cast<void*>(a.data()));
}

// The pooling shape of input x and output y, which must agree on (N, C).
cpu::PoolShape pool_shape(const py::array& x, const py::array& y, Pair kernel, Pair stride, Pair padding,
                          Pair dilation, bool ceil_mode, const char* op) {
    PN_CHECK(x.ndim() == 4 && y.ndim() == 4 && x.shape(0) == y.shape(0) && x.shape(1) == y.shape(1), op,
             ": input ", shape_str(x), " and output ", shape_str(y), " must be 4-D with the same (N, C)");
    return {x.shape(0) * x.shape(1), x.shape(2), x.shape(3), y.shape(2), y.shape(3), kernel.first, kernel.second,
            stride.first, stride.second, padding.first, padding.second, dilation.first, dilation.second, ceil_mode};
}

index_t* index_array(const py::array& a, const py::array& like, const char* op) {
    require_dtype(a, py::dtype::of<std::int64_t>(), op, "indices");
    PN_CHECK(a.ndim() == 4 && (a.flags() & py::array::c_style), op, ": indices must be a C-contiguous 4-D array, got ",
             shape_str(a));
    for (int d = 0; d < 4; ++d)
        PN_CHECK(a.shape(d) == like.shape(d), op, ": indices ", shape_str(a), " and output ", shape_str(like),
                 " differ in shape");
    return static_cast<index_t*>(const_cast<void*>(a.data()));
}

// f(input data, output data) for one pooling call on two C-contiguous NCHW arrays of out's float dtype,
// with the GIL released.
template <class F>
void on_planes(const char* op, py::array& in, const char* in_name, py::array& out, const char* out_name, F f) {
    by_dtype(out, op, [&](auto zero) {
        using T = decltype(zero);
        const T* src = dense4<T>(in, op, in_name, false);
        T* dst = dense4<T>(out, op, out_name, true);
        py::gil_scoped_release release;
        f(src, dst);
    });
}

void max_pool2d(py::array x, py::array out, py::array indices, Pair kernel, Pair stride, Pair padding,
                Pair dilation, bool ceil_mode) {
    const auto s = pool_shape(x, out, kernel, stride, padding, dilation, ceil_mode, "max_pool2d");
    index_t* where = index_array(indices, out, "max_pool2d");
    PN_CHECK(indices.writeable(), "max_pool2d: indices is read-only");
    on_planes("max_pool2d", x, "x", out, "out", [&](auto xp, auto yp) { cpu::max_pool2d_forward(s, xp, yp, where); });
}

void max_pool2d_backward(py::array dy, py::array indices, py::array dx, Pair kernel, Pair stride, Pair padding,
                         Pair dilation, bool ceil_mode) {
    const auto s = pool_shape(dx, dy, kernel, stride, padding, dilation, ceil_mode, "max_pool2d_backward");
    const index_t* where = index_array(indices, dy, "max_pool2d_backward");
    on_planes("max_pool2d_backward", dy, "grad_output", dx, "grad_input",
              [&](auto dyp, auto dxp) { cpu::max_pool2d_backward(s, dyp, where, dxp); });
}

void avg_pool2d(py::array x, py::array out, Pair kernel, Pair stride, Pair padding, bool ceil_mode,
                bool count_include_pad) {
    const auto s = pool_shape(x, out, kernel, stride, padding, {1, 1}, ceil_mode, "avg_pool2d");
    on_planes("avg_pool2d", x, "x", out, "out",
              [&](auto xp, auto yp) { cpu::avg_pool2d_forward(s, count_include_pad, xp, yp); });
}

void avg_pool2d_backward(py::array dy, py::array dx, Pair kernel, Pair stride, Pair padding, bool ceil_mode,
                         bool count_include_pad) {
    const auto s = pool_shape(dx, dy, kernel, stride, padding, {1, 1}, ceil_mode, "avg_pool2d_backward");
    on_planes("avg_pool2d_backward", dy, "grad_output", dx, "grad_input",
              [&](auto dyp, auto dxp) { cpu::avg_pool2d_backward(s, count_include_pad, dyp, dxp); });
}

void adaptive_avg_pool2d(py::array x, py::array out) {
    const auto s = pool_shape(x, out, {1, 1}, {1, 1}, {0, 0}, {1, 1}, false, "adaptive_avg_pool2d");
    on_planes("adaptive_avg_pool2d", x, "x", out, "out",
              [&](auto xp, auto yp) { cpu::adaptive_avg_pool2d_forward(s, xp, yp); });
}

void adaptive_avg_pool2d_backward(py::array dy, py::array dx) {
    const auto s = pool_shape(dx, dy, {1, 1}, {1, 1}, {0, 0}, {1, 1}, false, "adaptive_avg_pool2d_backward");
    on_planes("adaptive_avg_pool2d_backward", dy, "grad_output", dx, "grad_input",
              [&](auto dyp, auto dxp) { cpu::adaptive_avg_pool2d_backward(s, dyp, dxp); });
}

}  // namespace

void init_pool(py::module_& m) {
    m.def("max_pool2d", &max_pool2d, py::arg("x"), py::arg("out"), py::arg("indices"), py::arg("kernel_size"),
          py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("ceil_mode"),
          "Window maxima of C-contiguous NCHW x into out, and their flat (h * W + w) positions into int64 indices.");
    m.def("max_pool2d_backward", &max_pool2d_backward, py::arg("grad_output"), py::arg("indices"),
          py::arg("grad_input"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
          py::arg("ceil_mode"), "grad_input (overwritten) = grad_output scattered to the positions in indices.");
    m.def("avg_pool2d", &avg_pool2d, py::arg("x"), py::arg("out"), py::arg("kernel_size"), py::arg("stride"),
          py::arg("padding"), py::arg("ceil_mode"), py::arg("count_include_pad"),
          "Window means of C-contiguous NCHW x into out (PyTorch's divisor rules).");
    m.def("avg_pool2d_backward", &avg_pool2d_backward, py::arg("grad_output"), py::arg("grad_input"),
          py::arg("kernel_size"), py::arg("stride"), py::arg("padding"), py::arg("ceil_mode"),
          py::arg("count_include_pad"), "grad_input (overwritten) of avg_pool2d.");
    m.def("adaptive_avg_pool2d", &adaptive_avg_pool2d, py::arg("x"), py::arg("out"),
          "Adaptive average pooling of C-contiguous NCHW x to out's (H, W) (PyTorch's window formula).");
    m.def("adaptive_avg_pool2d_backward", &adaptive_avg_pool2d_backward, py::arg("grad_output"),
          py::arg("grad_input"), "grad_input (overwritten) of adaptive_avg_pool2d.");
}

}  // namespace pyneural::python
