// The fused attention kernels compiled for AVX-512 (flags from CMakeLists.txt): 16-lane vectors
// and a 6 × 4-vector register tile (24 of the 32 zmm registers accumulate; per k step 4 loads of
// B and 6 broadcasts of A feed 24 FMAs).
#include <immintrin.h>

#include <cstdint>

#include "cpu/attention_transpose_avx.h"

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
  static void stream(float* p, V x) { _mm512_stream_ps(p, x); }  // p aligned to the vector
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static float reduceMax(V x) { return _mm512_reduce_max_ps(x); }
  static float reduceAdd(V x) { return _mm512_reduce_add_ps(x); }
  // dst[c][r] = src[r][c] · f for an 8×8 block (rows lds and ldd floats apart).
  static void transpose8x8(const float* src, int64_t lds, float* dst, int64_t ldd, float f) {
    attention_avx::transposeScaled8x8(src, lds, dst, ldd, f);
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
