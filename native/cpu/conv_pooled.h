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

// gradPooled and indices are [n, k, pooledPlane] (contiguous); indices hold oy·ow + ox within
// the convolution's output plane. Each of gradInput ([n, c, h, w]), gradWeight ([k, c, kh, kw])
// and gradBias ([k]) may be null; the others are overwritten. groups must be 1.
void conv2dPooledBackward(const ConvGeometry& g, ConvInput x, const float* weight, const float* gradPooled,
                          const int32_t* indices, int64_t pooledPlane, float* gradInput, float* gradWeight,
                          float* gradBias);

// out, indices [n, k, pool.oh, pool.ow] = maxPool2d(conv2d(x, weight) + bias) image by image,
// so each image's convolution output is pooled while it is still in cache and never written
// out. pool must describe the convolution's output (n, k, oh, ow). Images are split across
// threads; each runs the single-image convolution and pooling inline.
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
