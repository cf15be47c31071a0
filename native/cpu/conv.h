// 2-d convolution on the CPU (NCHW float32, PyTorch's semantics): forward, input gradient,
// weight gradient and bias gradient. conv.cc picks an engine per pass from the geometry and the
// ISA: direct loops for one input channel (conv_direct.h), a GEMM over wide output rows that
// reads the image in place (conv_wide.h), or im2col + sgemm for any geometry (conv_im2col.h).
//
// The GEMM view of the last two: for group g, out[n, g] (Kg × OH·OW) = W_g (Kg × Cg·kH·kW) · col (Cg·kH·kW × OH·OW),
// where col holds, for each (c, kh, kw) row, the input pixel each output position reads (zero
// where it falls into the padding). The output positions of the whole batch are cut into
// column chunks that keep one col block in L2; each chunk is one GEMM per group. Pointwise
// convolutions (1×1, stride 1, no padding) read the input in place as col; the wide-rows engine
// needs no col at all.
#pragma once
#include <cstdint>

#include "common/geometry.h"  // ConvGeometry, ConvInput

namespace kd {

// Throws std::invalid_argument unless every size is positive and groups divide c and k.
void checkConvGeometry(const ConvGeometry& g);

// out [n, k, oh, ow] (contiguous) = conv(x, weight) + bias; weight contiguous, bias may be null.
void conv2dForward(const ConvGeometry& g, ConvInput x, const float* weight, const float* bias, float* out);

// gradInput [n, c, h, w] (contiguous, overwritten) from gradOut [n, k, oh, ow] (contiguous).
void conv2dInputGrad(const ConvGeometry& g, const float* gradOut, const float* weight, float* gradInput);

// gradWeight [k, c/groups, kh, kw] (contiguous, overwritten) = Σ over the batch.
void conv2dWeightGrad(const ConvGeometry& g, ConvInput x, const float* gradOut, float* gradWeight);

// gradBias [k] (overwritten) = Σ over n, oh, ow of gradOut.
void conv2dBiasGrad(const ConvGeometry& g, const float* gradOut, float* gradBias);

// Direct convolution with double accumulation, single-threaded: the reference for tests.
void conv2dForwardRef(const ConvGeometry& g, ConvInput x, const float* weight, const float* bias, float* out);

}  // namespace kd
