// The dropout loop (common/dropout.h), written once and compiled per ISA by dropout.cc (baseline
// x86-64) and dropout_avx2.cc (AVX2: the 32-bit hash vectorises with vpmulld).
// Include only from those files, with KD_ISA_NS defined.
#include <cstdint>

#include "common/dropout.h"

namespace kd {

#define KD_DECLARE_DROPOUT(ns) \
  namespace ns {               \
  void dropoutBlock(uint64_t key, int64_t len, float p, float scale, const float* x, float* out); \
  }
KD_DECLARE_DROPOUT(isa_scalar)
KD_DECLARE_DROPOUT(isa_avx2)
#undef KD_DECLARE_DROPOUT

namespace KD_ISA_NS {

// One block (len <= kDropoutBlock elements, the block's key given).
void dropoutBlock(uint64_t key, int64_t len, float p, float scale, const float* x, float* out) {
  const uint32_t n = static_cast<uint32_t>(len);
  for (uint32_t j = 0; j < n; ++j) out[j] = x[j] * (dropoutUniform(key, j) >= p ? scale : 0.0f);
}

}  // namespace KD_ISA_NS
}  // namespace kd
