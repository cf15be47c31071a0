// Pooling kernels: one plane (n, c) is the unit of work, so a thread owns whole planes of the
// output and of the input gradient and the backward scatters need no locks.
#include "common/pool.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "common/isa.h"
#include "common/parallel.h"
#include "cpu/pool_rows.h"

namespace kd {
namespace {

// What one plane costs: about a float for each element it touches.
Cost planeCost(int64_t elemsPerPlane) { return bytesCost(4.0 * static_cast<double>(elemsPerPlane)); }

// The clipped window of output index o along one axis for average pooling, PyTorch's rule: the
// divisor counts the window clipped to the padded input, the sum only the real input.
struct AvgWindow {
  int64_t begin, end, paddedSize;
};

AvgWindow avgWindow(int64_t o, int64_t stride, int64_t pad, int64_t k, int64_t in) {
  int64_t begin = o * stride - pad;
  int64_t end = std::min(begin + k, in + pad);
  const int64_t paddedSize = end - begin;
  begin = std::max<int64_t>(begin, 0);
  end = std::min(end, in);
  return {begin, end, paddedSize};
}

int64_t adaptiveBegin(int64_t o, int64_t out, int64_t in) { return (o * in) / out; }
int64_t adaptiveEnd(int64_t o, int64_t out, int64_t in) { return ((o + 1) * in + out - 1) / out; }

}  // namespace

void checkPoolGeometry(const PoolGeometry& g) {
  const int64_t positive[] = {g.n, g.c, g.h, g.w, g.oh, g.ow, g.kh, g.kw, g.strideH, g.strideW, g.dilationH,
                              g.dilationW};
  for (int64_t s : positive)
    if (s <= 0) throw std::invalid_argument("pool2d: sizes, kernel, strides and dilations must be positive");
  if (g.padH < 0 || g.padW < 0) throw std::invalid_argument("pool2d: padding must be non-negative");
  // The last window must start inside the input or its left padding (PyTorch's output-size rule
  // guarantees this), so every window holds at least one element.
  if ((g.oh - 1) * g.strideH >= g.h + g.padH || (g.ow - 1) * g.strideW >= g.w + g.padW)
    throw std::invalid_argument("pool2d: the output is larger than the input allows");
  if (g.padH > g.kh / 2 || g.padW > g.kw / 2)
    throw std::invalid_argument("pool2d: padding must be at most half the kernel size");
}

// The common case (no padding, no dilation, rows contiguous): every window lies inside the
// input, so the loop needs no bounds checks and walks rows by pointer. Same tie and NaN rules.
// 2×2 windows at stride 2, where the vectorised rows (cpu/pool_rows.h) apply.
bool isPool2x2Stride2(const PoolGeometry& g) {
  return g.kh == 2 && g.kw == 2 && g.strideH == 2 && g.strideW == 2 && g.padH == 0 && g.padW == 0 &&
         g.dilationH == 1 && g.dilationW == 1 && dispatchIsa(CpuIsa::Avx2) != CpuIsa::Scalar;
}

void maxPool2dDenseWindows(const PoolGeometry& g, PoolInput x, float* out, int32_t* indices) {
  const int64_t outPlane = g.oh * g.ow;
  const bool rows2x2 = isPool2x2Stride2(g);
  parallelFor(g.n * g.c, planeCost(outPlane * g.kh * g.kw), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* plane = x.p + (p / g.c) * x.sn + (p % g.c) * x.sc;
      float* o = out + p * outPlane;
      int32_t* idx = indices + p * outPlane;
      for (int64_t oy = 0; oy < g.oh; ++oy) {
        const int64_t y0 = oy * g.strideH;
        const float* windowRow = plane + y0 * x.sh;
        if (rows2x2) {
          pool_rows::maxPool2x2RowAvx2(windowRow, windowRow + x.sh, g.ow, static_cast<int32_t>(y0 * g.w),
                                       static_cast<int32_t>(g.w), o + oy * g.ow, idx + oy * g.ow);
          continue;
        }
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          const int64_t x0 = ox * g.strideW;
          float best = windowRow[x0];
          int64_t bestAt = y0 * g.w + x0;
          for (int64_t i = 0; i < g.kh; ++i) {
            const float* r = windowRow + i * x.sh + x0;
            for (int64_t j = (i == 0 ? 1 : 0); j < g.kw; ++j) {
              // Selects rather than a branch: on real activations "v > best" is a coin flip,
              // and mispredictions cost more than the loads.
              const float v = r[j];
              const uint32_t take = 0u - static_cast<uint32_t>((v > best) | (v != v));
              uint32_t vb, bb;
              std::memcpy(&vb, &v, 4);
              std::memcpy(&bb, &best, 4);
              bb = (vb & take) | (bb & ~take);
              std::memcpy(&best, &bb, 4);
              const int64_t wide = static_cast<int64_t>(static_cast<int32_t>(take));
              bestAt = (((y0 + i) * g.w + x0 + j) & wide) | (bestAt & ~wide);
            }
          }
          o[oy * g.ow + ox] = best;
          idx[oy * g.ow + ox] = static_cast<int32_t>(bestAt);
        }
      }
    }
  });
}

void maxPool2dForward(const PoolGeometry& g, PoolInput x, float* out, int32_t* indices) {
  checkPoolGeometry(g);
  if (g.padH == 0 && g.padW == 0 && g.dilationH == 1 && g.dilationW == 1 && x.sw == 1 &&
      (g.oh - 1) * g.strideH + g.kh <= g.h && (g.ow - 1) * g.strideW + g.kw <= g.w) {
    maxPool2dDenseWindows(g, x, out, indices);
    return;
  }
  const int64_t outPlane = g.oh * g.ow;
  parallelFor(g.n * g.c, planeCost(outPlane * g.kh * g.kw), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* plane = x.p + (p / g.c) * x.sn + (p % g.c) * x.sc;
      float* o = out + p * outPlane;
      int32_t* idx = indices + p * outPlane;
      for (int64_t oy = 0; oy < g.oh; ++oy) {
        const int64_t y0 = oy * g.strideH - g.padH;
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          const int64_t x0 = ox * g.strideW - g.padW;
          float best = -std::numeric_limits<float>::infinity();
          int64_t bestAt = -1;
          for (int64_t i = 0; i < g.kh; ++i) {
            const int64_t y = y0 + i * g.dilationH;
            if (y < 0 || y >= g.h) continue;
            for (int64_t j = 0; j < g.kw; ++j) {
              const int64_t xx = x0 + j * g.dilationW;
              if (xx < 0 || xx >= g.w) continue;
              const float v = plane[y * x.sh + xx * x.sw];
              if (bestAt < 0 || v > best || std::isnan(v)) {
                best = v;
                bestAt = y * g.w + xx;
              }
            }
          }
          o[oy * g.ow + ox] = best;
          idx[oy * g.ow + ox] = static_cast<int32_t>(bestAt);
        }
      }
    }
  });
}

// One plane of the 2×2 stride-2 backward written densely (each input element stored once, no
// zero fill first). Returns false, leaving the plane to the general scatter, when an index lies
// outside its own window (indices that did not come from the forward).
bool maxPool2x2BackwardPlane(const PoolGeometry& g, const float* go, const int32_t* idx, float* gi) {
  const int64_t w = g.w;
  for (int64_t oy = 0; oy < g.oh; ++oy) {
    float* row0 = gi + 2 * oy * w;
    float* row1 = row0 + w;
    const int64_t base = 2 * oy * w;
    if (!pool_rows::maxPool2x2BackwardRowAvx2(go + oy * g.ow, idx + oy * g.ow, g.ow, static_cast<int32_t>(base),
                                              static_cast<int32_t>(w), row0, row1))
      return false;
    std::fill(row0 + 2 * g.ow, row0 + w, 0.0f);
    std::fill(row1 + 2 * g.ow, row1 + w, 0.0f);
  }
  std::fill(gi + 2 * g.oh * w, gi + g.h * w, 0.0f);
  return true;
}

void maxPool2dBackward(const PoolGeometry& g, const float* gradOut, const int32_t* indices, float* gradInput) {
  checkPoolGeometry(g);
  const int64_t outPlane = g.oh * g.ow, inPlane = g.h * g.w;
  const bool rows2x2 = isPool2x2Stride2(g) && 2 * g.oh <= g.h && 2 * g.ow <= g.w;  // no window past the input
  std::atomic<bool> bad{false};
  parallelFor(g.n * g.c, planeCost(inPlane + outPlane), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      float* gi = gradInput + p * inPlane;
      if (rows2x2 && maxPool2x2BackwardPlane(g, gradOut + p * outPlane, indices + p * outPlane, gi)) continue;
      std::fill(gi, gi + inPlane, 0.0f);
      const float* go = gradOut + p * outPlane;
      const int32_t* idx = indices + p * outPlane;
      for (int64_t q = 0; q < outPlane; ++q) {
        const int64_t at = idx[q];
        if (at < 0 || at >= inPlane) {
          bad.store(true, std::memory_order_relaxed);
          continue;
        }
        gi[at] += go[q];
      }
    }
  });
  if (bad.load()) throw std::out_of_range("maxPool2dBackward: an index is outside its input plane");
}

void avgPool2dForward(const PoolGeometry& g, bool countIncludePad, PoolInput x, float* out) {
  checkPoolGeometry(g);
  if (g.dilationH != 1 || g.dilationW != 1) throw std::invalid_argument("avgPool2d: dilation must be 1");
  const int64_t outPlane = g.oh * g.ow;
  parallelFor(g.n * g.c, planeCost(outPlane * g.kh * g.kw), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* plane = x.p + (p / g.c) * x.sn + (p % g.c) * x.sc;
      float* o = out + p * outPlane;
      for (int64_t oy = 0; oy < g.oh; ++oy) {
        const AvgWindow wy = avgWindow(oy, g.strideH, g.padH, g.kh, g.h);
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          const AvgWindow wx = avgWindow(ox, g.strideW, g.padW, g.kw, g.w);
          float sum = 0.0f;
          for (int64_t y = wy.begin; y < wy.end; ++y)
            for (int64_t xx = wx.begin; xx < wx.end; ++xx) sum += plane[y * x.sh + xx * x.sw];
          const int64_t divisor = countIncludePad ? wy.paddedSize * wx.paddedSize
                                                  : (wy.end - wy.begin) * (wx.end - wx.begin);
          o[oy * g.ow + ox] = divisor > 0 ? sum / static_cast<float>(divisor) : 0.0f;
        }
      }
    }
  });
}

void avgPool2dBackward(const PoolGeometry& g, bool countIncludePad, const float* gradOut, float* gradInput) {
  checkPoolGeometry(g);
  if (g.dilationH != 1 || g.dilationW != 1) throw std::invalid_argument("avgPool2d: dilation must be 1");
  const int64_t outPlane = g.oh * g.ow, inPlane = g.h * g.w;
  parallelFor(g.n * g.c, planeCost(inPlane + outPlane * g.kh * g.kw), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      float* gi = gradInput + p * inPlane;
      std::fill(gi, gi + inPlane, 0.0f);
      const float* go = gradOut + p * outPlane;
      for (int64_t oy = 0; oy < g.oh; ++oy) {
        const AvgWindow wy = avgWindow(oy, g.strideH, g.padH, g.kh, g.h);
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          const AvgWindow wx = avgWindow(ox, g.strideW, g.padW, g.kw, g.w);
          const int64_t divisor = countIncludePad ? wy.paddedSize * wx.paddedSize
                                                  : (wy.end - wy.begin) * (wx.end - wx.begin);
          if (divisor <= 0) continue;
          const float v = go[oy * g.ow + ox] / static_cast<float>(divisor);
          for (int64_t y = wy.begin; y < wy.end; ++y)
            for (int64_t xx = wx.begin; xx < wx.end; ++xx) gi[y * g.w + xx] += v;
        }
      }
    }
  });
}

void adaptiveAvgPool2dForward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oh, int64_t ow, PoolInput x,
                              float* out) {
  if (n <= 0 || c <= 0 || h <= 0 || w <= 0 || oh <= 0 || ow <= 0)
    throw std::invalid_argument("adaptiveAvgPool2d: sizes must be positive");
  parallelFor(n * c, planeCost(h * w + oh * ow), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* plane = x.p + (p / c) * x.sn + (p % c) * x.sc;
      float* o = out + p * oh * ow;
      for (int64_t oy = 0; oy < oh; ++oy) {
        const int64_t y0 = adaptiveBegin(oy, oh, h), y1 = adaptiveEnd(oy, oh, h);
        for (int64_t ox = 0; ox < ow; ++ox) {
          const int64_t x0 = adaptiveBegin(ox, ow, w), x1 = adaptiveEnd(ox, ow, w);
          float sum = 0.0f;
          for (int64_t y = y0; y < y1; ++y)
            for (int64_t xx = x0; xx < x1; ++xx) sum += plane[y * x.sh + xx * x.sw];
          o[oy * ow + ox] = sum / static_cast<float>((y1 - y0) * (x1 - x0));
        }
      }
    }
  });
}

void adaptiveAvgPool2dBackward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oh, int64_t ow,
                               const float* gradOut, float* gradInput) {
  if (n <= 0 || c <= 0 || h <= 0 || w <= 0 || oh <= 0 || ow <= 0)
    throw std::invalid_argument("adaptiveAvgPool2d: sizes must be positive");
  parallelFor(n * c, planeCost(h * w + oh * ow), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      float* gi = gradInput + p * h * w;
      std::fill(gi, gi + h * w, 0.0f);
      const float* go = gradOut + p * oh * ow;
      for (int64_t oy = 0; oy < oh; ++oy) {
        const int64_t y0 = adaptiveBegin(oy, oh, h), y1 = adaptiveEnd(oy, oh, h);
        for (int64_t ox = 0; ox < ow; ++ox) {
          const int64_t x0 = adaptiveBegin(ox, ow, w), x1 = adaptiveEnd(ox, ow, w);
          const float v = go[oy * ow + ox] / static_cast<float>((y1 - y0) * (x1 - x0));
          for (int64_t y = y0; y < y1; ++y)
            for (int64_t xx = x0; xx < x1; ++xx) gi[y * w + xx] += v;
        }
      }
    }
  });
}

}  // namespace kd
