// Multi-tensor Adam: the tensors of one call are packed into a kernel argument (up to kPerLaunch
// per launch, so a model's parameters take one or a few launches instead of one per tensor).
// Blocks are dealt out in order: tensor t owns blocks [firstBlock[t], firstBlock[t+1]), each block
// kChunk consecutive elements. The bias corrections are computed on the host in double, exactly as
// the CPU does, so both devices apply the same float step sizes.
#include <cmath>
#include <stdexcept>

#include "common/optim.h"
#include "runtime.h"
#include "strided.cuh"

namespace kd::cuda {
namespace {

constexpr int kThreads = 256, kPerThread = 4, kChunk = kThreads * kPerThread, kPerLaunch = 32;

struct AdamSlot {
  float* p;
  const float* g;
  float* m;
  float* v;
  float* vmax;
  int64_t n;
  float stepSize, bc2Sqrt;
};

struct AdamLaunch {
  AdamSlot slots[kPerLaunch];
  int64_t firstBlock[kPerLaunch + 1];
  int count;
  float decay, sign, l2, w1, b2, w2, eps;
};

__global__ void __launch_bounds__(kThreads) adamKernel(const AdamLaunch L) {
  int t = 0;
  while (t + 1 < L.count && blockIdx.x >= L.firstBlock[t + 1]) ++t;
  const AdamSlot& s = L.slots[t];
  const int64_t base = (int64_t(blockIdx.x) - L.firstBlock[t]) * kChunk;
#pragma unroll
  for (int e = 0; e < kPerThread; ++e) {
    const int64_t i = base + e * kThreads + threadIdx.x;
    if (i >= s.n) break;
    const float pi = s.p[i] * L.decay;
    const float gi = L.sign * s.g[i] + L.l2 * pi;
    const float mi = s.m[i] + L.w1 * (gi - s.m[i]);  // torch's lerp for a weight below 0.5
    float vi = L.b2 * s.v[i] + L.w2 * gi * gi;
    s.m[i] = mi;
    s.v[i] = vi;
    if (s.vmax) {
      vi = fmaxf(s.vmax[i], vi);
      s.vmax[i] = vi;
    }
    s.p[i] = pi - s.stepSize * (mi / (sqrtf(vi) / s.bc2Sqrt + L.eps));
  }
}

}  // namespace

void adamStep(const AdamHyper& h, const AdamTensor* tensors, int count) {
  AdamLaunch L{};
  L.decay = h.decoupled ? 1.0f - h.lr * h.weightDecay : 1.0f;
  L.sign = h.maximize ? -1.0f : 1.0f;
  L.l2 = h.decoupled ? 0.0f : h.weightDecay;
  L.w1 = 1.0f - h.beta1;
  L.b2 = h.beta2;
  L.w2 = 1.0f - h.beta2;
  L.eps = h.eps;
  cudaStream_t stream = static_cast<cudaStream_t>(kd::cuda::stream());
  auto flush = [&]() {
    if (L.count == 0) return;
    const int64_t blocks = L.firstBlock[L.count];
    if (blocks > 0) {
      if (blocks > (int64_t(1) << 31) - 1) throw std::invalid_argument("adam: tensors too large for one launch");
      adamKernel<<<unsigned(blocks), kThreads, 0, stream>>>(L);
      detail::checkLaunch("adam");
    }
    L.count = 0;
  };
  for (int i = 0; i < count; ++i) {
    const AdamTensor& t = tensors[i];
    if (t.step < 1) throw std::invalid_argument("adam: step must be at least 1");
    if (t.n <= 0) continue;
    if (L.count == kPerLaunch) flush();
    const double bc1 = 1.0 - std::pow(double(h.beta1), double(t.step));
    const double bc2 = 1.0 - std::pow(double(h.beta2), double(t.step));
    AdamSlot& s = L.slots[L.count];
    s = AdamSlot{t.param, t.grad, t.expAvg, t.expAvgSq, t.maxExpAvgSq, t.n, float(h.lr / bc1), float(std::sqrt(bc2))};
    if (L.count == 0) L.firstBlock[0] = 0;
    L.firstBlock[L.count + 1] = L.firstBlock[L.count] + (t.n + kChunk - 1) / kChunk;
    ++L.count;
  }
  flush();
}

}  // namespace kd::cuda
