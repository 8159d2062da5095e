// Bindings of the fused optimizer updates: in-place on C-contiguous NumPy arrays of one shape and dtype.
#include "../cpu/optim/optim.h"
#include "arrays.h"

namespace pyneural::python {
namespace {

// The NumPy array behind `x` (never a converted copy: the update must land in the caller's array),
// checked against `param`: same dtype, same shape, C-contiguous, writeable unless read-only input.
template <class T>
T* buffer_of(const py::object& x, const py::array& param, const char* op, const char* name, bool writes) {
    if (!py::isinstance<py::array>(x))
        throw_type_error(op, ": ", name, " must be a NumPy array, got ",
                         std::string(py::str(py::type::of(x).attr("__name__"))));
    auto a = py::reinterpret_borrow<py::array>(x);
    if (!py::dtype::of<T>().is(a.dtype()))
        throw_type_error(op, ": ", name, " has dtype ", dtype_str(a.dtype()), ", expected ", dtype_str(param.dtype()),
                         " (the dtype of param)");
    bool same_shape = a.ndim() == param.ndim();
    for (py::ssize_t d = 0; same_shape && d < a.ndim(); ++d) same_shape = a.shape(d) == param.shape(d);
    PN_CHECK(same_shape, op, ": ", name, " has shape ", shape_str(a), ", expected ", shape_str(param),
             " (the shape of param)");
    PN_CHECK(a.flags() & py::array::c_style, op, ": ", name, " must be C-contiguous");
    if (writes) PN_CHECK(a.writeable(), op, ": ", name, " is read-only");
    return static_cast<T*>(const_cast<void*>(a.data()));
}

template <class T>
T* optional_buffer(const py::object& x, const py::array& param, const char* op, const char* name) {
    return x.is_none() ? nullptr : buffer_of<T>(x, param, op, name, true);
}

// Calls body.template operator()<T>(param) for param's float dtype.
template <class Body>
void on_dtype(const py::object& param_obj, const char* op, const Body& body) {
    if (!py::isinstance<py::array>(param_obj))
        throw_type_error(op, ": param must be a NumPy array, got ",
                         std::string(py::str(py::type::of(param_obj).attr("__name__"))));
    auto param = py::reinterpret_borrow<py::array>(param_obj);
    if (py::dtype::of<float>().is(param.dtype())) return body(param, float{});
    if (py::dtype::of<double>().is(param.dtype())) return body(param, double{});
    throw_type_error(op, ": param has dtype ", dtype_str(param.dtype()), "; expected float32 or float64");
}

}  // namespace

void init_optim(py::module_& m) {
    m.def("sgd_update", [](py::object param, py::object grad, py::object momentum_buffer, double lr, double momentum,
                           double dampening, double weight_decay, double l1_weight_decay, bool nesterov,
                           bool first_step) {
        on_dtype(param, "sgd_update", [&](py::array& p, auto zero) {
            using T = decltype(zero);
            cpu::SgdUpdate<T> u{buffer_of<T>(param, p, "sgd_update", "param", true),
                                buffer_of<T>(grad, p, "sgd_update", "grad", false),
                                optional_buffer<T>(momentum_buffer, p, "sgd_update", "momentum_buffer"),
                                index_t(p.size()), lr, momentum, dampening, weight_decay, l1_weight_decay, nesterov,
                                first_step};
            py::gil_scoped_release release;
            cpu::sgd_update(u);
        });
    }, py::arg("param"), py::arg("grad"), py::arg("momentum_buffer") = py::none(), py::kw_only(), py::arg("lr"),
          py::arg("momentum") = 0.0, py::arg("dampening") = 0.0, py::arg("weight_decay") = 0.0,
          py::arg("l1_weight_decay") = 0.0, py::arg("nesterov") = false, py::arg("first_step") = false,
          "In-place SGD step (torch.optim.SGD's rule) on C-contiguous arrays of one shape and dtype;\n"
          "first_step: the momentum buffer is set to the gradient instead of being decayed.");

    m.def("adam_update", [](py::object param, py::object grad, py::object exp_avg, py::object exp_avg_sq,
                            py::object max_exp_avg_sq, double lr, double beta1, double beta2, double eps,
                            double weight_decay, double l1_weight_decay, index_t step, bool decoupled) {
        on_dtype(param, "adam_update", [&](py::array& p, auto zero) {
            using T = decltype(zero);
            cpu::AdamUpdate<T> u{buffer_of<T>(param, p, "adam_update", "param", true),
                                 buffer_of<T>(grad, p, "adam_update", "grad", false),
                                 buffer_of<T>(exp_avg, p, "adam_update", "exp_avg", true),
                                 buffer_of<T>(exp_avg_sq, p, "adam_update", "exp_avg_sq", true),
                                 optional_buffer<T>(max_exp_avg_sq, p, "adam_update", "max_exp_avg_sq"),
                                 index_t(p.size()), lr, beta1, beta2, eps, weight_decay, l1_weight_decay, step,
                                 decoupled};
            py::gil_scoped_release release;
            cpu::adam_update(u);
        });
    }, py::arg("param"), py::arg("grad"), py::arg("exp_avg"), py::arg("exp_avg_sq"),
          py::arg("max_exp_avg_sq") = py::none(), py::kw_only(), py::arg("lr"), py::arg("beta1"), py::arg("beta2"),
          py::arg("eps"), py::arg("weight_decay") = 0.0, py::arg("l1_weight_decay") = 0.0, py::arg("step"), py::arg("decoupled") = false,
          "In-place Adam step (decoupled=True: AdamW) with bias correction for `step` (>= 1); with\n"
          "max_exp_avg_sq, AMSGrad (divides by the running maximum of exp_avg_sq).");

    m.def("rmsprop_update", [](py::object param, py::object grad, py::object square_avg, py::object momentum_buffer,
                               py::object grad_avg, double lr, double alpha, double eps, double weight_decay,
                               double momentum, double l1_weight_decay, bool centered) {
        on_dtype(param, "rmsprop_update", [&](py::array& p, auto zero) {
            using T = decltype(zero);
            cpu::RmspropUpdate<T> u{buffer_of<T>(param, p, "rmsprop_update", "param", true),
                                    buffer_of<T>(grad, p, "rmsprop_update", "grad", false),
                                    buffer_of<T>(square_avg, p, "rmsprop_update", "square_avg", true),
                                    optional_buffer<T>(momentum_buffer, p, "rmsprop_update", "momentum_buffer"),
                                    optional_buffer<T>(grad_avg, p, "rmsprop_update", "grad_avg"),
                                    index_t(p.size()), lr, alpha, eps, weight_decay, momentum, l1_weight_decay,
                                    centered};
            py::gil_scoped_release release;
            cpu::rmsprop_update(u);
        });
    }, py::arg("param"), py::arg("grad"), py::arg("square_avg"), py::arg("momentum_buffer") = py::none(),
          py::arg("grad_avg") = py::none(), py::kw_only(), py::arg("lr"), py::arg("alpha"), py::arg("eps"),
          py::arg("weight_decay") = 0.0, py::arg("momentum") = 0.0, py::arg("l1_weight_decay") = 0.0,
          py::arg("centered") = false,
          "In-place RMSprop step (torch.optim.RMSprop's rule); momentum_buffer needed when momentum > 0,\n"
          "grad_avg when centered.");

    m.def("adagrad_update", [](py::object param, py::object grad, py::object state_sum, double lr, double eps,
                               double weight_decay, double l1_weight_decay) {
        on_dtype(param, "adagrad_update", [&](py::array& p, auto zero) {
            using T = decltype(zero);
            cpu::AdagradUpdate<T> u{buffer_of<T>(param, p, "adagrad_update", "param", true),
                                    buffer_of<T>(grad, p, "adagrad_update", "grad", false),
                                    buffer_of<T>(state_sum, p, "adagrad_update", "state_sum", true),
                                    index_t(p.size()), lr, eps, weight_decay, l1_weight_decay};
            py::gil_scoped_release release;
            cpu::adagrad_update(u);
        });
    }, py::arg("param"), py::arg("grad"), py::arg("state_sum"), py::kw_only(), py::arg("lr"), py::arg("eps"),
          py::arg("weight_decay") = 0.0, py::arg("l1_weight_decay") = 0.0,
          "In-place Adagrad step with the learning rate already decayed for this step.");
}

}  // namespace pyneural::python
