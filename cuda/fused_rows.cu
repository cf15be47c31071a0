// The row-wise fused kernels on the device: one block of kThreads per row for every row
// reduction (layer / RMS norm statistics and dx, cross-entropy's logsumexp and dx), a column
// kernel for the parameter gradients (dweight, dbias: 32 columns per block, the rows split over
// 8 lanes, partial sums in double combined in shared memory), and a grid-stride elementwise pass
// for bias + GELU. Row statistics are accumulated in double, as on the CPU.
//   cross-entropy forward: each thread keeps a running (max, sum of exp(x - max)) over its share
//   of the row, so the logits are read once; the pairs are merged across the block.
#include <cmath>
#include <cstdint>

#include "block_reduce.cuh"
#include "check.cuh"
#include "common/fused_rows.h"
#include "runtime.h"

namespace kd::cuda {
namespace {

constexpr int kThreads = 256, kWarps = kThreads / 32;
constexpr int kColumnsPerBlock = 32, kRowLanes = kThreads / kColumnsPerBlock;

cudaStream_t currentStream() { return static_cast<cudaStream_t>(stream()); }

// ---- layer norm / RMS norm ------------------------------------------------------------------

__global__ void __launch_bounds__(kThreads) rowNormForwardKernel(const RowNormForwardArgs a) {
  const int64_t r = blockIdx.x, n = a.cols;
  const float* x = a.x + r * n;
  float* y = a.y + r * n;
  double s = 0, unused = 0;
  if (!a.rms) {
    for (int64_t j = threadIdx.x; j < n; j += kThreads) s += x[j];
    detail::blockSums<kWarps>(s, unused);
  }
  const double mean = a.rms || n == 0 ? 0.0 : s / n;
  double ss = 0;
  unused = 0;
  for (int64_t j = threadIdx.x; j < n; j += kThreads) {
    const double d = x[j] - mean;
    ss += d * d;
  }
  detail::blockSums<kWarps>(ss, unused);
  const float m = float(mean);
  const float rs = float(1.0 / sqrt((n > 0 ? ss / n : 0.0) + a.eps));
  if (threadIdx.x == 0) {
    a.mean[r] = m;
    a.rstd[r] = rs;
  }
  for (int64_t j = threadIdx.x; j < n; j += kThreads) {
    float v = (x[j] - m) * rs;
    if (a.weight) v *= a.weight[j];
    if (a.bias) v += a.bias[j];
    y[j] = v;
  }
}

__global__ void __launch_bounds__(kThreads) rowNormDxKernel(const RowNormBackwardArgs a) {
  const int64_t r = blockIdx.x, n = a.cols;
  const float* x = a.x + r * n;
  const float* g = a.g + r * n;
  float* dx = a.dx + r * n;
  const float m = a.mean[r], rs = a.rstd[r];
  double sg = 0, sgx = 0;
  for (int64_t j = threadIdx.x; j < n; j += kThreads) {
    const float gw = a.weight ? g[j] * a.weight[j] : g[j];
    sg += gw;
    sgx += double(gw) * ((x[j] - m) * rs);
  }
  detail::blockSums<kWarps>(sg, sgx);
  const float c1 = a.rms ? 0.0f : float(sg / n), c2 = float(sgx / n);
  for (int64_t j = threadIdx.x; j < n; j += kThreads) {
    const float gw = a.weight ? g[j] * a.weight[j] : g[j];
    const float v = rs * (gw - c1 - (x[j] - m) * rs * c2);
    dx[j] = a.accumulateDx ? dx[j] + v : v;
  }
}

// Column sums over rows: out0[c] = sum_r f0(r, c), out1[c] = sum_r f1(r, c) (an absent output
// is skipped). Block (32 columns) x (8 row lanes).
template <class Terms>
__global__ void __launch_bounds__(kThreads) columnSumsKernel(int64_t rows, int64_t cols, Terms terms, float* out0, float* out1) {
  __shared__ double partial[2][kRowLanes][kColumnsPerBlock];
  const int lane = threadIdx.x % kColumnsPerBlock, rowLane = threadIdx.x / kColumnsPerBlock;
  const int64_t c = int64_t(blockIdx.x) * kColumnsPerBlock + lane;
  double s0 = 0, s1 = 0;
  if (c < cols) {
    for (int64_t r = rowLane; r < rows; r += kRowLanes) {
      float v0, v1;
      terms(r, c, v0, v1);
      s0 += v0;
      s1 += v1;
    }
  }
  partial[0][rowLane][lane] = s0;
  partial[1][rowLane][lane] = s1;
  __syncthreads();
  if (rowLane == 0 && c < cols) {
    double t0 = 0, t1 = 0;
    for (int k = 0; k < kRowLanes; ++k) {
      t0 += partial[0][k][lane];
      t1 += partial[1][k][lane];
    }
    if (out0) out0[c] = float(t0);
    if (out1) out1[c] = float(t1);
  }
}

// g * xhat and g, for dweight and dbias.
struct NormColumnTerms {
  const float *g, *x, *mean, *rstd;
  int64_t cols;
  __device__ void operator()(int64_t r, int64_t c, float& v0, float& v1) const {
    const float gv = g[r * cols + c];
    v0 = gv * ((x[r * cols + c] - mean[r]) * rstd[r]);
    v1 = gv;
  }
};

unsigned columnBlocks(int64_t cols) { return unsigned((cols + kColumnsPerBlock - 1) / kColumnsPerBlock); }

// ---- bias + GELU ------------------------------------------------------------------------------

__device__ __forceinline__ float geluValue(float z, bool tanhForm) {
  if (tanhForm) {
    const double zd = z, u = 0.7978845608028654 * (zd + 0.044715 * zd * zd * zd);
    return float(zd / (1.0 + exp(-2.0 * u)));
  }
  return 0.5f * z * erfcf(-z * 0.70710678118654752f);
}

__device__ __forceinline__ float geluSlope(float z, bool tanhForm) {
  if (tanhForm) {
    const double zd = z, u = 0.7978845608028654 * (zd + 0.044715 * zd * zd * zd);
    const double s = 1.0 / (1.0 + exp(-2.0 * u));
    const double du = 0.7978845608028654 * (1.0 + 3.0 * 0.044715 * zd * zd);
    return float(s + 2.0 * zd * s * (1.0 - s) * du);
  }
  const float cdf = 0.5f * erfcf(-z * 0.70710678118654752f);
  return cdf + z * 0.39894228040143268f * expf(-0.5f * z * z);
}

__global__ void biasGeluForwardKernel(int64_t total, int64_t cols, bool tanhForm, const float* x, const float* bias, float* y) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    y[i] = geluValue(x[i] + bias[i % cols], tanhForm);
  }
}

__global__ void biasGeluDxKernel(int64_t total, int64_t cols, bool tanhForm, const float* g, const float* x, const float* bias, float* dx) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    dx[i] = g[i] * geluSlope(x[i] + bias[i % cols], tanhForm);
  }
}

struct GeluColumnTerms {
  const float *g, *x, *bias;
  int64_t cols;
  bool tanhForm;
  __device__ void operator()(int64_t r, int64_t c, float& v0, float& v1) const {
    v0 = g[r * cols + c] * geluSlope(x[r * cols + c] + bias[c], tanhForm);
    v1 = 0;
  }
};

unsigned elementBlocks(int64_t total) {
  const int64_t blocks = (total + kThreads - 1) / kThreads;
  return unsigned(blocks < 65535 * 8 ? blocks : 65535 * 8);
}

// ---- softmax cross-entropy --------------------------------------------------------------------

// (max, sum of exp(x - max)) with -inf as "nothing yet".
__device__ __forceinline__ void mergeLse(float& m, double& s, float m2, double s2) {
  if (m2 == -INFINITY) return;
  if (m == -INFINITY) {
    m = m2;
    s = s2;
    return;
  }
  if (m2 > m) {
    s = s * exp(double(m) - m2) + s2;
    m = m2;
  } else {
    s += s2 * exp(double(m2) - m);
  }
}

__device__ double weightSum(const float* weight, int64_t cols) {
  double s = 0, unused = 0;
  if (!weight) return double(cols);
  for (int64_t j = threadIdx.x; j < cols; j += kThreads) s += weight[j];
  detail::blockSums<kWarps>(s, unused);
  return s;
}

__global__ void __launch_bounds__(kThreads) crossEntropyForwardKernel(const CrossEntropyArgs a, float* loss, float* targetWeight, float* lse) {
  __shared__ float maxes[kThreads];
  __shared__ double sums[kThreads];
  const int64_t r = blockIdx.x, c = a.cols;
  const float* x = a.x + r * c;
  const double eps = a.labelSmoothing;
  float m = -INFINITY;
  double s = 0, sumWX = 0;
  bool nan = false;
  for (int64_t j = threadIdx.x; j < c; j += kThreads) {
    const float v = x[j];
    if (v != v) nan = true;
    else if (v != -INFINITY) {
      if (v > m) {
        s = (m == -INFINITY ? 0.0 : s * exp(double(m) - v)) + 1.0;
        m = v;
      } else {
        s += exp(double(v) - m);
      }
    }
    if (eps > 0) sumWX += (a.weight ? double(a.weight[j]) : 1.0) * v;
  }
  maxes[threadIdx.x] = m;
  sums[threadIdx.x] = s;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride >>= 1) {
    if (threadIdx.x < stride) {
      float mm = maxes[threadIdx.x];
      double ss = sums[threadIdx.x];
      mergeLse(mm, ss, maxes[threadIdx.x + stride], sums[threadIdx.x + stride]);
      maxes[threadIdx.x] = mm;
      sums[threadIdx.x] = ss;
    }
    __syncthreads();
  }
  const int anyNan = __syncthreads_or(nan);
  double nanFree = 0;
  detail::blockSums<kWarps>(sumWX, nanFree);
  const double wsum = eps > 0 ? weightSum(a.weight, c) : 0.0;
  if (threadIdx.x != 0) return;
  const double l = anyNan ? double(NAN) : double(maxes[0]) + log(sums[0]);
  const float hi = float(l);
  lse[2 * r] = hi;
  lse[2 * r + 1] = float(l - hi);
  const int64_t t = a.target[r];
  if (t == a.ignoreIndex) {
    loss[r] = 0;
    targetWeight[r] = 0;
    return;
  }
  if (t < 0 || t >= c) {
    loss[r] = NAN;
    targetWeight[r] = NAN;
    return;
  }
  const double wt = a.weight ? a.weight[t] : 1.0;
  double value = (1.0 - eps) * wt * (l - x[t]);
  if (eps > 0) value += eps / c * (l * wsum - sumWX);
  loss[r] = float(value);
  targetWeight[r] = float(wt);
}

__global__ void __launch_bounds__(kThreads) crossEntropyBackwardKernel(const CrossEntropyArgs a, const float* lse, const float* g, float* dx) {
  const int64_t r = blockIdx.x, c = a.cols;
  const float* x = a.x + r * c;
  float* d = dx + r * c;
  const double eps = a.labelSmoothing;
  const double wsum = eps > 0 ? weightSum(a.weight, c) : 0.0;
  const int64_t t = a.target[r];
  if (t == a.ignoreIndex || t < 0 || t >= c) {
    const float fill = t == a.ignoreIndex ? 0.0f : NAN;
    for (int64_t j = threadIdx.x; j < c; j += kThreads) d[j] = fill;
    return;
  }
  const float hi = lse[2 * r], lo = lse[2 * r + 1];
  const double wt = a.weight ? a.weight[t] : 1.0;
  const float pick = float(g[r] * (1.0 - eps) * wt);
  const float spread = float(g[r] * eps / c);
  const float scale = float(g[r] * ((1.0 - eps) * wt + eps / c * wsum));
  for (int64_t j = threadIdx.x; j < c; j += kThreads) {
    float v = expf((x[j] - hi) - lo) * scale;
    if (eps > 0) v -= a.weight ? spread * a.weight[j] : spread;
    if (j == t) v -= pick;
    d[j] = v;
  }
}

}  // namespace

void rowNormForward(const RowNormForwardArgs& a) {
  if (a.rows == 0) return;
  rowNormForwardKernel<<<unsigned(a.rows), kThreads, 0, currentStream()>>>(a);
  detail::checkLaunch("rowNormForward");
}

void rowNormBackward(const RowNormBackwardArgs& a) {
  if (a.dx && a.rows > 0) {
    rowNormDxKernel<<<unsigned(a.rows), kThreads, 0, currentStream()>>>(a);
    detail::checkLaunch("rowNormBackward");
  }
  if ((a.dweight || a.dbias) && a.cols > 0) {
    const NormColumnTerms terms{a.g, a.x, a.mean, a.rstd, a.cols};
    columnSumsKernel<<<columnBlocks(a.cols), kThreads, 0, currentStream()>>>(a.rows, a.cols, terms, a.dweight, a.dbias);
    detail::checkLaunch("rowNormBackward columns");
  }
}

void biasGeluForward(int64_t rows, int64_t cols, bool tanh, const float* x, const float* bias, float* y) {
  const int64_t total = rows * cols;
  if (total == 0) return;
  biasGeluForwardKernel<<<elementBlocks(total), kThreads, 0, currentStream()>>>(total, cols, tanh, x, bias, y);
  detail::checkLaunch("biasGeluForward");
}

void biasGeluBackward(int64_t rows, int64_t cols, bool tanh, const float* g, const float* x, const float* bias,
                      float* dx, float* dbias) {
  const int64_t total = rows * cols;
  if (dx && total > 0) {
    biasGeluDxKernel<<<elementBlocks(total), kThreads, 0, currentStream()>>>(total, cols, tanh, g, x, bias, dx);
    detail::checkLaunch("biasGeluBackward");
  }
  if (dbias && cols > 0) {
    const GeluColumnTerms terms{g, x, bias, cols, tanh};
    columnSumsKernel<<<columnBlocks(cols), kThreads, 0, currentStream()>>>(rows, cols, terms, dbias, nullptr);
    detail::checkLaunch("biasGeluBackward columns");
  }
}

void crossEntropyForward(const CrossEntropyArgs& a, float* loss, float* targetWeight, float* lse) {
  if (a.rows == 0) return;
  crossEntropyForwardKernel<<<unsigned(a.rows), kThreads, 0, currentStream()>>>(a, loss, targetWeight, lse);
  detail::checkLaunch("crossEntropyForward");
}

void crossEntropyBackward(const CrossEntropyArgs& a, const float* lse, const float* g, float* dx) {
  if (a.rows == 0) return;
  crossEntropyBackwardKernel<<<unsigned(a.rows), kThreads, 0, currentStream()>>>(a, lse, g, dx);
  detail::checkLaunch("crossEntropyBackward");
}

}  // namespace kd::cuda
