// Elementwise kernels on the GPU over N-d strided operands: the same entry points, opcodes and
// semantics as the CPU's (native/cpu/elementwise.h, native/common/opcodes.h), device pointers in
// the operands, enqueued on the current device's stream (runtime.h). Plain C++: no CUDA types.
#pragma once
#include <cstdint>

#include "common/dtype.h"
#include "common/opcodes.h"
#include "common/operand.h"

namespace kd::cuda {

void unary(UnaryOp op, kd::DType dtype, double p0, double p1, int ndim, const int64_t* shape, Operand out, Operand in);
// a and b share `dtype`; out is bool for comparisons and logical ops, else `dtype`.
void binary(BinaryOp op, kd::DType dtype, int ndim, const int64_t* shape, Operand out, Operand a, Operand b);
void where(kd::DType dtype, int ndim, const int64_t* shape, Operand out, Operand cond, Operand a, Operand b);
// Converts (or copies, when from == to) a strided operand into out.
void cast(kd::DType from, kd::DType to, int ndim, const int64_t* shape, Operand out, Operand in);
void fill(kd::DType dtype, double value, int ndim, const int64_t* shape, Operand out);

}  // namespace kd::cuda
