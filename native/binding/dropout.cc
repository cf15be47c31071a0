// Entry point for dropout (common/dropout.h), on the CPU and CUDA tables alike:
//   dropout(p, seed, n, out, outOffset, outStrides, x, xOffset, xStrides)
// out = x · mask / (1 - p) over n float32 elements; both operands must be contiguous ([1] strides)
// and are checked against their storage. seed: an integer in [0, 2^53).
//   dropoutRef(p, seed, x Float64Array, out Float64Array)   (CPU only: the float64 reference)
#include <string>

#include "binding/operand.h"
#include "binding/registry.h"
#include "binding/targets.h"
#include "common/dropout.h"

namespace kd::binding {
namespace {

struct CpuKernels : CpuTarget {
  static constexpr auto dropout = kd::dropoutApply;
};

struct CudaKernels : CudaTarget {
  static constexpr auto dropout = cuda::dropoutApply;
};

void readDropoutArgs(const Napi::CallbackInfo& info, const char* op, double& p, uint64_t& seed) {
  p = readDouble(info[0], op);
  if (!(p >= 0.0 && p <= 1.0)) throw Napi::RangeError::New(info.Env(), std::string(op) + ": p must be in [0, 1]");
  const double s = readDouble(info[1], op);
  if (!(s >= 0.0 && s < 9007199254740992.0) || s != static_cast<double>(static_cast<int64_t>(s))) {
    throw Napi::RangeError::New(info.Env(), std::string(op) + ": seed must be an integer in [0, 2^53)");
  }
  seed = static_cast<uint64_t>(s);
}

template <class Target>
Napi::Value dropout(const Napi::CallbackInfo& info) {
  const char* name = "dropout";
  double p;
  uint64_t seed;
  readDropoutArgs(info, name, p, seed);
  const int64_t n = readInt(info[2], name);
  if (n < 0) throw Napi::RangeError::New(info.Env(), "dropout: negative size");
  Dims shape;
  shape.n = 1;
  shape.v[0] = n;
  StridedArg out = readStrided(info, 3, shape, DType::Float32, name, Target::buffer);
  StridedArg x = readStrided(info, 6, shape, DType::Float32, name, Target::buffer);
  if (n > 1 && (out.strides.v[0] != 1 || x.strides.v[0] != 1)) throw Napi::RangeError::New(info.Env(), "dropout: operands must be contiguous");
  Target::dropout(n, p, seed, reinterpret_cast<const float*>(x.operand.data), reinterpret_cast<float*>(out.operand.data));
  return info.Env().Undefined();
}

Napi::Value dropoutRef(const Napi::CallbackInfo& info) {
  const char* name = "dropoutRef";
  double p;
  uint64_t seed;
  readDropoutArgs(info, name, p, seed);
  if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      !info[3].IsTypedArray() || info[3].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throw Napi::TypeError::New(info.Env(), "dropoutRef: expected two Float64Arrays");
  }
  Napi::Float64Array x = info[2].As<Napi::Float64Array>(), out = info[3].As<Napi::Float64Array>();
  if (out.ElementLength() != x.ElementLength()) throw Napi::RangeError::New(info.Env(), "dropoutRef: x and out differ in length");
  dropoutApplyRef(static_cast<int64_t>(x.ElementLength()), p, seed, x.Data(), out.Data());
  return info.Env().Undefined();
}

void registerDropout(Napi::Env env, Napi::Object exports) {
  registerFamily<CpuKernels, CudaKernels>(env, exports, [](auto target) -> EntryPoints {
    using Target = decltype(target);
    return {{"dropout", dropout<Target>}};
  });
  exports.Set("dropoutRef", Napi::Function::New(env, dropoutRef, "dropoutRef"));
}

}  // namespace

KD_REGISTER(registerDropout);

}  // namespace kd::binding
