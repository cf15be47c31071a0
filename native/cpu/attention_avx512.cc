// The fused attention kernels compiled for AVX-512 (flags from CMakeLists.txt): 16-lane vectors
// and a 6 × 4-vector register tile (24 of the 32 zmm registers accumulate; per k step 4 loads of
// B and 6 broadcasts of A feed 24 FMAs).
#include <immintrin.h>

#include <cstdint>

#define KD_ISA_NS isa_avx512

namespace kd::isa_avx512 {
namespace {

struct Vec {
  using V = __m512;
  static constexpr int W = 16, kRows = 6, kCols = 4;
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V x) { _mm512_storeu_ps(p, x); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static float reduceMax(V x) { return _mm512_reduce_max_ps(x); }
  static float reduceAdd(V x) { return _mm512_reduce_add_ps(x); }
  // dst[c][r] = src[r][c] · f for an 8×8 block (rows lds and ldd floats apart).
  static void transpose8x8(const float* src, int64_t lds, float* dst, int64_t ldd, float f) {
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
  // Cephes' expf: x = n ln2 + r with |r| <= ln2/2, exp(r) by a degree-6 polynomial (relative
  // error ~1e-7), times 2^n by vscalefps. Below -87.3 (including -inf) gives exactly 0: masked
  // weights must vanish, and denormal weights would slow every FMA that reads them.
  static V exp(V x) {
    const __mmask16 normal = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.3365f), _CMP_GE_OQ);
    x = _mm512_min_ps(x, _mm512_set1_ps(88.0f));
    const V n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    V r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    V p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_maskz_scalef_ps(normal, p, n);
  }
};

}  // namespace
}  // namespace kd::isa_avx512

#include "cpu/attention_impl.h"
