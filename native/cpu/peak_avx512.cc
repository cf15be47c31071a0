// The AVX-512 FMA loop for measurePeakGflops: 12 independent accumulator chains, enough to cover
// a 4-cycle FMA latency on two ports. acc = acc·x + y converges to y / (1 - x) = 1: no overflow
// and no denormals, whatever the iteration count.
#include <immintrin.h>

#include "cpu/peak.h"

namespace kd::peak_detail {

double fmaLoopAvx512(int64_t iterations) {
  constexpr int kChains = 12;
  const __m512 x = _mm512_set1_ps(0.9999f), y = _mm512_set1_ps(0.0001f);
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(static_cast<float>(c));
  for (int64_t i = 0; i < iterations; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], x, y);
  __m512 sum = acc[0];
  for (int c = 1; c < kChains; ++c) sum = _mm512_add_ps(sum, acc[c]);
  volatile float sink = _mm512_reduce_add_ps(sum);  // keeps the loop from being optimised away
  (void)sink;
  return 2.0 * 16 * kChains * static_cast<double>(iterations);
}

}  // namespace kd::peak_detail
