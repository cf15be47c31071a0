// GEMM: dense strided operands through the shared tiled kernel (kernels_common.cuh); this file
// holds the GEMM problem description (loaders + epilogue) and the dtype/layout dispatch.
//
// The kernel: 128x128 output tile per 256-thread CTA, K in 64-byte slices through a 4-stage
// cp.async ring in shared memory (A tile 128 x BK and B tile BK x 128 per stage, each in the
// orientation its layout copies in without transposition), mma.sync tensor cores (TF32 m16n8k8 /
// BF16, FP16 m16n8k16), fp32 accumulators in registers, epilogue fused.
#include <stdexcept>
#include <string>

#include "common/gemm.h"
#include "kernels_common.cuh"

namespace kd::cuda {
namespace {

using detail::DenseLoader;

__device__ __forceinline__ float loadAs(const void* p, int64_t i, DType t) {
  switch (t) {
    case DType::BF16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    case DType::F16: return __half2float(static_cast<const __half*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}
__device__ __forceinline__ void storeAs(void* p, int64_t i, DType t, float v) {
  switch (t) {
    case DType::BF16: static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16(v); break;
    case DType::F16: static_cast<__half*>(p)[i] = __float2half(v); break;
    default: static_cast<float*>(p)[i] = v;
  }
}
// Two adjacent outputs in one store when the pair is aligned (col is always even here).
__device__ __forceinline__ void storePairAs(void* p, int64_t i, DType t, float v0, float v1) {
  switch (t) {
    case DType::BF16:
      *reinterpret_cast<__nv_bfloat162*>(static_cast<__nv_bfloat16*>(p) + i) = __floats2bfloat162_rn(v0, v1);
      break;
    case DType::F16: *reinterpret_cast<__half2*>(static_cast<__half*>(p) + i) = __floats2half2_rn(v0, v1); break;
    default: *reinterpret_cast<float2*>(static_cast<float*>(p) + i) = make_float2(v0, v1);
  }
}

template <class T, bool AK, bool BKC, int BK, int TM, int TN>
struct GemmProblem {
  using ALoader = DenseLoader<T, AK, TM, BK>;
  using BLoader = DenseLoader<T, BKC, TN, BK>;
  int m, n, k, tilesM, tilesN;
  const T* a;
  int64_t lda, strideA;
  const T* b;
  int64_t ldb, strideB;
  bool vecA, vecB, vecC;
  void* c;
  int64_t ldc, strideC;
  DType outType;
  float alpha, beta;
  const void* bias;
  Activation act;

  __device__ ALoader aLoader(int z, int r0) const { return ALoader{a + z * strideA, lda, m, k, vecA, r0}; }
  __device__ BLoader bLoader(int z, int r0) const { return BLoader{b + z * strideB, ldb, n, k, vecB, r0}; }
  __device__ void kRange(int, int& kBegin, int& kEnd) const {
    kBegin = 0;
    kEnd = k;
  }
  __device__ float finish(float acc, int64_t off, int col) const {
    float v = alpha * acc;
    if (bias) v += loadAs(bias, col, outType);
    if (beta != 0.f) v += beta * loadAs(c, off, outType);
    if (act == Activation::Relu) v = fmaxf(v, 0.f);
    else if (act == Activation::Gelu) v = detail::geluErf(v);
    return v;
  }
  // Out of line: inlined at each of the 32 accumulator pairs it multiplies compile time for no gain.
  __device__ __noinline__ void store(int z, int row, int col, float v0, float v1, bool pair) const {
    if (row >= m || col >= n) return;
    const int64_t off = z * strideC + row * ldc + col;
    v0 = finish(v0, off, col);
    if (pair && col + 1 < n) {
      v1 = finish(v1, off + 1, col + 1);
      if (vecC) storePairAs(c, off, outType, v0, v1);
      else {
        storeAs(c, off, outType, v0);
        storeAs(c, off + 1, outType, v1);
      }
    } else {
      storeAs(c, off, outType, v0);
    }
  }
};

int sizeOf(DType t) { return t == DType::F32 ? 4 : 2; }
bool aligned16(const void* p, int64_t ld, int64_t stride, int bytes) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0 && (ld * bytes) % 16 == 0 && (stride * bytes) % 16 == 0;
}

template <class Math, class T, bool AK, bool BKC>
void launchGemm(const GemmArgs& g, cudaStream_t stream) {
  constexpr int kTileM = Math::kTileM, kTileN = Math::kTileN;
  GemmProblem<T, AK, BKC, Math::BK, kTileM, kTileN> p;
  p.m = g.m;
  p.n = g.n;
  p.k = g.k;
  p.tilesM = (g.m + kTileM - 1) / kTileM;
  p.tilesN = (g.n + kTileN - 1) / kTileN;
  p.a = static_cast<const T*>(g.a);
  p.lda = g.lda;
  p.strideA = g.strideA;
  p.b = static_cast<const T*>(g.b);
  p.ldb = g.ldb;
  p.strideB = g.strideB;
  const int es = int(sizeof(T)), os = sizeOf(g.outType);
  p.vecA = aligned16(g.a, g.lda, g.strideA, es);
  p.vecB = aligned16(g.b, g.ldb, g.strideB, es);
  p.vecC = reinterpret_cast<uintptr_t>(g.c) % (2 * os) == 0 && g.ldc % 2 == 0 && g.strideC % 2 == 0;
  p.c = g.c;
  p.ldc = g.ldc;
  p.strideC = g.strideC;
  p.outType = g.outType;
  p.alpha = g.alpha;
  p.beta = g.beta;
  p.bias = g.bias;
  p.act = g.act;
  detail::launchTiled<Math>(p, g.batch, stream, "gemm");
}

template <class Math, class T>
void dispatchLayout(const GemmArgs& g, cudaStream_t stream) {
  // A is K-contiguous unless transposed; B is K-contiguous only when transposed (stored n x k).
  const bool ak = !g.transA, bk = g.transB;
  if (ak && bk) launchGemm<Math, T, true, true>(g, stream);
  else if (ak) launchGemm<Math, T, true, false>(g, stream);
  else if (bk) launchGemm<Math, T, false, true>(g, stream);
  else launchGemm<Math, T, false, false>(g, stream);
}

void validate(const GemmArgs& g) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("gemm: " + what); };
  if (g.m < 1 || g.n < 1 || g.k < 1 || g.batch < 1)
    fail("sizes must be >= 1 (m=" + std::to_string(g.m) + " n=" + std::to_string(g.n) + " k=" +
         std::to_string(g.k) + " batch=" + std::to_string(g.batch) + ")");
  if (g.batch > 65535) fail("batch " + std::to_string(g.batch) + " > 65535");
  if (!g.a || !g.b || !g.c) fail("null operand pointer");
  if (g.inType == DType::F32 && g.outType != DType::F32) fail("float32 inputs need a float32 output");
  const int64_t aCols = g.transA ? g.m : g.k, bCols = g.transB ? g.k : g.n;
  if (g.lda < aCols) fail("lda " + std::to_string(g.lda) + " < " + std::to_string(aCols));
  if (g.ldb < bCols) fail("ldb " + std::to_string(g.ldb) + " < " + std::to_string(bCols));
  if (g.ldc < g.n) fail("ldc " + std::to_string(g.ldc) + " < n " + std::to_string(g.n));
  if ((int64_t(g.m) + 128) * (int64_t(g.n) + 128) / (128 * 128) > (int64_t(1) << 31) - 1)
    fail("too many output tiles");
}

// 128x128 CTA tile, 64x32 per warp, two CTAs per SM (<= 128 registers). Measured on H100: a
// 128x256 tile with 64x64 warps at one CTA per SM ran the same at 4096^3 and slower on the
// GPT-2 shapes (fewer resident warps, coarser waves), so the square tile stays.
template <class T>
using TensorCoreMath = detail::MmaMath<T, 4, 4, 2>;

}  // namespace

void gemm(const GemmArgs& g, void* streamPtr) {
  validate(g);
  cudaStream_t stream = static_cast<cudaStream_t>(streamPtr);
  switch (g.inType) {
    case DType::F32:
      if (g.math == MathMode::ExactF32) dispatchLayout<detail::SimtMath, float>(g, stream);
      else dispatchLayout<TensorCoreMath<float>, float>(g, stream);
      break;
    case DType::BF16: dispatchLayout<TensorCoreMath<__nv_bfloat16>, __nv_bfloat16>(g, stream); break;
    case DType::F16: dispatchLayout<TensorCoreMath<__half>, __half>(g, stream); break;
  }
}

}  // namespace kd::cuda
