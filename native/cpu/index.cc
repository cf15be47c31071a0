#include "common/index.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "common/parallel.h"
#include "common/strided.h"

namespace kd {
namespace {

inline bool outOfRange(int32_t v, int64_t bound) {
  return v < 0 || static_cast<int64_t>(v) >= bound;
}

inline int32_t readIndex(const char* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// int32 sums wrap like PyTorch's instead of being undefined behaviour.
inline void addTo(float& dst, float v) { dst += v; }
inline void addTo(int32_t& dst, int32_t v) {
  dst = static_cast<int32_t>(static_cast<uint32_t>(dst) + static_cast<uint32_t>(v));
}

// The index walk is elementwise over the index's shape: x is walked with stride 0 along `dim`
// and offset by index * x.stride(dim). Rows whose index is constant (indexSelect's broadcast
// index) copy a whole row at once.
template <class T>
bool gatherTyped(int ndim, const int64_t* shape, int dim, int64_t dimSize, Operand out, Operand index, Operand x) {
  int64_t xWalk[kMaxDims];
  for (int d = 0; d < ndim; ++d) xWalk[d] = d == dim ? 0 : x.strides[d];
  const int64_t* strides[3] = {out.strides, index.strides, xWalk};
  const int bytes[3] = {sizeof(T), sizeof(int32_t), sizeof(T)};
  StridedLoop<3> loop(ndim, shape, strides, bytes);
  const int64_t xDimBytes = x.strides[dim] * static_cast<int64_t>(sizeof(T));
  char* const base[3] = {out.data, index.data, x.data};
  std::atomic<bool> bad{false};
  forEachRow(loop, base, [&](char** p, const int64_t* s, int64_t len) {
    char* o = p[0];
    const char* ip = p[1];
    const char* xb = p[2];
    if (s[1] == 0) {
      int32_t v = readIndex(ip);
      if (outOfRange(v, dimSize)) {
        bad.store(true, std::memory_order_relaxed);
        return;
      }
      const char* src = xb + v * xDimBytes;
      if (s[0] == sizeof(T) && s[2] == sizeof(T)) {
        std::memcpy(o, src, static_cast<size_t>(len) * sizeof(T));
      } else {
        for (int64_t i = 0; i < len; ++i)
          *reinterpret_cast<T*>(o + i * s[0]) = *reinterpret_cast<const T*>(src + i * s[2]);
      }
      return;
    }
    for (int64_t i = 0; i < len; ++i) {
      int32_t v = readIndex(ip + i * s[1]);
      if (outOfRange(v, dimSize)) {
        bad.store(true, std::memory_order_relaxed);
        continue;
      }
      *reinterpret_cast<T*>(o + i * s[0]) = *reinterpret_cast<const T*>(xb + i * s[2] + v * xDimBytes);
    }
  });
  return !bad.load();
}

// Positions off `dim` (the "P" space) are coalesced into rows x K; threads take disjoint ranges
// of P, and each P position sums its L = shape[dim] contributions in index order. The inner loop
// runs over k or over j, whichever is closer to contiguous in out.
template <class T>
bool scatterAddTyped(int ndim, const int64_t* shape, int dim, int64_t dimSize, Operand out, Operand index, Operand src) {
  int64_t pShape[kMaxDims], pStrides[3][kMaxDims];
  int m = 0;
  for (int d = 0; d < ndim; ++d) {
    if (d == dim) continue;
    pShape[m] = shape[d];
    pStrides[0][m] = out.strides[d];
    pStrides[1][m] = index.strides[d];
    pStrides[2][m] = src.strides[d];
    ++m;
  }
  const int64_t* strides[3] = {pStrides[0], pStrides[1], pStrides[2]};
  const int bytes[3] = {sizeof(T), sizeof(int32_t), sizeof(T)};
  StridedLoop<3> loop(m, pShape, strides, bytes);
  for (int d = 0; d < m; ++d)
    if (pShape[d] == 0) return true;
  const int64_t L = shape[dim];
  if (L == 0) return true;
  const int64_t outDim = out.strides[dim] * static_cast<int64_t>(sizeof(T));
  const int64_t idxJ = index.strides[dim] * static_cast<int64_t>(sizeof(int32_t));
  const int64_t srcJ = src.strides[dim] * static_cast<int64_t>(sizeof(T));
  const int64_t K = loop.innerLength(), R = loop.rowCount();
  const int64_t ks0 = loop.strides[0][loop.ndim - 1], ks1 = loop.strides[1][loop.ndim - 1],
                ks2 = loop.strides[2][loop.ndim - 1];
  const bool kInner = std::llabs(ks0) <= std::llabs(outDim);
  const bool denseRows = kInner && ks1 == 0 && ks0 == sizeof(T) && ks2 == sizeof(T);
  std::atomic<bool> bad{false};

  parallelFor(R * K, bytesCost(12.0 * L), [&](int64_t b, int64_t e) {
    int64_t off[3];
    for (int64_t pos = b; pos < e;) {
      const int64_t r = pos / K, k0 = pos % K, n = std::min(K - k0, e - pos);
      loop.rowOffsets(r, off);
      char* o = out.data + off[0] + k0 * ks0;
      const char* ip = index.data + off[1] + k0 * ks1;
      const char* sp = src.data + off[2] + k0 * ks2;
      if (kInner) {
        for (int64_t j = 0; j < L; ++j) {
          const char* ij = ip + j * idxJ;
          const char* sj = sp + j * srcJ;
          if (ks1 == 0) {
            int32_t v = readIndex(ij);
            if (outOfRange(v, dimSize)) {
              bad.store(true, std::memory_order_relaxed);
              continue;
            }
            char* dst = o + v * outDim;
            if (denseRows) {
              T* d = reinterpret_cast<T*>(dst);
              const T* s = reinterpret_cast<const T*>(sj);
              for (int64_t k = 0; k < n; ++k) addTo(d[k], s[k]);
            } else {
              for (int64_t k = 0; k < n; ++k)
                addTo(*reinterpret_cast<T*>(dst + k * ks0), *reinterpret_cast<const T*>(sj + k * ks2));
            }
          } else {
            for (int64_t k = 0; k < n; ++k) {
              int32_t v = readIndex(ij + k * ks1);
              if (outOfRange(v, dimSize)) {
                bad.store(true, std::memory_order_relaxed);
                continue;
              }
              addTo(*reinterpret_cast<T*>(o + k * ks0 + v * outDim), *reinterpret_cast<const T*>(sj + k * ks2));
            }
          }
        }
      } else {
        for (int64_t k = 0; k < n; ++k) {
          char* ok = o + k * ks0;
          const char* ik = ip + k * ks1;
          const char* sk = sp + k * ks2;
          for (int64_t j = 0; j < L; ++j) {
            int32_t v = readIndex(ik + j * idxJ);
            if (outOfRange(v, dimSize)) {
              bad.store(true, std::memory_order_relaxed);
              continue;
            }
            addTo(*reinterpret_cast<T*>(ok + v * outDim), *reinterpret_cast<const T*>(sk + j * srcJ));
          }
        }
      }
      pos += n;
    }
  });
  return !bad.load();
}

}  // namespace

BadIndex firstBadIndex(int ndim, const int64_t* shape, Operand index, int64_t bound) {
  BadIndex result;
  int64_t total = 1;
  for (int d = 0; d < ndim; ++d) total *= shape[d];
  int64_t pos[kMaxDims] = {0};
  int64_t offset = 0;  // elements
  for (int64_t flat = 0; flat < total; ++flat) {
    int32_t v = readIndex(index.data + offset * static_cast<int64_t>(sizeof(int32_t)));
    if (outOfRange(v, bound)) {
      result.position = flat;
      result.value = v;
      return result;
    }
    for (int d = ndim - 1; d >= 0; --d) {
      offset += index.strides[d];
      if (++pos[d] < shape[d]) break;
      offset -= pos[d] * index.strides[d];
      pos[d] = 0;
    }
  }
  return result;
}

BadIndex gatherKernel(DType dtype, int ndim, const int64_t* shape, int dim, int64_t dimSize,
                      Operand out, Operand index, Operand x) {
  for (int d = 0; d < ndim; ++d)
    if (shape[d] == 0) return {};
  bool ok = dtypeBytes(dtype) == 4 ? gatherTyped<uint32_t>(ndim, shape, dim, dimSize, out, index, x)
                                   : gatherTyped<uint8_t>(ndim, shape, dim, dimSize, out, index, x);
  return ok ? BadIndex{} : firstBadIndex(ndim, shape, index, dimSize);
}

BadIndex scatterAddKernel(DType dtype, int ndim, const int64_t* shape, int dim, int64_t dimSize,
                          Operand out, Operand index, Operand src) {
  bool ok = dtype == DType::Float32 ? scatterAddTyped<float>(ndim, shape, dim, dimSize, out, index, src)
                                    : scatterAddTyped<int32_t>(ndim, shape, dim, dimSize, out, index, src);
  return ok ? BadIndex{} : firstBadIndex(ndim, shape, index, dimSize);
}

}  // namespace kd
