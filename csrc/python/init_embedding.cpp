#include <cstdint>

#include "../cpu/embedding/embedding.h"
#include "arrays.h"

namespace pyneural::python {
namespace {

void embedding_forward(py::array weight, py::array indices, py::array out) {
    const char* op = "embedding";
    require_ndim(weight, 2, op, "weight", "(num_embeddings, embedding_dim)");
    require_ndim(indices, 1, op, "indices", "(count,)");
    const index_t rows = weight.shape(0), dim = weight.shape(1), count = indices.shape(0);
    by_dtype(weight, op, [&](auto zero) {
        using T = decltype(zero);
        const T* wp = contiguous_data<const T>(weight, op, "weight", {rows, dim});
        const auto* ip = contiguous_data<const std::int64_t>(indices, op, "indices", {count});
        T* outp = contiguous_data<T>(out, op, "out", {count, dim});
        py::gil_scoped_release release;
        cpu::embedding_forward(wp, rows, dim, ip, count, outp);
    });
}

void embedding_backward(py::array grad, py::array indices, index_t padding_idx, py::array grad_weight) {
    const char* op = "embedding_backward";
    require_ndim(grad_weight, 2, op, "grad_weight", "(num_embeddings, embedding_dim)");
    require_ndim(indices, 1, op, "indices", "(count,)");
    const index_t rows = grad_weight.shape(0), dim = grad_weight.shape(1), count = indices.shape(0);
    by_dtype(grad_weight, op, [&](auto zero) {
        using T = decltype(zero);
        const T* gp = contiguous_data<const T>(grad, op, "grad", {count, dim});
        const auto* ip = contiguous_data<const std::int64_t>(indices, op, "indices", {count});
        T* gwp = contiguous_data<T>(grad_weight, op, "grad_weight", {rows, dim});
        py::gil_scoped_release release;
        cpu::embedding_backward(gp, ip, count, dim, padding_idx, gwp, rows);
    });
}

}  // namespace

void init_embedding(py::module_& m) {
    m.def("embedding_forward", &embedding_forward, py::arg("weight"), py::arg("indices"), py::arg("out"),
          "out[i] = weight[indices[i]]: weight (rows, dim), int64 indices (count,), out (count, dim); indices are "
          "range-checked.");
    m.def("embedding_backward", &embedding_backward, py::arg("grad"), py::arg("indices"), py::arg("padding_idx"),
          py::arg("grad_weight"),
          "grad_weight = 0, then grad_weight[indices[i]] += grad[i] (repeated indices add up); the padding_idx row "
          "(-1: none) stays zero.");
}

}  // namespace pyneural::python
