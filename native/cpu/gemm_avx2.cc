// AVX2+FMA micro-kernel: a 6×16 tile of C held in 12 ymm accumulators (6 rows × 2 vectors of 8).
// Per k step: 2 aligned loads of B, 6 broadcasts of A, 12 FMAs; with 2 FMA pipes of latency 4-5
// cycles, 12 independent chains keep both pipes busy. 12 + 2 + 1 = 15 of the 16 ymm registers.
// Blocking for Zen 3 (32 KiB L1d, 512 KiB L2 per core): the kc×16 B micro-panel (16 KiB at
// kc = 256) stays in L1 across the row panels of one A block; the mc×kc A block (120 KiB at
// mc = 120) stays in L2 with room for streaming B and C; the kc×nc B block lives in L3.
// (Measured on Zen 3: mc 120 beat 96, 144, 168, 240; kc 256 beat 192, 320, 384.)
#include <immintrin.h>

#include "cpu/gemm.h"

namespace kd::gemm_detail {
namespace {

constexpr int kMr = 6, kNr = 16;

inline void storeRow(float* c, __m256 x0, __m256 x1, __m256 alpha, float beta) {
  if (beta == 0.0f) {
    _mm256_storeu_ps(c, _mm256_mul_ps(alpha, x0));
    _mm256_storeu_ps(c + 8, _mm256_mul_ps(alpha, x1));
  } else if (beta == 1.0f) {
    _mm256_storeu_ps(c, _mm256_fmadd_ps(alpha, x0, _mm256_loadu_ps(c)));
    _mm256_storeu_ps(c + 8, _mm256_fmadd_ps(alpha, x1, _mm256_loadu_ps(c + 8)));
  } else {
    __m256 vb = _mm256_set1_ps(beta);
    _mm256_storeu_ps(c, _mm256_fmadd_ps(alpha, x0, _mm256_mul_ps(vb, _mm256_loadu_ps(c))));
    _mm256_storeu_ps(c + 8, _mm256_fmadd_ps(alpha, x1, _mm256_mul_ps(vb, _mm256_loadu_ps(c + 8))));
  }
}

void microKernel6x16(int64_t kc, const float* __restrict pa, const float* __restrict pb, float* c,
                     int64_t ldc, float alpha, float beta) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (int i = 0; i < kMr; ++i) _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);

#define KD_STEP(p)                                                          \
  do {                                                                      \
    const __m256 b0 = _mm256_load_ps(pb + (p) * kNr);                       \
    const __m256 b1 = _mm256_load_ps(pb + (p) * kNr + 8);                   \
    __m256 a = _mm256_broadcast_ss(pa + (p) * kMr + 0);                     \
    c00 = _mm256_fmadd_ps(a, b0, c00); c01 = _mm256_fmadd_ps(a, b1, c01);   \
    a = _mm256_broadcast_ss(pa + (p) * kMr + 1);                            \
    c10 = _mm256_fmadd_ps(a, b0, c10); c11 = _mm256_fmadd_ps(a, b1, c11);   \
    a = _mm256_broadcast_ss(pa + (p) * kMr + 2);                            \
    c20 = _mm256_fmadd_ps(a, b0, c20); c21 = _mm256_fmadd_ps(a, b1, c21);   \
    a = _mm256_broadcast_ss(pa + (p) * kMr + 3);                            \
    c30 = _mm256_fmadd_ps(a, b0, c30); c31 = _mm256_fmadd_ps(a, b1, c31);   \
    a = _mm256_broadcast_ss(pa + (p) * kMr + 4);                            \
    c40 = _mm256_fmadd_ps(a, b0, c40); c41 = _mm256_fmadd_ps(a, b1, c41);   \
    a = _mm256_broadcast_ss(pa + (p) * kMr + 5);                            \
    c50 = _mm256_fmadd_ps(a, b0, c50); c51 = _mm256_fmadd_ps(a, b1, c51);   \
  } while (0)

  int64_t p = 0;
  for (; p + 4 <= kc; p += 4) {
    _mm_prefetch(reinterpret_cast<const char*>(pa + 24 * kMr), _MM_HINT_T0);
    KD_STEP(0);
    KD_STEP(1);
    KD_STEP(2);
    KD_STEP(3);
    pa += 4 * kMr;
    pb += 4 * kNr;
  }
  for (; p < kc; ++p) {
    KD_STEP(0);
    pa += kMr;
    pb += kNr;
  }
#undef KD_STEP

  const __m256 va = _mm256_set1_ps(alpha);
  storeRow(c + 0 * ldc, c00, c01, va, beta);
  storeRow(c + 1 * ldc, c10, c11, va, beta);
  storeRow(c + 2 * ldc, c20, c21, va, beta);
  storeRow(c + 3 * ldc, c30, c31, va, beta);
  storeRow(c + 4 * ldc, c40, c41, va, beta);
  storeRow(c + 5 * ldc, c50, c51, va, beta);
}

}  // namespace

const MicroKernel& microKernelAvx2() {
  static const MicroKernel kernel{microKernel6x16, kMr, kNr, 120, 256, 4080, "avx2 6x16"};
  return kernel;
}

}  // namespace kd::gemm_detail
