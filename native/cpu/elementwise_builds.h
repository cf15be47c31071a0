// The builds of the elementwise kernels, one per ISA: elementwise_impl.h compiled by
// elementwise_scalar.cc and elementwise_avx2.cc; elementwise.cc picks one per call.
#pragma once
#include "common/elementwise.h"

namespace kd {

#define KD_DECLARE_ELEMENTWISE(ns)                                                                  \
  namespace ns {                                                                                    \
  void unaryKernel(UnaryOp, DType, double, double, int, const int64_t*, Operand, Operand);          \
  void binaryKernel(BinaryOp, DType, int, const int64_t*, Operand, Operand, Operand);               \
  void whereKernel(DType, int, const int64_t*, Operand, Operand, Operand, Operand);                 \
  void castKernel(DType, DType, int, const int64_t*, Operand, Operand);                             \
  }
KD_DECLARE_ELEMENTWISE(isa_scalar)
KD_DECLARE_ELEMENTWISE(isa_avx2)
#undef KD_DECLARE_ELEMENTWISE

}  // namespace kd
