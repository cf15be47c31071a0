// 2-d pooling, NCHW float32, PyTorch's semantics, on both devices: max, average and adaptive
// average, forward and backward. x may be strided; outputs and gradients are contiguous.
//   CPU  native/cpu/pool.cc: threaded over the n·c planes (each plane belongs to one thread).
//   CUDA cuda/pool.cu: device pointers, cuda::stream(). Errors: std::invalid_argument naming the
//        bad argument, std::runtime_error naming the failed CUDA call.
#pragma once
#include <cstdint>

#include "common/geometry.h"  // PoolGeometry, PoolInput

namespace kd {

// Throws std::invalid_argument unless sizes, kernel, stride and dilation are positive, padding is
// non-negative and every window holds at least one input element.
void checkPoolGeometry(const PoolGeometry& g);

// out and indices [n, c, oh, ow] contiguous; indices[i] = y*w + x of the window's maximum within
// its input plane (the first one on ties; the last NaN wins), as PyTorch returns them.
void maxPool2dForward(const PoolGeometry& g, PoolInput x, float* out, int32_t* indices);

// gradInput [n, c, h, w] contiguous, overwritten. The CPU throws std::out_of_range if an index is
// not in [0, h*w) (nothing outside the buffers is touched); CUDA skips such indices.
void maxPool2dBackward(const PoolGeometry& g, const float* gradOut, const int32_t* indices, float* gradInput);

// Dilation must be 1. The divisor is the window clipped to the padded input (countIncludePad)
// or to the input itself.
void avgPool2dForward(const PoolGeometry& g, bool countIncludePad, PoolInput x, float* out);
void avgPool2dBackward(const PoolGeometry& g, bool countIncludePad, const float* gradOut, float* gradInput);

// Output cell (oy, ox) averages rows [floor(oy*h/oh), ceil((oy+1)*h/oh)) and columns alike.
void adaptiveAvgPool2dForward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oh, int64_t ow, PoolInput x,
                              float* out);
void adaptiveAvgPool2dBackward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oh, int64_t ow,
                               const float* gradOut, float* gradInput);

namespace cuda {

// The same calls on device pointers.
void maxPool2dForward(const PoolGeometry& g, PoolInput x, float* out, int32_t* indices);
void maxPool2dBackward(const PoolGeometry& g, const float* gradOut, const int32_t* indices, float* gradInput);
void avgPool2dForward(const PoolGeometry& g, bool countIncludePad, PoolInput x, float* out);
void avgPool2dBackward(const PoolGeometry& g, bool countIncludePad, const float* gradOut, float* gradInput);
void adaptiveAvgPool2dForward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oh, int64_t ow, PoolInput x,
                              float* out);
void adaptiveAvgPool2dBackward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oh, int64_t ow,
                               const float* gradOut, float* gradInput);

}  // namespace cuda
}  // namespace kd
