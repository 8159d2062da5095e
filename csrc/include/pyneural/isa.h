// Vector types and small helpers for per-ISA kernel code (<family>_kernels.cpp).
// Include this INSIDE `namespace pyneural::cpu::PN_ISA { namespace { ... } }`, after the C headers it
// needs (<stdlib.h>, <string.h>): every variant then gets private copies compiled with its own flags, and no
// out-of-line function of one ISA can be picked by the linker for another.
#pragma once

#if defined(__AVX512F__)
constexpr int kVectorBytes = 64;
#elif defined(__AVX2__)
constexpr int kVectorBytes = 32;
#else
constexpr int kVectorBytes = 16;  // SSE2: the x86-64 baseline
#endif

typedef float VecF __attribute__((vector_size(kVectorBytes)));
typedef double VecD __attribute__((vector_size(kVectorBytes)));
template <class T> struct VecOf;
template <> struct VecOf<float> { using type = VecF; };
template <> struct VecOf<double> { using type = VecD; };
template <class T> using Vec = typename VecOf<T>::type;
template <class T> constexpr int kVL = kVectorBytes / int(sizeof(T));  // lanes per vector

// Unaligned loads and stores of whole vectors, and of the first `w` lanes for a last partial vector
// (the other lanes load as `pad` and are not stored).
template <class T>
inline Vec<T> load(const T* p) {
    Vec<T> v;
    memcpy(&v, p, sizeof v);
    return v;
}
template <class T>
inline void store(T* p, Vec<T> v) {
    memcpy(p, &v, sizeof v);
}
template <class T>
inline Vec<T> load_part(const T* p, index_t w, T pad = T(0)) {
    Vec<T> v;
    for (int l = 0; l < kVL<T>; ++l) v[l] = pad;
    memcpy(&v, p, size_t(w) * sizeof(T));
    return v;
}
template <class T>
inline void store_part(T* p, Vec<T> v, index_t w) {
    memcpy(p, &v, size_t(w) * sizeof(T));
}

inline index_t min_i(index_t a, index_t b) { return a < b ? a : b; }
inline index_t max_i(index_t a, index_t b) { return a > b ? a : b; }
inline index_t round_up(index_t x, index_t to) { return (x + to - 1) / to * to; }

// Per-thread scratch buffers that only grow (OpenMP keeps its threads, so they are reused); Slot tells
// apart the buffers one kernel needs at the same time. nullptr when out of memory.
template <class T, int Slot>
T* scratch(index_t count) {
    thread_local T* data = nullptr;
    thread_local index_t capacity = 0;
    if (count > capacity) {
        free(data);
        capacity = round_up(count, 4096);
        data = static_cast<T*>(aligned_alloc(64, size_t(capacity) * sizeof(T)));
        if (!data) capacity = 0;
    }
    return data;
}
