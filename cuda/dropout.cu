// Dropout (common/dropout.h) on the device: one thread per element, grid-stride, the block key
// recomputed per element (a few multiplies; the pass is memory-bound). The same hash as the CPU's,
// so both devices drop the same elements given the seed.
#include <algorithm>
#include <stdexcept>

#include "check.cuh"
#include "common/dropout.h"
#include "runtime.h"

namespace kd::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void dropoutKernel(int64_t n, float p, float scale, uint64_t seed, const float* x, float* out) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const uint64_t key = dropoutBlockKey(seed, uint64_t(i / kDropoutBlock));
    out[i] = x[i] * (dropoutUniform(key, uint32_t(i % kDropoutBlock)) >= p ? scale : 0.0f);
  }
}

}  // namespace

void dropoutApply(int64_t n, double p, uint64_t seed, const float* x, float* out) {
  if (n <= 0) return;
  const int64_t blocks = std::min<int64_t>((n + kThreads - 1) / kThreads, int64_t(1) << 20);
  cudaStream_t stream = static_cast<cudaStream_t>(kd::cuda::stream());
  dropoutKernel<<<unsigned(blocks), kThreads, 0, stream>>>(n, float(p), dropoutScale(p), seed, x, out);
  detail::checkLaunch("dropout");
}

}  // namespace kd::cuda
