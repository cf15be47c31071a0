// Batch normalisation: one block per channel. The block reads its channel's n*l values (a
// strided [n, l] walk, flattened so short rows keep every thread busy), reduces them, and then
// makes the elementwise pass over the same values, which the first pass left in L2.
//   forward:  each thread keeps a Welford triple (count, mean, M2) in double; the triples are
//             combined with Chan's formula across the warp (shuffles) and the block (shared
//             memory). Thread 0 updates the running statistics and saves mean and invstd.
//   backward: sums of g and g * (x - mean) per thread in double, then block sums; dx in one pass.
#include <cstdint>

#include "block_reduce.cuh"
#include "check.cuh"
#include "common/batchnorm.h"
#include "runtime.h"

namespace kd::cuda {
namespace {

constexpr int kThreads = 512, kWarps = kThreads / 32;

struct Moments {
  double count, mean, m2;
};

__device__ __forceinline__ Moments combine(const Moments& a, const Moments& b) {
  const double total = a.count + b.count;
  if (total == 0) return a;
  const double delta = b.mean - a.mean;
  return {total, a.mean + delta * (b.count / total), a.m2 + b.m2 + delta * delta * (a.count * b.count / total)};
}

// Every thread gets the block's combined moments.
__device__ Moments blockMoments(Moments m) {
  __shared__ Moments partial[kWarps];
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) {
    const Moments other{__shfl_xor_sync(0xffffffffu, m.count, d), __shfl_xor_sync(0xffffffffu, m.mean, d),
                        __shfl_xor_sync(0xffffffffu, m.m2, d)};
    m = combine(m, other);
  }
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = m;
  __syncthreads();
  Moments total{0, 0, 0};
  for (int w = 0; w < kWarps; ++w) total = combine(total, partial[w]);
  return total;
}

// A channel operand of [n, c, l]: element e of the channel's n*l values.
struct ChannelWalk {
  int64_t l, sn, sl;
  __device__ __forceinline__ int64_t at(int64_t e) const { return (e / l) * sn + (e % l) * sl; }
};

// A [c] operand with its stride copied by value (an Operand's strides live in host memory).
struct ChannelVector {
  float* data;  // null when absent
  int64_t stride;
};

ChannelVector vectorOf(const Operand& o) {
  return {reinterpret_cast<float*>(o.data), o.data ? o.strides[0] : 0};
}

__device__ __forceinline__ float perChannel(const ChannelVector& v, int64_t c, float absent) {
  return v.data ? v.data[c * v.stride] : absent;
}

struct ForwardParams {
  int64_t n, l;
  bool training;
  double momentum, eps;
  float* y;
  const float* x;
  int64_t ysc, xsc;
  ChannelWalk yw, xw;
  ChannelVector weight, bias, runningMean, runningVar;
  float* saveMean;
  float* saveInvstd;
};

__global__ void __launch_bounds__(kThreads) batchNormForwardKernel(const ForwardParams p) {
  const int64_t c = blockIdx.x, total = p.n * p.l;
  const float* x = p.x + c * p.xsc;
  float* y = p.y + c * p.ysc;
  __shared__ float shared[2];  // scale, shift
  if (p.training) {
    Moments m{0, 0, 0};
    for (int64_t e = threadIdx.x; e < total; e += kThreads) {
      const double v = x[p.xw.at(e)];
      m.count += 1;
      const double delta = v - m.mean;
      m.mean += delta / m.count;
      m.m2 += delta * (v - m.mean);
    }
    m = blockMoments(m);
    if (threadIdx.x == 0) {
      const double var = m.count > 0 ? m.m2 / m.count : 0;
      if (p.runningMean.data) {
        float& rm = p.runningMean.data[c * p.runningMean.stride];
        rm = float((1 - p.momentum) * rm + p.momentum * m.mean);
      }
      if (p.runningVar.data) {
        float& rv = p.runningVar.data[c * p.runningVar.stride];
        const double unbiased = m.count > 1 ? var * m.count / (m.count - 1) : var;
        rv = float((1 - p.momentum) * rv + p.momentum * unbiased);
      }
      const double invstd = 1.0 / sqrt(var + p.eps);
      p.saveMean[c] = float(m.mean);
      p.saveInvstd[c] = float(invstd);
      const double scale = invstd * perChannel(p.weight, c, 1.f);
      shared[0] = float(scale);
      shared[1] = float(perChannel(p.bias, c, 0.f) - m.mean * scale);
    }
  } else if (threadIdx.x == 0) {
    const double mean = perChannel(p.runningMean, c, 0.f), var = perChannel(p.runningVar, c, 1.f);
    const double invstd = 1.0 / sqrt(var + p.eps);
    p.saveMean[c] = float(mean);
    p.saveInvstd[c] = float(invstd);
    const double scale = invstd * perChannel(p.weight, c, 1.f);
    shared[0] = float(scale);
    shared[1] = float(perChannel(p.bias, c, 0.f) - mean * scale);
  }
  __syncthreads();
  const float scale = shared[0], shift = shared[1];
  for (int64_t e = threadIdx.x; e < total; e += kThreads) y[p.yw.at(e)] = fmaf(x[p.xw.at(e)], scale, shift);
}

struct BackwardParams {
  int64_t n, l;
  bool training;
  float* dx;
  const float* g;
  const float* x;
  int64_t dxsc, gsc, xsc;
  ChannelWalk dxw, gw, xw;
  ChannelVector weight;
  const float* saveMean;
  const float* saveInvstd;
  float* dweight;
  float* dbias;
};

__global__ void __launch_bounds__(kThreads) batchNormBackwardKernel(const BackwardParams p) {
  const int64_t c = blockIdx.x, total = p.n * p.l;
  const float* g = p.g + c * p.gsc;
  const float* x = p.x + c * p.xsc;
  const float mean = p.saveMean[c];
  const double invstd = p.saveInvstd[c];
  double sumG = 0, sumGXc = 0;
  for (int64_t e = threadIdx.x; e < total; e += kThreads) {
    const float gv = g[p.gw.at(e)];
    sumG += gv;
    sumGXc += double(gv) * (x[p.xw.at(e)] - mean);
  }
  detail::blockSums<kWarps>(sumG, sumGXc);
  const double sumGXhat = sumGXc * invstd;
  if (threadIdx.x == 0) {
    if (p.dbias) p.dbias[c] = float(sumG);
    if (p.dweight) p.dweight[c] = float(sumGXhat);
  }
  if (!p.dx) return;
  float* dx = p.dx + c * p.dxsc;
  const double count = double(total);
  const double k1 = invstd * perChannel(p.weight, c, 1.f);
  const double k2 = p.training ? -k1 * invstd * sumGXhat / count : 0;
  const double k3 = p.training ? -k1 * sumG / count - k2 * mean : 0;
  const float a = float(k1), b = float(k2), d = float(k3);
  for (int64_t e = threadIdx.x; e < total; e += kThreads) {
    dx[p.dxw.at(e)] = fmaf(a, g[p.gw.at(e)], fmaf(b, x[p.xw.at(e)], d));
  }
}

ChannelWalk walkOf(const Operand& o, int64_t l) { return {l > 0 ? l : 1, o.strides[0], o.strides[2]}; }

}  // namespace

void batchNormForward(const BatchNormForwardArgs& a) {
  if (a.s.c == 0) return;
  ForwardParams p{};
  p.n = a.s.n;
  p.l = a.s.l;
  p.training = a.training;
  p.momentum = a.momentum;
  p.eps = a.eps;
  p.y = reinterpret_cast<float*>(a.y.data);
  p.x = reinterpret_cast<const float*>(a.x.data);
  p.ysc = a.y.strides[1];
  p.xsc = a.x.strides[1];
  p.yw = walkOf(a.y, a.s.l);
  p.xw = walkOf(a.x, a.s.l);
  p.saveMean = a.saveMean;
  p.saveInvstd = a.saveInvstd;
  p.weight = vectorOf(a.weight);
  p.bias = vectorOf(a.bias);
  p.runningMean = vectorOf(a.runningMean);
  p.runningVar = vectorOf(a.runningVar);
  batchNormForwardKernel<<<unsigned(a.s.c), kThreads, 0, static_cast<cudaStream_t>(stream())>>>(p);
  detail::checkLaunch("batchNormForward");
}

void batchNormBackward(const BatchNormBackwardArgs& a) {
  if (a.s.c == 0) return;
  BackwardParams p{};
  p.n = a.s.n;
  p.l = a.s.l;
  p.training = a.training;
  p.dx = reinterpret_cast<float*>(a.dx.data);
  p.g = reinterpret_cast<const float*>(a.g.data);
  p.x = reinterpret_cast<const float*>(a.x.data);
  p.dxsc = a.dx.data ? a.dx.strides[1] : 0;
  p.gsc = a.g.strides[1];
  p.xsc = a.x.strides[1];
  p.dxw = a.dx.data ? walkOf(a.dx, a.s.l) : ChannelWalk{1, 0, 0};
  p.gw = walkOf(a.g, a.s.l);
  p.xw = walkOf(a.x, a.s.l);
  p.weight = vectorOf(a.weight);
  p.saveMean = a.saveMean;
  p.saveInvstd = a.saveInvstd;
  p.dweight = a.dweight;
  p.dbias = a.dbias;
  batchNormBackwardKernel<<<unsigned(a.s.c), kThreads, 0, static_cast<cudaStream_t>(stream())>>>(p);
  detail::checkLaunch("batchNormBackward");
}

}  // namespace kd::cuda
