// The per-ISA pooling implementations (pool_kernels.cpp compiled once per ISA, each in its namespace).
#pragma once
#include "pyneural/variant.h"
#include "pool.h"

namespace pyneural::cpu {

template <class T>
struct PoolFunctions {
    void (*max_forward)(const PoolShape&, const T*, T*, index_t*);
    void (*max_backward)(const PoolShape&, const T*, const index_t*, T*);
    void (*avg_forward)(const PoolShape&, bool, const T*, T*);
    void (*avg_backward)(const PoolShape&, bool, const T*, T*);
    void (*adaptive_forward)(const PoolShape&, const T*, T*);
    void (*adaptive_backward)(const PoolShape&, const T*, T*);
};

using PoolVariant = ByDtype<PoolFunctions>;

PN_DECLARE_VARIANTS(PoolVariant, pool_variant)

}  // namespace pyneural::cpu
