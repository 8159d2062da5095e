// The per-ISA pooling implementations (pool_kernels.cpp compiled once per ISA, each in its namespace).
#pragma once
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

struct PoolVariant {
    PoolFunctions<float> f32;
    PoolFunctions<double> f64;
};

namespace ref { PoolVariant pool_variant(); }
namespace avx2 { PoolVariant pool_variant(); }
namespace avx512 { PoolVariant pool_variant(); }

}  // namespace pyneural::cpu
