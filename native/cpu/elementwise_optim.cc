// Fused optimizer updates (cpu/optim.h). Built with the elementwise files' vector-math flags, so
// the loop vectorises (sqrt and division included) without reassociating any sum.
#include <algorithm>
#include <cmath>

#include "common/parallel.h"
#include "cpu/optim.h"

namespace kd {
namespace {

__attribute__((target_clones("arch=haswell", "default")))
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

}  // namespace

void adamStep(const AdamHyper& h, int64_t n, float* param, const float* grad, float* expAvg, float* expAvgSq,
              float* maxExpAvgSq) {
  const double bc1 = 1.0 - std::pow(static_cast<double>(h.beta1), static_cast<double>(h.step));
  const double bc2 = 1.0 - std::pow(static_cast<double>(h.beta2), static_cast<double>(h.step));
  const float stepSize = static_cast<float>(h.lr / bc1);
  const float bc2Sqrt = static_cast<float>(std::sqrt(bc2));
  const float decay = h.decoupled ? 1.0f - h.lr * h.weightDecay : 1.0f;
  parallelFor(n, bytesCost(32), [&](int64_t i0, int64_t i1) {  // four floats read, three written
    adamRange(h, stepSize, bc2Sqrt, decay, i0, i1, param, grad, expAvg, expAvgSq, maxExpAvgSq);
  });
}

}  // namespace kd
