// Gather and scatter-add: one thread per index element over a strided walk of (out, index, x)
// or (out, index, src), where the indexed operand is walked with stride 0 along `dim` and offset
// by index * its dim stride. Element i of the walk is row-major position i of the index's shape,
// which is what the fault word records.
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.cuh"
#include "common/index.h"
#include "runtime.h"
#include "strided.cuh"

namespace kd::cuda {
namespace {

using detail::checkCuda;
using detail::launchMap;
using detail::makeWalk;

// Bad indices are reported lazily, so that an embedding or cross-entropy step does not stall the
// host on a read-back per call. Each call takes the next of kFaultSlots device words (armed to
// kNoFault); its threads atomicMin (position << 32 | value) into it, so the word ends holding the
// first bad position of that call and the value found there. The words are read back at the next
// point that waits for the stream anyway (synchronize, a copy to the host: checkDeferredFaults,
// called by runtime.cu), or when every slot is taken; the first call with a fault throws there,
// naming its op, dim and dim size, as the CPU's error does at once.
constexpr unsigned long long kNoFault = ~0ull;
constexpr int kFaultSlots = 256;

struct PendingCall {
  const char* op;  // a string literal of the binding
  int dim;
  int64_t dimSize;
};

struct FaultSlots {
  unsigned long long* words = nullptr;  // device, kFaultSlots words outside the caching allocator
  int device = -1;
  std::vector<PendingCall> pending;  // pending[i] owns words[i]
};
FaultSlots gFaults;

// The device words, allocated and armed once per device. Lives as long as the process.
unsigned long long* faultWords() {
  if (!gFaults.words || gFaults.device != currentDevice()) {
    stream();  // selects the device
    checkCuda(cudaMalloc(reinterpret_cast<void**>(&gFaults.words), kFaultSlots * sizeof(unsigned long long)),
              "cudaMalloc");
    fillBytes(gFaults.words, 0xff, kFaultSlots * sizeof(unsigned long long));
    gFaults.device = currentDevice();
    gFaults.pending.clear();
  }
  return gFaults.words;
}

// The armed word for one call of `op`; reads the pending words back first when all are taken.
unsigned long long* armFault(const char* op, int dim, int64_t dimSize) {
  unsigned long long* words = faultWords();
  if (gFaults.pending.size() == size_t(kFaultSlots)) checkDeferredFaults();
  gFaults.pending.push_back(PendingCall{op, dim, dimSize});
  return words + (gFaults.pending.size() - 1);
}

__device__ __forceinline__ unsigned long long packFault(int64_t position, int32_t value) {
  const unsigned long long pos = position < 0xFFFFFFFEll ? (unsigned long long)position : 0xFFFFFFFEull;
  return (pos << 32) | (unsigned long long)(uint32_t)value;
}

__device__ __forceinline__ bool outOfRange(int32_t v, int64_t bound) { return v < 0 || int64_t(v) >= bound; }

struct CheckFn {
  int64_t bound;
  unsigned long long* fault;
  __device__ void operator()(char* (&p)[1], int64_t i) const {
    const int32_t v = *reinterpret_cast<const int32_t*>(p[0]);
    if (outOfRange(v, bound)) atomicMin(fault, packFault(i, v));
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
      atomicMin(fault, packFault(i, v));
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

void checkDeferredFaults() {
  if (gFaults.pending.empty()) return;
  const size_t n = gFaults.pending.size();
  unsigned long long words[kFaultSlots];
  cudaStream_t s = static_cast<cudaStream_t>(stream());
  checkCuda(cudaMemcpyAsync(words, gFaults.words, n * sizeof words[0], cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync");
  checkCuda(cudaMemsetAsync(gFaults.words, 0xff, n * sizeof words[0], s), "cudaMemsetAsync");
  checkCuda(cudaStreamSynchronize(s), "cudaStreamSynchronize");
  std::vector<PendingCall> calls;
  calls.swap(gFaults.pending);
  for (size_t i = 0; i < n; ++i) {
    if (words[i] == kNoFault) continue;
    const PendingCall& c = calls[i];
    throw std::out_of_range(std::string(c.op) + ": index " + std::to_string(int32_t(uint32_t(words[i]))) +
                            " is out of bounds for dim " + std::to_string(c.dim) + " with size " +
                            std::to_string(c.dimSize) +
                            " (CUDA checks indices at the next synchronisation: raised by a later read)");
  }
}

BadIndex firstBadIndex(const char* op, int dim, int ndim, const int64_t* shape, Operand index, int64_t bound) {
  if (empty(ndim, shape)) return {};
  unsigned long long* fault = armFault(op, dim, bound);
  const Operand ops[1] = {index};
  const int bytes[1] = {4};
  launchMap(makeWalk<1>(ndim, shape, ops, bytes), CheckFn{bound, fault}, static_cast<cudaStream_t>(stream()),
            op);
  return {};
}

BadIndex gather(const char* op, kd::DType dtype, int ndim, const int64_t* shape, int dim, int64_t dimSize,
                Operand out, Operand index, Operand x) {
  if (empty(ndim, shape)) return {};
  unsigned long long* fault = armFault(op, dim, dimSize);
  const DimlessStrides xWalk(ndim, x.strides, dim);
  const Operand ops[3] = {out, index, Operand{x.data, xWalk.v}};
  const int es = int(dtypeBytes(dtype));
  const int bytes[3] = {es, 4, es};
  const auto walk = makeWalk<3>(ndim, shape, ops, bytes);
  cudaStream_t s = static_cast<cudaStream_t>(stream());
  if (es == 4) launchMap(walk, IndexedFn<uint32_t, false>{dimSize, x.strides[dim] * 4, fault}, s, op);
  else launchMap(walk, IndexedFn<uint8_t, false>{dimSize, x.strides[dim], fault}, s, op);
  return {};
}

BadIndex scatterAdd(const char* op, kd::DType dtype, int ndim, const int64_t* shape, int dim, int64_t dimSize,
                    Operand out, Operand index, Operand src) {
  if (empty(ndim, shape)) return {};
  unsigned long long* fault = armFault(op, dim, dimSize);
  const DimlessStrides outWalk(ndim, out.strides, dim);
  const Operand ops[3] = {Operand{out.data, outWalk.v}, index, src};
  const int bytes[3] = {4, 4, 4};
  const auto walk = makeWalk<3>(ndim, shape, ops, bytes);
  cudaStream_t s = static_cast<cudaStream_t>(stream());
  if (dtype == kd::DType::Float32) launchMap(walk, IndexedFn<float, true>{dimSize, out.strides[dim] * 4, fault}, s, op);
  else launchMap(walk, IndexedFn<int, true>{dimSize, out.strides[dim] * 4, fault}, s, op);
  return {};
}

}  // namespace kd::cuda
