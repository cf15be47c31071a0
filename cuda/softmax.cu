// Softmax: one warp per row (a row = the elements along `dim` at one position of the other dims).
// Lanes stride the row by 32 and combine with shuffles: pass 1 the maximum, pass 2 the sum of
// exp(x - max), pass 3 the write; the backward makes one pass for its sum and one to write.
// Rows are enumerated by a strided walk over the other dims, so any layout works without a copy.
#include <cstdint>

#include "common/softmax.h"
#include "runtime.h"
#include "strided.cuh"

namespace kd::cuda {
namespace {

using detail::Walk;

constexpr int kThreads = 256, kRowsPerBlock = kThreads / 32;

__device__ __forceinline__ float warpSum(float v) {
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) v += __shfl_xor_sync(0xffffffffu, v, d);
  return v;
}
__device__ __forceinline__ float warpMax(float v) {
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, d));  // fmaxf skips NaN
  return v;
}

// rows: operands (out, x) over the shape without `dim`; n elements per row at byte strides so, sx.
__global__ void __launch_bounds__(kThreads) softmaxKernel(const Walk<2> rows, int64_t n, int64_t so, int64_t sx,
                                                          bool log) {
  const int lane = threadIdx.x % 32;
  for (int64_t r = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32; r < rows.total;
       r += int64_t(gridDim.x) * kRowsPerBlock) {
    char* p[2];
    rows.at(r, p);
    auto xAt = [&](int64_t j) { return *reinterpret_cast<const float*>(p[1] + j * sx); };
    float m = -INFINITY;
    for (int64_t j = lane; j < n; j += 32) m = fmaxf(m, xAt(j));
    m = warpMax(m);
    float s = 0.f;
    for (int64_t j = lane; j < n; j += 32) s += expf(xAt(j) - m);
    s = warpSum(s);
    const float logS = logf(s), inv = 1.f / s;
    for (int64_t j = lane; j < n; j += 32) {
      const float z = xAt(j) - m;
      *reinterpret_cast<float*>(p[0] + j * so) = log ? z - logS : expf(z) * inv;
    }
  }
}

// rows: operands (dx, y, g); byte strides along the row sdx, sy, sg.
__global__ void __launch_bounds__(kThreads) softmaxBackwardKernel(const Walk<3> rows, int64_t n, int64_t sdx,
                                                                  int64_t sy, int64_t sg, bool log) {
  const int lane = threadIdx.x % 32;
  for (int64_t r = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32; r < rows.total;
       r += int64_t(gridDim.x) * kRowsPerBlock) {
    char* p[3];
    rows.at(r, p);
    auto yAt = [&](int64_t j) { return *reinterpret_cast<const float*>(p[1] + j * sy); };
    auto gAt = [&](int64_t j) { return *reinterpret_cast<const float*>(p[2] + j * sg); };
    float s = 0.f;
    for (int64_t j = lane; j < n; j += 32) s += log ? gAt(j) : gAt(j) * yAt(j);
    s = warpSum(s);
    for (int64_t j = lane; j < n; j += 32) {
      const float y = yAt(j), g = gAt(j);
      *reinterpret_cast<float*>(p[0] + j * sdx) = log ? g - expf(y) * s : y * (g - s);
    }
  }
}

// The shape and strides of the K operands with `dim` removed.
template <int K>
Walk<K> rowWalk(int ndim, const int64_t* shape, int dim, const Operand (&ops)[K]) {
  int64_t rowShape[kMaxDims], rowStrides[K][kMaxDims];
  int m = 0;
  for (int d = 0; d < ndim; ++d) {
    if (d == dim) continue;
    rowShape[m] = shape[d];
    for (int k = 0; k < K; ++k) rowStrides[k][m] = ops[k].strides[d];
    ++m;
  }
  Operand rowOps[K];
  int bytes[K];
  for (int k = 0; k < K; ++k) {
    rowOps[k] = Operand{ops[k].data, rowStrides[k]};
    bytes[k] = 4;
  }
  return detail::makeWalk<K>(m, rowShape, rowOps, bytes);
}

unsigned rowBlocks(int64_t rows) { return detail::blocksFor(rows, kRowsPerBlock); }

}  // namespace

void softmax(bool log, int ndim, const int64_t* shape, int dim, Operand out, Operand x) {
  const int64_t n = shape[dim];
  const Operand ops[2] = {out, x};
  const Walk<2> rows = rowWalk<2>(ndim, shape, dim, ops);
  if (rows.total == 0 || n == 0) return;
  softmaxKernel<<<rowBlocks(rows.total), kThreads, 0, static_cast<cudaStream_t>(stream())>>>(
      rows, n, out.strides[dim] * 4, x.strides[dim] * 4, log);
  detail::checkLaunch("softmax");
}

void softmaxBackward(bool log, int ndim, const int64_t* shape, int dim, Operand dx, Operand y, Operand g) {
  const int64_t n = shape[dim];
  const Operand ops[3] = {dx, y, g};
  const Walk<3> rows = rowWalk<3>(ndim, shape, dim, ops);
  if (rows.total == 0 || n == 0) return;
  softmaxBackwardKernel<<<rowBlocks(rows.total), kThreads, 0, static_cast<cudaStream_t>(stream())>>>(
      rows, n, dx.strides[dim] * 4, y.strides[dim] * 4, g.strides[dim] * 4, log);
  detail::checkLaunch("softmaxBackward");
}

}  // namespace kd::cuda
