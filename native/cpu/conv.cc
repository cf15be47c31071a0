// conv2d on the CPU (common/conv.h): argument checks, the choice of engine for each pass, the bias
// gradient and the float64 reference. The engines:
//   conv_direct  one input channel, 3×3 or 5×5, no padding: direct AVX2 loops (conv_direct_avx2.cc)
//   conv_wide    stride 1, unpadded, undilated, one group, ow/w >= 0.8: a GEMM over wide output
//                rows that reads the image in place (conv_wide.cc)
//   conv_im2col  everything else: im2col / col2im + sgemm over column chunks (conv_im2col.cc)
// The input gradient always runs on the im2col engine.
#include "common/conv.h"

#include <algorithm>
#include <stdexcept>

#include "common/isa.h"
#include "common/parallel.h"
#include "cpu/conv_direct.h"
#include "cpu/conv_engine.h"
#include "cpu/conv_im2col.h"
#include "cpu/conv_wide.h"

namespace kd {

using conv_detail::convCost;
using conv_detail::Dims;
using conv_detail::dimsOf;

void checkConvGeometry(const ConvGeometry& g) {
  const int64_t sizes[] = {g.n, g.c, g.h, g.w, g.k, g.kh, g.kw, g.oh, g.ow, g.strideH, g.strideW, g.dilationH,
                           g.dilationW, g.groups};
  for (int64_t s : sizes)
    if (s <= 0) throw std::invalid_argument("conv2d: sizes, strides, dilations and groups must be positive");
  if (g.padH < 0 || g.padW < 0) throw std::invalid_argument("conv2d: padding must be non-negative");
  if (g.c % g.groups != 0 || g.k % g.groups != 0)
    throw std::invalid_argument("conv2d: groups must divide the input and output channels");
}

void conv2dForward(const ConvGeometry& g, ConvInput x, const float* weight, const float* bias, float* out) {
  checkConvGeometry(g);
  const CpuIsa isa = dispatchIsa();
  if (isa != CpuIsa::Scalar && conv_direct::applies(g, x)) {
    parallelFor(g.n, convCost(g) * (1.0 / g.n), [&](int64_t n0, int64_t n1) { conv_direct::forwardAvx2(g, x, weight, bias, out, n0, n1); });
  } else if (conv_wide::applies(g, x)) {
    conv_wide::forward(isa, g, x, weight, bias, out);
  } else {
    conv_im2col::forward(g, x, weight, bias, out);
  }
}

void conv2dInputGrad(const ConvGeometry& g, const float* gradOut, const float* weight, float* gradInput) {
  checkConvGeometry(g);
  conv_im2col::inputGrad(g, gradOut, weight, gradInput);
}

void conv2dWeightGrad(const ConvGeometry& g, ConvInput x, const float* gradOut, float* gradWeight) {
  checkConvGeometry(g);
  const CpuIsa isa = dispatchIsa();
  if (isa != CpuIsa::Scalar && conv_direct::applies(g, x)) {
    parallelFor(g.k, convCost(g) * (1.0 / g.k), [&](int64_t k0, int64_t k1) { conv_direct::weightGradAvx2(g, x, gradOut, gradWeight, k0, k1); });
    return;
  }
  conv_detail::WeightGradSums sums(gradWeight, g.k * dimsOf(g).ckk, threadsForCost(convCost(g)));
  const int used = conv_wide::applies(g, x) ? conv_wide::weightGrad(isa, g, x, gradOut, sums)
                                            : conv_im2col::weightGrad(isa, g, x, gradOut, sums);
  sums.finish(used);
}

void conv2dBiasGrad(const ConvGeometry& g, const float* gradOut, float* gradBias) {
  checkConvGeometry(g);
  const int64_t plane = g.oh * g.ow;
  parallelFor(g.k, bytesCost(4.0 * g.n * plane), [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      double total = 0;
      for (int64_t n = 0; n < g.n; ++n) {
        // Eight float lanes per row keep the adds independent (vectorisable); rows sum in double.
        float lanes[8] = {};
        const float* row = gradOut + (n * g.k + k) * plane;
        int64_t j = 0;
        for (; j + 8 <= plane; j += 8)
          for (int l = 0; l < 8; ++l) lanes[l] += row[j + l];
        double rowSum = 0;
        for (int l = 0; l < 8; ++l) rowSum += lanes[l];
        for (; j < plane; ++j) rowSum += row[j];
        total += rowSum;
      }
      gradBias[k] = static_cast<float>(total);
    }
  });
}

void conv2dForwardRef(const ConvGeometry& g, ConvInput x, const float* weight, const float* bias, float* out) {
  checkConvGeometry(g);
  const Dims d = dimsOf(g);
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t k = 0; k < g.k; ++k) {
      const int64_t grp = k / d.kg;
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          double sum = bias ? bias[k] : 0.0;
          for (int64_t c = 0; c < d.cg; ++c)
            for (int64_t ky = 0; ky < g.kh; ++ky) {
              const int64_t iy = oy * g.strideH - g.padH + ky * g.dilationH;
              if (iy < 0 || iy >= g.h) continue;
              for (int64_t kx = 0; kx < g.kw; ++kx) {
                const int64_t ix = ox * g.strideW - g.padW + kx * g.dilationW;
                if (ix < 0 || ix >= g.w) continue;
                sum += static_cast<double>(x.p[n * x.sn + (grp * d.cg + c) * x.sc + iy * x.sh + ix * x.sw]) *
                       weight[((k * d.cg + c) * g.kh + ky) * g.kw + kx];
              }
            }
          out[((n * g.k + k) * g.oh + oy) * g.ow + ox] = static_cast<float>(sum);
        }
    }
}

}  // namespace kd
