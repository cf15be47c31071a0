// Softmax and log-softmax along one dim on the GPU, forward and backward, float32, strided
// operands over one shape (device pointers; the current stream). Semantics as the CPU's
// (native/cpu/softmax.h): NaN is skipped by the row maximum and reaches the output through the
// sum; a row of -inf gives NaN.
//   softmax backward:    dx = y * (g - sum(g * y))
//   logSoftmax backward: dx = g - exp(y) * sum(g)
#pragma once
#include <cstdint>

#include "common/operand.h"

namespace kd::cuda {

void softmax(bool log, int ndim, const int64_t* shape, int dim, Operand out, Operand x);
void softmaxBackward(bool log, int ndim, const int64_t* shape, int dim, Operand dx, Operand y, Operand g);

}  // namespace kd::cuda
