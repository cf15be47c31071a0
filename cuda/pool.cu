// Pooling: one thread per output element (forward, and the adaptive backward scatter) or per
// input element (average backward, which gathers the windows covering it: no atomics). Max-pool
// backward scatters into a zeroed dx with atomics, since overlapping windows may pick one input.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "check.cuh"
#include "common/pool.h"
#include "runtime.h"

namespace kd::cuda {
namespace {

// The kernels' view of a PoolGeometry, in int (the binding bounds every value by 2^31 - 1).
struct Pool2dShape {
  int batch = 1, channels = 1, inH = 1, inW = 1;
  int kernelH = 1, kernelW = 1, strideH = 1, strideW = 1, padH = 0, padW = 0;
  int dilationH = 1, dilationW = 1;  // max pool only
  bool countIncludePad = true;       // avg pool only
  int outHeight = 1, outWidth = 1;
  int64_t xStrides[4] = {0, 0, 0, 0};  // x's strides in elements (n, c, h, w); all zero: contiguous
  __host__ __device__ int outH() const { return outHeight; }
  __host__ __device__ int outW() const { return outWidth; }
};

Pool2dShape shapeOf(const PoolGeometry& g, const int64_t* xStrides = nullptr) {
  Pool2dShape s;
  s.batch = int(g.n), s.channels = int(g.c), s.inH = int(g.h), s.inW = int(g.w);
  s.outHeight = int(g.oh), s.outWidth = int(g.ow);
  s.kernelH = int(g.kh), s.kernelW = int(g.kw), s.strideH = int(g.strideH), s.strideW = int(g.strideW);
  s.padH = int(g.padH), s.padW = int(g.padW), s.dilationH = int(g.dilationH), s.dilationW = int(g.dilationW);
  if (xStrides)
    for (int i = 0; i < 4; ++i) s.xStrides[i] = xStrides[i];
  return s;
}

Pool2dShape adaptiveShape(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oh, int64_t ow,
                          const int64_t* xStrides = nullptr) {
  const PoolGeometry g{n, c, h, w, oh, ow, 1, 1, 1, 1, 0, 0, 1, 1};
  return shapeOf(g, xStrides);
}

// Where element (n, c, h, w) of x lives: plane offset from the flat plane index, then h, w.
struct XLayout {
  int64_t sn, sc, sh, sw;
  int channels;
  __device__ __forceinline__ int64_t plane(int64_t pl) const { return (pl / channels) * sn + (pl % channels) * sc; }
};

XLayout layoutOf(const Pool2dShape& s) {
  const int64_t* st = s.xStrides;
  if (st[0] == 0 && st[1] == 0 && st[2] == 0 && st[3] == 0)
    return XLayout{int64_t(s.channels) * s.inH * s.inW, int64_t(s.inH) * s.inW, s.inW, 1, s.channels};
  return XLayout{st[0], st[1], st[2], st[3], s.channels};
}

#define KD_GRID_STRIDE(i, total) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (total); i += int64_t(gridDim.x) * blockDim.x)

__global__ void maxPoolForwardKernel(Pool2dShape s, XLayout L, int P, int Q, const float* x, float* y, int32_t* idx,
                                     int64_t total) {
  KD_GRID_STRIDE(i, total) {
    const int q = int(i % Q), p = int((i / Q) % P);
    const float* xp = x + L.plane(i / (int64_t(P) * Q));
    const int h0 = p * s.strideH - s.padH, w0 = q * s.strideW - s.padW;
    float best = -INFINITY;
    int bestIdx = -1;
    for (int r = 0; r < s.kernelH; ++r) {
      const int h = h0 + r * s.dilationH;
      if (h < 0 || h >= s.inH) continue;
      for (int c = 0; c < s.kernelW; ++c) {
        const int w = w0 + c * s.dilationW;
        if (w < 0 || w >= s.inW) continue;
        const float v = xp[h * L.sh + w * L.sw];
        if (bestIdx < 0 || v > best || v != v) {  // NaN propagates (the last one), as on the CPU
          best = v;
          bestIdx = h * s.inW + w;
        }
      }
    }
    y[i] = best;
    idx[i] = bestIdx;
  }
}

__global__ void maxPoolBackwardKernel(int PQ, int HW, const float* dy, const int32_t* idx, float* dx, int64_t total) {
  KD_GRID_STRIDE(i, total) {
    const int32_t at = idx[i];
    if (at >= 0 && at < HW) atomicAdd(dx + (i / PQ) * HW + at, dy[i]);
  }
}

// The window of output o along one axis, clipped as PyTorch does: the divisor counts the window
// clipped to the padded input, the sum only the real input.
struct Window {
  int begin, end, padded;
};
__device__ __forceinline__ Window window(int o, int stride, int pad, int k, int in) {
  int begin = o * stride - pad;
  int end = min(begin + k, in + pad);
  const int padded = end - begin;
  return Window{max(begin, 0), min(end, in), padded};
}
__device__ __forceinline__ int divisor(const Window& a, const Window& b, bool includePad) {
  return includePad ? a.padded * b.padded : (a.end - a.begin) * (b.end - b.begin);
}

__global__ void avgPoolForwardKernel(Pool2dShape s, XLayout L, int P, int Q, const float* x, float* y, int64_t total) {
  KD_GRID_STRIDE(i, total) {
    const int q = int(i % Q), p = int((i / Q) % P);
    const float* xp = x + L.plane(i / (int64_t(P) * Q));
    const Window wy = window(p, s.strideH, s.padH, s.kernelH, s.inH), wx = window(q, s.strideW, s.padW, s.kernelW, s.inW);
    float sum = 0.f;
    for (int h = wy.begin; h < wy.end; ++h)
      for (int w = wx.begin; w < wx.end; ++w) sum += xp[h * L.sh + w * L.sw];
    const int d = divisor(wy, wx, s.countIncludePad);
    y[i] = d > 0 ? sum / float(d) : 0.f;
  }
}

// Input (h, w) receives dy / divisor from every window covering it: windows p with
// p*stride - pad <= h < p*stride - pad + k.
__global__ void avgPoolBackwardKernel(Pool2dShape s, int P, int Q, const float* dy, float* dx, int64_t total) {
  KD_GRID_STRIDE(i, total) {
    const int w = int(i % s.inW), h = int((i / s.inW) % s.inH);
    const float* dyp = dy + (i / (int64_t(s.inH) * s.inW)) * P * Q;
    const int pLo = max(0, (h + s.padH - s.kernelH + s.strideH) / s.strideH);
    const int pHi = min(P - 1, (h + s.padH) / s.strideH);
    const int qLo = max(0, (w + s.padW - s.kernelW + s.strideW) / s.strideW);
    const int qHi = min(Q - 1, (w + s.padW) / s.strideW);
    float sum = 0.f;
    for (int p = pLo; p <= pHi; ++p) {
      const Window wy = window(p, s.strideH, s.padH, s.kernelH, s.inH);
      if (h < wy.begin || h >= wy.end) continue;
      for (int q = qLo; q <= qHi; ++q) {
        const Window wx = window(q, s.strideW, s.padW, s.kernelW, s.inW);
        if (w < wx.begin || w >= wx.end) continue;
        const int d = divisor(wy, wx, s.countIncludePad);
        if (d > 0) sum += dyp[p * Q + q] / float(d);
      }
    }
    dx[i] = sum;
  }
}

__device__ __forceinline__ int adaptiveBegin(int o, int out, int in) { return int((int64_t(o) * in) / out); }
__device__ __forceinline__ int adaptiveEnd(int o, int out, int in) { return int(((int64_t(o) + 1) * in + out - 1) / out); }

__global__ void adaptiveForwardKernel(Pool2dShape s, XLayout L, int P, int Q, const float* x, float* y, int64_t total) {
  KD_GRID_STRIDE(i, total) {
    const int q = int(i % Q), p = int((i / Q) % P);
    const float* xp = x + L.plane(i / (int64_t(P) * Q));
    const int h0 = adaptiveBegin(p, P, s.inH), h1 = adaptiveEnd(p, P, s.inH);
    const int w0 = adaptiveBegin(q, Q, s.inW), w1 = adaptiveEnd(q, Q, s.inW);
    float sum = 0.f;
    for (int h = h0; h < h1; ++h)
      for (int w = w0; w < w1; ++w) sum += xp[h * L.sh + w * L.sw];
    y[i] = sum / float((h1 - h0) * (w1 - w0));
  }
}

__global__ void adaptiveBackwardKernel(Pool2dShape s, int P, int Q, const float* dy, float* dx, int64_t total) {
  KD_GRID_STRIDE(i, total) {
    const int q = int(i % Q), p = int((i / Q) % P);
    float* dxp = dx + (i / (int64_t(P) * Q)) * s.inH * s.inW;
    const int h0 = adaptiveBegin(p, P, s.inH), h1 = adaptiveEnd(p, P, s.inH);
    const int w0 = adaptiveBegin(q, Q, s.inW), w1 = adaptiveEnd(q, Q, s.inW);
    const float v = dy[i] / float((h1 - h0) * (w1 - w0));
    for (int h = h0; h < h1; ++h)
      for (int w = w0; w < w1; ++w) atomicAdd(dxp + h * s.inW + w, v);
  }
}

#undef KD_GRID_STRIDE

void checkPool(const Pool2dShape& s, bool avg, const char* op) {
  auto fail = [&](const std::string& what) { throw std::invalid_argument(std::string(op) + ": " + what); };
  if (s.batch < 1 || s.channels < 1 || s.inH < 1 || s.inW < 1 || s.kernelH < 1 || s.kernelW < 1 || s.strideH < 1 ||
      s.strideW < 1 || s.dilationH < 1 || s.dilationW < 1 || s.padH < 0 || s.padW < 0)
    fail("sizes, kernel, strides and dilations must be >= 1, padding >= 0");
  if (2 * s.padH > s.kernelH || 2 * s.padW > s.kernelW) fail("padding must be at most half the kernel size");
  if (avg && (s.dilationH != 1 || s.dilationW != 1)) fail("dilation must be 1");
  const int P = s.outH(), Q = s.outW();
  if (P < 1 || Q < 1) fail("output would be empty");
  // The last window must start inside the input or its left padding, so every window holds input.
  if ((P - 1) * s.strideH >= s.inH + s.padH || (Q - 1) * s.strideW >= s.inW + s.padW)
    fail("the output is larger than the input allows");
}

void checkAdaptive(const Pool2dShape& s, const char* op) {
  if (s.batch < 1 || s.channels < 1 || s.inH < 1 || s.inW < 1 || s.outHeight < 1 || s.outWidth < 1)
    throw std::invalid_argument(std::string(op) + ": sizes must be positive");
}

unsigned gridFor(int64_t total) { return unsigned(std::max<int64_t>(1, std::min<int64_t>((total + 255) / 256, 1 << 20))); }
int64_t planes(const Pool2dShape& s) { return int64_t(s.batch) * s.channels; }
cudaStream_t currentStream() { return static_cast<cudaStream_t>(stream()); }

}  // namespace

void maxPool2dForward(const PoolGeometry& g, PoolInput x, float* out, int32_t* indices) {
  const int64_t xStrides[4] = {x.sn, x.sc, x.sh, x.sw};
  const Pool2dShape s = shapeOf(g, xStrides);
  checkPool(s, false, "maxPool2dForward");
  const int64_t total = planes(s) * s.outH() * s.outW();
  maxPoolForwardKernel<<<gridFor(total), 256, 0, currentStream()>>>(s, layoutOf(s), s.outH(), s.outW(), x.p, out,
                                                                    indices, total);
  detail::checkLaunch("maxPool2dForward");
}

void maxPool2dBackward(const PoolGeometry& g, const float* gradOut, const int32_t* indices, float* gradInput) {
  const Pool2dShape s = shapeOf(g);
  checkPool(s, false, "maxPool2dBackward");
  cudaStream_t st = currentStream();
  detail::checkCuda(cudaMemsetAsync(gradInput, 0, planes(s) * s.inH * s.inW * sizeof(float), st), "cudaMemsetAsync");
  const int64_t total = planes(s) * s.outH() * s.outW();
  maxPoolBackwardKernel<<<gridFor(total), 256, 0, st>>>(s.outH() * s.outW(), s.inH * s.inW, gradOut, indices, gradInput,
                                                        total);
  detail::checkLaunch("maxPool2dBackward");
}

void avgPool2dForward(const PoolGeometry& g, bool countIncludePad, PoolInput x, float* out) {
  const int64_t xStrides[4] = {x.sn, x.sc, x.sh, x.sw};
  Pool2dShape s = shapeOf(g, xStrides);
  s.countIncludePad = countIncludePad;
  checkPool(s, true, "avgPool2dForward");
  const int64_t total = planes(s) * s.outH() * s.outW();
  avgPoolForwardKernel<<<gridFor(total), 256, 0, currentStream()>>>(s, layoutOf(s), s.outH(), s.outW(), x.p, out, total);
  detail::checkLaunch("avgPool2dForward");
}

void avgPool2dBackward(const PoolGeometry& g, bool countIncludePad, const float* gradOut, float* gradInput) {
  Pool2dShape s = shapeOf(g);
  s.countIncludePad = countIncludePad;
  checkPool(s, true, "avgPool2dBackward");
  const int64_t total = planes(s) * s.inH * s.inW;
  avgPoolBackwardKernel<<<gridFor(total), 256, 0, currentStream()>>>(s, s.outH(), s.outW(), gradOut, gradInput, total);
  detail::checkLaunch("avgPool2dBackward");
}

void adaptiveAvgPool2dForward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oh, int64_t ow, PoolInput x,
                              float* out) {
  const int64_t xStrides[4] = {x.sn, x.sc, x.sh, x.sw};
  const Pool2dShape s = adaptiveShape(n, c, h, w, oh, ow, xStrides);
  checkAdaptive(s, "adaptiveAvgPool2d");
  const int64_t total = planes(s) * s.outHeight * s.outWidth;
  adaptiveForwardKernel<<<gridFor(total), 256, 0, currentStream()>>>(s, layoutOf(s), s.outHeight, s.outWidth, x.p, out,
                                                                     total);
  detail::checkLaunch("adaptiveAvgPool2d");
}

void adaptiveAvgPool2dBackward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oh, int64_t ow,
                               const float* gradOut, float* gradInput) {
  const Pool2dShape s = adaptiveShape(n, c, h, w, oh, ow);
  checkAdaptive(s, "adaptiveAvgPool2dBackward");
  cudaStream_t st = currentStream();
  detail::checkCuda(cudaMemsetAsync(gradInput, 0, planes(s) * s.inH * s.inW * sizeof(float), st), "cudaMemsetAsync");
  const int64_t total = planes(s) * s.outHeight * s.outWidth;
  adaptiveBackwardKernel<<<gridFor(total), 256, 0, st>>>(s, s.outHeight, s.outWidth, gradOut, gradInput, total);
  detail::checkLaunch("adaptiveAvgPool2dBackward");
}

}  // namespace kd::cuda
