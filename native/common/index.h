// Indexing along one dim, on both devices: gather (also serving indexSelect with a broadcast
// index) and scatter-add (also serving indexAdd, the embedding backward). Operands are strided
// (element strides, 0 for broadcast); index values are int32 and checked by the kernel against
// the size of the indexed dim: a bad one is skipped (never read or written) and the first one in
// row-major order over the index's shape is reported.
//   CPU  native/cpu/index.cc: threads split the positions off `dim`, so no two threads write one
//        element and each element sums its contributions in index order (results do not depend
//        on the thread count).
//   CUDA cuda/index.cu: one thread per index element, scatter-add with atomic adds (the order of
//        float additions into one element is not fixed). Bad indices are flagged in a device word
//        read back after the kernel, so these calls wait for the stream. Device pointers.
#pragma once
#include <cstdint>

#include "common/dtype.h"
#include "common/operand.h"

namespace kd {

// The first out-of-range index in row-major order over the index's shape, or position -1.
struct BadIndex {
  int64_t position = -1;
  int64_t value = 0;
};

// Row-major scan of an int32 index tensor for the first value outside [0, bound).
BadIndex firstBadIndex(int ndim, const int64_t* shape, Operand index, int64_t bound);

// For every position p of `shape` (the index's shape): out[p] = x[p with p[dim] = index[p]].
// x's strides are its own; x.shape[dim] == dimSize and x.shape[d] >= shape[d] elsewhere.
// Works for any element type (copies bytes). Returns the first bad index, if any.
BadIndex gatherKernel(DType dtype, int ndim, const int64_t* shape, int dim, int64_t dimSize,
                      Operand out, Operand index, Operand x);

// For every position p of `shape`: out[p with p[dim] = index[p]] += src[p]. float32 or int32.
BadIndex scatterAddKernel(DType dtype, int ndim, const int64_t* shape, int dim, int64_t dimSize,
                          Operand out, Operand index, Operand src);

namespace cuda {

// The same calls on device pointers, enqueued on the stream; they return no bad index: a bad one
// is recorded on the device and thrown (std::out_of_range naming `op`, `dim` and the dim size) by
// the next synchronize or copy to the host (cuda/index.cu, checkDeferredFaults in runtime.h).
BadIndex firstBadIndex(const char* op, int dim, int ndim, const int64_t* shape, Operand index, int64_t bound);
BadIndex gather(const char* op, kd::DType dtype, int ndim, const int64_t* shape, int dim, int64_t dimSize,
                Operand out, Operand index, Operand x);
BadIndex scatterAdd(const char* op, kd::DType dtype, int ndim, const int64_t* shape, int dim, int64_t dimSize,
                    Operand out, Operand index, Operand src);

}  // namespace cuda
}  // namespace kd
