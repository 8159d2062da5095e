#include <string>

#include "../cpu/activation/activation.h"
#include "arrays.h"

namespace pyneural::python {
namespace {

cpu::ActKind parse_kind(const std::string& name) {
    static const char* names[] = {"relu", "leaky_relu", "elu", "gelu", "silu", "sigmoid", "tanh"};
    for (int k = 0; k < 7; ++k)
        if (name == names[k]) return static_cast<cpu::ActKind>(k);
    throw Error(message("activation: unknown activation '", name,
                        "'; expected relu, leaky_relu, elu, gelu, silu, sigmoid or tanh"));
}

// Element-wise kernels take C-contiguous arrays of one float dtype and one size.
void check_operand(const py::array& x, const py::array& like, const std::string& op, const char* name, bool output) {
    if (!x.dtype().is(like.dtype()))
        throw_type_error(op, ": ", name, " has dtype ", dtype_str(x.dtype()), ", expected ", dtype_str(like.dtype()));
    PN_CHECK(x.size() == like.size(), op, ": ", name, " has shape ", shape_str(x), ", expected ", like.size(),
             " elements like shape ", shape_str(like));
    PN_CHECK(x.flags() & py::array::c_style, op, ": ", name, " of shape ", shape_str(x), " must be C-contiguous");
    PN_CHECK(!output || x.writeable(), op, ": ", name, " is read-only");
}

template <class T>
T* data_of(const py::array& x) { return static_cast<T*>(const_cast<void*>(x.data())); }

void forward(const std::string& kind_name, py::array x, py::array out, double alpha) {
    const cpu::ActKind kind = parse_kind(kind_name);
    const std::string op = kind_name + "_forward";
    check_operand(x, x, op, "x", false);
    check_operand(out, x, op, "out", true);
    const index_t n = x.size();
    if (py::dtype::of<float>().is(x.dtype())) {
        py::gil_scoped_release release;
        return cpu::activation_forward(kind, data_of<float>(x), data_of<float>(out), n, alpha);
    }
    if (py::dtype::of<double>().is(x.dtype())) {
        py::gil_scoped_release release;
        return cpu::activation_forward(kind, data_of<double>(x), data_of<double>(out), n, alpha);
    }
    unsupported_dtype(op, x);
}

void backward(const std::string& kind_name, py::array grad, py::array saved, py::array out, double alpha) {
    const cpu::ActKind kind = parse_kind(kind_name);
    const std::string op = kind_name + "_backward";
    check_operand(grad, grad, op, "grad", false);
    check_operand(saved, grad, op, "saved", false);
    check_operand(out, grad, op, "out", true);
    const index_t n = grad.size();
    if (py::dtype::of<float>().is(grad.dtype())) {
        py::gil_scoped_release release;
        return cpu::activation_backward(kind, data_of<float>(grad), data_of<float>(saved), data_of<float>(out), n,
                                        alpha);
    }
    if (py::dtype::of<double>().is(grad.dtype())) {
        py::gil_scoped_release release;
        return cpu::activation_backward(kind, data_of<double>(grad), data_of<double>(saved), data_of<double>(out), n,
                                        alpha);
    }
    unsupported_dtype(op, grad);
}

}  // namespace

void init_activation(py::module_& m) {
    m.def("activation_forward", &forward, py::arg("kind"), py::arg("x"), py::arg("out"), py::arg("alpha") = 0.0,
          "out = f(x) element-wise; kind: relu, leaky_relu (alpha = negative_slope), elu (alpha), gelu (exact),\n"
          "silu, sigmoid, tanh. C-contiguous float32/float64 arrays of one size; out may be x.");
    m.def("activation_backward", &backward, py::arg("kind"), py::arg("grad"), py::arg("saved"), py::arg("out"),
          py::arg("alpha") = 0.0,
          "out = grad * f'(...); saved is the forward's output for sigmoid and tanh, its input otherwise.");
}

}  // namespace pyneural::python
