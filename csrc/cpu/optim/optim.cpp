#include "optim.h"

#include <math.h>

#include <initializer_list>
#include <utility>

#include "optim_variants.h"
#include "pyneural/checks.h"
#include "pyneural/error.h"

namespace pyneural::cpu {
namespace {

OptimVariant variant() { return PN_ACTIVE_VARIANT(optim_variant); }

struct Buffer {
    const void* data;
    const char* name;
};

// Every buffer present (non-null) when n > 0, and no two of them overlapping (the update is in place
// and reads each element once: overlapping buffers would give order-dependent results).
template <class T>
void check_buffers(const char* op, index_t n, std::initializer_list<Buffer> buffers) {
    PN_CHECK(n >= 0, op, ": negative size ", n);
    if (n == 0) return;
    const index_t bytes = n * index_t(sizeof(T));
    for (auto x = buffers.begin(); x != buffers.end(); ++x) {
        PN_CHECK(x->data != nullptr, op, ": ", x->name, " is missing (null)");
        for (auto y = buffers.begin(); y != x; ++y)
            PN_CHECK(!overlap({x->data, bytes}, {y->data, bytes}), op, ": ", x->name, " overlaps ", y->name);
    }
}

void check_finite(const char* op, std::initializer_list<std::pair<const char*, double>> values) {
    for (auto [name, value] : values) PN_CHECK(isfinite(value), op, ": ", name, " must be finite, got ", value);
}

template <class T>
void validate(const SgdUpdate<T>& u) {
    check_finite("sgd_update", {{"lr", u.lr}, {"momentum", u.momentum}, {"dampening", u.dampening},
                                {"weight_decay", u.weight_decay}, {"l1_weight_decay", u.l1_weight_decay}});
    PN_CHECK(!u.nesterov || (u.momentum > 0 && u.dampening == 0),
             "sgd_update: nesterov needs momentum > 0 and dampening = 0, got momentum=", u.momentum,
             ", dampening=", u.dampening);
    if (u.momentum != 0)
        check_buffers<T>("sgd_update", u.n, {{u.param, "param"}, {u.grad, "grad"}, {u.momentum_buffer, "momentum_buffer"}});
    else
        check_buffers<T>("sgd_update", u.n, {{u.param, "param"}, {u.grad, "grad"}});
}

template <class T>
void validate(const AdamUpdate<T>& u) {
    check_finite("adam_update", {{"lr", u.lr}, {"beta1", u.beta1}, {"beta2", u.beta2}, {"eps", u.eps},
                                 {"weight_decay", u.weight_decay}, {"l1_weight_decay", u.l1_weight_decay}});
    PN_CHECK(u.beta1 >= 0 && u.beta1 < 1 && u.beta2 >= 0 && u.beta2 < 1,
             "adam_update: betas must be in [0, 1), got (", u.beta1, ", ", u.beta2, ")");
    PN_CHECK(u.step >= 1, "adam_update: step must be >= 1 (bias correction), got ", u.step);
    if (u.max_exp_avg_sq)
        check_buffers<T>("adam_update", u.n, {{u.param, "param"}, {u.grad, "grad"}, {u.exp_avg, "exp_avg"},
                                              {u.exp_avg_sq, "exp_avg_sq"}, {u.max_exp_avg_sq, "max_exp_avg_sq"}});
    else
        check_buffers<T>("adam_update", u.n,
                         {{u.param, "param"}, {u.grad, "grad"}, {u.exp_avg, "exp_avg"}, {u.exp_avg_sq, "exp_avg_sq"}});
}

template <class T>
void validate(const RmspropUpdate<T>& u) {
    check_finite("rmsprop_update", {{"lr", u.lr}, {"alpha", u.alpha}, {"eps", u.eps},
                                    {"weight_decay", u.weight_decay}, {"momentum", u.momentum},
                                    {"l1_weight_decay", u.l1_weight_decay}});
    if (u.momentum > 0 && u.centered)
        check_buffers<T>("rmsprop_update", u.n, {{u.param, "param"}, {u.grad, "grad"}, {u.square_avg, "square_avg"},
                                                 {u.momentum_buffer, "momentum_buffer"}, {u.grad_avg, "grad_avg"}});
    else if (u.momentum > 0)
        check_buffers<T>("rmsprop_update", u.n, {{u.param, "param"}, {u.grad, "grad"}, {u.square_avg, "square_avg"},
                                                 {u.momentum_buffer, "momentum_buffer"}});
    else if (u.centered)
        check_buffers<T>("rmsprop_update", u.n, {{u.param, "param"}, {u.grad, "grad"}, {u.square_avg, "square_avg"},
                                                 {u.grad_avg, "grad_avg"}});
    else
        check_buffers<T>("rmsprop_update", u.n, {{u.param, "param"}, {u.grad, "grad"}, {u.square_avg, "square_avg"}});
}

template <class T>
void validate(const AdagradUpdate<T>& u) {
    check_finite("adagrad_update", {{"lr", u.lr}, {"eps", u.eps}, {"weight_decay", u.weight_decay},
                                     {"l1_weight_decay", u.l1_weight_decay}});
    check_buffers<T>("adagrad_update", u.n, {{u.param, "param"}, {u.grad, "grad"}, {u.state_sum, "state_sum"}});
}

}  // namespace

void sgd_update(const SgdUpdate<float>& u) { validate(u); variant().sgd_f32(u); }
void sgd_update(const SgdUpdate<double>& u) { validate(u); variant().sgd_f64(u); }
void adam_update(const AdamUpdate<float>& u) { validate(u); variant().adam_f32(u); }
void adam_update(const AdamUpdate<double>& u) { validate(u); variant().adam_f64(u); }
void rmsprop_update(const RmspropUpdate<float>& u) { validate(u); variant().rmsprop_f32(u); }
void rmsprop_update(const RmspropUpdate<double>& u) { validate(u); variant().rmsprop_f64(u); }
void adagrad_update(const AdagradUpdate<float>& u) { validate(u); variant().adagrad_f32(u); }
void adagrad_update(const AdagradUpdate<double>& u) { validate(u); variant().adagrad_f64(u); }

}  // namespace pyneural::cpu
