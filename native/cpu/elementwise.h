// Elementwise kernels over N-d strided operands (strides in elements, 0 for a broadcast dim).
// Outputs may be strided too (in-place updates write through views). One implementation
// (elementwise_impl.h) is compiled for the baseline and for AVX2; these entry points dispatch on
// dispatchIsa(). AVX-512 machines run the AVX2 build: these loops are bound by memory, not width.
#pragma once
#include <cstdint>

#include "common/dtype.h"
#include "common/opcodes.h"
#include "common/operand.h"

namespace kd {

void unaryKernel(UnaryOp op, DType dtype, double p0, double p1, int ndim, const int64_t* shape,
                 Operand out, Operand in);
// a and b share `dtype`; out is bool for comparisons and logical ops, else `dtype`.
void binaryKernel(BinaryOp op, DType dtype, int ndim, const int64_t* shape, Operand out,
                  Operand a, Operand b);
// out = cond ? a : b, cond bool, a/b/out of `dtype`.
void whereKernel(DType dtype, int ndim, const int64_t* shape, Operand out, Operand cond, Operand a,
                 Operand b);
// Converts (or copies, when from == to) a strided operand into out.
void castKernel(DType from, DType to, int ndim, const int64_t* shape, Operand out, Operand in);
void fillKernel(DType dtype, double value, int ndim, const int64_t* shape, Operand out);

// Per-ISA instantiations, selected by the functions above.
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
