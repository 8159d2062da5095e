// NumPy array -> kernel view conversion shared by the bindings: dtype, rank and stride checks.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "pyneural/common.h"
#include "pyneural/error.h"

namespace pyneural::python {

namespace py = pybind11;

inline std::string shape_str(const py::array& x) {
    std::string s = "(";
    for (py::ssize_t d = 0; d < x.ndim(); ++d) s += (d ? ", " : "") + std::to_string(x.shape(d));
    return s + (x.ndim() == 1 ? ",)" : ")");
}

// The shape of x as kernel sizes.
inline std::vector<index_t> shape_of(const py::array& x) {
    std::vector<index_t> shape(size_t(x.ndim()));
    for (py::ssize_t d = 0; d < x.ndim(); ++d) shape[size_t(d)] = x.shape(d);
    return shape;
}

inline std::string dtype_str(const py::dtype& dtype) { return std::string(py::str(dtype)); }

// A wrong dtype is a wrong type: TypeError in Python (a wrong shape or layout is a ValueError, PN_CHECK).
template <class... Parts>
[[noreturn]] void throw_type_error(const Parts&... parts) {
    throw py::type_error(message(parts...));
}

// x has dtype `expected`, else a TypeError "op: name has dtype ..., expected ...".
inline void require_dtype(const py::array& x, const py::dtype& expected, const std::string& op, const char* name) {
    if (!expected.is(x.dtype()))
        throw_type_error(op, ": ", name, " has dtype ", dtype_str(x.dtype()), ", expected ", dtype_str(expected));
}

// The TypeError for an array whose dtype no kernel takes.
[[noreturn]] inline void unsupported_dtype(const std::string& op, const py::array& x) {
    throw_type_error(op, ": unsupported dtype ", dtype_str(x.dtype()), "; expected float32 or float64");
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
    require_dtype(x, py::dtype::of<std::remove_const_t<T>>(), op, name);
    if constexpr (!std::is_const_v<T>) PN_CHECK(x.writeable(), op, ": ", name, " is read-only");
    T* data = static_cast<T*>(const_cast<void*>(x.data()));
    return {data, element_stride(x, 0, op, name), element_stride(x, 1, op, name), element_stride(x, 2, op, name)};
}

// Pointer to the data of a C-contiguous array of dtype T (const T: read-only use) and exactly `shape`;
// every mismatch is an error naming the op and the array.
template <class T>
T* contiguous_data(py::array& x, const char* op, const char* name, const std::vector<index_t>& shape) {
    using U = std::remove_const_t<T>;
    require_dtype(x, py::dtype::of<U>(), op, name);
    bool same = x.ndim() == py::ssize_t(shape.size());
    for (size_t d = 0; same && d < shape.size(); ++d) same = x.shape(d) == shape[d];
    if (!same) {
        std::string expected = "(";
        for (size_t d = 0; d < shape.size(); ++d) expected += (d ? ", " : "") + std::to_string(shape[d]);
        PN_CHECK(false, op, ": ", name, " has shape ", shape_str(x), ", expected ", expected,
                 shape.size() == 1 ? ",)" : ")");
    }
    PN_CHECK(x.flags() & py::array::c_style, op, ": ", name, " must be C-contiguous");
    if constexpr (!std::is_const_v<T>) {
        PN_CHECK(x.writeable(), op, ": ", name, " is read-only");
        return static_cast<T*>(x.mutable_data());
    } else {
        return static_cast<T*>(x.data());
    }
}

// contiguous_data for an optional argument: nullptr when it is None.
template <class T>
T* optional_contiguous(std::optional<py::array>& x, const char* op, const char* name,
                       const std::vector<index_t>& shape) {
    return x ? contiguous_data<T>(*x, op, name, shape) : nullptr;
}

// Calls fn(float{}) or fn(double{}) by the dtype of x (the kernel's T); other dtypes are a TypeError.
template <class Fn>
void by_dtype(const py::array& x, const char* op, Fn&& fn) {
    if (py::dtype::of<float>().is(x.dtype())) return fn(float{});
    if (py::dtype::of<double>().is(x.dtype())) return fn(double{});
    unsupported_dtype(op, x);
}

// x.ndim() == ndim, else an error naming the op, the array and the expected layout.
inline void require_ndim(const py::array& x, int ndim, const char* op, const char* name, const char* layout) {
    PN_CHECK(x.ndim() == ndim, op, ": ", name, " must be ", ndim, "-D ", layout, ", got shape ", shape_str(x));
}

// The epilogue activation named in Python (None or "none", "relu", "gelu", "sigmoid", "tanh").
inline Activation parse_activation(const std::optional<std::string>& name, const char* op) {
    if (!name || *name == "none") return Activation::none;
    if (*name == "relu") return Activation::relu;
    if (*name == "gelu") return Activation::gelu;
    if (*name == "sigmoid") return Activation::sigmoid;
    if (*name == "tanh") return Activation::tanh;
    throw Error(message(op, ": unknown activation '", *name, "'; expected none, relu, gelu, sigmoid or tanh"));
}

}  // namespace pyneural::python
