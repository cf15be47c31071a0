// Reductions over any set of dims of a strided input (the call: common/reduce.h). The kernel
// coalesces the reduced dims and picks a contiguous, column-wise or general loop. Sums accumulate
// in float lanes per block of 256 and in double across blocks.
#pragma once
#include "common/reduce.h"

namespace kd {

void reduceKernel(const ReduceArgs& args);

}  // namespace kd
