// The reduce kernel, and the portable build of its float sums.
#define KD_ISA_NS isa_scalar
#include "cpu/reduce_sums_impl.h"
#undef KD_ISA_NS

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "common/isa.h"
#include "common/parallel.h"

namespace kd {
namespace {

// The float sums of one kernel call: the build dispatchIsa() picks (AVX2 at most).
struct FloatSums {
  double (*contiguous)(const float* x, int64_t n);
  void (*columnBlock)(const float* x, int64_t rows, int64_t rowStride, int64_t width, float* out);
};

FloatSums floatSums() {
  if (dispatchIsa(CpuIsa::Avx2) == CpuIsa::Avx2) return {isa_avx2::sumContiguous, isa_avx2::sumColumnBlock};
  return {isa_scalar::sumContiguous, isa_scalar::sumColumnBlock};
}

struct Coalesced {
  int ndim = 0;
  int64_t shape[kMaxDims];
  int64_t strides[kMaxDims];
  int64_t count = 1;
};

// Drops size-1 dims and merges dims that are contiguous with each other (strides in elements).
Coalesced coalesce(int ndim, const int64_t* shape, const int64_t* strides) {
  Coalesced c;
  for (int d = 0; d < ndim; ++d) {
    c.count *= shape[d];
    if (shape[d] == 1) continue;
    if (c.ndim > 0 && c.strides[c.ndim - 1] == strides[d] * shape[d]) {
      c.shape[c.ndim - 1] *= shape[d];
      c.strides[c.ndim - 1] = strides[d];
      continue;
    }
    c.shape[c.ndim] = shape[d];
    c.strides[c.ndim] = strides[d];
    ++c.ndim;
  }
  return c;
}

int64_t offsetOf(const Coalesced& c, int64_t index) {
  int64_t off = 0;
  for (int d = c.ndim - 1; d >= 0; --d) {
    off += (index % c.shape[d]) * c.strides[d];
    index /= c.shape[d];
  }
  return off;
}

// Column sums of a [rows, width] matrix (rows rowStride floats apart): store(j, scale · Σ_r x[r, j])
// for j < width. The work is split into tiles of kSumBlock rows by kColumnTile columns, a thread's
// share being consecutive tiles in row-block order, so a tall matrix is read by every thread as
// long contiguous runs. Each tile writes its float block sums; the block sums of a column are
// then added in double in row order, as one thread would, so the bits do not depend on the split.
constexpr int64_t kColumnTile = 512;

template <class Store>
void sumColumnsInto(const FloatSums& sums, const float* x, int64_t rows, int64_t rowStride, int64_t width, double scale,
                    const Store& store) {
  const int64_t rowBlocks = (rows + kSumBlock - 1) / kSumBlock;
  const int64_t columnTiles = (width + kColumnTile - 1) / kColumnTile;
  std::vector<float> blockSums(static_cast<size_t>(rowBlocks * width));
  const int64_t tileCols = std::min(width, kColumnTile);
  parallelFor(rowBlocks * columnTiles, bytesCost(4.0 * static_cast<double>(std::min(rows, kSumBlock) * tileCols)),
              [&](int64_t t0, int64_t t1) {
                for (int64_t t = t0; t < t1; ++t) {
                  const int64_t blk = t / columnTiles, c0 = (t % columnTiles) * kColumnTile;
                  const int64_t r0 = blk * kSumBlock, c1 = std::min(width, c0 + kColumnTile);
                  sums.columnBlock(x + r0 * rowStride + c0, std::min(kSumBlock, rows - r0), rowStride, c1 - c0,
                                   blockSums.data() + blk * width + c0);
                }
              });
  parallelFor(width, bytesCost(4.0 * static_cast<double>(rowBlocks)), [&](int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; ++j) {
      double acc = 0.0;
      for (int64_t blk = 0; blk < rowBlocks; ++blk) acc += blockSums[blk * width + j];
      store(j, static_cast<float>(acc * scale));
    }
  });
}

template <class T>
struct Accumulator {
  ReduceOp op;
  double sum = 0.0, prod = 1.0;
  T best{};
  int64_t bestIndex = -1;
  bool nan = false;

  void add(T v, int64_t index) {
    switch (op) {
      case ReduceOp::Sum:
      case ReduceOp::Mean: sum += static_cast<double>(v); break;
      case ReduceOp::Prod: prod *= static_cast<double>(v); break;
      default: {
        if (nan) return;
        if (v != v) {  // NaN wins max/min/argmax/argmin, first occurrence
          nan = true;
          best = v;
          bestIndex = index;
          return;
        }
        bool better = bestIndex < 0 ||
                      ((op == ReduceOp::Max || op == ReduceOp::Argmax) ? v > best : v < best);
        if (better) {
          best = v;
          bestIndex = index;
        }
      }
    }
  }
};

template <class T>
void storeResult(const ReduceArgs& a, char* outPtr, double value, int64_t index, T best) {
  if (a.op == ReduceOp::Argmax || a.op == ReduceOp::Argmin) {
    *reinterpret_cast<int32_t*>(outPtr) = static_cast<int32_t>(index);
  } else if (a.op == ReduceOp::Max || a.op == ReduceOp::Min) {
    *reinterpret_cast<T*>(outPtr) = best;
  } else {
    *reinterpret_cast<T*>(outPtr) = static_cast<T>(value);
  }
}

template <class T>
void reduceTyped(const ReduceArgs& a) {
  Coalesced kept = coalesce(a.keptNdim, a.keptShape, a.keptInStrides);
  // Output offsets must follow the same enumeration as kept input offsets: use the raw shapes.
  Coalesced keptRaw, outRaw;
  keptRaw.ndim = outRaw.ndim = a.keptNdim;
  for (int d = 0; d < a.keptNdim; ++d) {
    keptRaw.shape[d] = outRaw.shape[d] = a.keptShape[d];
    keptRaw.strides[d] = a.keptInStrides[d];
    outRaw.strides[d] = a.out.strides[d];
  }
  Coalesced red = coalesce(a.reducedNdim, a.reducedShape, a.reducedInStrides);
  const int64_t outputs = kept.count, n = red.count;
  const T* in = reinterpret_cast<const T*>(a.in);
  const size_t outBytes = (a.op == ReduceOp::Argmax || a.op == ReduceOp::Argmin) ? 4 : sizeof(T);
  const bool isSum = a.op == ReduceOp::Sum || a.op == ReduceOp::Mean;
  const double scale = (a.op == ReduceOp::Mean && n > 0) ? 1.0 / static_cast<double>(n) : 1.0;

  if (a.op == ReduceOp::Mean && n == 0) {  // the mean of nothing is 0/0, as in PyTorch
    for (int64_t o = 0; o < outputs; ++o)
      storeResult<T>(a, a.out.data + offsetOf(outRaw, o) * static_cast<int64_t>(outBytes),
                     std::numeric_limits<double>::quiet_NaN(), 0, T{});
    return;
  }

  // Column-wise: one reduced dim, one kept dim with unit input stride -> sum rows of a matrix.
  const FloatSums sums = std::is_same_v<T, float> && isSum ? floatSums() : FloatSums{};
  if constexpr (std::is_same_v<T, float>) {
    if (isSum && red.ndim == 1 && kept.ndim == 1 && kept.strides[0] == 1 && outputs >= 8) {
      sumColumnsInto(sums, in, red.shape[0], red.strides[0], outputs, scale, [&](int64_t j, float v) {
        *reinterpret_cast<float*>(a.out.data + offsetOf(outRaw, j) * static_cast<int64_t>(outBytes)) = v;
      });
      return;
    }
  }

  parallelFor(outputs, bytesCost(static_cast<double>(sizeof(T)) * std::max<int64_t>(n, 1)), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      const T* base = in + offsetOf(keptRaw, o);
      char* outPtr = a.out.data + offsetOf(outRaw, o) * static_cast<int64_t>(outBytes);
      if constexpr (std::is_same_v<T, float>) {
        if (isSum && red.ndim == 1 && red.strides[0] == 1) {
          storeResult<T>(a, outPtr, sums.contiguous(base, n) * scale, 0, T{});
          continue;
        }
      }
      Accumulator<T> acc{a.op};
      if (red.ndim <= 1) {
        const int64_t s = red.ndim == 1 ? red.strides[0] : 0;
        for (int64_t i = 0; i < n; ++i) acc.add(base[i * s], i);
      } else {
        for (int64_t i = 0; i < n; ++i) acc.add(base[offsetOf(red, i)], i);
      }
      double value = a.op == ReduceOp::Prod ? acc.prod : acc.sum * scale;
      if ((a.op == ReduceOp::Max || a.op == ReduceOp::Min) && n == 0) value = 0;
      storeResult<T>(a, outPtr, value, acc.bestIndex < 0 ? 0 : acc.bestIndex, acc.best);
    }
  });
}

}  // namespace

void reduceKernel(const ReduceArgs& args) {
  if (args.dtype == DType::Float32) reduceTyped<float>(args);
  else reduceTyped<int32_t>(args);
}

}  // namespace kd
