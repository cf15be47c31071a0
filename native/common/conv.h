// 2-d convolution, NCHW float32, PyTorch's semantics, on both devices: forward, input gradient,
// weight gradient and bias gradient. x may be strided; every other array is contiguous.
//   CPU  native/cpu/conv.cc: picks an engine per pass from the geometry and the ISA (direct
//        loops for one input channel, a GEMM over wide output rows that reads the image in
//        place, or im2col + sgemm for any geometry).
//   CUDA cuda/conv.cu: implicit GEMMs on the tensor-core kernel (TF32 inputs, FP32
//        accumulation); device pointers, cuda::stream(). Errors: std::invalid_argument naming the
//        bad argument, std::runtime_error naming the failed CUDA call.
#pragma once
#include <cstdint>

#include "common/geometry.h"  // ConvGeometry, ConvInput

namespace kd {

// Throws std::invalid_argument unless every size is positive and groups divide c and k.
void checkConvGeometry(const ConvGeometry& g);

// out [n, k, oh, ow] (overwritten) = conv(x, weight) + bias; weight [k, c/groups, kh, kw], bias
// [k] or null.
void conv2dForward(const ConvGeometry& g, ConvInput x, const float* weight, const float* bias, float* out);

// gradInput [n, c, h, w] (overwritten) from gradOut [n, k, oh, ow].
void conv2dInputGrad(const ConvGeometry& g, const float* gradOut, const float* weight, float* gradInput);

// gradWeight [k, c/groups, kh, kw] (overwritten) = Σ over the batch.
void conv2dWeightGrad(const ConvGeometry& g, ConvInput x, const float* gradOut, float* gradWeight);

// gradBias [k] (overwritten) = Σ over n, oh, ow of gradOut.
void conv2dBiasGrad(const ConvGeometry& g, const float* gradOut, float* gradBias);

// Direct convolution with double accumulation, single-threaded: the reference for tests.
void conv2dForwardRef(const ConvGeometry& g, ConvInput x, const float* weight, const float* bias, float* out);

namespace cuda {

// The same calls on device pointers (a non-contiguous x is read through a dense copy).
void conv2dForward(const ConvGeometry& g, ConvInput x, const float* weight, const float* bias, float* out);
void conv2dInputGrad(const ConvGeometry& g, const float* gradOut, const float* weight, float* gradInput);
void conv2dWeightGrad(const ConvGeometry& g, ConvInput x, const float* gradOut, float* gradWeight);
void conv2dBiasGrad(const ConvGeometry& g, const float* gradOut, float* gradBias);

}  // namespace cuda
}  // namespace kd
