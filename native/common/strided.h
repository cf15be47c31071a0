// Walking N-d strided operands. Strides are in elements; a broadcast dim has stride 0.
// forEachRow coalesces dims that are contiguous with respect to every operand, then calls
// row(ptrs, innerStridesBytes, innerLength) once per innermost row, rows split across threads.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>

#include "common/dtype.h"
#include "common/parallel.h"

namespace kd {

template <int K>
struct StridedLoop {
  int ndim = 0;
  int64_t shape[kMaxDims];
  int64_t strides[K][kMaxDims];  // bytes

  // Builds the loop from element strides and element sizes, dropping size-1 dims and merging
  // dims that are contiguous for all K operands.
  StridedLoop(int nd, const int64_t* shp, const int64_t* const elemStrides[K], const int elemBytes[K]) {
    for (int d = 0; d < nd; ++d) {
      if (shp[d] == 1) continue;
      if (ndim > 0) {
        bool merge = true;
        for (int k = 0; k < K; ++k)
          if (strides[k][ndim - 1] != elemStrides[k][d] * elemBytes[k] * shp[d]) merge = false;
        if (merge) {
          shape[ndim - 1] *= shp[d];
          for (int k = 0; k < K; ++k) strides[k][ndim - 1] = elemStrides[k][d] * elemBytes[k];
          continue;
        }
      }
      shape[ndim] = shp[d];
      for (int k = 0; k < K; ++k) strides[k][ndim] = elemStrides[k][d] * elemBytes[k];
      ++ndim;
    }
    if (ndim == 0) {  // a single element
      shape[0] = 1;
      for (int k = 0; k < K; ++k) strides[k][0] = 0;
      ndim = 1;
    }
  }

  int64_t innerLength() const { return shape[ndim - 1]; }
  int64_t rowCount() const {
    int64_t n = 1;
    for (int d = 0; d < ndim - 1; ++d) n *= shape[d];
    return n;
  }

  // Byte offsets of row `r` for each operand.
  void rowOffsets(int64_t r, int64_t out[K]) const {
    for (int k = 0; k < K; ++k) out[k] = 0;
    for (int d = ndim - 2; d >= 0; --d) {
      int64_t i = r % shape[d];
      r /= shape[d];
      for (int k = 0; k < K; ++k) out[k] += i * strides[k][d];
    }
  }
};

// row(char* ptrs[K], const int64_t strideBytes[K], int64_t length)
template <int K, class Row>
void forEachRow(const StridedLoop<K>& loop, char* const base[K], Row row) {
  const int64_t inner = loop.innerLength(), rows = loop.rowCount();
  int64_t innerStrides[K];
  for (int k = 0; k < K; ++k) innerStrides[k] = loop.strides[k][loop.ndim - 1];
  const Cost elemCost = bytesCost(4.0 * K);  // about a float read or written per operand
  if (rows == 1) {
    // One long row: split it in blocks, so that where a vector loop hands over to its scalar tail
    // (which may round differently) does not depend on the thread count.
    constexpr int64_t kBlockElems = 64;
    const int64_t blocks = (inner + kBlockElems - 1) / kBlockElems;
    parallelFor(blocks, elemCost * static_cast<double>(kBlockElems), [&](int64_t b, int64_t e) {
      const int64_t begin = b * kBlockElems, end = std::min(inner, e * kBlockElems);
      char* p[K];
      for (int k = 0; k < K; ++k) p[k] = base[k] + begin * innerStrides[k];
      row(p, innerStrides, end - begin);
    });
    return;
  }
  parallelFor(rows, elemCost * static_cast<double>(inner), [&](int64_t b, int64_t e) {
    int64_t off[K];
    char* p[K];
    for (int64_t r = b; r < e; ++r) {
      loop.rowOffsets(r, off);
      for (int k = 0; k < K; ++k) p[k] = base[k] + off[k];
      row(p, innerStrides, inner);
    }
  });
}

}  // namespace kd
