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
#include <vector>

namespace kd {

// A is m×k, B is k×n, C is m×n; element (i, j) of batch b of X is at
// x + b*xBatchStride + i*xRowStride + j*xColStride. Any stride may be negative, a transposed
// operand has row stride 1, and a batch stride of 0 broadcasts the operand over the batch.
// beta == 0 means C is not read (it may hold NaN); alpha == 0 or k == 0 gives C = beta*C.
// bias (optional, n contiguous floats shared by every batch item) is added to every row of C,
// C = (alpha * A·B + beta * C) + bias: the sum is rounded before the bias is added, as a GEMM
// followed by a separate broadcast add would (Linear's forward in one pass over C).
// cIn (optional): the addend beta scales, read instead of C: C = (alpha·A·B + beta·Cin) + bias,
// Cin laid out as C (C's strides; C itself or not overlapping it). A residual block's
// x + Linear(y) is then one GEMM with Cin = x, beta = 1, instead of a product and a pass adding x.
// aRowSums (optional, batch 1 only, m floats) receives the row sums of A, sum_p A(i, p): a
// Linear's bias gradient comes with its weight gradient (dW = gᵀ·x, db = the row sums of gᵀ),
// taken from A's packed panels while they are in cache instead of in a second pass over g.
struct GemmArgs {
  int64_t m, n, k, batch;
  const float* a; int64_t aRowStride, aColStride, aBatchStride;
  const float* b; int64_t bRowStride, bColStride, bBatchStride;
  float* c;       int64_t cRowStride, cColStride, cBatchStride;
  float alpha, beta;
  const float* bias;  // null: none
  float* aRowSums = nullptr;
  const float* cIn = nullptr;
};

// The fast path: dispatches on kd::dispatchIsa() and runs on the kd::parallel pool.
void sgemm(const GemmArgs& args);

// The reference: plain loops with double accumulation, single-threaded. For tests.
void sgemmRef(const GemmArgs& args);

// A B operand packed once for many products with different A, for products with few rows (a
// recurrent layer's weight, multiplied by the batch's states at every step): sgemm repacks B on
// every call, sgemmPacked reads these panels as they are. Panels are NR columns wide (the ISA's
// small-path tile, see cpu/gemm_small.h) and span all of k, k-major, columns past n zero. ISAs
// without a small path (the scalar build) keep no panels and run sgemm on the source, which must
// then outlive the PackedB.
struct PackedB {
  int64_t k = 0, n = 0;
  int nr = 0;                 // panel width; 0: no panels, use the source
  std::vector<float> panels;  // ceil(n / nr) panels of k × nr
  const float* b = nullptr;   // the source, B(p, j) at b[p*rowStride + j*colStride]
  int64_t rowStride = 0, colStride = 0;
};

// Packs B (k × n, any strides) for the ISA that dispatchIsa() picks now.
void sgemmPackB(int64_t k, int64_t n, const float* b, int64_t rowStride, int64_t colStride, PackedB& out);

// C = alpha·A·B + beta·C with A m × b.k (any strides), B packed by sgemmPackB and C m × b.n with
// unit column stride, row pitch ldc; beta == 0 means C is not read. Only columns [j0, j1) of C
// (j1 < 0: to b.n) are computed; j0 must be a multiple of b.nr. Column panels are shared out over
// the kd::parallel pool (inline when called inside a parallel region).
void sgemmPacked(int64_t m, const float* a, int64_t aRowStride, int64_t aColStride, const PackedB& b, float* c,
                 int64_t ldc, float alpha, float beta, int64_t j0 = 0, int64_t j1 = -1);

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
