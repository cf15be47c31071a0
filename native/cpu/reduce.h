// Reductions over any set of dims of a strided input (the call: common/reduce.h). The kernel
// coalesces the reduced dims and picks a contiguous, column-wise or general loop. Sums accumulate
// in float lanes per block of 256 and in double across blocks.
#pragma once
#include <cstdint>

#include "common/reduce.h"

namespace kd {

void reduceKernel(const ReduceArgs& args);

// Per-ISA builds of the float sums (cpu/reduce_sums_impl.h), chosen by reduceKernel. AVX-512
// machines run the AVX2 build: these loops are bound by memory, not width.
//   sumContiguous: the sum of n contiguous floats.
//   sumColumns: acc[j] = sum over r < rows of x[r·rowStride + j], for j < width.
#define KD_DECLARE_REDUCE_SUMS(ns)                                                             \
  namespace ns {                                                                               \
  double sumContiguous(const float* x, int64_t n);                                             \
  void sumColumns(const float* x, int64_t rows, int64_t rowStride, int64_t width, double* acc); \
  }
KD_DECLARE_REDUCE_SUMS(isa_scalar)
KD_DECLARE_REDUCE_SUMS(isa_avx2)
#undef KD_DECLARE_REDUCE_SUMS

}  // namespace kd
