// The portable build of the row-wise fused kernels (layer / RMS norm, bias + GELU, softmax
// cross-entropy), and the dispatch between it and the AVX2 build (AVX-512 machines use the AVX2
// one: these passes are bound by memory and by exp / erfc, not by vector width).
#define KD_ISA_NS isa_scalar
#include "cpu/fused_rows_impl.h"
#undef KD_ISA_NS

#include "common/isa.h"

namespace kd {

namespace {
bool scalarBuild() { return dispatchIsa(CpuIsa::Avx2) == CpuIsa::Scalar; }
}  // namespace

void rowNormForward(const RowNormForwardArgs& a) {
  if (scalarBuild()) return isa_scalar::rowNormForward(a);
  return isa_avx2::rowNormForward(a);
}

void rowNormBackward(const RowNormBackwardArgs& a) {
  if (scalarBuild()) return isa_scalar::rowNormBackward(a);
  return isa_avx2::rowNormBackward(a);
}

void biasGeluForward(int64_t rows, int64_t cols, bool tanh, const float* x, const float* bias, float* y) {
  if (scalarBuild()) return isa_scalar::biasGeluForward(rows, cols, tanh, x, bias, y);
  return isa_avx2::biasGeluForward(rows, cols, tanh, x, bias, y);
}

void biasGeluBackward(int64_t rows, int64_t cols, bool tanh, const float* g, const float* x, const float* bias,
                      float* dx, float* dbias) {
  if (scalarBuild()) return isa_scalar::biasGeluBackward(rows, cols, tanh, g, x, bias, dx, dbias);
  return isa_avx2::biasGeluBackward(rows, cols, tanh, g, x, bias, dx, dbias);
}

void crossEntropyForward(const CrossEntropyArgs& a, float* loss, float* targetWeight, float* lse) {
  if (scalarBuild()) return isa_scalar::crossEntropyForward(a, loss, targetWeight, lse);
  return isa_avx2::crossEntropyForward(a, loss, targetWeight, lse);
}

void crossEntropyBackward(const CrossEntropyArgs& a, const float* lse, const float* g, float* dx) {
  if (scalarBuild()) return isa_scalar::crossEntropyBackward(a, lse, g, dx);
  return isa_avx2::crossEntropyBackward(a, lse, g, dx);
}

}  // namespace kd
