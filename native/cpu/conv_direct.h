// Direct convolution for a single input channel (the first layer of an image CNN: one grey
// channel, a few taps), where the GEMM view has K = kh·kw (9) and its micro-kernel would spend
// more time loading and storing C than multiplying. AVX2, vectorised along output columns.
#pragma once
#include <cstdint>

#include "common/conv.h"

namespace kd::conv_direct {

// One input channel, groups 1, stride 1, dilation 1, no padding, unit column stride, a 3×3 or
// 5×5 kernel (the caller also checks that the ISA has AVX2).
bool applies(const ConvGeometry& g, const ConvInput& x);

// out[n] for images [n0, n1) (contiguous [n, k, oh, ow]); bias may be null.
void forwardAvx2(const ConvGeometry& g, const ConvInput& x, const float* weight, const float* bias, float* out,
                 int64_t n0, int64_t n1);

// gradWeight rows of output channels [k0, k1) (overwritten) summed over the whole batch.
void weightGradAvx2(const ConvGeometry& g, const ConvInput& x, const float* gradOut, float* gradWeight, int64_t k0,
                    int64_t k1);

}  // namespace kd::conv_direct
