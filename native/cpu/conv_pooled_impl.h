// The per-image loop of conv2dPooledBackward, compiled once per ISA (conv_pooled.cc,
// conv_pooled_avx2.cc). For each image and output channel the nonzero pooled gradients are
// listed first (value and conv-output row and column); then, tap by tap, blocks of 8 input
// channels are accumulated in registers over that list (the fixed-size inner loops become one
// AVX2 FMA each). A single input channel accumulates all taps at once instead.
#pragma once
#include <cstring>
#include <vector>

#include "common/conv_pooled.h"

namespace kd::conv_pooled_detail {

// Per-thread work on images [n0, n1): accumulates into weightGradT ([k, kh, kw, c]) and
// biasGrad ([k]), writes gradInput's images. xT and dxT are scratch of h·w·c floats; weightT is
// the weight as [k, kh, kw, c].
struct Work {
  const ConvGeometry* g;
  ConvInput x;
  const float* weightT;
  const float* gradPooled;
  const int32_t* indices;
  int64_t pooledPlane;
  float* gradInput;
  float* weightGradT;
  float* biasGrad;
  float* xT;
  float* dxT;
};

// The builds, chosen by conv2dPooledBackward: conv_pooled.cc and conv_pooled_avx2.cc.
void rangeScalar(const Work& w, int64_t n0, int64_t n1);
void rangeAvx2(const Work& w, int64_t n0, int64_t n1);

// Internal linkage: each including file (one per ISA) keeps its own compiled copy.
namespace {

// acc[0, B) += value[e] · src[at[e] + i] over the entries whose offset is not negative: B/8
// independent vector accumulators, so the entries are not one dependent chain.
template <int B>
__attribute__((noinline)) void gatherAccumulate(float* __restrict dst, const float* __restrict src, const float* __restrict value,
                             const int64_t* __restrict at, int64_t count) {
  float acc[B];
  for (int i = 0; i < B; ++i) acc[i] = dst[i];
  for (int64_t e = 0; e < count; ++e) {
    if (at[e] < 0) continue;
    const float v = value[e];
    const float* __restrict xs = src + at[e];
    for (int i = 0; i < B; ++i) acc[i] += v * xs[i];
  }
  for (int i = 0; i < B; ++i) dst[i] = acc[i];
}

// dst[at[e] + i] += value[e] · w[i] for i in [0, B), entries with a non-negative offset.
template <int B>
__attribute__((noinline)) void scatterAccumulate(float* __restrict dst, const float* __restrict w, const float* __restrict value,
                              const int64_t* __restrict at, int64_t count) {
  float wv[B];
  for (int i = 0; i < B; ++i) wv[i] = w[i];
  for (int64_t e = 0; e < count; ++e) {
    if (at[e] < 0) continue;
    const float v = value[e];
    float* __restrict d = dst + at[e];
    for (int i = 0; i < B; ++i) d[i] += v * wv[i];
  }
}

// Both updates of one tap over 32 input channels: dw[i] += value[e] · x[at[e] + i] and
// dx[at[e] + i] += value[e] · w[i]; dw or dx (with w) may be null. The portable form; the AVX2
// file passes pooledRange its own, with the accumulators in registers.
using TapAccumulate32 = void (*)(float* dw, const float* x, float* dx, const float* w, const float* value,
                                 const int64_t* at, int64_t count);

inline void tapAccumulate32Portable(float* dw, const float* x, float* dx, const float* w, const float* value,
                                    const int64_t* at, int64_t count) {
  if (dw) gatherAccumulate<32>(dw, x, value, at, count);
  if (dx) scatterAccumulate<32>(dx, w, value, at, count);
}

// One input channel, a KH×KW kernel: every tap's sum in its own register.
template <int KH, int KW>
inline void singleChannelTaps(float* dw, const float* xT, int64_t w, const float* value, const int64_t* base,
                              int64_t count) {
  float acc[KH * KW] = {};
  for (int64_t e = 0; e < count; ++e) {
    const float* xs = xT + base[e];
    const float v = value[e];
    for (int ky = 0; ky < KH; ++ky)
      for (int kx = 0; kx < KW; ++kx) acc[ky * KW + kx] += v * xs[ky * w + kx];
  }
  for (int t = 0; t < KH * KW; ++t) dw[t] += acc[t];
}

template <TapAccumulate32 tapAccumulate32>
void pooledRange(const Work& w, int64_t n0, int64_t n1) {
  const ConvGeometry& g = *w.g;
  const int64_t c = g.c, h = g.h, wd = g.w, plane = h * wd, pooled = w.pooledPlane, taps = g.kh * g.kw;
  std::vector<float> value(pooled), tapSums(taps);
  std::vector<int64_t> row(pooled + 1), col(pooled + 1), at(pooled);
  value.resize(pooled + 1);
  // Conv-output row and column of each plane index, without a division per entry.
  std::vector<int32_t> rowOf(g.oh * g.ow), colOf(g.oh * g.ow);
  for (int64_t oy = 0; oy < g.oh; ++oy)
    for (int64_t ox = 0; ox < g.ow; ++ox) {
      rowOf[oy * g.ow + ox] = static_cast<int32_t>(oy * g.strideH - g.padH);
      colOf[oy * g.ow + ox] = static_cast<int32_t>(ox * g.strideW - g.padW);
    }
  float* __restrict xT = w.xT;
  float* __restrict dxT = w.dxT;
  // Taps of a dense unit-stride window can skip the bounds checks (single channel, 3×3 or 5×5).
  const bool simpleWindow = g.dilationH == 1 && g.dilationW == 1 && g.padH == 0 && g.padW == 0;
  for (int64_t n = n0; n < n1; ++n) {
    if (w.weightGradT) {
      const float* src = w.x.p + n * w.x.sn;
      const int64_t sc = w.x.sc, sh = w.x.sh, sw = w.x.sw;
      // Channel by channel: each source row is read in order.
      for (int64_t ci = 0; ci < c; ++ci)
        for (int64_t iy = 0; iy < h; ++iy) {
          const float* s = src + ci * sc + iy * sh;
          float* d = xT + iy * wd * c + ci;
          for (int64_t ix = 0; ix < wd; ++ix) d[ix * c] = s[ix * sw];
        }
    }
    if (w.gradInput) std::memset(dxT, 0, plane * c * sizeof(float));
    for (int64_t k = 0; k < g.k; ++k) {
      const float* gp = w.gradPooled + (n * g.k + k) * pooled;
      const int32_t* idx = w.indices + (n * g.k + k) * pooled;
      int64_t count = 0;
      // Branch-free compaction (about half the gradients are zero after a ReLU, at random).
      for (int64_t j = 0; j < pooled; ++j) {
        const float v = gp[j];
        value[count] = v;
        row[count] = rowOf[idx[j]];
        col[count] = colOf[idx[j]];
        count += v != 0.0f;
      }
      if (w.biasGrad) {
        // Eight independent partial sums (one vector), not one serial chain.
        float part[8] = {};
        int64_t j = 0;
        for (; j + 8 <= pooled; j += 8)
          for (int i = 0; i < 8; ++i) part[i] += gp[j + i];
        float bias = 0.0f;
        for (; j < pooled; ++j) bias += gp[j];
        for (int i = 0; i < 8; ++i) bias += part[i];
        w.biasGrad[k] += bias;
      }
      if (count == 0) continue;
      if (w.weightGradT && c == 1 && simpleWindow && ((g.kh == 3 && g.kw == 3) || (g.kh == 5 && g.kw == 5))) {
        for (int64_t e = 0; e < count; ++e) at[e] = row[e] * wd + col[e];
        if (g.kh == 3) singleChannelTaps<3, 3>(w.weightGradT + k * taps, xT, wd, value.data(), at.data(), count);
        else singleChannelTaps<5, 5>(w.weightGradT + k * taps, xT, wd, value.data(), at.data(), count);
        if (!w.gradInput) continue;
      }
      const bool weightsDone = c == 1 && simpleWindow && ((g.kh == 3 && g.kw == 3) || (g.kh == 5 && g.kw == 5));
      for (int64_t ky = 0; ky < g.kh; ++ky)
        for (int64_t kx = 0; kx < g.kw; ++kx) {
          const int64_t tap = (k * g.kh + ky) * g.kw + kx;
          const int64_t dy = ky * g.dilationH, dx = kx * g.dilationW;
          // Channel-vector offsets of the entries' input positions for this tap (-1: padding).
          for (int64_t e = 0; e < count; ++e) {
            const int64_t iy = row[e] + dy, ix = col[e] + dx;
            at[e] = iy < 0 || iy >= h || ix < 0 || ix >= wd ? -1 : (iy * wd + ix) * c;
          }
          int64_t c0 = 0;
          float* dwTap = w.weightGradT && !weightsDone ? w.weightGradT + tap * c : nullptr;
          const float* wTap = w.gradInput ? w.weightT + tap * c : nullptr;
          // Blocks of 32 channels: both gradients in one pass over the entries.
          for (; c0 + 32 <= c; c0 += 32)
            tapAccumulate32(dwTap ? dwTap + c0 : nullptr, xT + c0, wTap ? dxT + c0 : nullptr, wTap ? wTap + c0 : nullptr,
                            value.data(), at.data(), count);
          const int64_t done = c0;
          if (dwTap) {
            float* dw = dwTap;
            for (; c0 + 8 <= c; c0 += 8) gatherAccumulate<8>(dw + c0, xT + c0, value.data(), at.data(), count);
            for (; c0 < c; ++c0) gatherAccumulate<1>(dw + c0, xT + c0, value.data(), at.data(), count);
          }
          if (w.gradInput) {
            const float* wrow = wTap;
            c0 = done;
            for (; c0 + 8 <= c; c0 += 8) scatterAccumulate<8>(dxT + c0, wrow + c0, value.data(), at.data(), count);
            for (; c0 < c; ++c0) scatterAccumulate<1>(dxT + c0, wrow + c0, value.data(), at.data(), count);
          }
        }
    }
    if (w.gradInput) {
      float* dst = w.gradInput + n * c * plane;
      // Eight channels at a time: each pass reads one 32-byte run per position and writes eight
      // output rows in order.
      int64_t c0 = 0;
      for (; c0 + 8 <= c; c0 += 8)
        for (int64_t p = 0; p < plane; ++p) {
          const float* s = dxT + p * c + c0;
          for (int i = 0; i < 8; ++i) dst[(c0 + i) * plane + p] = s[i];
        }
      for (; c0 < c; ++c0)
        for (int64_t p = 0; p < plane; ++p) dst[c0 * plane + p] = dxT[p * c + c0];
    }
  }
}

}  // namespace
}  // namespace kd::conv_pooled_detail
