#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "../cpu/softmax/softmax.h"
#include "arrays.h"

namespace pyneural::python {
namespace {

void check_array(const py::array& x, const char* op, const char* name, py::ssize_t ndim, bool output) {
    PN_CHECK(x.ndim() == ndim, op, ": ", name, " must be ", ndim, "-D, got shape ", shape_str(x));
    PN_CHECK(x.flags() & py::array::c_style, op, ": ", name, " of shape ", shape_str(x), " must be C-contiguous");
    PN_CHECK(!output || x.writeable(), op, ": ", name, " is read-only");
}

void check_same(const py::array& x, const py::array& like, const char* op, const char* name, const char* like_name) {
    if (!x.dtype().is(like.dtype()))
        throw_type_error(op, ": ", name, " has dtype ", dtype_str(x.dtype()), ", ", like_name, " has ",
                         dtype_str(like.dtype()));
    bool same = x.ndim() == like.ndim();
    for (py::ssize_t d = 0; same && d < x.ndim(); ++d) same = x.shape(d) == like.shape(d);
    PN_CHECK(same, op, ": ", name, " has shape ", shape_str(x), ", ", like_name, " has shape ", shape_str(like));
}

template <class T>
T* ptr(const py::array& x) { return static_cast<T*>(const_cast<void*>(x.data())); }

bool is_f32(const py::array& x) { return py::dtype::of<float>().is(x.dtype()); }
bool is_f64(const py::array& x) { return py::dtype::of<double>().is(x.dtype()); }

// (rows, cols) -> softmax along cols; (outer, dim, inner) -> along dim.
void layout(const py::array& x, const char* op, index_t& outer, index_t& dim, index_t& inner) {
    PN_CHECK(x.ndim() == 2 || x.ndim() == 3, op, ": expected a 2-D (rows, cols) or 3-D (outer, dim, inner) array, "
             "got shape ", shape_str(x));
    outer = x.shape(0);
    dim = x.shape(1);
    inner = x.ndim() == 3 ? x.shape(2) : 1;
}

void forward(py::array x, py::array out, bool log) {
    const char* op = log ? "log_softmax" : "softmax";
    index_t outer, dim, inner;
    layout(x, op, outer, dim, inner);
    check_array(x, op, "x", x.ndim(), false);
    check_array(out, op, "out", x.ndim(), true);
    check_same(out, x, op, "out", "x");
    py::gil_scoped_release release;
    if (is_f32(x)) return cpu::softmax_forward(ptr<float>(x), ptr<float>(out), outer, dim, inner, log);
    if (is_f64(x)) return cpu::softmax_forward(ptr<double>(x), ptr<double>(out), outer, dim, inner, log);
    py::gil_scoped_acquire acquire;
    unsupported_dtype(op, x);
}

void backward(py::array grad, py::array y, py::array out, bool log) {
    const char* op = log ? "log_softmax_backward" : "softmax_backward";
    index_t outer, dim, inner;
    layout(grad, op, outer, dim, inner);
    check_array(grad, op, "grad", grad.ndim(), false);
    check_array(y, op, "y", grad.ndim(), false);
    check_array(out, op, "out", grad.ndim(), true);
    check_same(y, grad, op, "y", "grad");
    check_same(out, grad, op, "out", "grad");
    py::gil_scoped_release release;
    if (is_f32(grad))
        return cpu::softmax_backward(ptr<float>(grad), ptr<float>(y), ptr<float>(out), outer, dim, inner, log);
    if (is_f64(grad))
        return cpu::softmax_backward(ptr<double>(grad), ptr<double>(y), ptr<double>(out), outer, dim, inner, log);
    py::gil_scoped_acquire acquire;
    unsupported_dtype(op, grad);
}

void check_targets(const py::array& logits, const py::array& target, const char* op) {
    check_array(target, op, "target", 1, false);
    if (!py::dtype::of<std::int64_t>().is(target.dtype()))
        throw_type_error(op, ": target must be int64 class indices, got dtype ", dtype_str(target.dtype()));
    PN_CHECK(target.shape(0) == logits.shape(0), op, ": target of shape ", shape_str(target),
             " does not match logits of shape ", shape_str(logits));
}

void check_row_vector(const py::array& x, const py::array& logits, const char* op, const char* name, bool output) {
    check_array(x, op, name, 1, output);
    if (!x.dtype().is(logits.dtype()))
        throw_type_error(op, ": ", name, " has dtype ", dtype_str(x.dtype()), ", logits have ",
                         dtype_str(logits.dtype()));
    PN_CHECK(x.shape(0) == logits.shape(0), op, ": ", name, " of shape ", shape_str(x),
             " does not match logits of shape ", shape_str(logits));
}

// The optional per-class weight (classes,) of the logits' dtype, or nullptr.
template <class T>
const T* class_weight(std::optional<py::array>& weight, const py::array& logits, const char* op) {
    if (!weight) return nullptr;
    check_array(*weight, op, "weight", 1, false);
    if (!weight->dtype().is(logits.dtype()))
        throw_type_error(op, ": weight has dtype ", dtype_str(weight->dtype()), ", logits have ",
                         dtype_str(logits.dtype()));
    PN_CHECK(weight->shape(0) == logits.shape(1), op, ": weight of shape ", shape_str(*weight),
             " does not match logits of shape ", shape_str(logits), " (one weight per class)");
    return ptr<const T>(*weight);
}

void ce_forward(py::array logits, py::array target, py::array loss, py::array lse, double smoothing,
                index_t ignore_index, std::optional<py::array> weight) {
    const char* op = "cross_entropy";
    check_array(logits, op, "logits", 2, false);
    check_targets(logits, target, op);
    check_row_vector(loss, logits, op, "loss", true);
    check_row_vector(lse, logits, op, "lse", true);
    const index_t rows = logits.shape(0), classes = logits.shape(1);
    const auto* t = ptr<const index_t>(target);
    const float* w32 = is_f32(logits) ? class_weight<float>(weight, logits, op) : nullptr;
    const double* w64 = is_f64(logits) ? class_weight<double>(weight, logits, op) : nullptr;
    py::gil_scoped_release release;
    if (is_f32(logits))
        return cpu::cross_entropy_forward(ptr<float>(logits), t, ptr<float>(loss), ptr<float>(lse), rows, classes,
                                          smoothing, ignore_index, w32);
    if (is_f64(logits))
        return cpu::cross_entropy_forward(ptr<double>(logits), t, ptr<double>(loss), ptr<double>(lse), rows,
                                          classes, smoothing, ignore_index, w64);
    py::gil_scoped_acquire acquire;
    unsupported_dtype(op, logits);
}

void ce_backward(py::array logits, py::array target, py::array lse, py::array grad_loss, py::array out,
                 double smoothing, index_t ignore_index, std::optional<py::array> weight) {
    const char* op = "cross_entropy_backward";
    check_array(logits, op, "logits", 2, false);
    check_targets(logits, target, op);
    check_row_vector(lse, logits, op, "lse", false);
    check_row_vector(grad_loss, logits, op, "grad_loss", false);
    check_array(out, op, "out", 2, true);
    check_same(out, logits, op, "out", "logits");
    const index_t rows = logits.shape(0), classes = logits.shape(1);
    const auto* t = ptr<const index_t>(target);
    const float* w32 = is_f32(logits) ? class_weight<float>(weight, logits, op) : nullptr;
    const double* w64 = is_f64(logits) ? class_weight<double>(weight, logits, op) : nullptr;
    py::gil_scoped_release release;
    if (is_f32(logits))
        return cpu::cross_entropy_backward(ptr<float>(logits), t, ptr<float>(lse), ptr<float>(grad_loss),
                                           ptr<float>(out), rows, classes, smoothing, ignore_index, w32);
    if (is_f64(logits))
        return cpu::cross_entropy_backward(ptr<double>(logits), t, ptr<double>(lse), ptr<double>(grad_loss),
                                           ptr<double>(out), rows, classes, smoothing, ignore_index, w64);
    py::gil_scoped_acquire acquire;
    unsupported_dtype(op, logits);
}

}  // namespace

void init_softmax(py::module_& m) {
    m.def("softmax_forward", &forward, py::arg("x"), py::arg("out"), py::arg("log") = false,
          "out = softmax (or log_softmax) along the rows of a C-contiguous (rows, cols) float array, or along\n"
          "dim of an (outer, dim, inner) one; out may be x.");
    m.def("softmax_backward", &backward, py::arg("grad"), py::arg("y"), py::arg("out"), py::arg("log") = false,
          "Gradient of softmax (or log_softmax) rows from the upstream grad and the forward's output y.");
    m.def("cross_entropy_forward", &ce_forward, py::arg("logits"), py::arg("target"), py::arg("loss"),
          py::arg("lse"), py::arg("label_smoothing") = 0.0, py::arg("ignore_index") = -100,
          py::arg("weight") = py::none(),
          "Per-row softmax cross-entropy: logits (N, C), int64 target (N,), optional class weight (C,); outputs\n"
          "loss (N,) and logsumexp (N,).");
    m.def("cross_entropy_backward", &ce_backward, py::arg("logits"), py::arg("target"), py::arg("lse"),
          py::arg("grad_loss"), py::arg("out"), py::arg("label_smoothing") = 0.0, py::arg("ignore_index") = -100,
          py::arg("weight") = py::none(),
          "out (N, C) = gradient of the per-row losses scaled by grad_loss (N,); ignored rows get 0.");
}

}  // namespace pyneural::python
