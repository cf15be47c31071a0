// Reductions over any set of dims of a strided input. The caller splits the input's dims into
// kept dims (matching the output, which may be strided) and reduced dims, each with input
// strides; the kernel coalesces the reduced dims and picks a contiguous, column-wise or general
// loop. Sums accumulate in float lanes per block of 256 and in double across blocks.
#pragma once
#include <cstdint>

#include "common/dtype.h"
#include "cpu/elementwise.h"

namespace kd {

enum class ReduceOp : int { Sum = 0, Mean, Max, Min, Argmax, Argmin, Prod, Count };

struct ReduceArgs {
  ReduceOp op;
  DType dtype;  // input dtype: float32 or int32 (bool is cast by the caller)
  int keptNdim;
  const int64_t* keptShape;
  const int64_t* keptInStrides;
  int reducedNdim;
  const int64_t* reducedShape;
  const int64_t* reducedInStrides;
  const char* in;  // first element
  Operand out;     // strided over keptShape; dtype float32/int32 as the input, int32 for arg ops
};

void reduceKernel(const ReduceArgs& args);

}  // namespace kd
