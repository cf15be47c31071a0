// The loop for the scalar ISA, which is compiled for the x86-64 baseline (SSE2, no FMA): a
// multiply and an add on 4-wide SSE registers, 12 independent chains, counted as 2 flops per lane
// like an FMA. This is the ceiling of the auto-vectorised scalar kernels.
#include <emmintrin.h>

#include "cpu/peak.h"

namespace kd::peak_detail {

double fmaLoopScalar(int64_t iterations) {
  constexpr int kChains = 12;
  const __m128 x = _mm_set1_ps(0.9999f), y = _mm_set1_ps(0.0001f);
  __m128 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm_set1_ps(static_cast<float>(c));
  for (int64_t i = 0; i < iterations; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = _mm_add_ps(_mm_mul_ps(acc[c], x), y);
  __m128 sum = acc[0];
  for (int c = 1; c < kChains; ++c) sum = _mm_add_ps(sum, acc[c]);
  volatile float sink = _mm_cvtss_f32(sum);
  (void)sink;
  return 2.0 * 4 * kChains * static_cast<double>(iterations);
}

}  // namespace kd::peak_detail
