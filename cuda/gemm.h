// Batched GEMM on the GPU with a fused epilogue. Plain C++ (no CUDA types) so the addon's binding
// compiles with or without nvcc; pointers are device pointers, the stream a cudaStream_t as void*
// (nullptr = default stream).
//
//   C[z] = act(alpha * op(A[z]) * op(B[z]) + bias + beta * C[z])     z = 0 .. batch-1
//
// op(A) is m x k: A stored row-major m x k (transA = false) or k x m (transA = true), row pitch
// lda elements. op(B) is k x n: B stored k x n (transB = false) or n x k (transB = true), pitch
// ldb. C is m x n row-major with pitch ldc. A[z] = a + z*strideA (strideA = 0 broadcasts one
// matrix to every batch entry), likewise B and C. bias has n entries (per output column).
// With beta == 0, C is not read (it may hold garbage or NaN).
//
// Kernel (cuda/kernels_common.cuh): 128x128 output tile per 256-thread CTA, K in 64-byte slices
// through a 4-stage cp.async ring in shared memory (A tile 128 x BK and B tile BK x 128 per
// stage, each in the orientation its layout copies in without transposition), mma.sync tensor
// cores (TF32 m16n8k8 / BF16, FP16 m16n8k16), fp32 accumulators in registers, epilogue fused.
// Any m, n, k >= 1; 16-byte-aligned pointers and pitches take the vectorised copy path.
#pragma once

#include <cstdint>

namespace kd::cuda {

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

// Enqueues the product on `stream`. Throws std::invalid_argument for bad arguments (message
// names the argument) and std::runtime_error naming the failed CUDA call.
void gemm(const GemmArgs& args, void* stream);

}  // namespace kd::cuda
