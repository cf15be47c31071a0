// The im2col engine: any 2-d convolution as im2col / col2im + sgemm over column chunks
// (conv_im2col.cc says how chunks and threads are cut).
//
// The GEMM view: for group g, out[n, g] (Kg × OH·OW) = W_g (Kg × Cg·kH·kW) · col (Cg·kH·kW × OH·OW),
// where col holds, for each (c, kh, kw) row, the input pixel each output position reads (zero
// where it falls into the padding). The output positions of the whole batch are cut into
// column chunks that keep one col block in L2; each chunk is one GEMM per group. Pointwise
// convolutions (1×1, stride 1, no padding) read the input in place as col.
#pragma once
#include <cstdint>

#include "common/conv.h"
#include "common/isa.h"
#include "cpu/conv_engine.h"

namespace kd::conv_im2col {

void forward(const ConvGeometry& g, const ConvInput& x, const float* weight, const float* bias, float* out);
void inputGrad(const ConvGeometry& g, const float* gradOut, const float* weight, float* gradInput);
// Sums over the batch into sums.of(t) on each thread t; returns the number of threads that ran.
// `isa` picks the build of the dot-product kernel used for tiny c/groups·kh·kw.
int weightGrad(CpuIsa isa, const ConvGeometry& g, const ConvInput& x, const float* gradOut,
               conv_detail::WeightGradSums& sums);

}  // namespace kd::conv_im2col

namespace kd {

// Per-ISA builds (cpu/conv_weight_dots_impl.h) of C (kg × ckk) (+)= A (kg × cols) · col^T for a
// tiny ckk (a single input channel: 9 rows), where a GEMM would spend most of its register tile on
// padding: one dot product per element of C. AVX-512 machines run the AVX2 build.
#define KD_DECLARE_WEIGHT_DOTS(ns)                                                                              \
  namespace ns {                                                                                                \
  void convWeightGradDots(int64_t kg, int64_t ckk, int64_t cols, const float* a, int64_t aRow, const float* col, \
                          int64_t colRow, float* c, bool accumulate);                                           \
  }
KD_DECLARE_WEIGHT_DOTS(isa_scalar)
KD_DECLARE_WEIGHT_DOTS(isa_avx2)
#undef KD_DECLARE_WEIGHT_DOTS

}  // namespace kd
