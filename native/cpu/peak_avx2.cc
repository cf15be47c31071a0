// The AVX2 FMA loop for measurePeakGflops: 12 independent 256-bit chains (as peak_avx512.cc).
#include <immintrin.h>

#include "cpu/peak.h"

namespace kd::peak_detail {

double fmaLoopAvx2(int64_t iterations) {
  constexpr int kChains = 12;
  const __m256 x = _mm256_set1_ps(0.9999f), y = _mm256_set1_ps(0.0001f);
  __m256 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_ps(static_cast<float>(c));
  for (int64_t i = 0; i < iterations; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], x, y);
  __m256 sum = acc[0];
  for (int c = 1; c < kChains; ++c) sum = _mm256_add_ps(sum, acc[c]);
  float lanes[8];
  _mm256_storeu_ps(lanes, sum);
  volatile float sink = lanes[0] + lanes[7];
  (void)sink;
  return 2.0 * 8 * kChains * static_cast<double>(iterations);
}

}  // namespace kd::peak_detail
