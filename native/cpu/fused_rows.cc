// The portable build of the row-wise fused kernels (layer / RMS norm, bias + GELU, softmax
// cross-entropy), and the dispatch between it and the AVX2 and AVX-512 builds.
#define KD_ISA_NS isa_scalar
#include "cpu/fused_rows_impl.h"
#undef KD_ISA_NS

#include "common/isa.h"

namespace kd {

// One dispatchIsa() call per kernel call picks the build.
#define KD_DISPATCH(fn, ...)                                    \
  switch (dispatchIsa()) {                                      \
    case CpuIsa::Avx512: return isa_avx512::fn(__VA_ARGS__);    \
    case CpuIsa::Avx2: return isa_avx2::fn(__VA_ARGS__);        \
    default: return isa_scalar::fn(__VA_ARGS__);                \
  }

void rowNormForward(const RowNormForwardArgs& a) { KD_DISPATCH(rowNormForward, a) }

void rowNormBackward(const RowNormBackwardArgs& a) { KD_DISPATCH(rowNormBackward, a) }

void biasGeluForward(int64_t rows, int64_t cols, bool tanh, const float* x, const float* bias, float* y) {
  KD_DISPATCH(biasGeluForward, rows, cols, tanh, x, bias, y)
}

void biasGeluBackward(int64_t rows, int64_t cols, bool tanh, const float* g, const float* x, const float* bias,
                      float* dx, float* dbias) {
  KD_DISPATCH(biasGeluBackward, rows, cols, tanh, g, x, bias, dx, dbias)
}

void crossEntropyForward(const CrossEntropyArgs& a, float* loss, float* targetWeight, float* lse) {
  KD_DISPATCH(crossEntropyForward, a, loss, targetWeight, lse)
}

void crossEntropyBackward(const CrossEntropyArgs& a, const float* lse, const float* g, float* dx) {
  KD_DISPATCH(crossEntropyBackward, a, lse, g, dx)
}
#undef KD_DISPATCH

}  // namespace kd
