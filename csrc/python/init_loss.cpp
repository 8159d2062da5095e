#include <optional>
#include <string>
#include <vector>

#include "../cpu/loss/loss.h"
#include <pybind11/stl.h>

#include "arrays.h"

namespace pyneural::python {
namespace {

cpu::LossKind parse_kind(const std::string& kind) {
    if (kind == "mse") return cpu::LossKind::mse;
    if (kind == "l1") return cpu::LossKind::l1;
    if (kind == "smooth_l1") return cpu::LossKind::smooth_l1;
    if (kind == "bce") return cpu::LossKind::bce;
    if (kind == "bce_with_logits") return cpu::LossKind::bce_logits;
    throw Error(message("loss: unknown loss '", kind, "'; expected mse, l1, smooth_l1, bce or bce_with_logits"));
}

double loss_forward(const std::string& kind, py::array x, py::array y, std::optional<py::array> weight,
                    std::optional<py::array> pos_weight, std::optional<py::array> out, double beta) {
    const cpu::LossKind k = parse_kind(kind);
    const char* op = "loss_forward";
    const std::vector<index_t> shape = shape_of(x);
    double total = 0.0;
    by_dtype(x, op, [&](auto zero) {
        using T = decltype(zero);
        const T* xp = contiguous_data<const T>(x, op, "x", shape);
        const T* yp = contiguous_data<const T>(y, op, "y", shape);
        const T* wp = optional_contiguous<const T>(weight, op, "weight", shape);
        const T* pwp = optional_contiguous<const T>(pos_weight, op, "pos_weight", shape);
        T* outp = optional_contiguous<T>(out, op, "out", shape);
        py::gil_scoped_release release;
        total = cpu::loss_forward(k, xp, yp, wp, pwp, outp, index_t(x.size()), beta);
    });
    return total;
}

void loss_backward(const std::string& kind, py::array x, py::array y, std::optional<py::array> weight,
                   std::optional<py::array> pos_weight, std::optional<py::array> grad, double scale, py::array out,
                   double beta) {
    const cpu::LossKind k = parse_kind(kind);
    const char* op = "loss_backward";
    const std::vector<index_t> shape = shape_of(x);
    by_dtype(x, op, [&](auto zero) {
        using T = decltype(zero);
        const T* xp = contiguous_data<const T>(x, op, "x", shape);
        const T* yp = contiguous_data<const T>(y, op, "y", shape);
        const T* wp = optional_contiguous<const T>(weight, op, "weight", shape);
        const T* pwp = optional_contiguous<const T>(pos_weight, op, "pos_weight", shape);
        const T* gp = optional_contiguous<const T>(grad, op, "grad", shape);
        T* outp = contiguous_data<T>(out, op, "out", shape);
        py::gil_scoped_release release;
        cpu::loss_backward(k, xp, yp, wp, pwp, gp, scale, outp, index_t(x.size()), beta);
    });
}

py::tuple nll_forward(py::array x, py::array target, std::optional<py::array> weight, std::optional<py::array> out,
                      index_t ignore_index) {
    const char* op = "nll_loss";
    require_ndim(x, 3, op, "x", "(outer, classes, inner)");
    const index_t outer = x.shape(0), classes = x.shape(1), inner = x.shape(2);
    double sums[2] = {0.0, 0.0};
    by_dtype(x, op, [&](auto zero) {
        using T = decltype(zero);
        const T* xp = contiguous_data<const T>(x, op, "x", {outer, classes, inner});
        const auto* tp = contiguous_data<const std::int64_t>(target, op, "target", {outer * inner});
        const T* wp = optional_contiguous<const T>(weight, op, "weight", {classes});
        T* outp = optional_contiguous<T>(out, op, "out", {outer * inner});
        py::gil_scoped_release release;
        cpu::nll_forward(xp, tp, wp, outp, outer, classes, inner, ignore_index, sums);
    });
    return py::make_tuple(sums[0], sums[1]);
}

void nll_backward(py::array target, std::optional<py::array> weight, std::optional<py::array> grad, double scale,
                  py::array out, index_t ignore_index) {
    const char* op = "nll_loss_backward";
    require_ndim(out, 3, op, "out", "(outer, classes, inner)");
    const index_t outer = out.shape(0), classes = out.shape(1), inner = out.shape(2);
    by_dtype(out, op, [&](auto zero) {
        using T = decltype(zero);
        const auto* tp = contiguous_data<const std::int64_t>(target, op, "target", {outer * inner});
        const T* wp = optional_contiguous<const T>(weight, op, "weight", {classes});
        const T* gp = optional_contiguous<const T>(grad, op, "grad", {outer * inner});
        T* outp = contiguous_data<T>(out, op, "out", {outer, classes, inner});
        py::gil_scoped_release release;
        cpu::nll_backward(tp, wp, gp, scale, outp, outer, classes, inner, ignore_index);
    });
}

}  // namespace

void init_loss(py::module_& m) {
    m.def("loss_forward", &loss_forward, py::arg("kind"), py::arg("x"), py::arg("y"), py::arg("weight") = py::none(),
          py::arg("pos_weight") = py::none(), py::arg("out") = py::none(), py::arg("beta") = 1.0,
          "Element-wise loss (mse, l1, smooth_l1, bce, bce_with_logits) of C-contiguous x against y (same shape and\n"
          "dtype), times weight; writes the per-element losses to out when given; returns their sum (double).");
    m.def("loss_backward", &loss_backward, py::arg("kind"), py::arg("x"), py::arg("y"), py::arg("weight"),
          py::arg("pos_weight"), py::arg("grad"), py::arg("scale"), py::arg("out"), py::arg("beta") = 1.0,
          "out = d loss / d x times grad (reduction 'none') or the scalar scale (grad None).");
    m.def("nll_loss_forward", &nll_forward, py::arg("x"), py::arg("target"), py::arg("weight") = py::none(),
          py::arg("out") = py::none(), py::arg("ignore_index") = -100,
          "-weight[t] x[o, t, i] for x (outer, classes, inner) and int64 targets (outer * inner,), into out when\n"
          "given; returns (sum of losses, sum of weight[t] over non-ignored targets).");
    m.def("nll_loss_backward", &nll_backward, py::arg("target"), py::arg("weight"), py::arg("grad"), py::arg("scale"),
          py::arg("out"), py::arg("ignore_index") = -100,
          "out (outer, classes, inner) = 0, then out[o, t, i] = -weight[t] * (grad[r] or scale).");
}

}  // namespace pyneural::python
