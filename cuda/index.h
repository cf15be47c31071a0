// Indexing along one dim on the GPU with int32 indices (the CPU's semantics, native/cpu/index.h):
// an out-of-range index is skipped (never read or written) and the first one in row-major order
// over the index's shape is reported. Kernels flag bad indices with an atomicMin on a device word
// holding the smallest bad position; the word is read back after the kernel, so these calls wait
// for the stream. Device pointers; the current stream.
#pragma once
#include <cstdint>

#include "common/dtype.h"
#include "common/operand.h"

namespace kd::cuda {

struct BadIndex {
  int64_t position = -1;  // -1: every index was in range
  int64_t value = 0;
};

// The first value of an int32 index tensor outside [0, bound).
BadIndex firstBadIndex(int ndim, const int64_t* shape, Operand index, int64_t bound);

// For every position p of `shape` (the index's shape): out[p] = x[p with p[dim] = index[p]].
// x's strides are its own; x's size along dim is dimSize. Any dtype (copies bytes).
BadIndex gather(kd::DType dtype, int ndim, const int64_t* shape, int dim, int64_t dimSize, Operand out,
                Operand index, Operand x);

// For every position p of `shape`: out[p with p[dim] = index[p]] += src[p] (atomic adds: the
// order of float additions into one element is not fixed). float32 or int32.
BadIndex scatterAdd(kd::DType dtype, int ndim, const int64_t* shape, int dim, int64_t dimSize, Operand out,
                    Operand index, Operand src);

}  // namespace kd::cuda
