// A GEMM whose B operand is read straight out of an image: row p of B is the run of the image
// starting at offset[p] (a tap's shift). The "wide rows" convolution (conv_wide.cc) is exactly such a
// product, so it needs no packed copy of B: one image of a mid-sized CNN layer (32 channels of
// 13×13 is 21 KiB) stays in L1 while every output channel is computed from it. Packing B cost a
// quarter of the layer's time, because with 64 output channels each packed value is used only
// 64 times.
#include <immintrin.h>

#include <algorithm>

#include "cpu/conv_wide.h"

namespace kd::conv_wide {
namespace {

constexpr int kMr = 6, kNr = 16;

// Writes the 6×16 tile held in twelve registers (row r in cr0, cr1) to c.
inline void storeTile(float* c, int64_t ldc, __m256 c00, __m256 c01, __m256 c10, __m256 c11, __m256 c20, __m256 c21,
                      __m256 c30, __m256 c31, __m256 c40, __m256 c41, __m256 c50, __m256 c51) {
  _mm256_storeu_ps(c + 0 * ldc, c00); _mm256_storeu_ps(c + 0 * ldc + 8, c01);
  _mm256_storeu_ps(c + 1 * ldc, c10); _mm256_storeu_ps(c + 1 * ldc + 8, c11);
  _mm256_storeu_ps(c + 2 * ldc, c20); _mm256_storeu_ps(c + 2 * ldc + 8, c21);
  _mm256_storeu_ps(c + 3 * ldc, c30); _mm256_storeu_ps(c + 3 * ldc + 8, c31);
  _mm256_storeu_ps(c + 4 * ldc, c40); _mm256_storeu_ps(c + 4 * ldc + 8, c41);
  _mm256_storeu_ps(c + 5 * ldc, c50); _mm256_storeu_ps(c + 5 * ldc + 8, c51);
}

// c[6][16] (+)= sum over p of pa[p·6 + i] · b[offset[p] + j].
void gatherKernel(int64_t kc, const float* __restrict pa, const float* __restrict b, const int64_t* __restrict offset,
                  float* __restrict c, int64_t ldc, bool accumulate) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();

#define KD_STEP(p)                                                          \
  do {                                                                      \
    const float* row = b + offset[p];                                       \
    const __m256 b0 = _mm256_loadu_ps(row);                                 \
    const __m256 b1 = _mm256_loadu_ps(row + 8);                             \
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

  // One k step per iteration: unrolled, the compiler hoists the next step's B loads and spills
  // accumulators (15 of the 16 ymm registers are live).
  for (int64_t p = 0; p < kc; ++p) {
    KD_STEP(0);
    pa += kMr;
    offset += 1;
  }
#undef KD_STEP

  if (accumulate) {
    c00 = _mm256_add_ps(c00, _mm256_loadu_ps(c + 0 * ldc)); c01 = _mm256_add_ps(c01, _mm256_loadu_ps(c + 0 * ldc + 8));
    c10 = _mm256_add_ps(c10, _mm256_loadu_ps(c + 1 * ldc)); c11 = _mm256_add_ps(c11, _mm256_loadu_ps(c + 1 * ldc + 8));
    c20 = _mm256_add_ps(c20, _mm256_loadu_ps(c + 2 * ldc)); c21 = _mm256_add_ps(c21, _mm256_loadu_ps(c + 2 * ldc + 8));
    c30 = _mm256_add_ps(c30, _mm256_loadu_ps(c + 3 * ldc)); c31 = _mm256_add_ps(c31, _mm256_loadu_ps(c + 3 * ldc + 8));
    c40 = _mm256_add_ps(c40, _mm256_loadu_ps(c + 4 * ldc)); c41 = _mm256_add_ps(c41, _mm256_loadu_ps(c + 4 * ldc + 8));
    c50 = _mm256_add_ps(c50, _mm256_loadu_ps(c + 5 * ldc)); c51 = _mm256_add_ps(c51, _mm256_loadu_ps(c + 5 * ldc + 8));
  }
  storeTile(c, ldc, c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51);
}

// c[6][16] += sum over p of rows[i][p] · pb[p·16 + j]: A read from six runs of the image.
void rowsKernel(int64_t kc, const float* const* rows, const float* __restrict pb, float* __restrict c, int64_t ldc) {
  const float* __restrict a0 = rows[0];
  const float* __restrict a1 = rows[1];
  const float* __restrict a2 = rows[2];
  const float* __restrict a3 = rows[3];
  const float* __restrict a4 = rows[4];
  const float* __restrict a5 = rows[5];
  __m256 c00 = _mm256_loadu_ps(c + 0 * ldc), c01 = _mm256_loadu_ps(c + 0 * ldc + 8);
  __m256 c10 = _mm256_loadu_ps(c + 1 * ldc), c11 = _mm256_loadu_ps(c + 1 * ldc + 8);
  __m256 c20 = _mm256_loadu_ps(c + 2 * ldc), c21 = _mm256_loadu_ps(c + 2 * ldc + 8);
  __m256 c30 = _mm256_loadu_ps(c + 3 * ldc), c31 = _mm256_loadu_ps(c + 3 * ldc + 8);
  __m256 c40 = _mm256_loadu_ps(c + 4 * ldc), c41 = _mm256_loadu_ps(c + 4 * ldc + 8);
  __m256 c50 = _mm256_loadu_ps(c + 5 * ldc), c51 = _mm256_loadu_ps(c + 5 * ldc + 8);
  for (int64_t p = 0; p < kc; ++p) {
    const __m256 b0 = _mm256_load_ps(pb + p * kNr);
    const __m256 b1 = _mm256_load_ps(pb + p * kNr + 8);
    __m256 a = _mm256_broadcast_ss(a0 + p);
    c00 = _mm256_fmadd_ps(a, b0, c00); c01 = _mm256_fmadd_ps(a, b1, c01);
    a = _mm256_broadcast_ss(a1 + p);
    c10 = _mm256_fmadd_ps(a, b0, c10); c11 = _mm256_fmadd_ps(a, b1, c11);
    a = _mm256_broadcast_ss(a2 + p);
    c20 = _mm256_fmadd_ps(a, b0, c20); c21 = _mm256_fmadd_ps(a, b1, c21);
    a = _mm256_broadcast_ss(a3 + p);
    c30 = _mm256_fmadd_ps(a, b0, c30); c31 = _mm256_fmadd_ps(a, b1, c31);
    a = _mm256_broadcast_ss(a4 + p);
    c40 = _mm256_fmadd_ps(a, b0, c40); c41 = _mm256_fmadd_ps(a, b1, c41);
    a = _mm256_broadcast_ss(a5 + p);
    c50 = _mm256_fmadd_ps(a, b0, c50); c51 = _mm256_fmadd_ps(a, b1, c51);
  }
  storeTile(c, ldc, c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51);
}

}  // namespace

void gatherGemmAvx2(int64_t mPanels, int64_t k, int64_t kc, const float* packedA, const float* image,
                    const int64_t* offset, int64_t nPanels, float* c, int64_t ldc) {
  // k in blocks of kc (the caller sizes them so that the image rows a block reads fit in L1);
  // within a block, column panels outer: those rows stay in L1 while the A panels stream from L2.
  for (int64_t p0 = 0; p0 < k; p0 += kc) {
    const int64_t kb = std::min(kc, k - p0);
    for (int64_t jr = 0; jr < nPanels; ++jr)
      for (int64_t ir = 0; ir < mPanels; ++ir)
        gatherKernel(kb, packedA + ir * kMr * k + p0 * kMr, image + jr * kNr, offset + p0,
                     c + ir * kMr * ldc + jr * kNr, ldc, p0 > 0);
  }
}

void rowsGemmAvx2(int64_t rows, int64_t kc, const float* image, const int64_t* offset, const float* zeros,
                  const float* packedB, int64_t nPanels, float* c, int64_t ldc) {
  // B panel outer: it (kc·16 floats) and the image stay in L1 while every row panel passes.
  for (int64_t jr = 0; jr < nPanels; ++jr)
    for (int64_t i0 = 0; i0 < rows; i0 += kMr) {
      const float* a[kMr];
      for (int i = 0; i < kMr; ++i) a[i] = i0 + i < rows ? image + offset[i0 + i] : zeros;
      rowsKernel(kc, a, packedB + jr * kc * kNr, c + i0 * ldc + jr * kNr, ldc);
    }
}

}  // namespace kd::conv_wide
