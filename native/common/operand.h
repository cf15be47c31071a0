// A strided operand as every kernel takes it, CPU or CUDA: a pointer to its first element (the
// view's offset already applied; a device pointer for CUDA kernels) and its strides in elements
// (0 on a broadcast dim). The shape travels separately, shared by all operands of a call.
#pragma once
#include <cstdint>

namespace kd {

struct Operand {
  char* data;
  const int64_t* strides;
};

}  // namespace kd
