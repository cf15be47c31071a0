// 2-d pooling on the CPU (NCHW float32, PyTorch's semantics): max, average and adaptive average,
// forward and backward, threaded over the n·c planes (each plane belongs to one thread).
#pragma once
#include <cstdint>

#include "common/geometry.h"  // PoolGeometry, PoolInput

namespace kd {

// Throws std::invalid_argument unless sizes, kernel, stride and dilation are positive, padding is
// non-negative and every window holds at least one input element.
void checkPoolGeometry(const PoolGeometry& g);

// out and indices [n, c, oh, ow] contiguous; indices[i] = y*w + x of the window's maximum (the
// first one on ties; the last NaN wins), as PyTorch returns them.
void maxPool2dForward(const PoolGeometry& g, PoolInput x, float* out, int32_t* indices);

// gradInput [n, c, h, w] contiguous, overwritten. Throws std::out_of_range if an index is not in
// [0, h*w) (nothing outside the buffers is touched).
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

}  // namespace kd
