// The geometry of a 2-d convolution and of a 2-d pooling window over NCHW float32, and the strided
// input operand both read: one description that the binding reads once and hands to the CPU
// and CUDA kernels (common/conv.h, pool.h, conv_pooled.h) alike.
#pragma once
#include <cstdint>

namespace kd {

struct ConvGeometry {
  int64_t n, c, h, w;      // input
  int64_t k, kh, kw;       // output channels and kernel size; weight is [k, c / groups, kh, kw]
  int64_t oh, ow;          // output size; rows/columns past the input read zeros (padding)
  int64_t strideH, strideW, padH, padW, dilationH, dilationW, groups;  // padH/padW: top/left
};

// Window (oy, ox) covers rows oy*strideH - padH + i*dilationH for i < kh (columns alike); oh and
// ow are given (ceil mode only changes them), windows past the input are clipped.
struct PoolGeometry {
  int64_t n, c, h, w, oh, ow;
  int64_t kh, kw, strideH, strideW, padH, padW, dilationH, dilationW;
};

// A strided NCHW input (host or device memory): element (n, c, y, x) at p[n*sn + c*sc + y*sh + x*sw].
struct ImageInput {
  const float* p;
  int64_t sn, sc, sh, sw;
};
using ConvInput = ImageInput;
using PoolInput = ImageInput;

}  // namespace kd
