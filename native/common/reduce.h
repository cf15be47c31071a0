// Reductions over any set of dims of a strided input, on both devices: sum, mean, prod, max, min,
// argmax, argmin. The call splits the input's dims into kept dims (matching the output, which may
// be strided) and reduced dims, each with the input's strides in elements. Semantics: sums and
// products accumulate in double (sums in float lanes per block of 256 first); max/min/arg* take
// the first occurrence and NaN wins (its first occurrence); the mean of nothing is NaN, the
// max/min of nothing 0.
//   CPU  native/cpu/reduce.cc: coalesces the reduced dims, then a contiguous, column-wise or
//        general loop.
//   CUDA cuda/reduce.cu: a warp or a block per output; device pointers, cuda::stream().
#pragma once
#include <cstdint>

#include "common/dtype.h"
#include "common/opcodes.h"  // ReduceOp
#include "common/operand.h"

namespace kd {

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

namespace cuda {

void reduce(const ReduceArgs& args);

}  // namespace cuda
}  // namespace kd
