// Reductions: a group of G threads owns one output (G = 32, one warp, for short reductions; G =
// 256, the whole block, for long ones; few outputs with long reductions are split into chunks
// whose partial accumulators a second kernel merges). Each thread folds the reduced elements j = lane, lane+G,
// ... in increasing order into an accumulator, then the group merges accumulators with warp
// shuffles (and shared memory across the block's warps). Merging keeps the CPU's order-free
// rules: ties and NaN resolve to the smallest index, so results match the CPU bit for bit
// for max/min/arg* and to double rounding for sums.
#include <algorithm>
#include <cstdint>

#include "common/reduce.h"
#include "runtime.h"
#include "strided.cuh"

namespace kd::cuda {
namespace {

using detail::Walk;

template <class T>
struct Acc {
  double sum, prod;
  T best;
  long long idx;  // -1: nothing seen
  int nan;
};

__device__ __forceinline__ bool isMaxLike(ReduceOp op) { return op == ReduceOp::Max || op == ReduceOp::Argmax; }
__device__ __forceinline__ bool isSumLike(ReduceOp op) { return op == ReduceOp::Sum || op == ReduceOp::Mean; }

template <class T>
__device__ __forceinline__ void fold(Acc<T>& a, ReduceOp op, T v, long long j) {
  if (isSumLike(op)) a.sum += double(v);
  else if (op == ReduceOp::Prod) a.prod *= double(v);
  else {
    if (a.nan) return;
    if (v != v) {
      a.nan = 1;
      a.best = v;
      a.idx = j;
      return;
    }
    if (a.idx < 0 || (isMaxLike(op) ? v > a.best : v < a.best)) {
      a.best = v;
      a.idx = j;
    }
  }
}

template <class T>
__device__ __forceinline__ Acc<T> merge(const Acc<T>& a, const Acc<T>& b, ReduceOp op) {
  Acc<T> r = a;
  if (isSumLike(op)) r.sum = a.sum + b.sum;
  else if (op == ReduceOp::Prod) r.prod = a.prod * b.prod;
  else if (b.idx < 0) r = a;
  else if (a.idx < 0) r = b;
  else if (a.nan || b.nan) r = (a.nan && b.nan) ? (a.idx < b.idx ? a : b) : (a.nan ? a : b);
  else if (a.best == b.best) r = a.idx < b.idx ? a : b;
  else r = (isMaxLike(op) ? b.best > a.best : b.best < a.best) ? b : a;
  return r;
}

template <class T>
__device__ __forceinline__ Acc<T> shuffleDown(const Acc<T>& a, int delta) {
  Acc<T> r;
  r.sum = __shfl_down_sync(0xffffffffu, a.sum, delta);
  r.prod = __shfl_down_sync(0xffffffffu, a.prod, delta);
  r.best = __shfl_down_sync(0xffffffffu, a.best, delta);
  r.idx = __shfl_down_sync(0xffffffffu, a.idx, delta);
  r.nan = __shfl_down_sync(0xffffffffu, a.nan, delta);
  return r;
}

template <class T>
__device__ __forceinline__ Acc<T> warpMerge(Acc<T> a, ReduceOp op) {
#pragma unroll
  for (int delta = 16; delta > 0; delta >>= 1) a = merge(a, shuffleDown(a, delta), op);
  return a;
}

template <class T>
__device__ void store(char* out, ReduceOp op, const Acc<T>& a, long long n, double scale) {
  if (op == ReduceOp::Argmax || op == ReduceOp::Argmin) {
    *reinterpret_cast<int32_t*>(out) = int32_t(a.idx < 0 ? 0 : a.idx);
  } else if (op == ReduceOp::Max || op == ReduceOp::Min) {
    *reinterpret_cast<T*>(out) = n == 0 ? T(0) : a.best;
  } else if (op == ReduceOp::Prod) {
    *reinterpret_cast<T*>(out) = static_cast<T>(a.prod);
  } else if (op == ReduceOp::Mean && n == 0) {
    *reinterpret_cast<T*>(out) = static_cast<T>(nan(""));  // the mean of nothing is 0/0, as in PyTorch
  } else {
    *reinterpret_cast<T*>(out) = static_cast<T>(a.sum * scale);
  }
}

constexpr int kThreads = 256;

// kept: operands (out, in) over the kept dims; red: the input's reduced dims (offsets only).
// Task t = (output t / chunks, chunk t % chunks) folds reduced elements [chunk * chunkLen, + chunkLen).
// With one chunk the group stores its output; with several it writes its accumulator to
// partial[t] and finishKernel merges each output's chunks (few outputs, long reductions: one
// block per output would leave the GPU idle).
template <class T, int G>
__global__ void __launch_bounds__(kThreads) reduceKernel(const Walk<2> kept, const Walk<1> red, ReduceOp op,
                                                         double scale, int64_t chunkLen, int chunks, Acc<T>* partial) {
  constexpr int kPerBlock = kThreads / G;
  __shared__ Acc<T> warpAcc[kThreads / 32];
  const int lane = threadIdx.x % G, slot = threadIdx.x / G;
  const int64_t tasks = kept.total * chunks;
  // The loop bound is uniform across the group (the whole block when G = kThreads), so the
  // barriers below are reached by every thread or by none.
  for (int64_t t0 = int64_t(blockIdx.x) * kPerBlock; t0 < tasks; t0 += int64_t(gridDim.x) * kPerBlock) {
    const int64_t t = t0 + slot;
    const bool live = t < tasks;
    const int64_t o = t / chunks, j0 = (t % chunks) * chunkLen, j1 = min(red.total, j0 + chunkLen);
    char* p[2];
    if (live) kept.at(o, p);
    Acc<T> acc{0.0, 1.0, T(0), -1, 0};
    if (live)
      for (int64_t j = j0 + lane; j < j1; j += G)
        fold(acc, op, *reinterpret_cast<const T*>(p[1] + red.offset(j)), (long long)j);
    acc = warpMerge(acc, op);
    if constexpr (G == kThreads) {
      if (threadIdx.x % 32 == 0) warpAcc[threadIdx.x / 32] = acc;
      __syncthreads();
      if (threadIdx.x < 32) {
        acc = threadIdx.x < kThreads / 32 ? warpAcc[threadIdx.x] : Acc<T>{0.0, 1.0, T(0), -1, 0};
        acc = warpMerge(acc, op);
      }
      __syncthreads();  // warpAcc is rewritten by the next iteration
    }
    if (live && lane == 0) {
      if (partial) partial[t] = acc;
      else store(p[0], op, acc, red.total, scale);
    }
  }
}

// One warp per output merges its chunks' accumulators and stores the result.
template <class T>
__global__ void __launch_bounds__(kThreads) finishKernel(const Walk<2> kept, ReduceOp op, int64_t n, double scale,
                                                         int chunks, const Acc<T>* partial) {
  const int lane = threadIdx.x % 32;
  for (int64_t o = int64_t(blockIdx.x) * (kThreads / 32) + threadIdx.x / 32; o < kept.total;
       o += int64_t(gridDim.x) * (kThreads / 32)) {
    Acc<T> acc{0.0, 1.0, T(0), -1, 0};
    for (int c = lane; c < chunks; c += 32) acc = merge(acc, partial[o * chunks + c], op);
    acc = warpMerge(acc, op);
    if (lane == 0) {
      char* p[2];
      kept.at(o, p);
      store(p[0], op, acc, n, scale);
    }
  }
}

template <class T>
void reduceTyped(const ReduceArgs& a) {
  const bool argOp = a.op == ReduceOp::Argmax || a.op == ReduceOp::Argmin;
  Operand keptOps[2] = {a.out, Operand{const_cast<char*>(a.in), a.keptInStrides}};
  const int keptBytes[2] = {argOp ? 4 : int(sizeof(T)), int(sizeof(T))};
  const Walk<2> kept = detail::makeWalk<2>(a.keptNdim, a.keptShape, keptOps, keptBytes);
  const Operand redOps[1] = {Operand{nullptr, a.reducedInStrides}};
  const int redBytes[1] = {int(sizeof(T))};
  const Walk<1> red = detail::makeWalk<1>(a.reducedNdim, a.reducedShape, redOps, redBytes);
  if (kept.total == 0) return;
  const double scale = (a.op == ReduceOp::Mean && red.total > 0) ? 1.0 / double(red.total) : 1.0;
  cudaStream_t s = static_cast<cudaStream_t>(stream());
  if (red.total <= 1024) {
    reduceKernel<T, 32><<<detail::blocksFor(kept.total, kThreads / 32), kThreads, 0, s>>>(kept, red, a.op, scale,
                                                                                         red.total, 1, nullptr);
  } else if (kept.total >= 256 || red.total <= 65536) {
    reduceKernel<T, kThreads><<<detail::blocksFor(kept.total, 1), kThreads, 0, s>>>(kept, red, a.op, scale, red.total,
                                                                                    1, nullptr);
  } else {
    const int chunks = int(std::min<int64_t>(1024, (red.total + 16383) / 16384));
    const int64_t chunkLen = (red.total + chunks - 1) / chunks;
    size_t reserved = 0;
    auto* partial = static_cast<Acc<T>*>(deviceAlloc(size_t(kept.total) * chunks * sizeof(Acc<T>), &reserved));
    reduceKernel<T, kThreads><<<detail::blocksFor(kept.total * chunks, 1), kThreads, 0, s>>>(kept, red, a.op, scale,
                                                                                             chunkLen, chunks, partial);
    cudaError_t launched = cudaGetLastError();
    if (launched == cudaSuccess)
      finishKernel<T><<<detail::blocksFor(kept.total, kThreads / 32), kThreads, 0, s>>>(kept, a.op, red.total, scale,
                                                                                          chunks, partial);
    deviceFree(partial, reserved);  // stream order: the next user of the block runs after finishKernel
    detail::checkCuda(launched, "cudaLaunchKernel(reduce)");
  }
  detail::checkLaunch("reduce");
}

}  // namespace

void reduce(const ReduceArgs& args) {
  if (args.dtype == kd::DType::Float32) reduceTyped<float>(args);
  else reduceTyped<int32_t>(args);
}

}  // namespace kd::cuda
