// Softmax and log-softmax along one dim, forward and backward, float32, on both devices: strided
// operands over one shape. NaN is skipped by the row maximum and reaches the output through the
// sum; a row of -inf gives NaN.
//   CPU  native/cpu/softmax.cc: one kernel call per row (max, sum of exp, write); when `dim` is
//        not the contiguous one but the next inner dim is, it runs across columns instead, so the
//        inner loop stays contiguous. One body (softmax_impl.h) built per ISA.
//   CUDA cuda/softmax.cu: one warp per row; device pointers, cuda::stream().
#pragma once
#include <cstdint>

#include "common/operand.h"

namespace kd {

// out = softmax(x) or logSoftmax(x) along dim; out and x are strided over the same shape.
void softmaxKernel(bool log, int ndim, const int64_t* shape, int dim, Operand out, Operand x);

// Given y (the forward output) and g (its gradient):
//   softmax:    dx = y * (g - sum(g * y))
//   logSoftmax: dx = g - exp(y) * sum(g)
void softmaxBackwardKernel(bool log, int ndim, const int64_t* shape, int dim, Operand dx, Operand y, Operand g);

namespace cuda {

// The same calls on device pointers.
void softmax(bool log, int ndim, const int64_t* shape, int dim, Operand out, Operand x);
void softmaxBackward(bool log, int ndim, const int64_t* shape, int dim, Operand dx, Operand y, Operand g);

}  // namespace cuda
}  // namespace kd
