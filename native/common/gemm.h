// Single-precision GEMM on both devices, C[b] = alpha * A[b] · B[b] + beta * C[b] over strided
// batches: sgemm on the CPU, matmul on CUDA. CUDA also offers the dense tensor-core GEMM with a
// fused epilogue that matmul and the bench use (cuda::gemm).
//   CPU  native/cpu/gemm.cc: BLIS-style blocking and packing, a register-blocked micro-kernel per
//        ISA (gemm_scalar.cc, gemm_avx2.cc, gemm_avx512.cc) chosen by dispatchIsa(), threads from
//        the kd::parallel pool. Other kernels (conv2d, attention) call sgemm directly.
//   CUDA cuda/gemm.cu (the tiled tensor-core kernel) and cuda/matmul.cu (strided operands mapped
//        onto it); device pointers.
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

namespace cuda {

// ---- the strided call (cuda/matmul.cu), float32 -----------------------------------------------
//   C[z] = alpha * A[z] @ B[z] + beta * C[z],  A [batch, m, k], B [batch, k, n], C [batch, m, n]
// with arbitrary element strides, on the current stream.
struct StridedMatrix {
  float* data;  // first element
  int64_t rowStride, colStride, batchStride;
};

// tf32: TF32 tensor cores (about 1e-3 relative error) or exact FP32 FMA.
void matmul(int64_t m, int64_t n, int64_t k, int64_t batch, StridedMatrix a, StridedMatrix b, StridedMatrix c,
            float alpha, float beta, bool tf32);

// ---- the dense tensor-core GEMM with a fused epilogue (cuda/gemm.cu) ---------------------------
//   C[z] = act(alpha * op(A[z]) * op(B[z]) + bias + beta * C[z])     z = 0 .. batch-1
// op(A) is m x k: A stored row-major m x k (transA = false) or k x m (transA = true), row pitch
// lda elements. op(B) is k x n: B stored k x n (transB = false) or n x k (transB = true), pitch
// ldb. C is m x n row-major with pitch ldc. A[z] = a + z*strideA (strideA = 0 broadcasts one
// matrix to every batch entry), likewise B and C. bias has n entries (per output column).
// With beta == 0, C is not read (it may hold garbage or NaN). Any m, n, k >= 1; 16-byte-aligned
// pointers and pitches take the vectorised copy path.
enum class DType : int { F32 = 0, BF16 = 1, F16 = 2 };
enum class Activation : int { None = 0, Relu = 1, Gelu = 2 };  // Gelu: exact erf form (PyTorch default)
// For float32 inputs: TF32 tensor cores (PyTorch allow_tf32 behaviour, ~1e-3 relative error) or
// exact FP32 FMA on the CUDA cores (slower). Ignored for bf16/fp16 inputs.
enum class MathMode : int { TF32 = 0, ExactF32 = 1 };

struct GemmArgs {
  int m = 0, n = 0, k = 0, batch = 1;
  DType inType = DType::F32;   // dtype of A and B
  DType outType = DType::F32;  // dtype of C and bias; must be F32 when inType is F32
  MathMode math = MathMode::TF32;
  const void* a = nullptr;
  int64_t lda = 0, strideA = 0;
  bool transA = false;
  const void* b = nullptr;
  int64_t ldb = 0, strideB = 0;
  bool transB = false;
  void* c = nullptr;
  int64_t ldc = 0, strideC = 0;
  float alpha = 1.f, beta = 0.f;
  const void* bias = nullptr;  // nullptr: no bias
  Activation act = Activation::None;
};

// Enqueues the product on `stream` (a cudaStream_t as void*; nullptr = the default stream).
// Throws std::invalid_argument for bad arguments (message names the argument) and
// std::runtime_error naming the failed CUDA call.
void gemm(const GemmArgs& args, void* stream);

}  // namespace cuda
}  // namespace kd
