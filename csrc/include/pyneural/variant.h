// How a kernel family reaches the implementation for the CPU at hand: <family>_kernels.cpp is compiled
// once per ISA into namespaces ref, avx2 and avx512 (the last two when the build defines PN_HAVE_AVX2 /
// PN_HAVE_AVX512), each defining the same `<Family>Variant <family>_variant()` that returns its table of
// function pointers.
#pragma once
#include "pyneural/cpu_features.h"

namespace pyneural::cpu {

// A family's function table for both dtypes, Fns<float> and Fns<double>; `of<T>()` picks one.
template <template <class> class Fns>
struct ByDtype {
    Fns<float> f32;
    Fns<double> f64;

    template <class T>
    const Fns<T>& of() const {
        if constexpr (sizeof(T) == 4) return f32;
        else return f64;
    }
};

}  // namespace pyneural::cpu

// In a family's *_variants.h: PN_DECLARE_VARIANTS(NormVariant, norm_variant) declares the three entries.
#define PN_DECLARE_VARIANTS(Variant, fn) \
    namespace ref { Variant fn(); }      \
    namespace avx2 { Variant fn(); }     \
    namespace avx512 { Variant fn(); }

#ifdef PN_HAVE_AVX512
#define PN_AVX512_CASE(fn) case ::pyneural::Isa::avx512: return avx512::fn();
#else
#define PN_AVX512_CASE(fn)
#endif
#ifdef PN_HAVE_AVX2
#define PN_AVX2_CASE(fn) case ::pyneural::Isa::avx2: return avx2::fn();
#else
#define PN_AVX2_CASE(fn)
#endif

// Inside namespace pyneural::cpu: the table of `isa` (the ref one when this build lacks that ISA), and
// the table of the ISA chosen at run time.
#define PN_VARIANT_FOR(fn, isa)                                                            \
    [](::pyneural::Isa which) {                                                           \
        switch (which) { PN_AVX512_CASE(fn) PN_AVX2_CASE(fn) default: return ref::fn(); } \
    }(isa)
#define PN_ACTIVE_VARIANT(fn) PN_VARIANT_FOR(fn, ::pyneural::active_isa())
