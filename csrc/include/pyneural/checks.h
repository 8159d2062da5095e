// Overlap checks for kernel entry points: an output written while inputs are still being read must not
// share memory with them (the result would depend on the order of the writes).
#pragma once
#include <initializer_list>

#include "pyneural/common.h"
#include "pyneural/error.h"

namespace pyneural {

// The bytes of an array: `bytes` bytes from `data`; null or empty spans hold no bytes.
struct Span {
    const void* data;
    index_t bytes;
};

// The span of `count` elements of type T at `data` (null: absent, no bytes).
template <class T>
Span span(const T* data, index_t count) {
    return {data, data && count > 0 ? count * index_t(sizeof(T)) : 0};
}

// Whether two spans share a byte.
inline bool overlap(Span a, Span b) {
    if (!a.data || !b.data || a.bytes <= 0 || b.bytes <= 0) return false;
    const char *a0 = static_cast<const char*>(a.data), *b0 = static_cast<const char*>(b.data);
    return a0 < b0 + b.bytes && b0 < a0 + a.bytes;
}

// Whether `na` elements at a and `nb` elements at b share a byte.
template <class A, class B>
bool overlaps(const A* a, index_t na, const B* b, index_t nb) {
    return overlap(span(a, na), span(b, nb));
}

// Outputs overlap neither the inputs nor each other, else an error naming the op.
inline void check_disjoint(const char* op, std::initializer_list<Span> outputs, std::initializer_list<Span> inputs) {
    int i = 0;
    for (Span out : outputs) {
        for (Span in : inputs) PN_CHECK(!overlap(out, in), op, ": an output array overlaps an input array");
        int j = 0;
        for (Span other : outputs)
            PN_CHECK(j++ <= i || !overlap(out, other), op, ": two output arrays overlap each other");
        ++i;
    }
}

}  // namespace pyneural
