// The portable build of the batch-norm kernels, and the dispatch between it and the AVX2 build
// (AVX-512 machines use the AVX2 one: these loops are bound by memory, not arithmetic).
#define KD_ISA_NS isa_scalar
#define KD_BATCHNORM_VECTOR_BYTES 16
#include "cpu/batchnorm_impl.h"
#undef KD_BATCHNORM_VECTOR_BYTES
#undef KD_ISA_NS

#include "common/isa.h"

namespace kd {

void batchNormForward(const BatchNormForwardArgs& a) {
  if (dispatchIsa(CpuIsa::Avx2) == CpuIsa::Scalar) return isa_scalar::batchNormForward(a);
  return isa_avx2::batchNormForward(a);
}

void batchNormBackward(const BatchNormBackwardArgs& a) {
  if (dispatchIsa(CpuIsa::Avx2) == CpuIsa::Scalar) return isa_scalar::batchNormBackward(a);
  return isa_avx2::batchNormBackward(a);
}

}  // namespace kd
