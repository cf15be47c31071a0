// An 8x8 float transpose with a scale, in 256-bit AVX registers: shared by the AVX2 and AVX-512
// attention bodies (attention_avx2.cc, attention_avx512.cc). Internal linkage on purpose: each
// file compiles its own copy under its own ISA flags, so the linker never picks an AVX-512-built
// copy for the AVX2 path.
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace kd::attention_avx {
namespace {

// dst[c][r] = src[r][c] · f for an 8×8 block (rows lds and ldd floats apart).
inline void transposeScaled8x8(const float* src, int64_t lds, float* dst, int64_t ldd, float f) {
  const __m256 fv = _mm256_set1_ps(f);
  __m256 r0 = _mm256_loadu_ps(src + 0 * lds), r1 = _mm256_loadu_ps(src + 1 * lds);
  __m256 r2 = _mm256_loadu_ps(src + 2 * lds), r3 = _mm256_loadu_ps(src + 3 * lds);
  __m256 r4 = _mm256_loadu_ps(src + 4 * lds), r5 = _mm256_loadu_ps(src + 5 * lds);
  __m256 r6 = _mm256_loadu_ps(src + 6 * lds), r7 = _mm256_loadu_ps(src + 7 * lds);
  const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
  const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
  const __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r0 = _mm256_permute2f128_ps(s0, s4, 0x20);
  r1 = _mm256_permute2f128_ps(s1, s5, 0x20);
  r2 = _mm256_permute2f128_ps(s2, s6, 0x20);
  r3 = _mm256_permute2f128_ps(s3, s7, 0x20);
  r4 = _mm256_permute2f128_ps(s0, s4, 0x31);
  r5 = _mm256_permute2f128_ps(s1, s5, 0x31);
  r6 = _mm256_permute2f128_ps(s2, s6, 0x31);
  r7 = _mm256_permute2f128_ps(s3, s7, 0x31);
  _mm256_storeu_ps(dst + 0 * ldd, _mm256_mul_ps(r0, fv));
  _mm256_storeu_ps(dst + 1 * ldd, _mm256_mul_ps(r1, fv));
  _mm256_storeu_ps(dst + 2 * ldd, _mm256_mul_ps(r2, fv));
  _mm256_storeu_ps(dst + 3 * ldd, _mm256_mul_ps(r3, fv));
  _mm256_storeu_ps(dst + 4 * ldd, _mm256_mul_ps(r4, fv));
  _mm256_storeu_ps(dst + 5 * ldd, _mm256_mul_ps(r5, fv));
  _mm256_storeu_ps(dst + 6 * ldd, _mm256_mul_ps(r6, fv));
  _mm256_storeu_ps(dst + 7 * ldd, _mm256_mul_ps(r7, fv));
}

}  // namespace
}  // namespace kd::attention_avx
