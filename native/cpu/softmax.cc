// The portable build of the softmax kernels, and the dispatch between it and the AVX2 build
// (AVX-512 machines use the AVX2 one: these loops are memory- and exp-bound).
#define KD_ISA_NS isa_scalar
#define KD_SOFTMAX_VECTOR_BYTES 16
#include "cpu/softmax_impl.h"
#undef KD_SOFTMAX_VECTOR_BYTES
#undef KD_ISA_NS

#include "common/isa.h"

namespace kd {

void softmaxKernel(bool log, int ndim, const int64_t* shape, int dim, Operand out, Operand x) {
  if (dispatchIsa(CpuIsa::Avx2) == CpuIsa::Scalar) return isa_scalar::softmaxKernel(log, ndim, shape, dim, out, x);
  return isa_avx2::softmaxKernel(log, ndim, shape, dim, out, x);
}

void softmaxBackwardKernel(bool log, int ndim, const int64_t* shape, int dim, Operand dx, Operand y, Operand g) {
  if (dispatchIsa(CpuIsa::Avx2) == CpuIsa::Scalar) return isa_scalar::softmaxBackwardKernel(log, ndim, shape, dim, dx, y, g);
  return isa_avx2::softmaxBackwardKernel(log, ndim, shape, dim, dx, y, g);
}

}  // namespace kd
