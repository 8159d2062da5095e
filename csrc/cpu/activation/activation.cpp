#include "activation.h"

#include "activation_variants.h"
#include "pyneural/checks.h"
#include "pyneural/error.h"

namespace pyneural::cpu {
namespace {

ActivationVariant variant() { return PN_ACTIVE_VARIANT(activation_variant); }

// Element-wise kernels may write in place, but a partial overlap would read already-written values.
template <class T>
bool overlaps_partially(const T* a, const T* b, index_t n) {
    return a != b && overlaps(a, n, b, n);
}

template <class T>
void check(ActKind kind, const char* what, index_t n, const T* in1, const T* in2, bool has_in2, const T* out) {
    const int k = static_cast<int>(kind);
    PN_CHECK(k >= 0 && k <= static_cast<int>(ActKind::tanh), "activation_", what, ": unknown activation code ", k);
    PN_CHECK(n >= 0, activation_name(kind), "_", what, ": negative size ", n);
    if (n == 0) return;
    PN_CHECK(in1 && out && (in2 || !has_in2), activation_name(kind), "_", what, ": null pointer");
    PN_CHECK(!overlaps_partially(in1, out, n) && !(in2 && overlaps_partially(in2, out, n)), activation_name(kind), "_",
             what, ": output partially overlaps an input (only exact in-place is allowed)");
}

}  // namespace

const char* activation_name(ActKind kind) {
    switch (kind) {
        case ActKind::relu: return "relu";
        case ActKind::leaky_relu: return "leaky_relu";
        case ActKind::elu: return "elu";
        case ActKind::gelu: return "gelu";
        case ActKind::silu: return "silu";
        case ActKind::sigmoid: return "sigmoid";
        case ActKind::tanh: return "tanh";
    }
    return "activation";
}

void activation_forward(ActKind kind, const float* x, float* y, index_t n, double alpha) {
    check<float>(kind, "forward", n, x, nullptr, false, y);
    if (n) variant().forward_f32(kind, x, y, n, alpha);
}
void activation_forward(ActKind kind, const double* x, double* y, index_t n, double alpha) {
    check<double>(kind, "forward", n, x, nullptr, false, y);
    if (n) variant().forward_f64(kind, x, y, n, alpha);
}
void activation_backward(ActKind kind, const float* g, const float* saved, float* gin, index_t n, double alpha) {
    check<float>(kind, "backward", n, g, saved, true, gin);
    if (n) variant().backward_f32(kind, g, saved, gin, n, alpha);
}
void activation_backward(ActKind kind, const double* g, const double* saved, double* gin, index_t n, double alpha) {
    check<double>(kind, "backward", n, g, saved, true, gin);
    if (n) variant().backward_f64(kind, g, saved, gin, n, alpha);
}

}  // namespace pyneural::cpu
