// A convolution followed by max pooling on the GPU, as native/cpu/conv_pooled.h declares it for
// the CPU: the same calls on device pointers. Both are composed here from the convolution and
// pooling kernels (cuda/conv.h, cuda/pool.h) through a temporary convolution output from the
// caching allocator; no fused kernel yet.
#pragma once
#include <cstdint>

#include "common/geometry.h"

namespace kd::cuda {

// out, indices [n, k, pool.oh, pool.ow] = maxPool2d(conv2d(x, weight) + bias); pool describes
// the convolution's output.
void conv2dMaxPoolForward(const ConvGeometry& g, ConvInput x, const float* weight, const float* bias,
                          const PoolGeometry& pool, float* out, int32_t* indices);

// The convolution's gradients from the pooled gradient and the pool's indices (both
// [n, k, pool.oh, pool.ow]); each target may be null, the others are overwritten.
void conv2dPooledBackward(const ConvGeometry& g, const PoolGeometry& pool, ConvInput x, const float* weight,
                          const float* gradPooled, const int32_t* indices, float* gradInput, float* gradWeight,
                          float* gradBias);

}  // namespace kd::cuda
