// The backward pass of a convolution followed by max pooling, taken straight from the pooled
// gradient. Only each window's maximum receives a gradient, so the convolution's output gradient
// is zero except at one position per window (a quarter of them for 2×2 pools): instead of
// materialising it and running dense GEMMs over its zeros, every nonzero position adds its
// gradient times the input patch to the weight gradient (and times the weight to the input
// gradient) directly. Images are worked on channels-last, so those updates are contiguous
// vectors of input channels.
#pragma once
#include <cstdint>

#include "cpu/conv.h"
#include "cpu/pool.h"

namespace kd {

// The public entry points choose their algorithm themselves, so callers (the binding) need not.

// gradPooled and indices are [n, k, pool.oh, pool.ow] (contiguous); indices hold oy·ow + ox within
// the convolution's output plane, which pool describes (n, k, oh, ow). Each of gradInput
// ([n, c, h, w]), gradWeight ([k, c/groups, kh, kw]) and gradBias ([k]) may be null; the others
// are overwritten. groups == 1 runs the sparse kernel above; grouped convolutions go through the
// dense route (maxPool2dBackward into a temporary, then the convolution's gradients).
void conv2dPooledBackward(const ConvGeometry& g, const PoolGeometry& pool, ConvInput x, const float* weight,
                          const float* gradPooled, const int32_t* indices, float* gradInput, float* gradWeight,
                          float* gradBias);

// out, indices [n, k, pool.oh, pool.ow] = maxPool2d(conv2d(x, weight) + bias); pool must describe
// the convolution's output (n, k, oh, ow). When the batch gives every thread at least two images,
// images are split across threads and each image's convolution output is pooled while it is still
// in cache, never written out; smaller batches run the (internally threaded) convolution over the
// whole batch into a temporary and pool that.
void conv2dMaxPoolForward(const ConvGeometry& g, ConvInput x, const float* weight, const float* bias,
                          const PoolGeometry& pool, float* out, int32_t* indices);

namespace conv_pooled_detail {

// Per-thread work on images [n0, n1): accumulates into weightGradT ([k, kh, kw, c]) and
// biasGrad ([k]), writes gradInput's images. xT and dxT are scratch of h·w·c floats; weightT is
// the weight as [k, kh, kw, c].
struct Work {
  const ConvGeometry* g;
  ConvInput x;
  const float* weightT;
  const float* gradPooled;
  const int32_t* indices;
  int64_t pooledPlane;
  float* gradInput;
  float* weightGradT;
  float* biasGrad;
  float* xT;
  float* dxT;
};

void rangeScalar(const Work& w, int64_t n0, int64_t n1);
void rangeAvx2(const Work& w, int64_t n0, int64_t n1);

}  // namespace conv_pooled_detail
}  // namespace kd
