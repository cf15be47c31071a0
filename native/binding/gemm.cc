// Entry points for the GEMM family:
//   gemm(m, n, k, batch,
//        aBuf, aOffset, aRowStride, aColStride, aBatchStride,
//        bBuf, bOffset, bRowStride, bColStride, bBatchStride,
//        cBuf, cOffset, cRowStride, cColStride, cBatchStride, alpha, beta
//        [, biasBuf, biasOffset[, rowSumsBuf, rowSumsOffset[, cInBuf, cInOffset]]])
// on the CPU and CUDA tables alike, and gemmRef(...) with the same arguments (CPU). Offsets and
// strides are in float32 elements. The optional bias (n contiguous floats; biasBuf null: none) is
// added to every row of C after the product (GemmArgs::bias); the CUDA table rejects it, and
// lib/backend adds the bias there as a separate broadcast add. The optional row sums (m floats;
// rowSumsBuf null: none; batch 1 only) receive A's row sums (GemmArgs::aRowSums); the CUDA table
// rejects them too, and lib/backend reduces A there. The optional Cin (cInBuf null: none) is the
// addend beta scales in place of C (GemmArgs::cIn), laid out with C's strides; the CUDA table
// rejects it, and lib/backend copies it into C first there. Every operand's span (batch × rows × cols) is checked against its storage
// before the kernel runs, so no argument can make the kernel touch memory outside a buffer.
#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "binding/args.h"
#include "binding/registry.h"
#include "binding/targets.h"
#include "common/gemm.h"
#include "runtime.h"  // cuda/

namespace kd::binding {
namespace {

constexpr int kArgCount = 21, kArgCountWithBias = 23, kArgCountWithRowSums = 25, kArgCountWithAddend = 27;
// Bounds that keep every span computation below 2^61 elements, far from int64 overflow.
constexpr double kMaxSize = 2147483647.0;      // 2^31 - 1
constexpr double kMaxStride = 268435456.0;     // 2^28
constexpr double kMaxOffset = 9007199254740991.0;  // 2^53 - 1

std::string describe(const GemmArgs& g) {
  return "[" + std::to_string(g.batch) + "] " + std::to_string(g.m) + "x" + std::to_string(g.k) + " @ " +
         std::to_string(g.k) + "x" + std::to_string(g.n);
}

int64_t readInteger(const Napi::CallbackInfo& info, int index, double limit, bool allowNegative, const char* op,
                    const char* what) {
  const Napi::Value v = info[index];
  if (!v.IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(op) + ": " + what + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d))
    throw Napi::TypeError::New(info.Env(), std::string(op) + ": " + what + " must be an integer, got " + std::to_string(d));
  if (d > limit || d < (allowNegative ? -limit : 0.0))
    throw Napi::RangeError::New(info.Env(), std::string(op) + ": " + what + " out of range: " + std::to_string(d));
  return static_cast<int64_t>(d);
}

struct MatrixArg {
  HostView view;
  int64_t offset, rowStride, colStride, batchStride;
};

// Reads (buf, offset, rowStride, colStride, batchStride) starting at info[index].
MatrixArg readOperand(const Napi::CallbackInfo& info, int index, const char* op, const char* name, BufferLookup lookup) {
  const std::string prefix = std::string(name);
  MatrixArg o;
  o.view = lookup(info[index], op);
  o.offset = readInteger(info, index + 1, kMaxOffset, false, op, (prefix + " offset").c_str());
  o.rowStride = readInteger(info, index + 2, kMaxStride, true, op, (prefix + " row stride").c_str());
  o.colStride = readInteger(info, index + 3, kMaxStride, true, op, (prefix + " column stride").c_str());
  o.batchStride = readInteger(info, index + 4, kMaxStride, true, op, (prefix + " batch stride").c_str());
  return o;
}

void checkOperand(const Napi::Env& env, const MatrixArg& o, int64_t batch, int64_t rows, int64_t cols,
                  const GemmArgs& g, const char* op, const char* name) {
  const int64_t shape[3] = {batch, rows, cols};
  const int64_t strides[3] = {o.batchStride, o.rowStride, o.colStride};
  try {
    checkSpan(o.view, o.offset, 3, shape, strides, sizeof(float), op);
  } catch (const std::exception&) {
    throw Napi::RangeError::New(env, std::string(op) + ": " + describe(g) + ": operand " + name + " (" +
                                          std::to_string(batch) + "x" + std::to_string(rows) + "x" +
                                          std::to_string(cols) + " at offset " + std::to_string(o.offset) +
                                          ", strides [" + std::to_string(o.batchStride) + ", " +
                                          std::to_string(o.rowStride) + ", " + std::to_string(o.colStride) +
                                          "]) reaches outside its storage of " + std::to_string(o.view.bytes) +
                                          " bytes");
  }
}

// The optional vector of `length` floats at (info[index] = buffer or null, info[index + 1] =
// offset): null when absent, else a pointer checked to lie inside its storage.
float* readVector(const Napi::CallbackInfo& info, int index, int64_t length, const GemmArgs& g, const char* op,
                  const char* what, const char* verb, BufferLookup lookup) {
  if (info[index].IsNull() || info[index].IsUndefined()) return nullptr;
  const HostView view = lookup(info[index], op);
  const int64_t offset = readInteger(info, index + 1, kMaxOffset, false, op, (std::string(what) + " offset").c_str());
  const int64_t shape[1] = {length}, strides[1] = {1};
  try {
    checkSpan(view, offset, 1, shape, strides, sizeof(float), op);
  } catch (const std::exception&) {
    throw Napi::RangeError::New(info.Env(), std::string(op) + ": " + describe(g) + ": " + what + " of " + std::to_string(length) +
                                                " at offset " + std::to_string(offset) + " " + verb + " outside its storage of " +
                                                std::to_string(view.bytes) + " bytes");
  }
  return elementPtr<float>(view, offset, sizeof(float));
}

// Converts and checks all 21 arguments; returns kernel arguments whose spans are in bounds.
GemmArgs readGemmArgs(const Napi::CallbackInfo& info, const char* op, BufferLookup lookup = hostBuffer) {
  Napi::Env env = info.Env();
  const size_t count = info.Length();
  if (count != kArgCount && count != kArgCountWithBias && count != kArgCountWithRowSums && count != kArgCountWithAddend)
    throw Napi::TypeError::New(env, std::string(op) + ": expected " + std::to_string(kArgCount) + ", " +
                                        std::to_string(kArgCountWithBias) + ", " + std::to_string(kArgCountWithRowSums) +
                                        " or " + std::to_string(kArgCountWithAddend) + " arguments, got " +
                                        std::to_string(count));
  GemmArgs g{};
  g.m = readInteger(info, 0, kMaxSize, false, op, "m");
  g.n = readInteger(info, 1, kMaxSize, false, op, "n");
  g.k = readInteger(info, 2, kMaxSize, false, op, "k");
  g.batch = readInteger(info, 3, kMaxSize, false, op, "batch");
  const MatrixArg a = readOperand(info, 4, op, "A", lookup);
  const MatrixArg b = readOperand(info, 9, op, "B", lookup);
  const MatrixArg c = readOperand(info, 14, op, "C", lookup);
  if (!info[19].IsNumber() || !info[20].IsNumber())
    throw Napi::TypeError::New(env, std::string(op) + ": alpha and beta must be numbers");
  g.alpha = static_cast<float>(info[19].As<Napi::Number>().DoubleValue());
  g.beta = static_cast<float>(info[20].As<Napi::Number>().DoubleValue());

  checkOperand(env, a, g.batch, g.m, g.k, g, op, "A");
  checkOperand(env, b, g.batch, g.k, g.n, g, op, "B");
  checkOperand(env, c, g.batch, g.m, g.n, g, op, "C");
  g.a = elementPtr<const float>(a.view, a.offset, sizeof(float));
  g.aRowStride = a.rowStride; g.aColStride = a.colStride; g.aBatchStride = a.batchStride;
  g.b = elementPtr<const float>(b.view, b.offset, sizeof(float));
  g.bRowStride = b.rowStride; g.bColStride = b.colStride; g.bBatchStride = b.batchStride;
  g.c = elementPtr<float>(c.view, c.offset, sizeof(float));
  g.cRowStride = c.rowStride; g.cColStride = c.colStride; g.cBatchStride = c.batchStride;
  g.bias = count >= kArgCountWithBias ? readVector(info, 21, g.n, g, op, "bias", "reaches", lookup) : nullptr;
  if (count >= kArgCountWithRowSums && !info[23].IsNull() && !info[23].IsUndefined() && g.batch != 1)
    throw Napi::RangeError::New(env, std::string(op) + ": " + describe(g) + ": A's row sums need batch 1");
  g.aRowSums = count >= kArgCountWithRowSums ? readVector(info, 23, g.m, g, op, "row sums", "reach", lookup) : nullptr;
  if (count == kArgCountWithAddend && !info[25].IsNull() && !info[25].IsUndefined()) {
    // Cin has C's strides: the same span check as C's, at its own storage and offset.
    MatrixArg cIn = c;
    cIn.view = lookup(info[25], op);
    cIn.offset = readInteger(info, 26, kMaxOffset, false, op, "Cin offset");
    checkOperand(env, cIn, g.batch, g.m, g.n, g, op, "Cin");
    g.cIn = elementPtr<const float>(cIn.view, cIn.offset, sizeof(float));
  }
  return g;
}

struct CpuKernels : CpuTarget {
  static constexpr auto gemm = sgemm;
};

struct CudaKernels : CudaTarget {
  // The same strided batches as cuda::StridedMatrix (device pointers).
  static void gemm(const GemmArgs& g) {
    if (g.bias) throw std::invalid_argument("gemm: the CUDA table takes no bias; add it after the product");
    if (g.aRowSums) throw std::invalid_argument("gemm: the CUDA table takes no row sums; reduce A after the product");
    if (g.cIn) throw std::invalid_argument("gemm: the CUDA table takes no Cin; copy it into C before the product");
    auto matrix = [](const float* p, int64_t rs, int64_t cs, int64_t bs) {
      return cuda::StridedMatrix{const_cast<float*>(p), rs, cs, bs};
    };
    cuda::matmul(g.m, g.n, g.k, g.batch, matrix(g.a, g.aRowStride, g.aColStride, g.aBatchStride),
                 matrix(g.b, g.bRowStride, g.bColStride, g.bBatchStride),
                 matrix(g.c, g.cRowStride, g.cColStride, g.cBatchStride), g.alpha, g.beta, allowTf32());
  }
  static constexpr auto rawGemm = cuda::gemm;
  static void* stream() { return cuda::stream(); }
};

template <class Target>
Napi::Value gemm(const Napi::CallbackInfo& info) {
  Target::gemm(readGemmArgs(info, "gemm", Target::buffer));
  return info.Env().Undefined();
}

// CPU only: the reference loop, for tests.
Napi::Value gemmRef(const Napi::CallbackInfo& info) {
  sgemmRef(readGemmArgs(info, "gemmRef"));
  return info.Env().Undefined();
}

// CUDA only (in a build with CUDA): gemmRaw(m, n, k, inType, a, b, c, tf32, transB): C (float32, m x n) = A (m x k) @ B,
// dense row-major, B stored k x n or (transB) n x k like a Linear weight, A and B of inType
// (0 float32, 1 bf16, 2 fp16). Bench-only: lets bench/gpu.ts time the 16-bit tensor-core paths,
// which no tensor dtype reaches.
template <class Target>
Napi::Value gemmRaw(const Napi::CallbackInfo& info) {
  const char* op = "gemmRaw";
  cuda::GemmArgs g;
  g.m = static_cast<int>(readInt(info[0], op));
  g.n = static_cast<int>(readInt(info[1], op));
  g.k = static_cast<int>(readInt(info[2], op));
  const int64_t type = readInt(info[3], op);
  if (g.m < 1 || g.n < 1 || g.k < 1 || type < 0 || type > 2) throw Napi::RangeError::New(info.Env(), "gemmRaw: bad sizes or type");
  g.inType = static_cast<cuda::DType>(type);
  const size_t inBytes = type == 0 ? 4 : 2;
  const HostView a = Target::buffer(info[4], op), b = Target::buffer(info[5], op), c = Target::buffer(info[6], op);
  if (a.bytes < size_t(g.m) * g.k * inBytes || b.bytes < size_t(g.k) * g.n * inBytes || c.bytes < size_t(g.m) * g.n * 4)
    throw Napi::RangeError::New(info.Env(), "gemmRaw: a buffer is too small");
  g.a = a.data, g.b = b.data, g.c = c.data;
  g.transB = info[8].ToBoolean();
  g.lda = g.k, g.ldb = g.transB ? g.k : g.n, g.ldc = g.n;
  g.math = info[7].ToBoolean() ? cuda::MathMode::TF32 : cuda::MathMode::ExactF32;
  Target::rawGemm(g, Target::stream());
  return info.Env().Undefined();
}

void registerGemm(Napi::Env env, Napi::Object exports) {
  registerFamily<CpuKernels, CudaKernels>(env, exports, [](auto target) {
    using Target = decltype(target);
    EntryPoints entries{{"gemm", gemm<Target>}};
    if constexpr (std::is_same_v<Target, CudaKernels>) entries.push_back({"gemmRaw", gemmRaw<Target>});
    return entries;
  });
  exports.Set("gemmRef", Napi::Function::New(env, gemmRef, "gemmRef"));
}

}  // namespace

KD_REGISTER(registerGemm);

}  // namespace kd::binding
