// Single-input-channel convolution (cpu/conv_direct.h). Forward: eight output channels × eight
// output columns per step, one input load and eight FMAs per tap. Weight gradient: one output
// channel's kh·kw taps accumulate in registers across the batch (one gradOut load and kh·kw
// FMAs per eight positions), then one horizontal sum per tap. A row's last partial group of
// eight uses masked loads and stores.
#include <immintrin.h>

#include "cpu/conv_direct.h"

namespace kd::conv_direct {
namespace {

constexpr int kChannelBlock = 8;

inline __m256i firstLanes(int64_t count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(count)), _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0));
}

inline float horizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <int KH, int KW>
void forwardKernel(const ConvGeometry& g, const ConvInput& x, const float* weight, const float* bias, float* out,
                   int64_t n0, int64_t n1) {
  constexpr int64_t taps = KH * KW;
  const int64_t plane = g.oh * g.ow;
  for (int64_t n = n0; n < n1; ++n) {
    const float* image = x.p + n * x.sn;
    for (int64_t k0 = 0; k0 < g.k; k0 += kChannelBlock) {
      const int64_t channels = g.k - k0 < kChannelBlock ? g.k - k0 : kChannelBlock;
      // Weights of the block, tap-major and padded to 8 channels: w[t*8 + c].
      alignas(32) float w[taps * kChannelBlock] = {};
      alignas(32) float b[kChannelBlock] = {};
      for (int64_t c = 0; c < channels; ++c) {
        for (int64_t t = 0; t < taps; ++t) w[t * kChannelBlock + c] = weight[(k0 + c) * taps + t];
        b[c] = bias ? bias[k0 + c] : 0.0f;
      }
      float* o = out + (n * g.k + k0) * plane;
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ox += 8) {
          const int64_t lanes = g.ow - ox < 8 ? g.ow - ox : 8;
          const __m256i mask = firstLanes(lanes);
          __m256 acc[kChannelBlock];
#pragma GCC unroll 8
          for (int c = 0; c < kChannelBlock; ++c) acc[c] = _mm256_set1_ps(b[c]);
#pragma GCC unroll 7
          for (int ky = 0; ky < KH; ++ky) {
            const float* row = image + (oy + ky) * x.sh + ox;
#pragma GCC unroll 7
            for (int kx = 0; kx < KW; ++kx) {
              const __m256 v = lanes == 8 ? _mm256_loadu_ps(row + kx) : _mm256_maskload_ps(row + kx, mask);
              const float* wt = w + (ky * KW + kx) * kChannelBlock;
#pragma GCC unroll 8
              for (int c = 0; c < kChannelBlock; ++c) acc[c] = _mm256_fmadd_ps(_mm256_broadcast_ss(wt + c), v, acc[c]);
            }
          }
          for (int64_t c = 0; c < channels; ++c) {
            float* dst = o + c * plane + oy * g.ow + ox;
            if (lanes == 8) _mm256_storeu_ps(dst, acc[c]);
            else _mm256_maskstore_ps(dst, mask, acc[c]);
          }
        }
    }
  }
}

template <int KH, int KW>
void weightGradKernel(const ConvGeometry& g, const ConvInput& x, const float* gradOut, float* gradWeight, int64_t k0,
                      int64_t k1) {
  constexpr int taps = KH * KW;
  const int64_t plane = g.oh * g.ow;
  for (int64_t k = k0; k < k1; ++k) {
    __m256 acc[taps];
#pragma GCC unroll 49
    for (int t = 0; t < taps; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t n = 0; n < g.n; ++n) {
      const float* image = x.p + n * x.sn;
      const float* go = gradOut + (n * g.k + k) * plane;
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ox += 8) {
          const int64_t lanes = g.ow - ox < 8 ? g.ow - ox : 8;
          const __m256i mask = firstLanes(lanes);
          const __m256 gv = lanes == 8 ? _mm256_loadu_ps(go + oy * g.ow + ox) : _mm256_maskload_ps(go + oy * g.ow + ox, mask);
#pragma GCC unroll 7
          for (int ky = 0; ky < KH; ++ky) {
            const float* row = image + (oy + ky) * x.sh + ox;
#pragma GCC unroll 7
            for (int kx = 0; kx < KW; ++kx) {
              const __m256 v = lanes == 8 ? _mm256_loadu_ps(row + kx) : _mm256_maskload_ps(row + kx, mask);
              acc[ky * KW + kx] = _mm256_fmadd_ps(gv, v, acc[ky * KW + kx]);
            }
          }
        }
    }
    for (int t = 0; t < taps; ++t) gradWeight[k * taps + t] = horizontalSum(acc[t]);
  }
}

}  // namespace

bool applies(const ConvGeometry& g, const ConvInput& x) {
  return g.c == 1 && g.groups == 1 && g.strideH == 1 && g.strideW == 1 && g.dilationH == 1 && g.dilationW == 1 &&
         g.padH == 0 && g.padW == 0 && g.oh == g.h - g.kh + 1 && g.ow == g.w - g.kw + 1 && x.sw == 1 &&
         ((g.kh == 3 && g.kw == 3) || (g.kh == 5 && g.kw == 5));
}

void forwardAvx2(const ConvGeometry& g, const ConvInput& x, const float* weight, const float* bias, float* out,
                 int64_t n0, int64_t n1) {
  if (g.kh == 3) forwardKernel<3, 3>(g, x, weight, bias, out, n0, n1);
  else forwardKernel<5, 5>(g, x, weight, bias, out, n0, n1);
}

void weightGradAvx2(const ConvGeometry& g, const ConvInput& x, const float* gradOut, float* gradWeight, int64_t k0,
                    int64_t k1) {
  if (g.kh == 3) weightGradKernel<3, 3>(g, x, gradOut, gradWeight, k0, k1);
  else weightGradKernel<5, 5>(g, x, gradOut, gradWeight, k0, k1);
}

}  // namespace kd::conv_direct
