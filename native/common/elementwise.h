// Elementwise kernels over N-d strided operands (strides in elements, 0 for a broadcast dim), on
// both devices: the same calls, opcodes (common/opcodes.h) and semantics. Outputs may be strided
// too (in-place updates write through views).
//   CPU  native/cpu/elementwise.cc: one loop body (elementwise_impl.h) built per ISA, picked by
//        dispatchIsa(); AVX-512 machines run the AVX2 build (these loops are bound by memory).
//   CUDA cuda/elementwise.cu: device pointers in the operands, enqueued on cuda::stream().
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

namespace cuda {

// The same calls on device pointers.
void unary(UnaryOp op, kd::DType dtype, double p0, double p1, int ndim, const int64_t* shape, Operand out, Operand in);
void binary(BinaryOp op, kd::DType dtype, int ndim, const int64_t* shape, Operand out, Operand a, Operand b);
void where(kd::DType dtype, int ndim, const int64_t* shape, Operand out, Operand cond, Operand a, Operand b);
void cast(kd::DType from, kd::DType to, int ndim, const int64_t* shape, Operand out, Operand in);
void fill(kd::DType dtype, double value, int ndim, const int64_t* shape, Operand out);

}  // namespace cuda
}  // namespace kd
