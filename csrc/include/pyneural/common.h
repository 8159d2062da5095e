// Types shared by every kernel. Plain structs only: this header is compiled once per ISA, and an
// out-of-line inline function here could be emitted with AVX-512 code and picked by the linker for all.
#pragma once
#include <cstddef>
#include <cstdint>

namespace pyneural {

using index_t = std::int64_t;

// A batch of strided matrices: element (b, i, j) lives at data[b*bs + i*rs + j*cs] (strides in elements).
template <class T>
struct StridedBatch {
    T* data;
    index_t bs, rs, cs;
};

// Element-wise function fused into a kernel's output pass (GEMM and convolution epilogues).
enum class Activation : int { none = 0, relu = 1, gelu = 2, sigmoid = 3, tanh = 4 };

}  // namespace pyneural
