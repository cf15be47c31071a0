// Fused optimizer updates (common/optim.h): the portable build of the update loop, and the dispatch
// between it and the AVX2 build (AVX-512 machines use the AVX2 one: the loop is memory-bound).
#define KD_ISA_NS isa_scalar
#include "cpu/optim_impl.h"
#undef KD_ISA_NS

#include <cmath>
#include <stdexcept>

#include "common/isa.h"
#include "common/parallel.h"

namespace kd {
namespace {

void adamTensor(const AdamHyper& h, int64_t step, int64_t n, float* param, const float* grad, float* expAvg,
                float* expAvgSq, float* maxExpAvgSq) {
  const double bc1 = 1.0 - std::pow(static_cast<double>(h.beta1), static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(static_cast<double>(h.beta2), static_cast<double>(step));
  const float stepSize = static_cast<float>(h.lr / bc1);
  const float bc2Sqrt = static_cast<float>(std::sqrt(bc2));
  const float decay = h.decoupled ? 1.0f - h.lr * h.weightDecay : 1.0f;
  auto range = dispatchIsa(CpuIsa::Avx2) == CpuIsa::Avx2 ? isa_avx2::adamRange : isa_scalar::adamRange;
  parallelFor(n, bytesCost(32), [&](int64_t i0, int64_t i1) {  // four floats read, three written
    range(h, stepSize, bc2Sqrt, decay, i0, i1, param, grad, expAvg, expAvgSq, maxExpAvgSq);
  });
}

}  // namespace

void adamStep(const AdamHyper& h, const AdamTensor* tensors, int count) {
  for (int i = 0; i < count; ++i) {
    const AdamTensor& t = tensors[i];
    if (t.step < 1) throw std::invalid_argument("adam: step must be at least 1");
    adamTensor(h, t.step, t.n, t.param, t.grad, t.expAvg, t.expAvgSq, t.maxExpAvgSq);
  }
}

}  // namespace kd
