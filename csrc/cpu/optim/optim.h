// Fused optimizer updates: each one pass over the parameter, its gradient and its state buffers, in
// place, on contiguous buffers of n elements. The update rules are PyTorch's (torch.optim).
// Every update also takes l1_weight_decay: the subgradient l1_weight_decay * sign(p) of an L1 penalty
// added to the gradient before the L2 term, as if l1_weight_decay * sum|p| had been added to the loss.
#pragma once
#include "pyneural/common.h"

namespace pyneural::cpu {

// SGD: d = g + wd*p; with momentum, buf = d on the first step, else buf = momentum*buf + (1-dampening)*d,
// and d = d + momentum*buf (nesterov) or buf; p -= lr*d. momentum_buffer may be null when momentum == 0.
template <class T>
struct SgdUpdate {
    T* param;
    const T* grad;
    T* momentum_buffer;
    index_t n;
    double lr, momentum, dampening, weight_decay, l1_weight_decay;
    bool nesterov, first_step;
};

// Adam (decoupled = false: L2 decay added to the gradient) and AdamW (decoupled = true: p *= 1 - lr*wd),
// with bias correction for step `step` (1 on the first update). With max_exp_avg_sq (AMSGrad, may be
// null otherwise) the step divides by the running maximum of exp_avg_sq instead of exp_avg_sq.
template <class T>
struct AdamUpdate {
    T* param;
    const T* grad;
    T* exp_avg;
    T* exp_avg_sq;
    T* max_exp_avg_sq;
    index_t n;
    double lr, beta1, beta2, eps, weight_decay, l1_weight_decay;
    index_t step;
    bool decoupled;
};

// RMSprop: momentum_buffer may be null when momentum == 0, grad_avg when not centered.
template <class T>
struct RmspropUpdate {
    T* param;
    const T* grad;
    T* square_avg;
    T* momentum_buffer;
    T* grad_avg;
    index_t n;
    double lr, alpha, eps, weight_decay, momentum, l1_weight_decay;
    bool centered;
};

// Adagrad with the learning rate already decayed for this step (lr / (1 + (step - 1) * lr_decay)).
template <class T>
struct AdagradUpdate {
    T* param;
    const T* grad;
    T* state_sum;
    index_t n;
    double lr, eps, weight_decay, l1_weight_decay;
};

void sgd_update(const SgdUpdate<float>& u);
void sgd_update(const SgdUpdate<double>& u);
void adam_update(const AdamUpdate<float>& u);
void adam_update(const AdamUpdate<double>& u);
void rmsprop_update(const RmspropUpdate<float>& u);
void rmsprop_update(const RmspropUpdate<double>& u);
void adagrad_update(const AdagradUpdate<float>& u);
void adagrad_update(const AdagradUpdate<double>& u);

}  // namespace pyneural::cpu
