// Tells the compiler that glibc's vector math library (libmvec, glibc >= 2.35) has SIMD variants
// of these functions, so loops calling them vectorise (e.g. expf -> _ZGVdN8v_expf on AVX2).
// glibc declares them itself only under full -ffast-math, which would also let the compiler
// assume no NaN or infinity; we keep those, so we declare the variants here.
// Then GELU (the exact x Φ(x) and the tanh form) and their slopes as branch-free float code that
// vectorises the same way, shared by the elementwise and the fused bias + GELU kernels.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

extern "C" {
#define KD_SIMD_VARIANT __attribute__((simd("notinbranch"))) float
KD_SIMD_VARIANT expf(float) noexcept;
KD_SIMD_VARIANT logf(float) noexcept;
KD_SIMD_VARIANT sinf(float) noexcept;
KD_SIMD_VARIANT cosf(float) noexcept;
KD_SIMD_VARIANT tanhf(float) noexcept;
KD_SIMD_VARIANT erff(float) noexcept;
KD_SIMD_VARIANT erfcf(float) noexcept;
KD_SIMD_VARIANT log1pf(float) noexcept;
KD_SIMD_VARIANT expm1f(float) noexcept;
#undef KD_SIMD_VARIANT
}

namespace kd {

// exp(x) for x <= 0, inlined for maps that the compiler vectorises without a call (a libmvec
// call spills every live vector register): x = n ln2 + r, |r| <= ln2 / 2, exp(r) by a degree-6
// polynomial (Cephes' expf, ~1 ulp), 2^n built in the exponent bits. n is rounded with the
// 1.5·2^23 trick (vectorises where roundeven does not). 0 below -87.3, where 2^n would leave the
// normal range; NaN stays NaN.
inline float expNonPositive(float x) {
  const float xc = x < -87.3f ? -87.3f : x;
  const float shifted = xc * 1.44269504088896341f + 12582912.0f;  // 1.5·2^23: n in the low bits
  const float n = shifted - 12582912.0f;
  const float r = (xc - n * 0.693359375f) + n * 2.12194440e-4f;  // ln2 in two parts, n·hi exact
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  int32_t bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  const int32_t scaleBits = (bits - 0x4B400000 + 127) << 23;  // bits - 0x4B400000 = n
  float scale;
  std::memcpy(&scale, &scaleBits, sizeof scale);
  return x < -87.3f ? 0.0f : p * scale;
}

// exp(-z²/2), with the rounding error of z² carried into the result (z² = h + l exactly), so
// the tail keeps float accuracy where z² is large.
inline float expHalfSquareNeg(float z) {
  const float h = z * z;
#ifdef __FMA__
  const float l = std::fma(z, z, -h);
#else
  const float l = static_cast<float>(static_cast<double>(z) * z - h);  // exact: z² fits a double
#endif
  const float e = expNonPositive(-0.5f * h);
  return e == 0.0f ? 0.0f : e * (1.0f - 0.5f * l);  // z = ±inf: l is NaN, e is 0
}

// The normal tail Q(|z|) = 0.5 erfc(|z| / √2), given e = exp(-z²/2): with a = |z| / √2 and
// t = 1 / (1 + a / 2), erfc(a) = t exp(-a²) P(t), P a degree-8 fit of erfc(a) exp(a²) / t on
// a in [0, 9.5] (relative error 4e-8; beyond, erfc underflows float). Relative error of the
// float result ~3e-7 for every z, so x Φ(x) keeps float accuracy in the far negative tail, where
// 1 + erf(z) would cancel.
inline float normalTail(float z, float e) {
  const float t = 1.0f / (1.0f + 0.35355339059327376f * std::fabs(z));
  float p = -5.889061466e-02f;
  p = p * t + 2.837011814e-01f;
  p = p * t - 4.853820801e-01f;
  p = p * t + 2.759763002e-01f;
  p = p * t - 2.517640963e-02f;
  p = p * t + 2.020692974e-01f;
  p = p * t + 2.432611436e-01f;
  p = p * t + 2.823534608e-01f;
  p = p * t + 2.820876837e-01f;
  return 0.5f * t * p * e;
}

// Φ(z) from the tail: Q(|z|) below zero, 1 - Q(|z|) above (no cancellation: Q <= 1/2 there).
inline float normalCdf(float z, float e) {
  const float q = normalTail(z, e);
  return z < 0.0f ? q : 1.0f - q;
}

// gelu(z) = z Φ(z) (PyTorch's approximate='none').
inline float geluErf(float z) { return z * normalCdf(z, expHalfSquareNeg(z)); }

// gelu'(z) = Φ(z) + z φ(z), φ(z) = exp(-z²/2) / √(2π).
inline float geluErfSlope(float z) {
  const float e = expHalfSquareNeg(z);
  return normalCdf(z, e) + z * (0.39894228040143268f * e);
}

// gelu's tanh form (PyTorch's approximate='tanh'): z (1 + tanh(u)) / 2 = z σ(2u) with
// u = √(2/π) (z + 0.044715 z³). σ(2u) from w = exp(-2|u|) <= 1: 1 / (1 + w) for u >= 0 and
// w / (1 + w) below, so nothing overflows and the far negative tail, z w / (1 + w), does not
// cancel. The float rounding of 2|u| costs ~|2u| 1e-7 relative there (1e-6 at z = -5).
struct SigmoidOfTwoU {
  float s, sTimesOneMinusS, dudz;
};
inline SigmoidOfTwoU geluTanhParts(float z) {
  const float z2 = z * z;
  const float u = 0.79788456080286536f * (z + 0.044715f * z2 * z);
  const float w = expNonPositive(-2.0f * std::fabs(u));
  const float inv = 1.0f / (1.0f + w);
  return {u >= 0.0f ? inv : w * inv, w * inv * inv, 0.79788456080286536f * (1.0f + 0.134145f * z2)};
}

inline float geluTanh(float z) { return z * geluTanhParts(z).s; }

// d/dz [z σ(2u)] = σ(2u) + 2 z σ(2u) (1 - σ(2u)) du/dz.
inline float geluTanhSlope(float z) {
  const SigmoidOfTwoU p = geluTanhParts(z);
  return p.s + 2.0f * z * p.sTimesOneMinusS * p.dudz;
}

}  // namespace kd
