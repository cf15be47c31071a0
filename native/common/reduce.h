// A reduction call as both backends take it (native/cpu/reduce.h, cuda/reduce.h): the input's
// dims split into kept dims (matching the output, which may be strided) and reduced dims, each
// with the input's strides in elements.
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

}  // namespace kd
