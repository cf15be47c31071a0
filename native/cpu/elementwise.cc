// Chooses the per-ISA build of each elementwise kernel; fill needs no vector code of its own.
#include "common/elementwise.h"

#include "common/isa.h"
#include "cpu/elementwise_builds.h"

namespace kd {

#define KD_DISPATCH(fn, ...)                                              \
  switch (dispatchIsa(CpuIsa::Avx2)) {                                    \
    case CpuIsa::Avx2: return isa_avx2::fn(__VA_ARGS__);                  \
    default: return isa_scalar::fn(__VA_ARGS__);                          \
  }

void unaryKernel(UnaryOp op, DType dtype, double p0, double p1, int ndim, const int64_t* shape, Operand out, Operand in) {
  KD_DISPATCH(unaryKernel, op, dtype, p0, p1, ndim, shape, out, in)
}
void binaryKernel(BinaryOp op, DType dtype, int ndim, const int64_t* shape, Operand out, Operand a, Operand b) {
  KD_DISPATCH(binaryKernel, op, dtype, ndim, shape, out, a, b)
}
void whereKernel(DType dtype, int ndim, const int64_t* shape, Operand out, Operand cond, Operand a, Operand b) {
  KD_DISPATCH(whereKernel, dtype, ndim, shape, out, cond, a, b)
}
void castKernel(DType from, DType to, int ndim, const int64_t* shape, Operand out, Operand in) {
  KD_DISPATCH(castKernel, from, to, ndim, shape, out, in)
}
#undef KD_DISPATCH

void fillKernel(DType dtype, double value, int ndim, const int64_t* shape, Operand out) {
  int64_t zero[kMaxDims] = {0};
  if (dtype == DType::Float32) {
    float v = static_cast<float>(value);
    castKernel(DType::Float32, DType::Float32, ndim, shape, out, Operand{reinterpret_cast<char*>(&v), zero});
  } else if (dtype == DType::Int32) {
    // Saturate instead of the undefined behaviour of converting NaN or out-of-range doubles.
    int32_t v = value != value ? 0 : value >= 2147483647.0 ? INT32_MAX : value <= -2147483648.0 ? INT32_MIN : static_cast<int32_t>(value);
    castKernel(DType::Int32, DType::Int32, ndim, shape, out, Operand{reinterpret_cast<char*>(&v), zero});
  } else {
    uint8_t v = value != 0;
    castKernel(DType::Bool, DType::Bool, ndim, shape, out, Operand{reinterpret_cast<char*>(&v), zero});
  }
}

}  // namespace kd
