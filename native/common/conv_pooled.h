// A 2-d convolution followed by max pooling as one node, on both devices: the forward, and the
// convolution's gradients taken straight from the pooled gradient. ConvGeometry describes the
// convolution; pool describes the pooling of its output (n, k, oh, ow). indices hold oy·ow + ox
// within the convolution's output plane, as maxPool2dForward writes them.
//   CPU  native/cpu/conv_pooled.cc: each image's convolution output is pooled while still in
//        cache when the batch keeps every thread busy; the backward is sparse (only each
//        window's maximum receives a gradient) for groups == 1 and dense otherwise.
//   CUDA cuda/conv_pooled.cu: composed from the convolution and pooling kernels through a
//        temporary from the caching allocator; device pointers, cuda::stream().
#pragma once
#include <cstdint>

#include "common/geometry.h"  // ConvGeometry, PoolGeometry, ConvInput

namespace kd {

// out, indices [n, k, pool.oh, pool.ow] = maxPool2d(conv2d(x, weight) + bias); bias may be null.
void conv2dMaxPoolForward(const ConvGeometry& g, ConvInput x, const float* weight, const float* bias,
                          const PoolGeometry& pool, float* out, int32_t* indices);

// gradPooled and indices are [n, k, pool.oh, pool.ow] (contiguous). Each of gradInput
// ([n, c, h, w]), gradWeight ([k, c/groups, kh, kw]) and gradBias ([k]) may be null; the others
// are overwritten.
void conv2dPooledBackward(const ConvGeometry& g, const PoolGeometry& pool, ConvInput x, const float* weight,
                          const float* gradPooled, const int32_t* indices, float* gradInput, float* gradWeight,
                          float* gradBias);

namespace cuda {

// The same calls on device pointers.
void conv2dMaxPoolForward(const ConvGeometry& g, ConvInput x, const float* weight, const float* bias,
                          const PoolGeometry& pool, float* out, int32_t* indices);
void conv2dPooledBackward(const ConvGeometry& g, const PoolGeometry& pool, ConvInput x, const float* weight,
                          const float* gradPooled, const int32_t* indices, float* gradInput, float* gradWeight,
                          float* gradBias);

}  // namespace cuda
}  // namespace kd
