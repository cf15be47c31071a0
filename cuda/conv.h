// 2-D convolution on the GPU, float32 NCHW. Plain C++ (no CUDA types): device pointers; every
// kernel is enqueued on the addon's stream (runtime.h). Errors:
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

#include "common/geometry.h"  // ConvGeometry, ConvInput (shared with native/cpu/conv.h)

namespace kd::cuda {

// The same calls as native/cpu/conv.h, on device pointers and the current stream. x may be
// strided: the loaders read a dense copy of a non-contiguous one.
// out [n, k, oh, ow] (overwritten) = conv(x, weight) + bias; bias may be null.
void conv2dForward(const ConvGeometry& g, ConvInput x, const float* weight, const float* bias, float* out);
// gradInput [n, c, h, w] (overwritten) from gradOut [n, k, oh, ow].
void conv2dInputGrad(const ConvGeometry& g, const float* gradOut, const float* weight, float* gradInput);
// gradWeight [k, c/groups, kh, kw] (overwritten) = the sum over the batch.
void conv2dWeightGrad(const ConvGeometry& g, ConvInput x, const float* gradOut, float* gradWeight);
// gradBias [k] (overwritten) = the sum of gradOut over n, oh, ow.
void conv2dBiasGrad(const ConvGeometry& g, const float* gradOut, float* gradBias);

}  // namespace kd::cuda
