// Convolution + max pooling composed from the convolution and pooling kernels, with the
// convolution's output (or its gradient) in a block from the caching allocator. Freeing it when
// the call returns is safe: the allocator reuses blocks in stream order. The calls are qualified:
// the CPU's entry points (common/conv.h, pool.h) share their names and argument types.
#include <stdexcept>
#include <string>

#include "common/conv.h"
#include "common/conv_pooled.h"
#include "common/pool.h"
#include "runtime.h"

namespace kd::cuda {
namespace {

void requirePoolAfterConv(const ConvGeometry& g, const PoolGeometry& pool, const char* op) {
  if (pool.n != g.n || pool.c != g.k || pool.h != g.oh || pool.w != g.ow)
    throw std::invalid_argument(std::string(op) + ": the pooling geometry does not match the convolution's output");
}

// The convolution's output [n, k, oh, ow], contiguous, for the duration of one call.
class ConvOutput {
 public:
  explicit ConvOutput(const ConvGeometry& g)
      : block_(deviceAlloc(static_cast<size_t>(g.n * g.k * g.oh * g.ow) * sizeof(float), &reserved_)) {}
  ~ConvOutput() { deviceFree(block_, reserved_); }
  ConvOutput(const ConvOutput&) = delete;
  ConvOutput& operator=(const ConvOutput&) = delete;
  float* data() const { return static_cast<float*>(block_); }

 private:
  size_t reserved_ = 0;
  void* block_;
};

}  // namespace

void conv2dMaxPoolForward(const ConvGeometry& g, ConvInput x, const float* weight, const float* bias,
                          const PoolGeometry& pool, float* out, int32_t* indices) {
  requirePoolAfterConv(g, pool, "conv2dMaxPoolForward");
  const ConvOutput y(g);
  cuda::conv2dForward(g, x, weight, bias, y.data());
  cuda::maxPool2dForward(pool, PoolInput{y.data(), g.k * g.oh * g.ow, g.oh * g.ow, g.ow, 1}, out, indices);
}

void conv2dPooledBackward(const ConvGeometry& g, const PoolGeometry& pool, ConvInput x, const float* weight,
                          const float* gradPooled, const int32_t* indices, float* gradInput, float* gradWeight,
                          float* gradBias) {
  requirePoolAfterConv(g, pool, "conv2dPooledBackward");
  const ConvOutput gradOut(g);
  cuda::maxPool2dBackward(pool, gradPooled, indices, gradOut.data());
  if (gradInput) cuda::conv2dInputGrad(g, gradOut.data(), weight, gradInput);
  if (gradWeight) cuda::conv2dWeightGrad(g, x, gradOut.data(), gradWeight);
  if (gradBias) cuda::conv2dBiasGrad(g, gradOut.data(), gradBias);
}

}  // namespace kd::cuda
