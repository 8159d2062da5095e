// Vector types and small helpers for per-ISA kernel code (<family>_kernels.cpp).
// Include this INSIDE `namespace pyneural::cpu::PN_ISA { namespace { ... } }`, after the C headers it
// needs (<stdlib.h>, <string.h>): every variant then gets private copies compiled with its own flags, and no
// out-of-line function of one ISA can be picked by the linker for another. The TU includes <immintrin.h>
// first (outside the namespaces).
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
// Masked on AVX-512 and AVX2 (lanes past w are not read, so never fault); a variable-length memcpy
// elsewhere. A memcpy here was a library call and a failed store-to-load forward per row: softmax over
// rows of 1000 floats spent a fifth of its time on the last 8 of each row.
template <class T>
inline Vec<T> load_part(const T* p, index_t w, T pad = T(0)) {
#if defined(__AVX512F__)
    if constexpr (sizeof(T) == 4)
        return (Vec<T>)_mm512_mask_loadu_ps(_mm512_set1_ps(pad), __mmask16((1u << w) - 1), p);
    else
        return (Vec<T>)_mm512_mask_loadu_pd(_mm512_set1_pd(pad), __mmask8((1u << w) - 1), p);
#elif defined(__AVX2__)
    if constexpr (sizeof(T) == 4) {
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(w)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        return (Vec<T>)_mm256_blendv_ps(_mm256_set1_ps(pad), _mm256_maskload_ps(p, mask), _mm256_castsi256_ps(mask));
    } else {
        const __m256i mask = _mm256_cmpgt_epi64(_mm256_set1_epi64x(w), _mm256_setr_epi64x(0, 1, 2, 3));
        return (Vec<T>)_mm256_blendv_pd(_mm256_set1_pd(pad), _mm256_maskload_pd(p, mask), _mm256_castsi256_pd(mask));
    }
#else
    Vec<T> v;
    for (int l = 0; l < kVL<T>; ++l) v[l] = pad;
    memcpy(&v, p, size_t(w) * sizeof(T));
    return v;
#endif
}
template <class T>
inline void store_part(T* p, Vec<T> v, index_t w) {
#if defined(__AVX512F__)
    if constexpr (sizeof(T) == 4) _mm512_mask_storeu_ps(p, __mmask16((1u << w) - 1), (__m512)v);
    else _mm512_mask_storeu_pd(p, __mmask8((1u << w) - 1), (__m512d)v);
#elif defined(__AVX2__)
    if constexpr (sizeof(T) == 4)
        _mm256_maskstore_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(int(w)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)),
                            (__m256)v);
    else
        _mm256_maskstore_pd(p, _mm256_cmpgt_epi64(_mm256_set1_epi64x(w), _mm256_setr_epi64x(0, 1, 2, 3)), (__m256d)v);
#else
    memcpy(p, &v, size_t(w) * sizeof(T));
#endif
}

// p[0, count) = 0 in vector stores. GCC turns a plain zeroing loop into a call to memset, whose overhead
// dominated im2col's runs of 1-16 padding zeros (5% of a stride-2 layer's forward).
template <class T>
inline void store_zeros(T* p, index_t count) {
    index_t i = 0;
    for (; i + kVL<T> <= count; i += kVL<T>) store(p + i, Vec<T>{});
    if (i < count) store_part(p + i, Vec<T>{}, count - i);
}

// to[0, count) = from[0, count) in vector loads and stores, the tail masked: rows are short (im2col's are a
// row of output pixels), and a memcpy call or a scalar tail per row cost more than the copy (im2col of
// 16-pixel rows: 30% of a 128-channel layer's backward).
template <class T>
inline void copy_run(T* to, const T* from, index_t count) {
    index_t i = 0;
    for (; i + kVL<T> <= count; i += kVL<T>) store(to + i, load(from + i));
    if (i < count) store_part(to + i, load_part(from + i, count - i), count - i);
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
