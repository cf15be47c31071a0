// Softmax and log-softmax along one dim, forward and backward, float32. Each row along `dim` is
// handled in one kernel call: max, sum of exp, write. Rows may be strided: when `dim` is not
// the contiguous one but the next inner dim is, the kernel runs across columns instead, so the
// inner loop stays contiguous. One implementation (softmax_impl.h) is compiled per ISA.
#pragma once
#include <cstdint>

#include "cpu/elementwise.h"

namespace kd {

// out = softmax(x) or logSoftmax(x) along dim; out and x are strided over the same shape.
void softmaxKernel(bool log, int ndim, const int64_t* shape, int dim, Operand out, Operand x);

// Given y (the forward output) and g (its gradient):
//   softmax:    dx = y * (g - sum(g * y))
//   logSoftmax: dx = g - exp(y) * sum(g)
void softmaxBackwardKernel(bool log, int ndim, const int64_t* shape, int dim, Operand dx, Operand y, Operand g);

#define KD_DECLARE_SOFTMAX(ns)                                                                 \
  namespace ns {                                                                               \
  void softmaxKernel(bool, int, const int64_t*, int, Operand, Operand);                        \
  void softmaxBackwardKernel(bool, int, const int64_t*, int, Operand, Operand, Operand);       \
  }
KD_DECLARE_SOFTMAX(isa_scalar)
KD_DECLARE_SOFTMAX(isa_avx2)
#undef KD_DECLARE_SOFTMAX

}  // namespace kd
