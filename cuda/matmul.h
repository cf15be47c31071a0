// The Backend's strided GEMM call (lib/backend/backend.ts GemmCall) on the GPU, float32:
//   C[z] = alpha * A[z] @ B[z] + beta * C[z],  A [batch, m, k], B [batch, k, n], C [batch, m, n]
// with arbitrary element strides. Each operand is mapped onto cuda::gemm's (pointer, pitch,
// transposed) form when one of its strides is 1; C with unit row stride is computed transposed
// (C^T = B^T A^T); any other layout goes through a dense temporary made by the strided copy
// kernel. Device pointers; the current stream. Plain C++.
#pragma once
#include <cstdint>

namespace kd::cuda {

struct StridedMatrix {
  float* data;  // first element
  int64_t rowStride, colStride, batchStride;
};

// tf32: TF32 tensor cores (about 1e-3 relative error) or exact FP32 FMA.
void matmul(int64_t m, int64_t n, int64_t k, int64_t batch, StridedMatrix a, StridedMatrix b, StridedMatrix c,
            float alpha, float beta, bool tf32);

}  // namespace kd::cuda
