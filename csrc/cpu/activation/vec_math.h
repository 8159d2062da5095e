// Vector math for the element-wise kernels: exp, expm1, log, log1p, tanh, sigmoid and the Gaussian CDF on GCC
// vector extensions. Included INSIDE `namespace pyneural::cpu::PN_ISA { namespace { ... } }` by each
// *_kernels.cpp, so every ISA gets its own internal copy (no out-of-line function shared by variants).
// Accuracy: a few ulp against a float64 (resp. extended) reference over the whole range; +-inf, NaN and
// huge inputs give the IEEE results without raising overflow.

#include "pyneural/isa.h"  // kVectorBytes, VecF, VecD, kVL

typedef int VecI32 __attribute__((vector_size(kVectorBytes)));
typedef long long VecI64 __attribute__((vector_size(kVectorBytes)));

// Per-dtype vector types and constants.
template <class T> struct Math;
template <> struct Math<float> {
    using V = VecF;
    using I = VecI32;  // same lane count, for bit manipulation and masks
    static constexpr int kMantissa = 23, kBias = 127;
    static constexpr float kMagic = 12582912.0f;                 // 1.5 * 2^23: adding it rounds to an integer
    static constexpr float kExpLo = -104.0f, kExpHi = 89.0f;      // exp underflows to 0 / overflows to inf past these
    static constexpr float kLn2Hi = 0.693145751953125f, kLn2Lo = 1.42860682030941723212e-06f;  // n * hi is exact
    static constexpr int kExpDegree = 7;                          // |r| <= ln2/2: r^8/8! < 6e-9
    static constexpr float kTanhClamp = 9.5f;                     // tanh(9.5) rounds to 1
    static constexpr float kCdfClamp = 15.0f;                     // Phi(-15) < smallest subnormal
    static constexpr int kErfDegree = 9;                          // Taylor terms of erf(z)/z on z^2 <= 1
    static constexpr int kErfcxDegree = 9;                        // Chebyshev terms of z*erfcx(z) on z >= 1
    static constexpr int kSplitMask = -4096;                      // 0xFFFFF000: a 12-bit head, its square is exact
};
template <> struct Math<double> {
    using V = VecD;
    using I = VecI64;
    static constexpr int kMantissa = 52, kBias = 1023;
    static constexpr double kMagic = 6755399441055744.0;          // 1.5 * 2^52
    static constexpr double kExpLo = -746.0, kExpHi = 710.0;
    static constexpr double kLn2Hi = 6.93147180369123816490e-01, kLn2Lo = 1.90821492927058770002e-10;
    static constexpr int kExpDegree = 13;                         // r^14/14! < 5e-18
    static constexpr double kTanhClamp = 19.5;
    static constexpr double kCdfClamp = 40.0;
    static constexpr int kErfDegree = 18;
    static constexpr int kErfcxDegree = 20;
    static constexpr long long kSplitMask = -134217728LL;  // 0xFFFFFFFFF8000000: a 26-bit head
};

template <class T> using VecT = typename Math<T>::V;
template <class T> using MaskT = typename Math<T>::I;
template <class T> constexpr int kLanes = kVL<T>;

template <class T>
__attribute__((always_inline)) inline VecT<T> splat(T c) {
    VecT<T> v;  // lane by lane: `VecT<T>{} + c` would turn -0.0 into +0.0
#pragma GCC unroll 16
    for (int i = 0; i < kLanes<T>; ++i) v[i] = c;
    return v;
}

template <class T>
__attribute__((always_inline)) inline VecT<T> select(MaskT<T> m, VecT<T> a, VecT<T> b) { return m ? a : b; }

// expm1(r) for |r| <= ln2/2. float: r + r^2 P(r), P of degree 4 fitted to (e^r - 1 - r) / r^2 for minimal
// relative error (iteratively reweighted least squares, i.e. Lawson's method): within 1.4 ulp, two terms
// fewer than Taylor. double: the Taylor series, 1/k! for k <= 13.
template <class T>
__attribute__((always_inline)) inline VecT<T> expm1_poly(VecT<T> r) {
    if constexpr (sizeof(T) == 4) {
        constexpr float c[] = {0.4999999815182789f, 0.16666543525122984f, 0.041667200301817045f,
                               0.008366533463860511f, 0.001388251685517501f};
        const VecT<T> p = (((c[4] * r + c[3]) * r + c[2]) * r + c[1]) * r + c[0];
        return r + (r * r) * p;
    } else {
        constexpr double inv_fact[] = {1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040,
                                       1.0 / 40320, 1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600,
                                       1.0 / 6227020800.0};
        constexpr int d = Math<T>::kExpDegree;
        VecT<T> p = splat<T>(T(inv_fact[d]));
#pragma GCC unroll 16
        for (int k = d - 1; k >= 1; --k) p = p * r + T(inv_fact[k]);
        return p * r;
    }
}

// a > b ? a : b and a < b ? a : b (so a NaN in a gives b, a NaN in b gives b): one maxps/minps, which
// return their second operand when either is NaN, where the ISA has it; a compare and blend otherwise.
#if defined(__AVX512F__)
#define PN_MAX_MIN(V, sfx) return (VecT<T>)_mm512_##sfx((V)a, (V)b);
#elif defined(__AVX2__)
#define PN_MAX_MIN(V, sfx) return (VecT<T>)_mm256_##sfx((V)a, (V)b);
#endif
template <class T>
__attribute__((always_inline)) inline VecT<T> vmax(VecT<T> a, VecT<T> b) {
#if defined(__AVX512F__)
    if constexpr (sizeof(T) == 4) { PN_MAX_MIN(__m512, max_ps) } else { PN_MAX_MIN(__m512d, max_pd) }
#elif defined(__AVX2__)
    if constexpr (sizeof(T) == 4) { PN_MAX_MIN(__m256, max_ps) } else { PN_MAX_MIN(__m256d, max_pd) }
#else
    return select<T>(a > b, a, b);
#endif
}
template <class T>
__attribute__((always_inline)) inline VecT<T> vmin(VecT<T> a, VecT<T> b) {
#if defined(__AVX512F__)
    if constexpr (sizeof(T) == 4) { PN_MAX_MIN(__m512, min_ps) } else { PN_MAX_MIN(__m512d, min_pd) }
#elif defined(__AVX2__)
    if constexpr (sizeof(T) == 4) { PN_MAX_MIN(__m256, min_ps) } else { PN_MAX_MIN(__m256d, min_pd) }
#else
    return select<T>(a < b, a, b);
#endif
}
#undef PN_MAX_MIN

// max(x, c) and min(x, c) with a NaN x kept.
template <class T>
__attribute__((always_inline)) inline VecT<T> at_least(VecT<T> x, T c) {
    return vmax<T>(splat<T>(c), x);
}
template <class T>
__attribute__((always_inline)) inline VecT<T> at_most(VecT<T> x, T c) {
    return vmin<T>(splat<T>(c), x);
}

// p * 2^n for an integral-valued n with p * 2^n in range or overflowing to inf, subnormal results right:
// AVX-512's vscalef does it in one instruction; elsewhere two multiplies by built powers of two (one would
// overflow the exponent field for the subnormal results and for n near the overflow point).
template <class T>
__attribute__((always_inline)) inline VecT<T> scale_pow2(VecT<T> p, VecT<T> n) {
#if defined(__AVX512F__)
    if constexpr (sizeof(T) == 4) return (VecT<T>)_mm512_scalef_ps((__m512)p, (__m512)n);
    else return (VecT<T>)_mm512_scalef_pd((__m512d)p, (__m512d)n);
#else
    using M = Math<T>;
    const MaskT<T> ni = __builtin_convertvector(n, MaskT<T>);
    const MaskT<T> half = ni >> 1;
    const MaskT<T> rest = ni - half;
    return p * (VecT<T>)((half + M::kBias) << M::kMantissa) * (VecT<T>)((rest + M::kBias) << M::kMantissa);
#endif
}

// exp(x) = 2^n (1 + q): Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, and q = expm1(r).
// `upper` = false skips the overflow clamp for callers whose x is never positive.
template <class T, bool upper = true>
__attribute__((always_inline)) inline void exp_reduce(VecT<T> x, VecT<T>& q, VecT<T>& n) {
    using M = Math<T>;
    x = at_least<T>(x, M::kExpLo);  // NaN stays NaN
    if constexpr (upper) x = at_most<T>(x, M::kExpHi);
    n = (x * T(1.44269504088896340736) + M::kMagic) - M::kMagic;  // round to nearest
    VecT<T> r = x - n * M::kLn2Hi;
    r = r - n * M::kLn2Lo;
    q = expm1_poly<T>(r);
}

template <class T, bool upper = true>
__attribute__((always_inline)) inline VecT<T> vexp(VecT<T> x) {
    VecT<T> q, n;
    exp_reduce<T, upper>(x, q, n);
    return scale_pow2<T>(q + T(1), n);
}

// expm1 with full relative accuracy near 0 (no 1 is added when n == 0).
template <class T>
__attribute__((always_inline)) inline VecT<T> vexpm1(VecT<T> x) {
    VecT<T> q, n;
    exp_reduce<T>(x, q, n);
    return select<T>(n == T(0), q, scale_pow2<T>(q + T(1), n) - T(1));
}

// exp(a + b) for |b| << |a|, without rounding a + b: the reduction subtracts n ln2 from a first (exactly,
// for the a of gauss()), then adds b. `clamp` = false for a caller whose a + b is finite and above -150
// (float) or -1100 (double): n then stays small enough for the reduction and scale_pow2 underflows alone.
template <class T, bool clamp = true>
__attribute__((always_inline)) inline VecT<T> vexp_sum(VecT<T> a, VecT<T> b) {
    using M = Math<T>;
    const VecT<T> x = clamp ? at_least<T>(a + b, M::kExpLo) : a + b;
    const VecT<T> n = (x * T(1.44269504088896340736) + M::kMagic) - M::kMagic;
    VecT<T> r = a - n * M::kLn2Hi;
    r = (r + b) - n * M::kLn2Lo;
    if constexpr (clamp) r = select<T>(x == M::kExpLo, x - n * M::kLn2Hi - n * M::kLn2Lo, r);  // far underflow
    return scale_pow2<T>(expm1_poly<T>(r) + T(1), n);
}

template <class T>
__attribute__((always_inline)) inline VecT<T> vabs(VecT<T> x) {
    return (VecT<T>)((MaskT<T>)x & ~(MaskT<T>)splat<T>(T(-0.0)));
}

template <class T>
__attribute__((always_inline)) inline VecT<T> copy_sign(VecT<T> magnitude, VecT<T> sign_of) {
    const MaskT<T> sign = (MaskT<T>)splat<T>(T(-0.0));
    return (VecT<T>)(((MaskT<T>)magnitude & ~sign) | ((MaskT<T>)sign_of & sign));
}

// tanh(x) = sign(x) e / (e + 2), e = expm1(2|x|): no cancellation for small |x|.
template <class T>
__attribute__((always_inline)) inline VecT<T> vtanh(VecT<T> x) {
    const VecT<T> a = at_most<T>(vabs<T>(x), Math<T>::kTanhClamp);
    const VecT<T> e = vexpm1<T>(a + a);
    return copy_sign<T>(e / (e + T(2)), x);
}

// sigmoid(x) = 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) below: e = exp(-|x|) never overflows.
template <class T>
__attribute__((always_inline)) inline VecT<T> vsigmoid(VecT<T> x) {
    const VecT<T> e = vexp<T, false>(-vabs<T>(x));
    const VecT<T> r = T(1) / (e + T(1));
    return select<T>(x >= T(0), r, e * r);  // NaN: e is NaN, so both branches are NaN
}

// exp(-x^2 / 2) with x^2 split into an exact head and a small tail (so large |x| keep full accuracy).
template <class T>
__attribute__((always_inline)) inline VecT<T> gauss(VecT<T> x) {
    x = at_most<T>(vabs<T>(x), Math<T>::kCdfClamp);
    const VecT<T> head = (VecT<T>)((MaskT<T>)x & (MaskT<T>{} + Math<T>::kSplitMask));
    const VecT<T> tail = (x - head) * (x + head);  // x^2 = head^2 + tail, head^2 exact
    return vexp_sum<T>(head * head * T(-0.5), tail * T(-0.5));
}

// (-1)^k / (k! (2k + 1)), k <= 18: the Taylor coefficients of erf(z) sqrt(pi) / (2z) in z^2.
struct ErfSeries {
    double c[19];
    constexpr ErfSeries() : c() {
        double inv_fact = 1.0;
        for (int k = 0; k < 19; ++k) {
            if (k) inv_fact /= k;
            c[k] = (k % 2 ? -inv_fact : inv_fact) / (2 * k + 1);
        }
    }
};

// erf(z) / z = 2/sqrt(pi) sum (-1)^k z^2k / (k! (2k + 1)), for z^2 <= 1.
template <class T>
__attribute__((always_inline)) inline VecT<T> erf_small(VecT<T> z) {
    constexpr int d = Math<T>::kErfDegree;
    constexpr ErfSeries coef{};  // folded at compile time: no divisions at run time
    const VecT<T> u = z * z;
    VecT<T> p = splat<T>(T(coef.c[d]));
#pragma GCC unroll 20
    for (int k = d - 1; k >= 0; --k) p = p * u + T(coef.c[k]);
    return p * z * T(1.12837916709551257390);
}

// z * erfcx(z) = z e^(z^2) erfc(z) for z >= 1, as a Chebyshev series in t = (z - 3)/(z + 3) in [-0.5, 1),
// fitted to a 40-digit reference (mpmath): relative error 3e-15 (float64 series), 1.3e-7 (float32).
// `t` = (z - 3) / (z + 3), passed in so the caller can share one division.
template <class T>
__attribute__((always_inline)) inline VecT<T> z_erfcx(VecT<T> t) {
    constexpr double c[] = {0.5270327699645347,     0.05843837363407503,    -0.028760006767845056,
                            0.009423384297196712,   -0.002328156372313831,  0.000437300933849255,
                            -5.8303544643171153e-05, 4.043114560912006e-06,  2.70898072821258e-07,
                            -9.965420545888353e-08,  5.899419325203818e-09,  1.3859802859218503e-09,
                            -2.3156325196450657e-10, -1.560413067014589e-11, 6.283801268355681e-12,
                            1.2185329309836473e-13,  -1.6736028641976452e-13, 3.926890190597549e-16,
                            4.955442218827775e-15,   7.415379431464183e-17};
    constexpr int d = Math<T>::kErfcxDegree - 1;
    const VecT<T> u = (t + t - T(0.5)) * T(2.0 / 3.0);  // [-0.5, 1] -> [-1, 1]
    VecT<T> b1 = VecT<T>{}, b2 = VecT<T>{};
#pragma GCC unroll 20
    for (int k = d; k >= 1; --k) {  // Clenshaw recurrence: stable, unlike the power basis
        const VecT<T> b0 = (u + u) * b1 - b2 + T(c[k]);
        b2 = b1;
        b1 = b0;
    }
    return u * b1 - b2 + T(c[0]);
}

// float Phi(x) in one expression for both tails: Phi(-|x|) = erfc(z) / 2, z = |x| / sqrt 2, with
// erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z / 2) (the form of Numerical Recipes' erfcc); P of degree 9
// fitted here to log(erfc(z) / t) + z^2 for z in [0, 10.7] (Phi(-15) underflows) by iteratively
// reweighted least squares against mpmath: relative error 5e-8 before rounding. exp(-z^2 + P) goes
// through vexp_sum with x^2 split exactly into two parts, so the far tail keeps its relative accuracy.
//
// The pieces of that expression, Phi(-|x|) = t exp(-x^2/2 + P(t)): t, P(t) and x^2 = sq + err exactly.
struct CdfParts {
    VecF t, p, sq, err;
};
__attribute__((always_inline)) inline CdfParts cdf_parts(VecF x) {
    // c[0] includes log(1/2), so exp(...) is erfc(z) / 2
    constexpr float c[] = {-1.265456950274756f - 0.6931471805599453f, 0.998806599732287f, 0.3852143718540734f,
                           0.041121324295448534f,  -0.017109956273473444f, -0.04700277775722247f,
                           -0.7350999017742899f,   1.1850195896740174f,   -0.6925168444304334f,
                           0.1470245932798609f};
    const VecF ax = at_most<float>(vabs<float>(x), Math<float>::kCdfClamp);
    CdfParts r;
    r.t = 1.0f / (ax * 0.35355339059327376f + 1.0f);  // 1 / (1 + z / 2)
    r.p = splat<float>(c[9]);
#pragma GCC unroll 10
    for (int k = 8; k >= 0; --k) r.p = r.p * r.t + c[k];
    // the FMA's exact residual where there is one, else a 12-bit head whose square is exact
#if defined(__AVX512F__)
    r.sq = ax * ax;
    r.err = (VecF)_mm512_fmsub_ps((__m512)ax, (__m512)ax, (__m512)r.sq);
#elif defined(__FMA__)
    r.sq = ax * ax;
    r.err = (VecF)_mm256_fmsub_ps((__m256)ax, (__m256)ax, (__m256)r.sq);
#else
    const VecF head = (VecF)((VecI32)ax & (VecI32{} + Math<float>::kSplitMask));
    r.sq = head * head;
    r.err = (ax - head) * (ax + head);
#endif
    return r;
}

// The exponents below are >= -113 - 2 (|x| <= 15): vexp_sum needs no clamp.
__attribute__((always_inline)) inline VecF gauss_cdf_float(VecF x) {
    const CdfParts c = cdf_parts(x);
    const VecF half_erfc = c.t * vexp_sum<float, false>(c.sq * -0.5f, c.err * -0.5f + c.p);  // Phi(-|x|)
    return select<float>(x < 0.0f, half_erfc, 1.0f - half_erfc);  // NaN: ax is NaN, so both are
}

// Phi(x), and phi(x) = exp(-x^2/2) / sqrt(2 pi) in `pdf`: one exact exp(-x^2/2) for both, and exp(P(t)),
// whose small bounded argument needs no care (GELU's derivative: a third fewer operations than
// gauss() and gauss_cdf_float()).
__attribute__((always_inline)) inline VecF gauss_cdf_pdf_float(VecF x, VecF& pdf) {
    const CdfParts c = cdf_parts(x);
    const VecF e = vexp_sum<float, false>(c.sq * -0.5f, c.err * -0.5f);
    pdf = e * 0.39894228040143267794f;
    const VecF half_erfc = c.t * e * vexp<float, false>(c.p);  // P(t) in [-2.2, -0.7]
    return select<float>(x < 0.0f, half_erfc, 1.0f - half_erfc);
}

#if defined(__AVX512F__)
// float GELU and its derivative on AVX-512, by symmetry from t = -min(|x|, kPiecesEnd): GELU(x) = x Phi(t)
// for x <= 0 and x (1 - Phi(t)) above; GELU'(x) = G(t) or 1 - G(t), G(t) = Phi(t) + t phi(t). On 32
// intervals j of width 1/4 covering [-7.875, 0], Phi(t) and G(t) come from polynomials of degree 5 in
// s = 4t + 31 - j, interpolated at Chebyshev nodes (in double, at first use); each power's 32 coefficients
// fill two registers and one two-table permute picks every lane's. The tails fall like exp(-t^2 / 2),
// faster than such a polynomial follows with relative accuracy, so the polynomial is the 4th root of
// Phi(t), and of -G(t) below t = -2 (G changes sign at -0.75), squared twice. 6 permutes and ~14 other
// operations instead of the closed form's ~36 (gauss_cdf_float), which takes the lanes with
// x < -kPiecesEnd (0.4% of 3 N(0, 1) data). One thread, L2-resident, cycles per 16 floats (forward,
// backward): N(0, 1) 17.7, 18.8 (the pieces before, on [-4.375, 3.625] only: 18.5, 19.5); 3 N(0, 1)
// 18.4, 19.6 (before: 38, 48). Relative error after rounding to float: 6.3e-7 (GELU), 5.5e-7 against
// Phi + |x| phi (the derivative), mostly the 4th power of the polynomial's rounding; the closed form's are
// 4.8e-7 and 4.4e-7.
constexpr int kPieces = 32, kPieceTerms = 6;
constexpr float kPieceScale = 4.0f;
constexpr float kPieceTop = kPieces - 1;  // t = 0 is interval 31's centre
constexpr float kPiecesEnd = (kPieceTop + 0.49f) / kPieceScale;  // |x| clamped to it still rounds to j = 0
constexpr int kPiecesRooted = int(kPieceTop - 2 * kPieceScale) + 1;  // roots where j < this: centre below -2
struct GaussPieces {
    float cdf[kPieceTerms][kPieces];   // [power of s][interval]
    float grad[kPieceTerms][kPieces];
};

// Solves the Vandermonde system sum_k c[k] node[i]^k = y[i] (Gaussian elimination, partial pivoting).
inline void interpolate(const double* node, const double* y, double* c) {
    constexpr int n = kPieceTerms;
    double a[n][n + 1];
    for (int i = 0; i < n; ++i) {
        double power = 1;
        for (int k = 0; k < n; ++k, power *= node[i]) a[i][k] = power;
        a[i][n] = y[i];
    }
    for (int col = 0; col < n; ++col) {
        int pivot = col;
        for (int i = col + 1; i < n; ++i)
            if (fabs(a[i][col]) > fabs(a[pivot][col])) pivot = i;
        for (int k = 0; k <= n; ++k) {
            const double tmp = a[col][k];
            a[col][k] = a[pivot][k];
            a[pivot][k] = tmp;
        }
        for (int i = col + 1; i < n; ++i) {
            const double f = a[i][col] / a[col][col];
            for (int k = col; k <= n; ++k) a[i][k] -= f * a[col][k];
        }
    }
    for (int i = n - 1; i >= 0; --i) {
        double v = a[i][n];
        for (int k = i + 1; k < n; ++k) v -= a[i][k] * c[k];
        c[i] = v / a[i][i];
    }
}

inline const GaussPieces& gauss_pieces() {
    static const GaussPieces pieces = [] {
        GaussPieces t;
        double node[kPieceTerms], cdf[kPieceTerms], grad[kPieceTerms], c[kPieceTerms];
        for (int i = 0; i < kPieceTerms; ++i) node[i] = 0.5 * cos((2 * i + 1) * M_PI / (2 * kPieceTerms));
        for (int j = 0; j < kPieces; ++j) {
            for (int i = 0; i < kPieceTerms; ++i) {
                const double x = (node[i] + j - kPieceTop) / double(kPieceScale);  // the float scale, exactly
                cdf[i] = 0.5 * erfc(-x * M_SQRT1_2);
                grad[i] = cdf[i] + x * exp(-0.5 * x * x) * 0.39894228040143267794;
                cdf[i] = pow(cdf[i], 0.25);
                if (j < kPiecesRooted) grad[i] = pow(-grad[i], 0.25);  // G < 0 below t = -0.75
            }
            interpolate(node, cdf, c);
            for (int k = 0; k < kPieceTerms; ++k) t.cdf[k][j] = float(c[k]);
            interpolate(node, grad, c);
            for (int k = 0; k < kPieceTerms; ++k) t.grad[k][j] = float(c[k]);
        }
        return t;
    }();
    return pieces;
}

// One table of pieces in registers: each power's 32 coefficients as two vectors, loaded once per block (read
// through a pointer in the loop, they were reloaded for every vector: y might alias them).
struct PieceRegisters {
    __m512 low[kPieceTerms], high[kPieceTerms];
    explicit PieceRegisters(const float (&c)[kPieceTerms][kPieces]) {
        for (int k = 0; k < kPieceTerms; ++k) {
            low[k] = _mm512_loadu_ps(c[k]);
            high[k] = _mm512_loadu_ps(c[k] + 16);
        }
    }
};

// Phi(x) (grad: Phi(x) + x phi(x)) from the pieces `c` in `out`; returns the lanes they miss (their `out`
// is not Phi): x < -kPiecesEnd or NaN, and for grad +inf.
template <bool grad>
__attribute__((always_inline)) inline __mmask16 gauss_piece(VecF x, const PieceRegisters& c, VecF& out) {
    const __m512 t = _mm512_range_ps((__m512)x, _mm512_set1_ps(kPiecesEnd), 0b1110);  // -min(|x|, end)
    const __m512 magic = _mm512_set1_ps(Math<float>::kMagic + kPieceTop);
    const __m512 r = _mm512_fmadd_ps(t, _mm512_set1_ps(kPieceScale), magic);  // magic + round(4t + 31)
    const __m512 s = _mm512_fmadd_ps(t, _mm512_set1_ps(kPieceScale), _mm512_sub_ps(magic, r));  // exact
    auto coefficient = [&](int k) {  // every lane's, from the two halves of the 32: j is r's low 5 bits
        return _mm512_permutex2var_ps(c.low[k], (__m512i)r, c.high[k]);
    };
    __m512 p = coefficient(kPieceTerms - 1);
#pragma GCC unroll 8
    for (int k = kPieceTerms - 2; k >= 0; --k) p = _mm512_fmadd_ps(p, s, coefficient(k));
    if constexpr (grad) {  // roots below t = -2 only: G changes sign at -0.75
        const __mmask16 rooted = _mm512_cmp_ps_mask(r, _mm512_set1_ps(Math<float>::kMagic + kPiecesRooted), _CMP_LT_OQ);
        p = _mm512_mask_mul_ps(p, rooted, p, p);
        p = _mm512_mask_fnmadd_ps(p, rooted, p, _mm512_setzero_ps());  // -p^4: G < 0 there
    } else {
        p = _mm512_mul_ps(p, p);
        p = _mm512_mul_ps(p, p);
    }
    const __mmask16 positive = _mm512_cmp_ps_mask((__m512)x, _mm512_setzero_ps(), _CMP_GT_OQ);
    out = (VecF)_mm512_mask_sub_ps(p, positive, _mm512_set1_ps(1.0f), p);
    const __mmask16 missed = _mm512_cmp_ps_mask((__m512)x, _mm512_set1_ps(-kPiecesEnd), _CMP_NGE_UQ);
    if constexpr (grad)  // 1 + inf phi(inf) is NaN (as in PyTorch and the closed form), not 1
        return missed | _mm512_cmp_ps_mask((__m512)x, _mm512_set1_ps(INFINITY), _CMP_EQ_OQ);
    return missed;
}
#endif

// Phi(x) = P(N(0,1) <= x) = erfc(-x / sqrt 2) / 2, with relative accuracy in both tails.
// `g` = exp(-x^2 / 2) (from gauss()), shared with the GELU derivative (double only).
template <class T>
__attribute__((always_inline)) inline VecT<T> gauss_cdf(VecT<T> x, VecT<T> g) {
    if constexpr (sizeof(T) == 4) return gauss_cdf_float(x);
    const VecT<T> z = x * T(-0.70710678118654752440);
    VecT<T> az = vabs<T>(z);
    const VecT<T> near = T(0.5) - T(0.5) * erf_small<T>(z);  // |z| < 1
    az = at_most<T>(at_least<T>(az, T(1)), Math<T>::kCdfClamp);
    const VecT<T> plus3 = az + T(3);
    const VecT<T> inv = T(1) / (az * plus3);  // one division for both 1/(z + 3) and 1/z
    const VecT<T> half_erfc = T(0.5) * g * z_erfcx<T>((az - T(3)) * az * inv) * (plus3 * inv);  // erfc(|z|) / 2
    const VecT<T> far = select<T>(z > T(0), half_erfc, T(1) - half_erfc);
    return select<T>(vabs<T>(z) < T(1), near, select<T>(x == x, far, x));
}

// GELU x Phi(x) and its derivative Phi(x) + x phi(x) in closed form (the GEMM epilogue's, and the
// activation kernels' where the pieces do not apply).
template <class T>
__attribute__((always_inline)) inline VecT<T> vgelu(VecT<T> x) {
    return x * gauss_cdf<T>(x, gauss<T>(x));
}

template <class T>
__attribute__((always_inline)) inline VecT<T> vgelu_grad(VecT<T> x) {
    if constexpr (sizeof(T) == 4) {
        VecF pdf;
        const VecF cdf = gauss_cdf_pdf_float(x, pdf);
        return cdf + x * pdf;
    } else {
        const VecT<T> e = gauss<T>(x);
        return gauss_cdf<T>(x, e) + x * e * T(0.39894228040143267794);
    }
}

// log(x): x = 2^e m with m in [sqrt(1/2), sqrt(2)) (AVX-512: [0.75, 1.5)), log m = 2 atanh(s),
// s = (m - 1) / (m + 1), |s| < 0.172 (0.2), as an odd series in s (truncation below 4e-9 in float, 1e-16 in
// double); e ln2 added in two parts. 0 -> -inf, negative -> NaN, inf -> inf, NaN -> NaN.
template <class T>
__attribute__((always_inline)) inline VecT<T> vlog(VecT<T> x) {
    using M = Math<T>;
#if defined(__AVX512F__)
    // m and x's exponent for it, subnormals included, from getmant and getexp(x) - getexp(m) (one thread,
    // bce over 4M floats: 5.5 -> 4.1 ms); double takes one more term of the series for the wider |s|
    constexpr int d = sizeof(T) == 4 ? 4 : 10;  // terms s^2k / (2k + 1), k <= d
    VecT<T> m, ef;
    if constexpr (sizeof(T) == 4) {
        const __m512 mv = _mm512_getmant_ps((__m512)x, _MM_MANT_NORM_p75_1p5, _MM_MANT_SIGN_src);
        m = (VecT<T>)mv;
        ef = (VecT<T>)_mm512_sub_ps(_mm512_getexp_ps((__m512)x), _mm512_getexp_ps(mv));
    } else {
        const __m512d mv = _mm512_getmant_pd((__m512d)x, _MM_MANT_NORM_p75_1p5, _MM_MANT_SIGN_src);
        m = (VecT<T>)mv;
        ef = (VecT<T>)_mm512_sub_pd(_mm512_getexp_pd((__m512d)x), _mm512_getexp_pd(mv));
    }
#else
    // the exponent and mantissa fields, subnormals scaled up first
    using I = MaskT<T>;
    constexpr int d = sizeof(T) == 4 ? 4 : 9;
    constexpr T kTwoPow = sizeof(T) == 4 ? T(33554432.0) : T(18014398509481984.0);  // 2^25, 2^54
    constexpr T kMinNormal = sizeof(T) == 4 ? T(1.17549435e-38f) : T(2.2250738585072014e-308);
    const I sub = x < kMinNormal;
    const VecT<T> xs = select<T>(sub, x * kTwoPow, x);
    const I bits = (I)xs;
    I e = ((bits >> M::kMantissa) & I{} + ((1 << (sizeof(T) == 4 ? 8 : 11)) - 1)) - M::kBias;
    e = e - (sub & (I{} + (sizeof(T) == 4 ? 25 : 54)));
    const I mant_mask = (I{} + 1) << M::kMantissa;
    VecT<T> m = (VecT<T>)((bits & (mant_mask - 1)) | (I)splat<T>(T(1)));  // in [1, 2)
    const I big = m > T(1.41421356237309504880);
    m = select<T>(big, m * T(0.5), m);
    e = e - big;  // true is -1
    const VecT<T> ef = __builtin_convertvector(e, VecT<T>);
#endif
    const VecT<T> f = m - T(1);
    const VecT<T> s = f / (f + T(2));
    const VecT<T> u = s * s;
    VecT<T> p = splat<T>(T(1.0 / (2 * d + 1)));
#pragma GCC unroll 16
    for (int k = d - 1; k >= 1; --k) p = p * u + T(1.0 / (2 * k + 1));
    const VecT<T> log_m = (s + s) + (s + s) * u * p;
    VecT<T> r = ef * M::kLn2Hi + (ef * M::kLn2Lo + log_m);
    r = select<T>(x == T(0), splat<T>(T(-INFINITY)), r);
    r = select<T>(x < T(0), splat<T>(T(NAN)), r);
    r = select<T>(x == T(INFINITY), x, r);
    return select<T>(x == x, r, x);
}

// log(1 + u) with the rounding of 1 + u corrected to first order: log(w) + (u - (w - 1)) / w, w = 1 + u.
template <class T>
__attribute__((always_inline)) inline VecT<T> vlog1p(VecT<T> u) {
    const VecT<T> w = u + T(1);
    const VecT<T> c = (u - (w - T(1))) / w;
    return vlog<T>(w) + select<T>((w != T(0)) & (w != T(INFINITY)), c, VecT<T>{});
}

// ---- element-wise loops ----
// y[i] = f(x[i]) over a block, vector by vector; the last partial vector through a padded copy.
template <class T, class F>
__attribute__((always_inline)) inline void map_unary(const T* x, T* y, index_t n, F f) {
    using V = VecT<T>;
    constexpr index_t L = kLanes<T>;
    index_t i = 0;
    for (; i + L <= n; i += L) {
        V v;
        memcpy(&v, x + i, sizeof(V));
        v = f(v);
        memcpy(y + i, &v, sizeof(V));
    }
    if (i < n) {
        V v = V{};
        memcpy(&v, x + i, (n - i) * sizeof(T));
        v = f(v);
        memcpy(y + i, &v, (n - i) * sizeof(T));
    }
}

// y[i] = f(a[i], b[i]), the same way (y may be a or b).
template <class T, class F>
__attribute__((always_inline)) inline void map_binary(const T* a, const T* b, T* y, index_t n, F f) {
    using V = VecT<T>;
    constexpr index_t L = kLanes<T>;
    index_t i = 0;
    for (; i + L <= n; i += L) {
        V u, v;
        memcpy(&u, a + i, sizeof(V));
        memcpy(&v, b + i, sizeof(V));
        u = f(u, v);
        memcpy(y + i, &u, sizeof(V));
    }
    if (i < n) {
        V u = V{}, v = V{};
        memcpy(&u, a + i, (n - i) * sizeof(T));
        memcpy(&v, b + i, (n - i) * sizeof(T));
        u = f(u, v);
        memcpy(y + i, &u, (n - i) * sizeof(T));
    }
}
