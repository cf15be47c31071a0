// Single-precision GEMM for the CPU: C[b] = alpha * A[b] · B[b] + beta * C[b].
// BLIS-style: panels of A and B are packed into per-thread buffers, blocked for the caches, and
// consumed by a register-blocked micro-kernel chosen by kd::dispatchIsa() (avx512 | avx2 | scalar).
// Plain C++ over pointers and element strides; other kernels (conv2d, attention) call sgemm directly.
#pragma once
#include <cstdint>

namespace kd {

// A is m×k, B is k×n, C is m×n; element (i, j) of batch b of X is at
// x + b*xBatchStride + i*xRowStride + j*xColStride. Any stride may be negative, a transposed
// operand has row stride 1, and a batch stride of 0 broadcasts the operand over the batch.
// beta == 0 means C is not read (it may hold NaN); alpha == 0 or k == 0 gives C = beta*C.
struct GemmArgs {
  int64_t m, n, k, batch;
  const float* a; int64_t aRowStride, aColStride, aBatchStride;
  const float* b; int64_t bRowStride, bColStride, bBatchStride;
  float* c;       int64_t cRowStride, cColStride, cBatchStride;
  float alpha, beta;
};

// The fast path: dispatches on kd::dispatchIsa() and runs on the kd::parallel pool.
void sgemm(const GemmArgs& args);

// The reference: plain loops with double accumulation, single-threaded. For tests.
void sgemmRef(const GemmArgs& args);

namespace gemm_detail {

// A micro-kernel computes one MR×NR tile of C from packed panels:
//   pa: kc × MR, k-major (pa[p*MR + i] = A(i, p)), 64-byte aligned
//   pb: kc × NR, k-major (pb[p*NR + j] = B(p, j)), 64-byte aligned
//   c:  row-major tile, element (i, j) at c[i*ldc + j], unaligned
// and writes C = alpha * pa·pb + beta * C; beta == 0 means C is not read.
using MicroKernelFn = void (*)(int64_t kc, const float* pa, const float* pb, float* c, int64_t ldc,
                               float alpha, float beta);

// One ISA's register tile and the cache blocking tuned for it (mc % mr == 0, nc % nr == 0).
struct MicroKernel {
  MicroKernelFn fn;
  int mr, nr;
  int64_t mc, kc, nc;
  const char* name;
};

const MicroKernel& microKernelScalar();  // gemm_scalar.cc, 4×8, any x86-64
const MicroKernel& microKernelAvx2();    // gemm_avx2.cc, 6×16 of ymm, needs AVX2+FMA
const MicroKernel& microKernelAvx512();  // gemm_avx512.cc, 14×32 of zmm, needs AVX-512F

}  // namespace gemm_detail
}  // namespace kd
