// Portable micro-kernel for processors without AVX2: a 4×8 tile in plain C++ (the compiler may
// use SSE2, the x86-64 baseline). 32 accumulators fit the 16 xmm registers as 8 vectors of 4.
#include "cpu/gemm_micro_kernel.h"

namespace kd::gemm_detail {
namespace {

constexpr int kMr = 4, kNr = 8;

void microKernel4x8(int64_t kc, const float* __restrict pa, const float* __restrict pb, float* c,
                    int64_t ldc, float alpha, float beta, const float* bias, int64_t cIn) {
  float acc[kMr][kNr] = {};
  for (int64_t p = 0; p < kc; ++p) {
    for (int i = 0; i < kMr; ++i)
      for (int j = 0; j < kNr; ++j) acc[i][j] += pa[i] * pb[j];
    pa += kMr;
    pb += kNr;
  }
  for (int i = 0; i < kMr; ++i) {
    float* row = c + i * ldc;
    for (int j = 0; j < kNr; ++j) {
      const float v = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * row[j + cIn];
      row[j] = bias ? v + bias[j] : v;
    }
  }
}

}  // namespace

const MicroKernel& microKernelScalar() {
  static const MicroKernel kernel{microKernel4x8, kMr, kNr, 128, 256, 2048, "scalar 4x8"};
  return kernel;
}

}  // namespace kd::gemm_detail
