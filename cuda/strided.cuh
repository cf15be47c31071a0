// Walking N-d strided operands on the device. A Walk<K> describes K operands over one shape:
// dims of size 1 are dropped and neighbouring dims that are contiguous for every operand merged
// (so a dense tensor is one dim), which keeps the per-element index arithmetic short. Element i
// of the walk is the i-th position of the shape in row-major order: merging never reorders, so
// "the first bad index" positions match the CPU's row-major scan.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "check.cuh"
#include "common/dtype.h"
#include "common/operand.h"

namespace kd::cuda::detail {

template <int K>
struct Walk {
  int ndim = 0;
  int64_t total = 1;
  int64_t shape[kMaxDims];
  int64_t strides[K][kMaxDims];  // bytes
  char* base[K];

  // Pointers to element i of each operand.
  __device__ __forceinline__ void at(int64_t i, char* (&p)[K]) const {
#pragma unroll
    for (int k = 0; k < K; ++k) p[k] = base[k];
    for (int d = ndim - 1; d >= 0; --d) {
      const int64_t n = shape[d];
      const int64_t idx = d == 0 ? i : i % n;
      i = d == 0 ? 0 : i / n;
#pragma unroll
      for (int k = 0; k < K; ++k) p[k] += idx * strides[k][d];
    }
  }
  // Byte offset of element i of operand k from its base (for walks used only for their strides).
  __device__ __forceinline__ int64_t offset(int64_t i, int k = 0) const {
    int64_t off = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      const int64_t n = shape[d];
      off += (d == 0 ? i : i % n) * strides[k][d];
      i = d == 0 ? 0 : i / n;
    }
    return off;
  }
};

// Builds the walk from element strides (one array per operand) and element sizes.
template <int K>
Walk<K> makeWalk(int ndim, const int64_t* shape, const Operand (&ops)[K], const int (&elemBytes)[K]) {
  Walk<K> w;
  for (int k = 0; k < K; ++k) w.base[k] = ops[k].data;
  for (int d = 0; d < ndim; ++d) {
    w.total *= shape[d];
    if (shape[d] == 1) continue;
    if (w.ndim > 0) {
      bool merge = true;
      for (int k = 0; k < K; ++k)
        if (w.strides[k][w.ndim - 1] != ops[k].strides[d] * elemBytes[k] * shape[d]) merge = false;
      if (merge) {
        w.shape[w.ndim - 1] *= shape[d];
        for (int k = 0; k < K; ++k) w.strides[k][w.ndim - 1] = ops[k].strides[d] * elemBytes[k];
        continue;
      }
    }
    w.shape[w.ndim] = shape[d];
    for (int k = 0; k < K; ++k) w.strides[k][w.ndim] = ops[k].strides[d] * elemBytes[k];
    ++w.ndim;
  }
  if (w.ndim == 0) {  // one element (or none: total says which)
    w.shape[0] = 1;
    for (int k = 0; k < K; ++k) w.strides[k][0] = 0;
    w.ndim = 1;
  }
  return w;
}

constexpr int kMapThreads = 256;

inline unsigned blocksFor(int64_t total, int threads = kMapThreads) {
  return unsigned(std::max<int64_t>(1, std::min<int64_t>((total + threads - 1) / threads, int64_t(1) << 20)));
}

// f(p) once per element, p[k] pointing at operand k's element; grid-stride over the walk.
template <int K, class F>
__global__ void __launch_bounds__(kMapThreads) mapKernel(const Walk<K> w, const F f) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < w.total; i += int64_t(gridDim.x) * blockDim.x) {
    char* p[K];
    w.at(i, p);
    f(p, i);
  }
}

template <int K, class F>
void launchMap(const Walk<K>& w, const F& f, cudaStream_t stream, const char* name) {
  if (w.total == 0) return;
  mapKernel<K, F><<<blocksFor(w.total), kMapThreads, 0, stream>>>(w, f);
  checkLaunch(name);
}

}  // namespace kd::cuda::detail
