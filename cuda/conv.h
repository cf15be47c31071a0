// 2-D convolution on the GPU, float32 NCHW. Plain C++ (no CUDA types): device
// pointers, the stream a cudaStream_t as void* (nullptr = default stream). Errors: 
// std::invalid_argument naming the bad argument, std::runtime_error naming the failed CUDA call.
//
// Convolutions are implicit GEMMs on the tensor-core kernel of cuda/kernels_common.cuh (TF32
// inputs, FP32 accumulation; 128x128 tile per CTA, 4-stage cp.async ring in shared memory).
// Nothing is unfolded in memory: the loaders gather the im2col tiles straight from x / dy with
// 4-byte zero-filling cp.async (padding, stride, dilation resolved per element with precomputed
// per-column offsets and one division-free k decomposition per row). Per group g:
//   forward      y[n,oc,p,q]  : M = Cout/G, N = batch*P*Q, K = Cin/G*R*S   (A = weight, B = im2col(x))
//   input grad   dx[n,c,h,w]  : M = Cin/G,  N = batch*H*W, K = Cout/G*R*S  (B gathers dy at (h+pad-r*dil)/stride)
//   weight grad  dw[oc,c,r,s] : M = Cout/G, N = Cin/G*R*S, K = batch*P*Q   (split over K, fp32 atomics)
// Shapes with few output tiles are split over K and summed with atomics into a zeroed output.
#pragma once

#include <cstdint>

namespace kd::cuda {

struct Conv2dShape {
  int batch = 1, inChannels = 1, inH = 1, inW = 1;
  int outChannels = 1, kernelH = 1, kernelW = 1;
  int strideH = 1, strideW = 1, padH = 0, padW = 0, dilationH = 1, dilationW = 1, groups = 1;
  // Output size when given (> 0), else PyTorch's formula for symmetric padding. A larger output
  // (asymmetric 'same' padding) reads zeros past the bottom/right edge.
  int outHeight = 0, outWidth = 0;
  int outH() const { return outHeight > 0 ? outHeight : (inH + 2 * padH - dilationH * (kernelH - 1) - 1) / strideH + 1; }
  int outW() const { return outWidth > 0 ? outWidth : (inW + 2 * padW - dilationW * (kernelW - 1) - 1) / strideW + 1; }
};

// x [batch, inC, inH, inW], w [outC, inC/groups, kH, kW], bias [outC] or nullptr,
// y [batch, outC, outH, outW] (overwritten).
void conv2dForward(const Conv2dShape& s, const float* x, const float* w, const float* bias, float* y, void* stream);
// dx (overwritten) from dy and w.
void conv2dBackwardData(const Conv2dShape& s, const float* dy, const float* w, float* dx, void* stream);
// dw (overwritten) from x and dy.
void conv2dBackwardWeight(const Conv2dShape& s, const float* x, const float* dy, float* dw, void* stream);

}  // namespace kd::cuda
