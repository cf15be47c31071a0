// The float sums of the reduce kernel, plain loops over 16 independent float lanes that the
// compiler vectorises for the including file's ISA (reduce.cc: baseline SSE2, reduce_avx2.cc:
// AVX2). The lanes fix the summation order, so every build gives the same bits.
// Include only from those files, with KD_ISA_NS defined.
#include <algorithm>
#include <cstdint>

#include "common/reduce.h"

namespace kd {
// Floats are summed in float over blocks of this many consecutive elements (sumContiguous) or rows
// (column sums), and the block sums in double, in order.
inline constexpr int64_t kSumBlock = 256;

// The builds, chosen by reduceKernel: isa_scalar (reduce.cc) and isa_avx2 (reduce_avx2.cc); AVX-512
// machines run the AVX2 build (these loops are bound by memory, not width).
//   sumContiguous: the sum of n contiguous floats.
//   sumColumnBlock: out[j] = the float sum, rows in order, of x[r·rowStride + j] over r < rows, for
//     j < width; rows <= kSumBlock.
#define KD_DECLARE_REDUCE_SUMS(ns)                                                                \
  namespace ns {                                                                                  \
  double sumContiguous(const float* x, int64_t n);                                                \
  void sumColumnBlock(const float* x, int64_t rows, int64_t rowStride, int64_t width, float* out); \
  }
KD_DECLARE_REDUCE_SUMS(isa_scalar)
KD_DECLARE_REDUCE_SUMS(isa_avx2)
#undef KD_DECLARE_REDUCE_SUMS
}  // namespace kd

namespace kd::KD_ISA_NS {

double sumContiguous(const float* x, int64_t n) {
  double total = 0.0;
  for (int64_t start = 0; start < n; start += kSumBlock) {
    int64_t len = std::min(kSumBlock, n - start);
    const float* p = x + start;
    float lanes[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= len; i += 16)
      for (int j = 0; j < 16; ++j) lanes[j] += p[i + j];
    float tail = 0.0f;
    for (; i < len; ++i) tail += p[i];
    float block = tail;
    for (int j = 0; j < 16; ++j) block += lanes[j];
    total += block;
  }
  return total;
}

void sumColumnBlock(const float* __restrict x, int64_t rows, int64_t rowStride, int64_t width, float* __restrict out) {
  for (int64_t j = 0; j < width; ++j) out[j] = 0.0f;
  for (int64_t r = 0; r < rows; ++r) {
    const float* __restrict row = x + r * rowStride;
    for (int64_t j = 0; j < width; ++j) out[j] += row[j];
  }
}

}  // namespace kd::KD_ISA_NS
