// Dropout (common/dropout.h) on the CPU: the portable build of the block loop, the dispatch
// between it and the AVX2 build (AVX-512 machines use the AVX2 one: the pass is memory-bound once
// the hash is vectorised), and the float64 reference.
#define KD_ISA_NS isa_scalar
#include "cpu/dropout_impl.h"
#undef KD_ISA_NS

#include <algorithm>

#include "common/isa.h"
#include "common/parallel.h"

namespace kd {

void dropoutApply(int64_t n, double p, uint64_t seed, const float* x, float* out) {
  if (n <= 0) return;
  const float pf = static_cast<float>(p), scale = dropoutScale(p);
  auto block = dispatchIsa(CpuIsa::Avx2) == CpuIsa::Avx2 ? isa_avx2::dropoutBlock : isa_scalar::dropoutBlock;
  const int64_t blocks = (n + kDropoutBlock - 1) / kDropoutBlock;
  parallelFor(blocks, bytesCost(8.0 * kDropoutBlock), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t i0 = b * kDropoutBlock, len = std::min(kDropoutBlock, n - i0);
      block(dropoutBlockKey(seed, static_cast<uint64_t>(b)), len, pf, scale, x + i0, out + i0);
    }
  });
}

void dropoutApplyRef(int64_t n, double p, uint64_t seed, const double* x, double* out) {
  const float pf = static_cast<float>(p);
  const double scale = p < 1.0 ? 1.0 / (1.0 - p) : 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t key = dropoutBlockKey(seed, static_cast<uint64_t>(i / kDropoutBlock));
    out[i] = x[i] * (dropoutUniform(key, static_cast<uint32_t>(i % kDropoutBlock)) >= pf ? scale : 0.0);
  }
}

}  // namespace kd
