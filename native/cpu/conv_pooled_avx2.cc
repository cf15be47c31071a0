// conv2dPooledBackward's image loop compiled for AVX2+FMA (see conv_pooled_impl.h), with both
// gradients of a 32-channel tap block in one pass: four accumulators of the weight gradient stay
// in registers while the input gradient is updated in place.
#include <immintrin.h>

#include "cpu/conv_pooled_impl.h"

namespace kd::conv_pooled_detail {
namespace {

void tapAccumulate32Avx2(float* dw, const float* x, float* dx, const float* w, const float* value, const int64_t* at,
                         int64_t count) {
  if (!dw || !dx) {
    tapAccumulate32Portable(dw, x, dx, w, value, at, count);
    return;
  }
  __m256 a0 = _mm256_loadu_ps(dw), a1 = _mm256_loadu_ps(dw + 8), a2 = _mm256_loadu_ps(dw + 16),
         a3 = _mm256_loadu_ps(dw + 24);
  const __m256 w0 = _mm256_loadu_ps(w), w1 = _mm256_loadu_ps(w + 8), w2 = _mm256_loadu_ps(w + 16),
               w3 = _mm256_loadu_ps(w + 24);
  for (int64_t e = 0; e < count; ++e) {
    if (at[e] < 0) continue;
    const __m256 v = _mm256_broadcast_ss(value + e);
    const float* xs = x + at[e];
    float* d = dx + at[e];
    a0 = _mm256_fmadd_ps(v, _mm256_loadu_ps(xs), a0);
    a1 = _mm256_fmadd_ps(v, _mm256_loadu_ps(xs + 8), a1);
    a2 = _mm256_fmadd_ps(v, _mm256_loadu_ps(xs + 16), a2);
    a3 = _mm256_fmadd_ps(v, _mm256_loadu_ps(xs + 24), a3);
    _mm256_storeu_ps(d, _mm256_fmadd_ps(v, w0, _mm256_loadu_ps(d)));
    _mm256_storeu_ps(d + 8, _mm256_fmadd_ps(v, w1, _mm256_loadu_ps(d + 8)));
    _mm256_storeu_ps(d + 16, _mm256_fmadd_ps(v, w2, _mm256_loadu_ps(d + 16)));
    _mm256_storeu_ps(d + 24, _mm256_fmadd_ps(v, w3, _mm256_loadu_ps(d + 24)));
  }
  _mm256_storeu_ps(dw, a0);
  _mm256_storeu_ps(dw + 8, a1);
  _mm256_storeu_ps(dw + 16, a2);
  _mm256_storeu_ps(dw + 24, a3);
}

}  // namespace

void rangeAvx2(const Work& w, int64_t n0, int64_t n1) { pooledRange<tapAccumulate32Avx2>(w, n0, n1); }

}  // namespace kd::conv_pooled_detail
