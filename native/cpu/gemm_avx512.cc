// AVX-512 micro-kernel: a 14×32 tile of C held in 28 zmm accumulators (14 rows × 2 vectors of 16).
// Per k step: 2 aligned loads of B and 14 embedded broadcasts of A feed 28 FMAs, so loads stay
// well under the FMA rate; 28 + 2 = 30 of the 32 zmm registers.
// Blocking: the kc×32 B micro-panel (24 KiB at kc = 192) stays in a 32-48 KiB L1d across the
// row panels of one A block; the mc×kc A block (252 KiB at mc = 336) stays in a 1-2 MiB L2.
#include <immintrin.h>

#include "cpu/gemm_micro_kernel.h"

namespace kd::gemm_detail {
namespace {

constexpr int kMr = 14, kNr = 32;

void microKernel14x32(int64_t kc, const float* __restrict pa, const float* __restrict pb, float* c,
                      int64_t ldc, float alpha, float beta) {
  __m512 acc[kMr][2];
#pragma GCC unroll 14
  for (int i = 0; i < kMr; ++i) {
    acc[i][0] = _mm512_setzero_ps();
    acc[i][1] = _mm512_setzero_ps();
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 31), _MM_HINT_T0);
  }

  for (int64_t p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_load_ps(pb);
    const __m512 b1 = _mm512_load_ps(pb + 16);
    _mm_prefetch(reinterpret_cast<const char*>(pa + 8 * kMr), _MM_HINT_T0);
#pragma GCC unroll 14
    for (int i = 0; i < kMr; ++i) {
      const __m512 a = _mm512_set1_ps(pa[i]);
      acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
    }
    pa += kMr;
    pb += kNr;
  }

  const __m512 va = _mm512_set1_ps(alpha);
  const __m512 vb = _mm512_set1_ps(beta);
#pragma GCC unroll 14
  for (int i = 0; i < kMr; ++i) {
    float* row = c + i * ldc;
    __m512 x0 = _mm512_mul_ps(va, acc[i][0]), x1 = _mm512_mul_ps(va, acc[i][1]);
    if (beta != 0.0f) {
      x0 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(row), x0);
      x1 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(row + 16), x1);
    }
    _mm512_storeu_ps(row, x0);
    _mm512_storeu_ps(row + 16, x1);
  }
}

}  // namespace

const MicroKernel& microKernelAvx512() {
  static const MicroKernel kernel{microKernel14x32, kMr, kNr, 336, 192, 4096, "avx512 14x32"};
  return kernel;
}

}  // namespace kd::gemm_detail
