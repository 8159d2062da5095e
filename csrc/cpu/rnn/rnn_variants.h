// The per-ISA recurrent gate kernels (rnn_kernels.cpp compiled once per ISA, each in its namespace).
#pragma once
#include "pyneural/variant.h"
#include "rnn.h"

namespace pyneural::cpu {

// Arguments as in rnn.h, already validated.
template <class T>
struct RnnKernels {
    void (*rnn_cell_forward)(bool, const T*, const T*, const T*, index_t, index_t, T*);
    void (*rnn_cell_backward)(bool, const T*, const T*, const T*, index_t, index_t, T*);
    void (*lstm_cell_forward)(const T*, const T*, const T*, const T*, index_t, index_t, T*, T*, T*);
    void (*lstm_cell_backward)(const T*, const T*, const T*, const T*, const T*, const T*, index_t, index_t, T*,
                               T*);
    void (*gru_cell_forward)(const T*, const T*, const T*, const T*, index_t, index_t, T*, T*);
    void (*gru_cell_backward)(const T*, const T*, const T*, const T*, index_t, index_t, T*, T*, T*);
    // the sequence kernels return false when out of memory
    bool (*lstm_sequence_forward)(const T*, const T*, const T*, index_t, index_t, index_t, bool, bool, bool, bool, T*,
                                  T*);
    bool (*lstm_sequence_backward)(const T*, const T*, const T*, const T*, index_t, index_t, index_t, bool, bool, T*,
                                   T*, T*);
};

using RnnVariant = ByDtype<RnnKernels>;

PN_DECLARE_VARIANTS(RnnVariant, rnn_variant)

}  // namespace pyneural::cpu
