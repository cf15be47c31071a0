// 2-D pooling on the GPU, float32 NCHW, PyTorch's semantics: the same calls as native/cpu/pool.h
// on device pointers, enqueued on the addon's stream (runtime.h). x may be strided; gradients are
// contiguous. Errors: std::invalid_argument naming the bad argument, std::runtime_error naming
// the failed CUDA call.
#pragma once

#include <cstdint>

#include "common/geometry.h"  // PoolGeometry, PoolInput (shared with native/cpu/pool.h)

namespace kd::cuda {

// out and indices [n, c, oh, ow]: indices hold y*w + x of the window's maximum within its input
// plane (PyTorch's layout); ties keep the first maximum, a NaN wins (the last one).
void maxPool2dForward(const PoolGeometry& g, PoolInput x, float* out, int32_t* indices);
// gradInput (overwritten); indices outside the plane are skipped.
void maxPool2dBackward(const PoolGeometry& g, const float* gradOut, const int32_t* indices, float* gradInput);
// Dilation must be 1. The divisor is the window clipped to the padded input (countIncludePad) or
// to the input itself.
void avgPool2dForward(const PoolGeometry& g, bool countIncludePad, PoolInput x, float* out);
void avgPool2dBackward(const PoolGeometry& g, bool countIncludePad, const float* gradOut, float* gradInput);

// Output cell (oy, ox) averages rows [floor(oy*h/oh), ceil((oy+1)*h/oh)) and columns alike.
void adaptiveAvgPool2dForward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oh, int64_t ow, PoolInput x,
                              float* out);
void adaptiveAvgPool2dBackward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oh, int64_t ow,
                               const float* gradOut, float* gradInput);

}  // namespace kd::cuda
