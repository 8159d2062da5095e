// NumPy array -> kernel view conversion shared by the bindings: dtype, rank and stride checks.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "pyneural/common.h"
#include "pyneural/error.h"

namespace pyneural::python {

namespace py = pybind11;

inline std::string shape_str(const py::array& x) {
    std::string s = "(";
    for (py::ssize_t d = 0; d < x.ndim(); ++d) s += (d ? ", " : "") + std::to_string(x.shape(d));
    return s + (x.ndim() == 1 ? ",)" : ")");
}

// Stride of dimension d in elements; byte strides that are not a multiple of the item size are rejected.
inline index_t element_stride(const py::array& x, py::ssize_t d, const char* op, const char* name) {
    const auto bytes = x.strides(d);
    PN_CHECK(bytes % x.itemsize() == 0, op, ": ", name, " has a stride of ", bytes, " bytes, not a multiple of its ",
          x.itemsize(), "-byte items");
    return bytes / x.itemsize();
}

template <class T>
StridedBatch<T> batch_view(py::array& x, const char* op, const char* name) {
    PN_CHECK(x.ndim() == 3, op, ": ", name, " must be 3-D (batch, rows, cols), got shape ", shape_str(x));
    PN_CHECK(py::dtype::of<std::remove_const_t<T>>().is(x.dtype()), op, ": ", name, " has dtype ",
          std::string(py::str(x.dtype())), ", expected ", std::string(py::str(py::dtype::of<std::remove_const_t<T>>())));
    if constexpr (!std::is_const_v<T>) PN_CHECK(x.writeable(), op, ": ", name, " is read-only");
    T* data = static_cast<T*>(const_cast<void*>(x.data()));
    return {data, element_stride(x, 0, op, name), element_stride(x, 1, op, name), element_stride(x, 2, op, name)};
}

}  // namespace pyneural::python
