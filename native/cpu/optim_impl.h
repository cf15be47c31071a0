// The Adam / AdamW update loop (common/optim.h), plain C++ that the compiler vectorises for the
// including file's ISA (optim.cc: baseline SSE2, optim_avx2.cc: AVX2+FMA). Both files are built
// with -fno-math-errno (CMakeLists.txt) so that std::sqrt vectorises; nothing is reassociated.
// Include only from those files, with KD_ISA_NS defined.
#include <algorithm>
#include <cmath>

#include "common/optim.h"

namespace kd {
// The builds, chosen by adamStep: isa_scalar (optim.cc) and isa_avx2 (optim_avx2.cc). The update
// of elements [i0, i1); stepSize = lr / bc1, decay = 1 - lr·wd for AdamW (else 1).
#define KD_DECLARE_ADAM_RANGE(ns)                                                                             \
  namespace ns {                                                                                              \
  void adamRange(const AdamHyper& h, float stepSize, float bc2Sqrt, float decay, int64_t i0, int64_t i1, float* p, \
                 const float* g, float* m, float* v, float* vmax);                                            \
  }
KD_DECLARE_ADAM_RANGE(isa_scalar)
KD_DECLARE_ADAM_RANGE(isa_avx2)
#undef KD_DECLARE_ADAM_RANGE
}  // namespace kd

namespace kd::KD_ISA_NS {

void adamRange(const AdamHyper& h, float stepSize, float bc2Sqrt, float decay, int64_t i0, int64_t i1, float* p,
               const float* g, float* m, float* v, float* vmax) {
  const float sign = h.maximize ? -1.0f : 1.0f;
  const float l2 = h.decoupled ? 0.0f : h.weightDecay;
  const float w1 = 1.0f - h.beta1, b2 = h.beta2, w2 = 1.0f - h.beta2;
  for (int64_t i = i0; i < i1; ++i) {
    float pi = p[i] * decay;
    const float gi = sign * g[i] + l2 * pi;
    const float mi = m[i] + w1 * (gi - m[i]);  // torch's lerp for a weight below 0.5
    float vi = b2 * v[i] + w2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    if (vmax) {
      vi = std::max(vmax[i], vi);
      vmax[i] = vi;
    }
    p[i] = pi - stepSize * (mi / (std::sqrt(vi) / bc2Sqrt + h.eps));
  }
}

}  // namespace kd::KD_ISA_NS
