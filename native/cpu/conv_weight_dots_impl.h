// The weight gradient as one dot product per element (cpu/conv_im2col.h), a plain loop over 16
// independent float lanes that the compiler vectorises for the including file's ISA
// (conv_im2col.cc: baseline SSE2, conv_weight_dots_avx2.cc: AVX2+FMA).
// Include only from those files, with KD_ISA_NS defined.
#include <cstdint>

#include "cpu/conv_im2col.h"

namespace kd::KD_ISA_NS {

void convWeightGradDots(int64_t kg, int64_t ckk, int64_t cols, const float* a, int64_t aRow, const float* col,
                        int64_t colRow, float* c, bool accumulate) {
  constexpr int kLanes = 16;
  for (int64_t k = 0; k < kg; ++k)
    for (int64_t r = 0; r < ckk; ++r) {
      const float* x = a + k * aRow;
      const float* y = col + r * colRow;
      float lanes[kLanes] = {};
      int64_t j = 0;
      for (; j + kLanes <= cols; j += kLanes)
        for (int l = 0; l < kLanes; ++l) lanes[l] += x[j + l] * y[j + l];
      float sum = 0.0f;
      for (int l = 0; l < kLanes; ++l) sum += lanes[l];
      for (; j < cols; ++j) sum += x[j] * y[j];
      c[k * ckk + r] = accumulate ? c[k * ckk + r] + sum : sum;
    }
}

}  // namespace kd::KD_ISA_NS
