// Gather and scatter-add: one thread per index element over a strided walk of (out, index, x)
// or (out, index, src), where the indexed operand is walked with stride 0 along `dim` and offset
// by index * its dim stride. Element i of the walk is row-major position i of the index's shape,
// which is what the fault word records.
#include <cuda_runtime.h>

#include <cstdint>

#include "check.cuh"
#include "common/index.h"
#include "runtime.h"
#include "strided.cuh"

namespace kd::cuda {
namespace {

using detail::checkCuda;
using detail::launchMap;
using detail::makeWalk;

constexpr unsigned long long kNoFault = ~0ull;

// One 8-byte word per device, outside the caching allocator so memory statistics stay those of
// tensors. Lives as long as the process.
unsigned long long* faultWord() {
  static unsigned long long* word = nullptr;
  static int device = -1;
  if (!word || device != currentDevice()) {
    stream();  // selects the device
    checkCuda(cudaMalloc(reinterpret_cast<void**>(&word), sizeof(unsigned long long)), "cudaMalloc");
    device = currentDevice();
  }
  return word;
}

unsigned long long* armFault() {
  unsigned long long* word = faultWord();
  fillBytes(word, 0xff, sizeof *word);
  return word;
}

// Reads the fault word back (waits for the stream) and, if set, the offending value.
BadIndex readFault(const unsigned long long* word, int ndim, const int64_t* shape, Operand index) {
  unsigned long long pos = kNoFault;
  copyToHost(&pos, word, sizeof pos);
  BadIndex bad;
  if (pos == kNoFault) return bad;
  bad.position = int64_t(pos);
  int64_t rest = bad.position, offset = 0;
  for (int d = ndim - 1; d >= 0; --d) {
    offset += (rest % shape[d]) * index.strides[d];
    rest /= shape[d];
  }
  int32_t value = 0;
  copyToHost(&value, index.data + offset * int64_t(sizeof(int32_t)), sizeof value);
  bad.value = value;
  return bad;
}

__device__ __forceinline__ bool outOfRange(int32_t v, int64_t bound) { return v < 0 || int64_t(v) >= bound; }

struct CheckFn {
  int64_t bound;
  unsigned long long* fault;
  __device__ void operator()(char* (&p)[1], int64_t i) const {
    if (outOfRange(*reinterpret_cast<const int32_t*>(p[0]), bound)) atomicMin(fault, (unsigned long long)i);
  }
};

// Gather copies x[.. index ..] into out; scatter-add adds src into out[.. index ..]. Operands:
// p[0] out, p[1] index, p[2] x (gather) or src (scatter-add); `dimBytes` is the stride along
// dim of the indexed one (x, or out).
template <class T, bool SCATTER>
struct IndexedFn {
  int64_t dimSize, dimBytes;
  unsigned long long* fault;
  __device__ void operator()(char* (&p)[3], int64_t i) const {
    const int32_t v = *reinterpret_cast<const int32_t*>(p[1]);
    if (outOfRange(v, dimSize)) {
      atomicMin(fault, (unsigned long long)i);
      return;
    }
    if constexpr (SCATTER) atomicAdd(reinterpret_cast<T*>(p[0] + v * dimBytes), *reinterpret_cast<const T*>(p[2]));
    else *reinterpret_cast<T*>(p[0]) = *reinterpret_cast<const T*>(p[2] + v * dimBytes);
  }
};

bool empty(int ndim, const int64_t* shape) {
  for (int d = 0; d < ndim; ++d)
    if (shape[d] == 0) return true;
  return false;
}

// `ops[which]`'s strides with the one along dim set to 0 (the walk adds index * that stride).
struct DimlessStrides {
  int64_t v[kMaxDims];
  DimlessStrides(int ndim, const int64_t* strides, int dim) {
    for (int d = 0; d < ndim; ++d) v[d] = d == dim ? 0 : strides[d];
  }
};

}  // namespace

BadIndex firstBadIndex(int ndim, const int64_t* shape, Operand index, int64_t bound) {
  if (empty(ndim, shape)) return {};
  unsigned long long* fault = armFault();
  const Operand ops[1] = {index};
  const int bytes[1] = {4};
  launchMap(makeWalk<1>(ndim, shape, ops, bytes), CheckFn{bound, fault}, static_cast<cudaStream_t>(stream()),
            "firstBadIndex");
  return readFault(fault, ndim, shape, index);
}

BadIndex gather(kd::DType dtype, int ndim, const int64_t* shape, int dim, int64_t dimSize, Operand out,
                Operand index, Operand x) {
  if (empty(ndim, shape)) return {};
  unsigned long long* fault = armFault();
  const DimlessStrides xWalk(ndim, x.strides, dim);
  const Operand ops[3] = {out, index, Operand{x.data, xWalk.v}};
  const int es = int(dtypeBytes(dtype));
  const int bytes[3] = {es, 4, es};
  const auto walk = makeWalk<3>(ndim, shape, ops, bytes);
  cudaStream_t s = static_cast<cudaStream_t>(stream());
  if (es == 4) launchMap(walk, IndexedFn<uint32_t, false>{dimSize, x.strides[dim] * 4, fault}, s, "gather");
  else launchMap(walk, IndexedFn<uint8_t, false>{dimSize, x.strides[dim], fault}, s, "gather");
  return readFault(fault, ndim, shape, index);
}

BadIndex scatterAdd(kd::DType dtype, int ndim, const int64_t* shape, int dim, int64_t dimSize, Operand out,
                    Operand index, Operand src) {
  if (empty(ndim, shape)) return {};
  unsigned long long* fault = armFault();
  const DimlessStrides outWalk(ndim, out.strides, dim);
  const Operand ops[3] = {Operand{out.data, outWalk.v}, index, src};
  const int bytes[3] = {4, 4, 4};
  const auto walk = makeWalk<3>(ndim, shape, ops, bytes);
  cudaStream_t s = static_cast<cudaStream_t>(stream());
  if (dtype == kd::DType::Float32) launchMap(walk, IndexedFn<float, true>{dimSize, out.strides[dim] * 4, fault}, s, "scatterAdd");
  else launchMap(walk, IndexedFn<int, true>{dimSize, out.strides[dim] * 4, fault}, s, "scatterAdd");
  return readFault(fault, ndim, shape, index);
}

}  // namespace kd::cuda
