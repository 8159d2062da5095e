#include "dropout.h"

#include <math.h>

#include "dropout_variants.h"
#include "pyneural/checks.h"
#include "pyneural/error.h"

namespace pyneural::cpu {
namespace {

DropoutVariant variant() { return PN_ACTIVE_VARIANT(dropout_variant); }

void check(const char* op, index_t n, double p) {
    PN_CHECK(n >= 0, op, ": negative size n=", n);
    PN_CHECK(p >= 0.0 && p < 1.0, op, ": probability p must be in [0, 1), got ", p);
}

template <class T>
void forward(const T* x, T* out, std::uint8_t* mask, index_t n, double p, std::uint64_t seed) {
    check("dropout", n, p);
    if (n == 0) return;
    PN_CHECK(x && out && mask, "dropout: null pointer");
    PN_CHECK((out == x || !overlaps(out, n, x, n)) && !overlaps(mask, n, x, n) && !overlaps(mask, n, out, n),
             "dropout: the outputs overlap the input or each other");
    const auto threshold = std::uint64_t(ceil(p * 9007199254740992.0));  // p 2^53 is exact
    variant().of<T>().forward(x, out, mask, n, threshold, 1.0 / (1.0 - p), seed);
}

template <class T>
void backward(const T* g, const std::uint8_t* mask, T* gx, index_t n, double p) {
    check("dropout_backward", n, p);
    if (n == 0) return;
    PN_CHECK(g && mask && gx, "dropout_backward: null pointer");
    PN_CHECK((gx == g || !overlaps(gx, n, g, n)) && !overlaps(gx, n, mask, n),
             "dropout_backward: grad_x overlaps an input");
    variant().of<T>().backward(g, mask, gx, n, 1.0 / (1.0 - p));
}

}  // namespace

void dropout_forward(const float* x, float* out, std::uint8_t* mask, index_t n, double p, std::uint64_t seed) {
    forward(x, out, mask, n, p, seed);
}
void dropout_forward(const double* x, double* out, std::uint8_t* mask, index_t n, double p, std::uint64_t seed) {
    forward(x, out, mask, n, p, seed);
}
void dropout_backward(const float* g, const std::uint8_t* mask, float* gx, index_t n, double p) {
    backward(g, mask, gx, n, p);
}
void dropout_backward(const double* g, const std::uint8_t* mask, double* gx, index_t n, double p) {
    backward(g, mask, gx, n, p);
}

}  // namespace pyneural::cpu
