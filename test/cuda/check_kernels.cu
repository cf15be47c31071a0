// Checks every kernel of cuda/ (GEMM, convolution, pooling, and the backend's elementwise, reduce,
// softmax, fused-row, index, optimizer and strided-matmul kernels) against a float64 reference on random
// inputs at odd sizes (outputs poisoned with NaN first), then times GEMM and convolution; timings are printed as
// JSON lines {"case":..., "ms":..., "tflops":...} that bench/gpu/compare_kernels.sh joins with
// the PyTorch peer (bench/gpu/peer_torch.py).
//
// A CMake target outside the default build (npm install skips it), defined when CUDA is built;
// from the repository root, after `npm install` has configured build/ with CUDA:
//
//   cmake --build build --target kindling_check_kernels && build/kindling_check_kernels
//
// Run: kindling_check_kernels [--check-only | --bench-only] [--small]; exit code 1 if any check
// fails. --small leaves out the 8 GiB reduction (for compute-sanitizer, which runs kernels slowly).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/attention.h"
#include "common/conv.h"
#include "common/elementwise.h"
#include "common/fused_rows.h"
#include "common/gemm.h"
#include "common/index.h"
#include "common/optim.h"
#include "common/pool.h"
#include "common/reduce.h"
#include "common/softmax.h"
#include "runtime.h"

using namespace kd::cuda;
using kd::ConvGeometry;
using kd::ImageInput;
using kd::PoolGeometry;

// The cases are written as these parameter blocks (output size from PyTorch's floor formula);
// geometryOf / inputOf turn them into the ConvGeometry / PoolGeometry and strided input the
// kernels take (common/geometry.h, shared with the CPU kernels).
struct Conv2dShape {
  int batch = 1, inChannels = 1, inH = 1, inW = 1;
  int outChannels = 1, kernelH = 1, kernelW = 1;
  int strideH = 1, strideW = 1, padH = 0, padW = 0, dilationH = 1, dilationW = 1, groups = 1;
  int outH() const { return (inH + 2 * padH - dilationH * (kernelH - 1) - 1) / strideH + 1; }
  int outW() const { return (inW + 2 * padW - dilationW * (kernelW - 1) - 1) / strideW + 1; }
};

struct Pool2dShape {
  int batch = 1, channels = 1, inH = 1, inW = 1;
  int kernelH = 1, kernelW = 1, strideH = 1, strideW = 1, padH = 0, padW = 0, dilationH = 1, dilationW = 1;
  bool countIncludePad = true;
  int64_t xStrides[4] = {0, 0, 0, 0};  // all zero: contiguous
  int outH() const { return (inH + 2 * padH - dilationH * (kernelH - 1) - 1) / strideH + 1; }
  int outW() const { return (inW + 2 * padW - dilationW * (kernelW - 1) - 1) / strideW + 1; }
};

static ConvGeometry geometryOf(const Conv2dShape& s) {
  return ConvGeometry{s.batch, s.inChannels, s.inH, s.inW, s.outChannels, s.kernelH, s.kernelW, s.outH(), s.outW(),
                      s.strideH, s.strideW, s.padH, s.padW, s.dilationH, s.dilationW, s.groups};
}

static PoolGeometry geometryOf(const Pool2dShape& s) {
  return PoolGeometry{s.batch, s.channels, s.inH, s.inW, s.outH(), s.outW(), s.kernelH, s.kernelW,
                      s.strideH, s.strideW, s.padH, s.padW, s.dilationH, s.dilationW};
}

static ImageInput inputOf(const Conv2dShape& s, const float* x) {
  return ImageInput{x, int64_t(s.inChannels) * s.inH * s.inW, int64_t(s.inH) * s.inW, s.inW, 1};
}

static ImageInput inputOf(const Pool2dShape& s, const float* x) {
  const int64_t* st = s.xStrides;
  if (st[0] == 0 && st[1] == 0 && st[2] == 0 && st[3] == 0)
    return ImageInput{x, int64_t(s.channels) * s.inH * s.inW, int64_t(s.inH) * s.inW, s.inW, 1};
  return ImageInput{x, st[0], st[1], st[2], st[3]};
}

#define CK(call)                                                                          \
  do {                                                                                    \
    cudaError_t e_ = (call);                                                              \
    if (e_ != cudaSuccess) {                                                              \
      std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      std::exit(2);                                                                       \
    }                                                                                     \
  } while (0)

// The kernels run on the runtime's stream, which is non-blocking: it does not wait for the legacy
// default stream that cudaMemset / cudaMemcpy use. Every poison and upload here therefore waits
// for the device to finish it before any kernel is enqueued (and no earlier kernel still runs).
static void poison(void* d, size_t bytes) {
  CK(cudaDeviceSynchronize());
  CK(cudaMemset(d, 0xFF, bytes));
  CK(cudaDeviceSynchronize());
}
static void copyIn(void* d, const void* h, size_t bytes) {
  CK(cudaDeviceSynchronize());
  CK(cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice));
  CK(cudaDeviceSynchronize());
}

static uint64_t gSeed = 0x9E3779B97F4A7C15ull;
static float randUniform() {  // splitmix64 -> [-1, 1)
  uint64_t z = (gSeed += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return float((z >> 40) * (1.0 / (1ull << 24)) * 2.0 - 1.0);
}

static int gFailures = 0;
static bool gSmall = false;  // --small: skip the checks that take gigabytes
static void report(const std::string& name, double err, double tol) {
  const bool ok = std::isfinite(err) && err <= tol;
  if (!ok) ++gFailures;
  std::printf("%-4s %-64s rel_err %.3e (tol %.0e)\n", ok ? "ok" : "FAIL", name.c_str(), err, tol);
}
static double relErr(const std::vector<double>& out, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (!std::isfinite(out[i])) return NAN;
    num += (out[i] - ref[i]) * (out[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return std::sqrt(num / std::max(den, 1e-300));
}

template <class T>
static void* upload(const std::vector<float>& h) {
  std::vector<T> t(h.size());
  for (size_t i = 0; i < h.size(); ++i) {
    if constexpr (std::is_same_v<T, float>) t[i] = h[i];
    else if constexpr (std::is_same_v<T, __nv_bfloat16>) t[i] = __float2bfloat16(h[i]);
    else t[i] = __float2half(h[i]);
  }
  void* d = nullptr;
  CK(cudaMalloc(&d, std::max<size_t>(t.size(), 1) * sizeof(T)));
  copyIn(d, t.data(), t.size() * sizeof(T));
  return d;
}
static std::vector<double> download(const void* d, size_t n, DType t) {
  std::vector<double> out(n);
  if (t == DType::F32) {
    std::vector<float> h(n);
    CK(cudaMemcpy(h.data(), d, n * 4, cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < n; ++i) out[i] = h[i];
  } else {
    std::vector<uint16_t> h(n);
    CK(cudaMemcpy(h.data(), d, n * 2, cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < n; ++i) {
      if (t == DType::BF16) {
        __nv_bfloat16_raw r;
        r.x = h[i];
        out[i] = __bfloat162float(__nv_bfloat16(r));
      } else {
        __half_raw r;
        r.x = h[i];
        out[i] = __half2float(__half(r));
      }
    }
  }
  return out;
}
// Values as the device sees them after rounding to the input dtype.
static std::vector<double> rounded(const std::vector<float>& h, DType t) {
  std::vector<double> out(h.size());
  for (size_t i = 0; i < h.size(); ++i)
    out[i] = t == DType::F32 ? h[i] : t == DType::BF16 ? __bfloat162float(__float2bfloat16(h[i])) : __half2float(__float2half(h[i]));
  return out;
}
static void* uploadAs(const std::vector<float>& h, DType t) {
  return t == DType::F32 ? upload<float>(h) : t == DType::BF16 ? upload<__nv_bfloat16>(h) : upload<__half>(h);
}
static const char* dtName(DType t) { return t == DType::F32 ? "f32" : t == DType::BF16 ? "bf16" : "f16"; }

// ---------------------------------------------------------------- GEMM reference (float64, GPU)
struct GemmRefArgs {
  int m, n, k;
  const double *a, *b, *c0, *bias;
  int64_t lda, sa, ldb, sb, ldc, sc;
  bool ta, tb;
  double alpha, beta;
  int act;
  double* out;  // dense [batch][m][n]
};
__global__ void gemmRefKernel(GemmRefArgs r) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x, i = blockIdx.y, z = blockIdx.z;
  if (j >= r.n) return;
  double acc = 0;
  for (int k = 0; k < r.k; ++k) {
    const double av = r.a[z * r.sa + (r.ta ? int64_t(k) * r.lda + i : int64_t(i) * r.lda + k)];
    const double bv = r.b[z * r.sb + (r.tb ? int64_t(j) * r.ldb + k : int64_t(k) * r.ldb + j)];
    acc += av * bv;
  }
  double v = r.alpha * acc + (r.bias ? r.bias[j] : 0.0);
  if (r.beta != 0) v += r.beta * r.c0[z * r.sc + int64_t(i) * r.ldc + j];
  if (r.act == 1) v = v > 0 ? v : 0;
  if (r.act == 2) v = 0.5 * v * (1 + erf(v / sqrt(2.0)));
  r.out[(int64_t(z) * r.m + i) * r.n + j] = v;
}
static double* uploadD(const std::vector<double>& h) {
  double* d = nullptr;
  CK(cudaMalloc(&d, std::max<size_t>(h.size(), 1) * 8));
  copyIn(d, h.data(), h.size() * 8);
  return d;
}
static std::vector<float> randomVec(size_t n) {
  std::vector<float> v(n);
  for (auto& x : v) x = randUniform();
  return v;
}

struct GemmCase {
  int m, n, k, batch = 1;
  bool ta = false, tb = false;
  DType in = DType::F32, out = DType::F32;
  MathMode math = MathMode::TF32;
  bool broadcastA = false, broadcastB = false;
  float alpha = 1, beta = 0;
  bool bias = false;
  Activation act = Activation::None;
  int padLd = 0;  // extra elements on every leading dimension (misaligns when odd)
  int padStrideC = 0;  // extra elements between C's batch entries (stride m*ldc + padStrideC)
};

static void checkGemm(const GemmCase& c) {
  const int64_t aRows = c.ta ? c.k : c.m, aCols = c.ta ? c.m : c.k;
  const int64_t bRows = c.tb ? c.n : c.k, bCols = c.tb ? c.k : c.n;
  const int64_t lda = aCols + c.padLd, ldb = bCols + c.padLd, ldc = c.n + c.padLd;
  const int64_t sa = c.broadcastA ? 0 : aRows * lda, sb = c.broadcastB ? 0 : bRows * ldb, sc = int64_t(c.m) * ldc + c.padStrideC;
  const int nbA = c.broadcastA ? 1 : c.batch, nbB = c.broadcastB ? 1 : c.batch;
  auto ha = randomVec(aRows * lda * nbA), hb = randomVec(bRows * ldb * nbB), hc = randomVec(sc * c.batch),
       hbias = randomVec(c.n);
  void *da = uploadAs(ha, c.in), *db = uploadAs(hb, c.in), *dc = uploadAs(hc, c.out), *dbias = uploadAs(hbias, c.out);
  const size_t cBytes = sc * c.batch * (c.out == DType::F32 ? 4 : 2);
  if (c.beta == 0) poison(dc, cBytes);  // NaN in every output dtype
  auto ra = uploadD(rounded(ha, c.in)), rb = uploadD(rounded(hb, c.in)), rc = uploadD(rounded(hc, c.out)),
       rbias = uploadD(rounded(hbias, c.out));
  double* rout = nullptr;
  CK(cudaMalloc(&rout, int64_t(c.batch) * c.m * c.n * 8));
  GemmRefArgs r{c.m, c.n, c.k, ra, rb, rc, c.bias ? rbias : nullptr, lda, sa, ldb, sb, ldc, sc, c.ta, c.tb,
                c.alpha, c.beta, int(c.act), rout};
  gemmRefKernel<<<dim3((c.n + 127) / 128, c.m, c.batch), 128>>>(r);
  CK(cudaGetLastError());

  GemmArgs g;
  g.m = c.m; g.n = c.n; g.k = c.k; g.batch = c.batch;
  g.inType = c.in; g.outType = c.out; g.math = c.math;
  g.a = da; g.lda = lda; g.strideA = sa; g.transA = c.ta;
  g.b = db; g.ldb = ldb; g.strideB = sb; g.transB = c.tb;
  g.c = dc; g.ldc = ldc; g.strideC = sc;
  g.alpha = c.alpha; g.beta = c.beta; g.bias = c.bias ? dbias : nullptr; g.act = c.act;
  gemm(g, nullptr);
  CK(cudaDeviceSynchronize());

  auto all = download(dc, sc * c.batch, c.out);
  std::vector<double> out;
  for (int z = 0; z < c.batch; ++z)
    for (int i = 0; i < c.m; ++i)
      for (int j = 0; j < c.n; ++j) out.push_back(all[z * sc + i * ldc + j]);
  std::vector<double> ref(out.size());
  CK(cudaMemcpy(ref.data(), rout, ref.size() * 8, cudaMemcpyDeviceToHost));

  const bool exact = c.in == DType::F32 && c.math == MathMode::ExactF32;
  const double tol = exact ? 1e-5 : c.in == DType::F32 ? 1e-3 : 1e-2;
  char name[256];
  std::snprintf(name, sizeof name, "gemm %s->%s%s %dx%dx%d b%d %c%c%s%s%s%s%s%s%s", dtName(c.in), dtName(c.out),
                exact ? " exact" : c.in == DType::F32 ? " tf32" : "", c.m, c.n, c.k, c.batch, c.ta ? 'T' : 'N',
                c.tb ? 'T' : 'N', c.broadcastA ? " bcastA" : "", c.broadcastB ? " bcastB" : "", c.bias ? " bias" : "",
                c.act == Activation::Relu ? " relu" : c.act == Activation::Gelu ? " gelu" : "",
                c.beta != 0 ? " beta" : "", c.padLd ? " padded-ld" : "", c.padStrideC ? " padded-strideC" : "");
  report(name, relErr(out, ref), tol);
  for (void* p : {da, db, dc, dbias}) CK(cudaFree(p));
  for (double* p : {ra, rb, rc, rbias, rout}) CK(cudaFree(p));
}

// ---------------------------------------------------------------- conv reference (float64, CPU)
static void convRef(const Conv2dShape& s, const std::vector<double>& x, const std::vector<double>& w,
                    const std::vector<double>* bias, std::vector<double>& y, std::vector<double>& dx,
                    std::vector<double>& dw, const std::vector<double>& dy) {
  const int G = s.groups, Cg = s.inChannels / G, OCg = s.outChannels / G, P = s.outH(), Q = s.outW();
  y.assign(size_t(s.batch) * s.outChannels * P * Q, 0);
  dx.assign(x.size(), 0);
  dw.assign(w.size(), 0);
  for (int n = 0; n < s.batch; ++n)
    for (int oc = 0; oc < s.outChannels; ++oc) {
      const int g = oc / OCg;
      for (int p = 0; p < P; ++p)
        for (int q = 0; q < Q; ++q) {
          const size_t yi = ((size_t(n) * s.outChannels + oc) * P + p) * Q + q;
          double acc = bias ? (*bias)[oc] : 0;
          for (int c = 0; c < Cg; ++c)
            for (int r = 0; r < s.kernelH; ++r)
              for (int t = 0; t < s.kernelW; ++t) {
                const int h = p * s.strideH - s.padH + r * s.dilationH, wv = q * s.strideW - s.padW + t * s.dilationW;
                if (h < 0 || h >= s.inH || wv < 0 || wv >= s.inW) continue;
                const size_t xi = ((size_t(n) * s.inChannels + g * Cg + c) * s.inH + h) * s.inW + wv;
                const size_t wi = ((size_t(oc) * Cg + c) * s.kernelH + r) * s.kernelW + t;
                acc += x[xi] * w[wi];
                dx[xi] += dy[yi] * w[wi];
                dw[wi] += dy[yi] * x[xi];
              }
          y[yi] = acc;
        }
    }
}

static void checkConv(const Conv2dShape& s, const char* label) {
  const size_t xn = size_t(s.batch) * s.inChannels * s.inH * s.inW;
  const size_t wn = size_t(s.outChannels) * (s.inChannels / s.groups) * s.kernelH * s.kernelW;
  const size_t yn = size_t(s.batch) * s.outChannels * s.outH() * s.outW();
  auto hx = randomVec(xn), hw = randomVec(wn), hdy = randomVec(yn), hb = randomVec(s.outChannels);
  std::vector<double> x(hx.begin(), hx.end()), w(hw.begin(), hw.end()), dy(hdy.begin(), hdy.end()),
      b(hb.begin(), hb.end()), y, dx, dw;
  convRef(s, x, w, &b, y, dx, dw, dy);
  float *dX = (float*)upload<float>(hx), *dW = (float*)upload<float>(hw), *dDY = (float*)upload<float>(hdy),
        *dB = (float*)upload<float>(hb), *dY, *dDX, *dDW;
  CK(cudaMalloc(&dY, yn * 4));
  CK(cudaMalloc(&dDX, xn * 4));
  CK(cudaMalloc(&dDW, wn * 4));
  poison(dY, yn * 4);
  poison(dDX, xn * 4);
  poison(dDW, wn * 4);
  kd::cuda::conv2dForward(geometryOf(s), inputOf(s, dX), dW, dB, dY);
  kd::cuda::conv2dInputGrad(geometryOf(s), dDY, dW, dDX);
  kd::cuda::conv2dWeightGrad(geometryOf(s), inputOf(s, dX), dDY, dDW);
  CK(cudaDeviceSynchronize());
  char name[256];
  std::snprintf(name, sizeof name, "%s n%d %d->%d %dx%d k%dx%d s%d,%d p%d,%d d%d,%d g%d", label, s.batch,
                s.inChannels, s.outChannels, s.inH, s.inW, s.kernelH, s.kernelW, s.strideH, s.strideW, s.padH,
                s.padW, s.dilationH, s.dilationW, s.groups);
  const double tol = allowTf32() ? 1e-3 : 1e-5;
  report(std::string("conv fwd  ") + name, relErr(download(dY, yn, DType::F32), y), tol);
  report(std::string("conv dgrad ") + name, relErr(download(dDX, xn, DType::F32), dx), tol);
  report(std::string("conv wgrad ") + name, relErr(download(dDW, wn, DType::F32), dw), tol);
  for (float* p : {dX, dW, dDY, dB, dY, dDX, dDW}) CK(cudaFree(p));
}

static void checkPool(const Pool2dShape& s, bool maxPool, const char* label) {
  const int P = s.outH(), Q = s.outW();
  const size_t xn = size_t(s.batch) * s.channels * s.inH * s.inW, yn = size_t(s.batch) * s.channels * P * Q;
  auto hx = randomVec(xn), hdy = randomVec(yn);
  std::vector<double> y(yn), dx(xn, 0);
  for (size_t pl = 0; pl < size_t(s.batch) * s.channels; ++pl)
    for (int p = 0; p < P; ++p)
      for (int q = 0; q < Q; ++q) {
        const int h0 = p * s.strideH - s.padH, w0 = q * s.strideW - s.padW;
        double best = -INFINITY, sum = 0;
        size_t arg = 0;
        int inside = 0;
        for (int h = h0; h < h0 + s.kernelH; ++h)
          for (int w = w0; w < w0 + s.kernelW; ++w) {
            if (h < 0 || h >= s.inH || w < 0 || w >= s.inW) continue;
            const size_t xi = (pl * s.inH + h) * s.inW + w;
            if (hx[xi] > best) best = hx[xi], arg = xi;
            sum += hx[xi];
            ++inside;
          }
        const int full = (std::min(h0 + s.kernelH, s.inH + s.padH) - h0) * (std::min(w0 + s.kernelW, s.inW + s.padW) - w0);
        const double div = s.countIncludePad ? full : inside;
        const size_t yi = (pl * P + p) * Q + q;
        if (maxPool) {
          y[yi] = best;
          dx[arg] += hdy[yi];
        } else {
          y[yi] = sum / div;
          for (int h = std::max(h0, 0); h < std::min(h0 + s.kernelH, s.inH); ++h)
            for (int w = std::max(w0, 0); w < std::min(w0 + s.kernelW, s.inW); ++w) dx[(pl * s.inH + h) * s.inW + w] += hdy[yi] / div;
        }
      }
  float *dX = (float*)upload<float>(hx), *dDY = (float*)upload<float>(hdy), *dY, *dDX;
  int32_t* idx;
  CK(cudaMalloc(&dY, yn * 4));
  CK(cudaMalloc(&dDX, xn * 4));
  CK(cudaMalloc(&idx, yn * 4));
  poison(dY, yn * 4);
  poison(dDX, xn * 4);
  if (maxPool) {
    kd::cuda::maxPool2dForward(geometryOf(s), inputOf(s, dX), dY, idx);
    kd::cuda::maxPool2dBackward(geometryOf(s), dDY, idx, dDX);
  } else {
    kd::cuda::avgPool2dForward(geometryOf(s), s.countIncludePad, inputOf(s, dX), dY);
    kd::cuda::avgPool2dBackward(geometryOf(s), s.countIncludePad, dDY, dDX);
  }
  CK(cudaDeviceSynchronize());
  char name[200];
  std::snprintf(name, sizeof name, "%s n%d c%d %dx%d k%dx%d s%d,%d p%d,%d%s", label, s.batch, s.channels, s.inH, s.inW,
                s.kernelH, s.kernelW, s.strideH, s.strideW, s.padH, s.padW,
                maxPool ? "" : s.countIncludePad ? " incl-pad" : " excl-pad");
  report(std::string(name) + " fwd", relErr(download(dY, yn, DType::F32), y), 1e-6);
  report(std::string(name) + " bwd", relErr(download(dDX, xn, DType::F32), dx), 1e-6);
  for (void* p : {(void*)dX, (void*)dDY, (void*)dY, (void*)dDX, (void*)idx}) CK(cudaFree(p));
}

static void runChecks() {
  // GEMM: sizes from 1 to odd multi-tile, every layout, dtype, epilogue option, batch broadcast.
  const DType F32 = DType::F32, BF16 = DType::BF16, F16 = DType::F16;
  checkGemm({1, 1, 1});
  checkGemm({17, 33, 65});
  for (int l = 0; l < 4; ++l) {
    GemmCase c{127, 255, 513};
    c.ta = l & 1;
    c.tb = l & 2;
    checkGemm(c);
    c.math = MathMode::ExactF32;
    checkGemm(c);
    c.math = MathMode::TF32;
    c.in = BF16;
    checkGemm(c);
    c.out = BF16;
    checkGemm(c);
    c.in = c.out = F16;
    checkGemm(c);
  }
  {
    GemmCase c{17, 33, 65};
    c.in = BF16;
    checkGemm(c);  // odd pitches: element-wise copy path
    c.in = F32;
    c.math = MathMode::ExactF32;
    checkGemm(c);
  }
  {
    GemmCase c{64, 96, 80, 3};
    c.broadcastA = true;
    c.bias = true;
    c.act = Activation::Relu;
    c.alpha = 0.5f;
    c.beta = 0.25f;
    checkGemm(c);
    c.in = BF16;
    c.out = BF16;
    c.act = Activation::Gelu;
    c.ta = true;
    checkGemm(c);
  }
  {
    GemmCase c{256, 200, 256, 2};
    c.in = BF16;
    c.tb = true;
    c.broadcastB = true;
    c.padLd = 8;
    checkGemm(c);
    c.in = F32;
    c.padLd = 3;
    c.bias = true;
    c.act = Activation::Gelu;
    checkGemm(c);
  }
  {
    GemmCase c{1000, 1030, 1100};
    c.tb = true;
    checkGemm(c);
    c.in = BF16;
    c.out = BF16;
    c.bias = true;
    checkGemm(c);
  }
  {
    // More than 8 rows of 128-row tiles with a partial last group of tile rows (m = 1100: 9 rows).
    GemmCase c{1100, 300, 70};
    checkGemm(c);
    c.math = MathMode::ExactF32;
    checkGemm(c);
    c.math = MathMode::TF32;
    c.in = c.out = BF16;
    c.ta = true;
    checkGemm(c);
  }
  {
    // Leading dimensions that are multiples of 16 bytes with k and n that are not: the 16-byte
    // vector loads end in a partial chunk (k = n = 67, ld = 68).
    GemmCase c{65, 67, 67};
    c.padLd = 1;
    checkGemm(c);
    c.tb = true;
    checkGemm(c);
    c.in = BF16;  // bf16: ld 68 elements = 136 bytes, not a multiple of 16: the copy path
    c.padLd = 5;  // ld 72 = 144 bytes: vector path with a partial chunk of 3 elements
    checkGemm(c);
  }
  {
    // C's batch stride other than m * ldc: padded by 8 (aligned) and by 5 (misaligned vector stores).
    GemmCase c{33, 40, 48, 3};
    c.padStrideC = 8;
    checkGemm(c);
    c.padStrideC = 5;
    c.beta = 0.5f;
    checkGemm(c);
    c.in = c.out = BF16;
    checkGemm(c);
  }
  for (int size : {301, 512, 777}) {  // above 300 in every dimension, square and not
    GemmCase c{size, size + 2, size - 1};
    checkGemm(c);
    c.in = F16;
    c.out = F16;
    c.tb = true;
    checkGemm(c);
  }

  // Convolutions: odd spatial sizes, stride 2, padding, dilation 2, groups 2, 1x1, many k-tiles.
  auto conv = [](int n, int c, int h, int w, int oc, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw,
                 int g) {
    Conv2dShape s;
    s.batch = n; s.inChannels = c; s.inH = h; s.inW = w; s.outChannels = oc; s.kernelH = kh; s.kernelW = kw;
    s.strideH = sh; s.strideW = sw; s.padH = ph; s.padW = pw; s.dilationH = dh; s.dilationW = dw; s.groups = g;
    return s;
  };
  checkConv(conv(1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1), "1x1x1");
  checkConv(conv(2, 3, 11, 13, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1), "pad1");
  checkConv(conv(3, 4, 17, 15, 6, 3, 3, 2, 2, 1, 1, 2, 2, 2), "stride2 dil2 groups2");
  checkConv(conv(2, 6, 9, 10, 4, 5, 3, 2, 1, 2, 1, 1, 1, 2), "5x3 stride(2,1)");
  checkConv(conv(2, 16, 7, 7, 32, 1, 1, 1, 1, 0, 0, 1, 1, 1), "pointwise");
  checkConv(conv(4, 1, 28, 28, 32, 3, 3, 1, 1, 0, 0, 1, 1, 1), "mnist1");
  checkConv(conv(2, 64, 20, 19, 72, 3, 3, 1, 1, 1, 1, 1, 1, 1), "wide");
  checkConv(conv(2, 130, 9, 9, 136, 3, 3, 2, 2, 1, 1, 1, 1, 2), "multi-tile groups2");
  // kd.cuda.setAllowTF32(false): exact FP32 convolutions, held to float32 accuracy.
  setAllowTf32(false);
  checkConv(conv(2, 3, 11, 13, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1), "exact pad1");
  checkConv(conv(3, 4, 17, 15, 6, 3, 3, 2, 2, 1, 1, 2, 2, 2), "exact stride2 dil2 groups2");
  checkConv(conv(2, 64, 20, 19, 72, 3, 3, 1, 1, 1, 1, 1, 1, 1), "exact wide");
  checkConv(conv(2, 130, 9, 9, 136, 3, 3, 2, 2, 1, 1, 1, 1, 2), "exact multi-tile groups2");
  setAllowTf32(true);

  auto pool = [](int n, int c, int h, int w, int k, int s, int p, bool incl) {
    Pool2dShape ps;
    ps.batch = n; ps.channels = c; ps.inH = h; ps.inW = w; ps.kernelH = ps.kernelW = k;
    ps.strideH = ps.strideW = s; ps.padH = ps.padW = p; ps.countIncludePad = incl;
    return ps;
  };
  checkPool(pool(2, 3, 13, 13, 2, 2, 0, true), true, "maxpool");
  checkPool(pool(2, 3, 14, 11, 3, 2, 1, true), true, "maxpool");
  checkPool(pool(2, 3, 13, 13, 2, 2, 0, true), false, "avgpool");
  checkPool(pool(2, 3, 14, 11, 3, 2, 1, true), false, "avgpool");
  checkPool(pool(2, 3, 14, 11, 3, 2, 1, false), false, "avgpool");
}


// ---------------------------------------------------------------- backend kernels (runtime stream)
// These enqueue on the runtime's non-blocking stream: synchronize before reading results back.
static float* uploadF(const std::vector<float>& h) { return static_cast<float*>(upload<float>(h)); }
static std::vector<double> fetch(const void* d, size_t n) {
  kd::cuda::synchronize();
  return download(d, n, DType::F32);
}
static float* poisoned(size_t n) {
  float* d = nullptr;
  CK(cudaMalloc(&d, std::max<size_t>(n, 1) * 4));
  poison(d, n * 4);
  return d;
}
static kd::Operand op(const void* p, const int64_t* strides) { return kd::Operand{(char*)p, strides}; }

static void checkElementwise() {
  const int R = 37, C = 53;  // x is the transpose of a [C, R] buffer: strides {1, R}
  auto hx = randomVec(size_t(R) * C), hb = randomVec(C);
  float *x = uploadF(hx), *b = uploadF(hb), *y = poisoned(size_t(R) * C);
  const int64_t shape[2] = {R, C}, xs[2] = {1, R}, ys[2] = {C, 1}, bs[2] = {0, 1};
  struct U { kd::UnaryOp op; const char* name; double (*f)(double); };
  const U ops[] = {{kd::UnaryOp::Exp, "exp", [](double v) { return std::exp(v); }},
                   {kd::UnaryOp::Log1p, "log1p", [](double v) { return std::log1p(v); }},
                   {kd::UnaryOp::GeluTanh, "geluTanh", [](double v) { return v / (1 + std::exp(-2 * 0.7978845608028654 * (v + 0.044715 * v * v * v))); }},
                   {kd::UnaryOp::Sigmoid, "sigmoid", [](double v) { return 1 / (1 + std::exp(-v)); }}};
  for (const U& u : ops) {
    std::vector<float> in = hx;
    if (u.op == kd::UnaryOp::Log1p) for (float& v : in) v += 1.0f;  // log1p over (0, 2)
    copyIn(x, in.data(), in.size() * 4);
    kd::cuda::unary(u.op, kd::DType::Float32, 0, 0, 2, shape, op(y, ys), op(x, xs));
    std::vector<double> ref(size_t(R) * C);
    for (int i = 0; i < R; ++i)
      for (int j = 0; j < C; ++j) ref[size_t(i) * C + j] = u.f(in[size_t(j) * R + i]);
    report(std::string("unary ") + u.name + " transposed 37x53", relErr(fetch(y, ref.size()), ref), 1e-6);
  }
  copyIn(x, hx.data(), hx.size() * 4);
  kd::cuda::binary(kd::BinaryOp::Atan2, kd::DType::Float32, 2, shape, op(y, ys), op(x, xs), op(b, bs));
  std::vector<double> ref(size_t(R) * C);
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < C; ++j) ref[size_t(i) * C + j] = std::atan2(double(hx[size_t(j) * R + i]), double(hb[j]));
  report("binary atan2 transposed x broadcast row", relErr(fetch(y, ref.size()), ref), 1e-6);
  for (float* p : {x, b, y}) CK(cudaFree(p));
}

static void checkReduceSoftmax() {
  const int R = 300, C = 7;  // reduce / softmax along dim 0 (stride C), rows of C
  auto hx = randomVec(size_t(R) * C);
  for (float& v : hx) v *= 8.0f;
  float *x = uploadF(hx), *s = poisoned(C), *y = poisoned(size_t(R) * C), *dx = poisoned(size_t(R) * C);
  const int64_t kept[1] = {C}, keptStrides[1] = {1}, red[1] = {R}, redStrides[1] = {C}, outStrides[1] = {1};
  kd::cuda::reduce(kd::ReduceArgs{kd::ReduceOp::Sum, kd::DType::Float32, 1, kept, keptStrides, 1, red, redStrides,
                                  (const char*)x, op(s, outStrides)});
  std::vector<double> sums(C, 0.0);
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < C; ++j) sums[j] += hx[size_t(i) * C + j];
  report("reduce sum over dim 0 of 300x7", relErr(fetch(s, C), sums), 1e-6);
  const int64_t shape[2] = {R, C}, dense[2] = {C, 1};
  kd::cuda::softmax(false, 2, shape, 0, op(y, dense), op(x, dense));
  std::vector<double> ref(size_t(R) * C);
  for (int j = 0; j < C; ++j) {
    double m = -INFINITY, z = 0;
    for (int i = 0; i < R; ++i) m = std::max(m, double(hx[size_t(i) * C + j]));
    for (int i = 0; i < R; ++i) z += std::exp(hx[size_t(i) * C + j] - m);
    for (int i = 0; i < R; ++i) ref[size_t(i) * C + j] = std::exp(hx[size_t(i) * C + j] - m) / z;
  }
  const std::vector<double> yOut = fetch(y, ref.size());
  report("softmax along dim 0 of 300x7", relErr(yOut, ref), 1e-6);
  // Backward with g = x: dx = y * (g - sum(g * y)) along dim 0.
  kd::cuda::softmaxBackward(false, 2, shape, 0, op(dx, dense), op(y, dense), op(x, dense));
  std::vector<double> dref(size_t(R) * C);
  for (int j = 0; j < C; ++j) {
    double dot = 0;
    for (int i = 0; i < R; ++i) dot += hx[size_t(i) * C + j] * yOut[size_t(i) * C + j];
    for (int i = 0; i < R; ++i) dref[size_t(i) * C + j] = yOut[size_t(i) * C + j] * (hx[size_t(i) * C + j] - dot);
  }
  report("softmax backward along dim 0 of 300x7", relErr(fetch(dx, dref.size()), dref), 1e-5);
  for (float* p : {x, s, y, dx}) CK(cudaFree(p));
}

// cuda/fused_rows.cu against float64: layer / RMS norm forward and backward, bias + GELU (erf)
// forward and backward, softmax cross-entropy with class weights and label smoothing over a
// 50257-class vocabulary (logits up to 1e4 in one row).
static void checkFusedRows() {
  const int R = 37, C = 1000;
  auto hx = randomVec(size_t(R) * C), hg = randomVec(size_t(R) * C), hw = randomVec(C), hb = randomVec(C);
  for (float& v : hx) v = 3.0f * v + 1.0f;
  float *x = uploadF(hx), *g = uploadF(hg), *w = uploadF(hw), *b = uploadF(hb);
  float *y = poisoned(size_t(R) * C), *mean = poisoned(R), *rstd = poisoned(R), *dx = poisoned(size_t(R) * C);
  float *dw = poisoned(C), *db = poisoned(C);
  for (const bool rms : {false, true}) {
    const double eps = 1e-5;
    kd::cuda::rowNormForward(kd::RowNormForwardArgs{R, C, rms, eps, x, w, rms ? nullptr : b, y, mean, rstd});
    kd::cuda::rowNormBackward(kd::RowNormBackwardArgs{R, C, rms, g, x, w, mean, rstd, dx, dw, rms ? nullptr : db});
    std::vector<double> yRef(size_t(R) * C), dxRef(size_t(R) * C), dwRef(C, 0.0), dbRef(C, 0.0);
    for (int i = 0; i < R; ++i) {
      const float* xr = hx.data() + size_t(i) * C;
      const float* gr = hg.data() + size_t(i) * C;
      double mu = 0, var = 0, sg = 0, sgx = 0;
      if (!rms) { for (int j = 0; j < C; ++j) mu += xr[j]; mu /= C; }
      for (int j = 0; j < C; ++j) var += (xr[j] - mu) * (xr[j] - mu);
      const double rs = 1 / std::sqrt(var / C + eps);
      for (int j = 0; j < C; ++j) {
        const double xh = (xr[j] - mu) * rs, gw = double(gr[j]) * hw[j];
        yRef[size_t(i) * C + j] = xh * hw[j] + (rms ? 0.0 : hb[j]);
        sg += gw; sgx += gw * xh; dwRef[j] += gr[j] * xh; dbRef[j] += gr[j];
      }
      for (int j = 0; j < C; ++j) {
        const double xh = (xr[j] - mu) * rs, gw = double(gr[j]) * hw[j];
        dxRef[size_t(i) * C + j] = rs * (gw - (rms ? 0.0 : sg / C) - xh * sgx / C);
      }
    }
    const std::string name = rms ? "rmsNorm 37x1000" : "layerNorm 37x1000";
    report(name + " forward", relErr(fetch(y, yRef.size()), yRef), 1e-5);
    report(name + " dx", relErr(fetch(dx, dxRef.size()), dxRef), 1e-4);
    report(name + " dweight", relErr(fetch(dw, C), dwRef), 1e-5);
    if (!rms) report(name + " dbias", relErr(fetch(db, C), dbRef), 1e-5);
  }
  kd::cuda::biasGeluForward(R, C, false, x, b, y);
  kd::cuda::biasGeluBackward(R, C, false, g, x, b, dx, db);
  std::vector<double> yRef(size_t(R) * C), dxRef(size_t(R) * C), dbRef(C, 0.0);
  for (size_t i = 0; i < yRef.size(); ++i) {
    const double z = double(hx[i] + hb[i % C]), cdf = 0.5 * std::erfc(-z / std::sqrt(2.0));
    yRef[i] = z * cdf;
    dxRef[i] = hg[i] * (cdf + z * std::exp(-0.5 * z * z) / std::sqrt(2 * M_PI));
    dbRef[i % C] += dxRef[i];
  }
  report("biasGelu 37x1000 forward", relErr(fetch(y, yRef.size()), yRef), 1e-5);
  report("biasGelu 37x1000 dx", relErr(fetch(dx, dxRef.size()), dxRef), 1e-5);
  report("biasGelu 37x1000 dbias", relErr(fetch(db, C), dbRef), 1e-5);
  for (float* p : {x, g, w, b, y, mean, rstd, dx, dw, db}) CK(cudaFree(p));

  const int N = 5, V = 50257;
  const double smoothing = 0.1;
  auto hl = randomVec(size_t(N) * V), hcw = randomVec(V);
  for (float& v : hl) v *= 6.0f;
  for (int j = 0; j < V; j += 7) hl[j] = 1e4f * (j % 2 ? 1.0f : -1.0f);  // row 0: logits of magnitude 1e4
  for (float& v : hcw) v = 0.75f + 0.5f * v;
  const std::vector<int32_t> ht = {3, -100, 50256, 17, 1000};
  const std::vector<float> hgr = {1.0f, 1.0f, 0.5f, -2.0f, 0.25f};
  float *logits = uploadF(hl), *cw = uploadF(hcw), *gr = uploadF(hgr);
  int32_t* t = nullptr;
  CK(cudaMalloc(&t, ht.size() * sizeof(int32_t)));
  copyIn(t, ht.data(), ht.size() * sizeof(int32_t));
  float *loss = poisoned(N), *tw = poisoned(N), *lse = poisoned(2 * N), *dl = poisoned(size_t(N) * V);
  const kd::CrossEntropyArgs a{N, V, logits, t, cw, -100, smoothing};
  kd::cuda::crossEntropyForward(a, loss, tw, lse);
  kd::cuda::crossEntropyBackward(a, lse, gr, dl);
  std::vector<double> lossRef(N, 0.0), dRef(size_t(N) * V, 0.0);
  double wsum = 0;
  for (float v : hcw) wsum += v;
  for (int i = 0; i < N; ++i) {
    if (ht[i] == -100) continue;
    const float* xr = hl.data() + size_t(i) * V;
    double m = -INFINITY, z = 0, swx = 0;
    for (int j = 0; j < V; ++j) m = std::max(m, double(xr[j]));
    for (int j = 0; j < V; ++j) { z += std::exp(xr[j] - m); swx += double(hcw[j]) * xr[j]; }
    const double l = m + std::log(z), wt = hcw[ht[i]];
    lossRef[i] = (1 - smoothing) * wt * (l - xr[ht[i]]) + smoothing / V * (l * wsum - swx);
    for (int j = 0; j < V; ++j) {
      const double p = std::exp(xr[j] - l);
      dRef[size_t(i) * V + j] = hgr[i] * ((1 - smoothing) * wt * (p - (j == ht[i])) + smoothing / V * (wsum * p - hcw[j]));
    }
  }
  report("crossEntropy 5x50257 loss (weights, smoothing, ignored row, 1e4 logits)", relErr(fetch(loss, N), lossRef), 1e-5);
  report("crossEntropy 5x50257 dx", relErr(fetch(dl, dRef.size()), dRef), 1e-5);
  for (float* p : {logits, cw, gr, loss, tw, lse, dl}) CK(cudaFree(p));
  CK(cudaFree(t));
}

static void checkIndexAdamMatmulPool() {
  // gather along dim 1 of x [4, 9] with a [4, 3] index holding one bad value at position 7.
  std::vector<float> hx = randomVec(36);
  std::vector<int32_t> hi = {0, 8, 3, 1, 1, 2, 4, 9, 0, 5, 6, 7};
  float *x = uploadF(hx), *out = poisoned(12);
  int32_t* idx = nullptr;
  CK(cudaMalloc(&idx, 48));
  copyIn(idx, hi.data(), 48);
  const int64_t shape[2] = {4, 3}, xs[2] = {9, 1}, is[2] = {3, 1}, os[2] = {3, 1};
  const kd::BadIndex bad = kd::cuda::gather("gather", kd::DType::Float32, 2, shape, 1, 9, op(out, os), op(idx, is), op(x, xs));
  // The fault is recorded on the device and thrown at the next synchronisation, naming the op.
  std::string deferred;
  try {
    kd::cuda::synchronize();
  } catch (const std::out_of_range& e) {
    deferred = e.what();
  }
  report("gather returns at once and reports the bad index (value 9) at the next synchronize",
         (bad.position < 0 && deferred.rfind("gather: index 9 is out of bounds for dim 1 with size 9", 0) == 0) ? 0.0 : 1.0, 0.0);
  kd::cuda::synchronize();  // reported once: nothing is pending now
  report("gather copies the good indices of a faulting call",
         [&] {
           const std::vector<double> got = fetch(out, 12);
           for (int i = 0; i < 12; ++i)
             if (i != 7 && got[i] != hx[size_t(i / 3) * 9 + hi[i]]) return 1.0;
           return 0.0;
         }(), 0.0);

  // Adam: two tensors in one launch against the CPU's float math transcribed in double.
  const int n0 = 1000, n1 = 37;
  std::vector<float> p0 = randomVec(n0), g0 = randomVec(n0), p1 = randomVec(n1), g1 = randomVec(n1);
  std::vector<float> zeros0(n0, 0.f), zeros1(n1, 0.f);
  float *dp0 = uploadF(p0), *dg0 = uploadF(g0), *dm0 = uploadF(zeros0), *dv0 = uploadF(zeros0);
  float *dp1 = uploadF(p1), *dg1 = uploadF(g1), *dm1 = uploadF(zeros1), *dv1 = uploadF(zeros1);
  const kd::AdamHyper h{0.01f, 0.9f, 0.999f, 1e-8f, 0.1f, true, false};
  const kd::AdamTensor ts[2] = {{dp0, dg0, dm0, dv0, nullptr, n0, 1}, {dp1, dg1, dm1, dv1, nullptr, n1, 1}};
  kd::cuda::adamStep(h, ts, 2);
  auto adamRef = [&](const std::vector<float>& p, const std::vector<float>& g) {
    std::vector<double> r(p.size());
    for (size_t i = 0; i < p.size(); ++i) {
      const double pi = p[i] * (1.0 - 0.01 * 0.1), m = 0.1 * g[i], v = 0.001 * g[i] * g[i];
      r[i] = pi - 0.01 / 0.1 * (m / (std::sqrt(v) / std::sqrt(0.001) + 1e-8));
    }
    return r;
  };
  report("adamW step, tensor 0 of a 2-tensor launch", relErr(fetch(dp0, n0), adamRef(p0, g0)), 1e-6);
  report("adamW step, tensor 1 of a 2-tensor launch", relErr(fetch(dp1, n1), adamRef(p1, g1)), 1e-6);

  // Strided matmul: A with neither stride 1 (a dense copy), C transposed (computed as C^T).
  const int m = 19, k = 23, n = 11;
  std::vector<float> ha = randomVec(size_t(2 * m) * 2 * k), hb = randomVec(size_t(k) * n);
  float *da = uploadF(ha), *db = uploadF(hb), *dc = poisoned(size_t(m) * n);
  kd::cuda::matmul(m, n, k, 1, kd::cuda::StridedMatrix{da, 2 * 2 * k, 2, 0}, kd::cuda::StridedMatrix{db, n, 1, 0},
                   kd::cuda::StridedMatrix{dc, 1, m, 0}, 1.f, 0.f, false);
  std::vector<double> cref(size_t(m) * n);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      double acc = 0;
      for (int p = 0; p < k; ++p) acc += double(ha[size_t(i) * 4 * k + 2 * p]) * hb[size_t(p) * n + j];
      cref[size_t(j) * m + i] = acc;  // C stored column-major
    }
  report("matmul strided A (dense copy), transposed C, exact fp32", relErr(fetch(dc, cref.size()), cref), 1e-5);

  // Max pool with dilation 2 on an input stored with h and w swapped (strides n, c, 1, H).
  Pool2dShape ps;
  ps.batch = 2, ps.channels = 3, ps.inH = 13, ps.inW = 11, ps.kernelH = ps.kernelW = 3, ps.strideH = ps.strideW = 2;
  ps.padH = ps.padW = 1, ps.dilationH = ps.dilationW = 2;
  const int P = ps.outH(), Q = ps.outW();
  ps.xStrides[0] = 3 * 13 * 11, ps.xStrides[1] = 13 * 11, ps.xStrides[2] = 1, ps.xStrides[3] = 13;
  std::vector<float> hp = randomVec(size_t(2) * 3 * 13 * 11);
  float *dx = uploadF(hp), *dy = poisoned(size_t(6) * P * Q);
  int32_t* di = nullptr;
  CK(cudaMalloc(&di, size_t(6) * P * Q * 4));
  kd::cuda::maxPool2dForward(geometryOf(ps), inputOf(ps, dx), dy, di);
  std::vector<double> pref(size_t(6) * P * Q);
  for (int pl = 0; pl < 6; ++pl)
    for (int p = 0; p < P; ++p)
      for (int q = 0; q < Q; ++q) {
        double best = -INFINITY;
        for (int r = 0; r < 3; ++r)
          for (int c = 0; c < 3; ++c) {
            const int hh = p * 2 - 1 + 2 * r, ww = q * 2 - 1 + 2 * c;
            if (hh < 0 || hh >= 13 || ww < 0 || ww >= 11) continue;
            best = std::max(best, double(hp[size_t(pl) * 143 + size_t(ww) * 13 + hh]));
          }
        pref[(size_t(pl) * P + p) * Q + q] = best;
      }
  report("maxPool2d dilation 2 on an h/w-transposed input", relErr(fetch(dy, pref.size()), pref), 0.0);
  for (void* p : {(void*)x, (void*)out, (void*)idx, (void*)dp0, (void*)dg0, (void*)dm0, (void*)dv0, (void*)dp1, (void*)dg1,
                  (void*)dm1, (void*)dv1, (void*)da, (void*)db, (void*)dc, (void*)dx, (void*)dy, (void*)di})
    CK(cudaFree(p));
}

// A sum and a mean over 2^31 + 4099 float32 elements (8 GiB; skipped, and said so, when the device
// has less free memory): 64-bit element counts and offsets through the chunked reduction.
static void checkHugeSum() {
  const int64_t n = (int64_t(1) << 31) + 4099;
  if (gSmall) {
    std::printf("skip  sum over 2^31 + 4099 elements (--small)\n");
    return;
  }
  size_t freeBytes = 0, totalBytes = 0;
  CK(cudaMemGetInfo(&freeBytes, &totalBytes));
  if (freeBytes < size_t(n) * 4 + (size_t(1) << 30)) {
    std::printf("skip  sum over 2^31 + 4099 elements: %zu MiB free\n", freeBytes >> 20);
    return;
  }
  float *x = nullptr, *s = poisoned(2);
  CK(cudaMalloc(&x, size_t(n) * 4));
  const int64_t shape[1] = {n}, unit[1] = {1}, none[1] = {0};
  kd::cuda::fill(kd::DType::Float32, 0.5, 1, shape, op(x, unit));
  // The last 4099 elements are 1.5: a chunk that reads past 2^31 wrongly, or not at all, shows.
  const int64_t tail[1] = {4099};
  kd::cuda::fill(kd::DType::Float32, 1.5, 1, tail, op(x + (int64_t(1) << 31), unit));
  const double sum = 0.5 * double(int64_t(1) << 31) + 1.5 * 4099;
  for (kd::ReduceOp o : {kd::ReduceOp::Sum, kd::ReduceOp::Mean}) {
    kd::cuda::reduce(kd::ReduceArgs{o, kd::DType::Float32, 0, nullptr, none, 1, shape, unit, (const char*)x,
                                    op(s + (o == kd::ReduceOp::Mean), none)});
  }
  const std::vector<double> got = fetch(s, 2);
  report("reduce sum over 2^31 + 4099 elements", relErr({got[0]}, {sum}), 1e-6);
  report("reduce mean over 2^31 + 4099 elements", relErr({got[1]}, {sum / double(n)}), 1e-6);
  CK(cudaFree(x));
  CK(cudaFree(s));
}

static void runBackendChecks() {
  checkElementwise();
  checkReduceSoftmax();
  checkFusedRows();
  checkIndexAdamMatmulPool();
  checkHugeSum();
}

// ---------------------------------------------------------------- fused attention (issue 11)
// cuda/attention.cu against a float64 transcription of native/common/attention.h's semantics:
// softmax(scale q kᵀ + mask) (P∘Z) v with the header's dropout hash, and its gradients.
struct AttentionCase {
  const char* name;
  int64_t batch, heads, kvHeads, qLen, kvLen, headDim;
  bool causal;
  kd::AttentionMaskKind maskKind;
  float dropoutP;
  bool transposedQ;  // q read from a [batch, qLen, heads, headDim] buffer
};

static void attentionRef64(const kd::AttentionGeometry& g, const std::vector<double>& q, const std::vector<double>& k,
                           const std::vector<double>& v, const std::vector<float>& maskF,
                           const std::vector<uint8_t>& maskB, const std::vector<double>& dO, std::vector<double>& out,
                           std::vector<double>& lse, std::vector<double>& dq, std::vector<double>& dk,
                           std::vector<double>& dv) {
  const int64_t L = g.qLen, S = g.kvLen, D = g.headDim;
  out.assign(g.batch * g.heads * L * D, 0.0);
  lse.assign(g.batch * g.heads * L, -INFINITY);
  dq.assign(out.size(), 0.0);
  dk.assign(g.batch * g.kvHeads * S * D, 0.0);
  dv.assign(dk.size(), 0.0);
  std::vector<double> p(S), z(S), dp(S);
  for (int64_t b = 0; b < g.batch; ++b)
    for (int64_t h = 0; h < g.heads; ++h) {
      const int64_t kvh = h / (g.heads / g.kvHeads), qo = (b * g.heads + h) * L * D, ko = (b * g.kvHeads + kvh) * S * D;
      for (int64_t i = 0; i < L; ++i) {
        double m = -INFINITY;
        for (int64_t j = 0; j < S; ++j) {
          double s = 0;
          for (int64_t c = 0; c < D; ++c) s += q[qo + i * D + c] * k[ko + j * D + c];
          s *= g.scale;
          const int64_t mi = (i * S + j);  // masks here are [qLen, kvLen], broadcast over batch and heads
          if (g.maskKind == kd::AttentionMaskKind::Additive) s += maskF[mi];
          if (g.maskKind == kd::AttentionMaskKind::Bool && !maskB[mi]) s = -INFINITY;
          if (g.causal && j > i) s = -INFINITY;
          p[j] = s;
          m = std::max(m, s);
        }
        if (m == -INFINITY) continue;
        double sum = 0;
        for (int64_t j = 0; j < S; ++j) sum += p[j] = std::exp(p[j] - m);
        lse[(b * g.heads + h) * L + i] = m + std::log(sum);
        const uint64_t key = kd::attentionDropoutRowKey(g.seed, g.offset, (b * g.heads + h) * L + i);
        double rowDot = 0;
        for (int64_t j = 0; j < S; ++j) {
          p[j] /= sum;
          z[j] = g.dropoutP > 0 ? (kd::attentionDropoutUniform(key, uint32_t(j)) < g.dropoutP ? 0.0 : 1.0 / (1.0 - g.dropoutP)) : 1.0;
          double d = 0;
          for (int64_t c = 0; c < D; ++c) {
            out[qo + i * D + c] += p[j] * z[j] * v[ko + j * D + c];
            dv[ko + j * D + c] += p[j] * z[j] * dO[qo + i * D + c];
            d += dO[qo + i * D + c] * v[ko + j * D + c];
          }
          dp[j] = z[j] * d;
          rowDot += p[j] * dp[j];
        }
        for (int64_t j = 0; j < S; ++j) {
          const double ds = p[j] * (dp[j] - rowDot) * g.scale;
          for (int64_t c = 0; c < D; ++c) {
            dq[qo + i * D + c] += ds * k[ko + j * D + c];
            dk[ko + j * D + c] += ds * q[qo + i * D + c];
          }
        }
      }
    }
}

static void checkAttention(const AttentionCase& t) {
  kd::AttentionGeometry g{t.batch, t.heads, t.kvHeads, t.qLen, t.kvLen, t.headDim, float(1.0 / std::sqrt(double(t.headDim))),
                          t.causal, t.dropoutP, 1234567, 3, t.maskKind};
  const int64_t B = t.batch, H = t.heads, Hk = t.kvHeads, L = t.qLen, S = t.kvLen, D = t.headDim;
  auto hq = randomVec(B * H * L * D), hk = randomVec(B * Hk * S * D), hv = randomVec(B * Hk * S * D);
  auto hdo = randomVec(B * H * L * D), hmf = randomVec(L * S);
  std::vector<uint8_t> hmb(L * S);
  for (int64_t n = 0; n < L * S; ++n) hmb[n] = (n / S) % 7 == 5 ? 0 : randUniform() < 0.4f;  // some rows fully masked
  for (int64_t n = 0; n < L * S; ++n) if (randUniform() < -0.8f) hmf[n] = -INFINITY;
  // q as a transposed view: element (b, h, i, c) of a [B, L, H, D] buffer.
  std::vector<float> hqBuf(hq.size());
  for (int64_t b = 0; b < B; ++b) for (int64_t h = 0; h < H; ++h) for (int64_t i = 0; i < L; ++i) for (int64_t c = 0; c < D; ++c)
    hqBuf[t.transposedQ ? ((b * L + i) * H + h) * D + c : ((b * H + h) * L + i) * D + c] = hq[((b * H + h) * L + i) * D + c];
  float *dq = uploadF(hqBuf), *dk = uploadF(hk), *dv = uploadF(hv), *ddo = uploadF(hdo);
  float* dmf = uploadF(hmf);
  uint8_t* dmb = nullptr;
  CK(cudaMalloc(&dmb, hmb.size()));
  CK(cudaMemcpy(dmb, hmb.data(), hmb.size(), cudaMemcpyHostToDevice));
  float *out = poisoned(B * H * L * D), *lse = poisoned(B * H * L), *gq = poisoned(B * H * L * D);
  float *gk = poisoned(B * Hk * S * D), *gv = poisoned(B * Hk * S * D);
  const kd::AttentionInput qIn{dq, {t.transposedQ ? L * H * D : H * L * D, t.transposedQ ? D : L * D, t.transposedQ ? H * D : D, 1}};
  const kd::AttentionInput kIn{dk, {Hk * S * D, S * D, D, 1}}, vIn{dv, {Hk * S * D, S * D, D, 1}};
  const kd::AttentionInput outIn{out, {H * L * D, L * D, D, 1}}, doIn{ddo, {H * L * D, L * D, D, 1}};
  const kd::AttentionMask mask{t.maskKind == kd::AttentionMaskKind::Bool ? (const void*)dmb : (const void*)dmf, {0, 0, S, 1}};
  const kd::AttentionOutput outDense{out, {H * L * D, L * D, D, 1}}, gqDense{gq, {H * L * D, L * D, D, 1}};
  const kd::AttentionOutput gkDense{gk, {Hk * S * D, S * D, D, 1}}, gvDense{gv, {Hk * S * D, S * D, D, 1}};
  kd::cuda::attentionForward(g, qIn, kIn, vIn, mask, outDense, lse);
  kd::cuda::attentionBackward(g, qIn, kIn, vIn, mask, outIn, doIn, lse, gqDense, gkDense, gvDense);
  std::vector<double> rq(hq.begin(), hq.end()), rk(hk.begin(), hk.end()), rv(hv.begin(), hv.end()), rdo(hdo.begin(), hdo.end());
  std::vector<double> ro, rl, rdq, rdk, rdv;
  attentionRef64(g, rq, rk, rv, hmf, hmb, rdo, ro, rl, rdq, rdk, rdv);
  const std::string name = std::string("attention ") + t.name;
  report(name + " out", relErr(fetch(out, ro.size()), ro), 1e-5);
  auto gotL = fetch(lse, rl.size());
  bool lseOk = true;  // -inf rows must match exactly
  for (size_t n = 0; n < rl.size(); ++n)
    if (std::isinf(rl[n]) != std::isinf(gotL[n])) lseOk = false, gotL[n] = rl[n];
    else if (std::isinf(rl[n])) gotL[n] = rl[n] = 0;
  report(name + " logsumexp", lseOk ? relErr(gotL, rl) : INFINITY, 1e-5);
  report(name + " grad q", relErr(fetch(gq, rdq.size()), rdq), 1e-4);
  report(name + " grad k", relErr(fetch(gk, rdk.size()), rdk), 1e-4);
  report(name + " grad v", relErr(fetch(gv, rdv.size()), rdv), 1e-4);
  for (void* p : {(void*)dq, (void*)dk, (void*)dv, (void*)ddo, (void*)dmf, (void*)dmb, (void*)out, (void*)lse, (void*)gq,
                  (void*)gk, (void*)gv})
    CK(cudaFree(p));
}

static void runAttentionChecks() {
  using MK = kd::AttentionMaskKind;
  const AttentionCase cases[] = {
      {"no mask 2x3 L37 S37 D64", 2, 3, 3, 37, 37, 64, false, MK::None, 0.0f, false},
      {"causal cross L45 S29 D16, transposed q", 2, 2, 2, 45, 29, 16, true, MK::None, 0.0f, true},
      {"causal L70 S70 D128", 1, 2, 2, 70, 70, 128, true, MK::None, 0.0f, false},
      {"bool mask (full-masked rows) L33 S50 D32", 2, 2, 2, 33, 50, 32, false, MK::Bool, 0.0f, true},
      {"additive mask with -inf L19 S41 D40", 1, 3, 3, 19, 41, 40, false, MK::Additive, 0.0f, false},
      {"GQA 6 over 2 heads L23 S61 D64", 2, 6, 2, 23, 61, 64, false, MK::None, 0.0f, false},
      {"dropout 0.3 causal GQA L34 S34 D24", 2, 4, 2, 34, 34, 24, true, MK::None, 0.3f, false},
      {"D256 L17 S33", 1, 2, 1, 17, 33, 256, false, MK::Bool, 0.1f, true},
  };
  for (const auto& c : cases) checkAttention(c);
}

// ---------------------------------------------------------------- timing
// Times fn's work on the runtime's stream (where every kernel of cuda/ is enqueued).
static double timeMs(const std::function<void()>& fn) {
  cudaStream_t st = static_cast<cudaStream_t>(kd::cuda::stream());
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a));
  CK(cudaEventCreate(&b));
  fn();
  CK(cudaDeviceSynchronize());
  CK(cudaEventRecord(a, st));
  fn();
  CK(cudaEventRecord(b, st));
  CK(cudaEventSynchronize(b));
  float once = 0;
  CK(cudaEventElapsedTime(&once, a, b));
  const int reps = std::max(3, std::min(200, int(40.0 / std::max(once, 1e-3f))));
  std::vector<float> trials;
  for (int t = 0; t < 5; ++t) {
    CK(cudaEventRecord(a, st));
    for (int i = 0; i < reps; ++i) fn();
    CK(cudaEventRecord(b, st));
    CK(cudaEventSynchronize(b));
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, a, b));
    trials.push_back(ms / reps);
  }
  std::sort(trials.begin(), trials.end());
  CK(cudaEventDestroy(a));
  CK(cudaEventDestroy(b));
  return trials[2];
}
static void emit(const std::string& name, double flops, double ms) {
  std::printf("{\"case\": \"%s\", \"ms\": %.4f, \"tflops\": %.2f}\n", name.c_str(), ms, flops / ms / 1e9);
  std::fflush(stdout);
}

static void benchGemm(const char* tag, DType in, int m, int n, int k, bool tb) {
  const size_t es = in == DType::F32 ? 4 : 2;
  void *a, *b, *c;
  CK(cudaMalloc(&a, size_t(m) * k * es));
  CK(cudaMalloc(&b, size_t(k) * n * es));
  CK(cudaMalloc(&c, size_t(m) * n * es));
  auto fill = [](void* p, size_t n, DType t) {  // random, not zeros: zeros run faster
    std::vector<float> h(n);
    for (auto& x : h) x = randUniform();
    void* tmp = uploadAs(h, t);
    CK(cudaMemcpy(p, tmp, n * (t == DType::F32 ? 4 : 2), cudaMemcpyDeviceToDevice));
    CK(cudaFree(tmp));
  };
  fill(a, size_t(m) * k, in);
  fill(b, size_t(k) * n, in);
  GemmArgs g;
  g.m = m; g.n = n; g.k = k; g.inType = in; g.outType = in;
  g.a = a; g.lda = k; g.b = b; g.transB = tb; g.ldb = tb ? k : n; g.c = c; g.ldc = n;
  CK(cudaDeviceSynchronize());  // the fills above ran on the legacy stream
  const double ms = timeMs([&] { gemm(g, kd::cuda::stream()); });
  char name[128];
  std::snprintf(name, sizeof name, "gemm_%s_%dx%dx%d%s", tag, m, n, k, tb ? "_nt" : "");
  emit(name, 2.0 * m * n * k, ms);
  CK(cudaFree(a));
  CK(cudaFree(b));
  CK(cudaFree(c));
}

static void benchConv(const char* tag, int n, int c, int hw, int oc, int pad) {
  Conv2dShape s;
  s.batch = n; s.inChannels = c; s.inH = s.inW = hw; s.outChannels = oc; s.kernelH = s.kernelW = 3;
  s.padH = s.padW = pad;
  const size_t xn = size_t(n) * c * hw * hw, wn = size_t(oc) * c * 9, yn = size_t(n) * oc * s.outH() * s.outW();
  float *x = (float*)upload<float>(randomVec(xn)), *w = (float*)upload<float>(randomVec(wn)),
        *dy = (float*)upload<float>(randomVec(yn)), *y, *dx, *dw;
  CK(cudaMalloc(&y, yn * 4));
  CK(cudaMalloc(&dx, xn * 4));
  CK(cudaMalloc(&dw, wn * 4));
  const double flops = 2.0 * yn * c * 9;
  emit(std::string("conv_fwd_") + tag, flops, timeMs([&] { kd::cuda::conv2dForward(geometryOf(s), inputOf(s, x), w, nullptr, y); }));
  emit(std::string("conv_dgrad_") + tag, flops, timeMs([&] { kd::cuda::conv2dInputGrad(geometryOf(s), dy, w, dx); }));
  emit(std::string("conv_wgrad_") + tag, flops, timeMs([&] { kd::cuda::conv2dWeightGrad(geometryOf(s), inputOf(s, x), dy, dw); }));
  for (float* p : {x, w, dy, y, dx, dw}) CK(cudaFree(p));
}

static void runBench() {
  for (DType t : {DType::F32, DType::BF16}) {
    const char* tag = t == DType::F32 ? "tf32" : "bf16";
    for (int s : {1024, 4096, 8192}) benchGemm(tag, t, s, s, s, false);
    // GPT-2 small Linear layers at 8192 tokens: y = x W^T with W stored [out, in].
    benchGemm(tag, t, 8192, 2304, 768, true);
    benchGemm(tag, t, 8192, 768, 768, true);
    benchGemm(tag, t, 8192, 3072, 768, true);
    benchGemm(tag, t, 8192, 768, 3072, true);
  }
  benchConv("mnist1_64x1x28x28_32", 64, 1, 28, 32, 0);
  benchConv("mnist2_64x32x13x13_64", 64, 32, 13, 64, 0);
  benchConv("mnist3_64x64x5x5_64", 64, 64, 5, 64, 0);
  benchConv("resnet_64x64x56x56_64", 64, 64, 56, 64, 1);
}

int main(int argc, char** argv) {
  bool checkOnly = false, benchOnly = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--check-only")) checkOnly = true;
    else if (!std::strcmp(argv[i], "--bench-only")) benchOnly = true;
    else if (!std::strcmp(argv[i], "--small")) gSmall = true;
    else {
      std::fprintf(stderr, "usage: %s [--check-only | --bench-only] [--small]\n", argv[0]);
      return 2;
    }
  }
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s (sm_%d%d, %d SMs)\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount);
  if (!benchOnly) {
    runChecks();
    runBackendChecks();
    runAttentionChecks();
    std::printf("checks: %d failed\n", gFailures);
  }
  if (!checkOnly) runBench();
  return gFailures ? 1 : 0;
}
