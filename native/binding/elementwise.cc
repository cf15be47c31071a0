// Entry points for unary, binary, where, cast and fill kernels.
#include "binding/operand.h"
#include "binding/registry.h"
#include "binding/targets.h"
#include "common/elementwise.h"

namespace kd::binding {
namespace {

struct CpuKernels : CpuTarget {
  static constexpr auto unary = unaryKernel;
  static constexpr auto binary = binaryKernel;
  static constexpr auto where = whereKernel;
  static constexpr auto cast = castKernel;
  static constexpr auto fill = fillKernel;
};

struct CudaKernels : CudaTarget {
  static constexpr auto unary = cuda::unary;
  static constexpr auto binary = cuda::binary;
  static constexpr auto where = cuda::where;
  static constexpr auto cast = cuda::cast;
  static constexpr auto fill = cuda::fill;
};

DType binaryOutType(BinaryOp op, DType in) { return (isComparison(op) || isLogical(op)) ? DType::Bool : in; }

// unary(op, dtype, p0, p1, shape, out, outOffset, outStrides, in, inOffset, inStrides)
template <class Target>
Napi::Value unary(const Napi::CallbackInfo& info) {
  const char* name = "unary";
  int64_t code = readInt(info[0], name);
  if (code < 0 || code >= static_cast<int64_t>(UnaryOp::Count)) throw Napi::RangeError::New(info.Env(), "unary: unknown op");
  DType dtype = readDType(info[1], name);
  double p0 = readDouble(info[2], name), p1 = readDouble(info[3], name);
  Dims shape = readDims(info[4], name);
  StridedArg out = readStrided(info, 5, shape, dtype, name, Target::buffer);
  StridedArg in = readStrided(info, 8, shape, dtype, name, Target::buffer);
  Target::unary(static_cast<UnaryOp>(code), dtype, p0, p1, shape.n, shape.v, out.operand, in.operand);
  return info.Env().Undefined();
}

// binary(op, dtype, shape, out, outOffset, outStrides, a, aOffset, aStrides, b, bOffset, bStrides)
template <class Target>
Napi::Value binary(const Napi::CallbackInfo& info) {
  const char* name = "binary";
  int64_t code = readInt(info[0], name);
  if (code < 0 || code >= static_cast<int64_t>(BinaryOp::Count)) throw Napi::RangeError::New(info.Env(), "binary: unknown op");
  BinaryOp op = static_cast<BinaryOp>(code);
  DType dtype = readDType(info[1], name);
  // The arithmetic kernels read 4-byte elements; a 1-byte bool operand would be overrun.
  if (dtype == DType::Bool && !isComparison(op) && !isLogical(op))
    throw Napi::TypeError::New(info.Env(), "binary: arithmetic on bool operands is not supported");
  Dims shape = readDims(info[2], name);
  StridedArg out = readStrided(info, 3, shape, binaryOutType(op, dtype), name, Target::buffer);
  StridedArg a = readStrided(info, 6, shape, dtype, name, Target::buffer);
  StridedArg b = readStrided(info, 9, shape, dtype, name, Target::buffer);
  Target::binary(op, dtype, shape.n, shape.v, out.operand, a.operand, b.operand);
  return info.Env().Undefined();
}

// where(dtype, shape, out..., cond..., a..., b...)
template <class Target>
Napi::Value where(const Napi::CallbackInfo& info) {
  const char* name = "where";
  DType dtype = readDType(info[0], name);
  Dims shape = readDims(info[1], name);
  StridedArg out = readStrided(info, 2, shape, dtype, name, Target::buffer);
  StridedArg cond = readStrided(info, 5, shape, DType::Bool, name, Target::buffer);
  StridedArg a = readStrided(info, 8, shape, dtype, name, Target::buffer);
  StridedArg b = readStrided(info, 11, shape, dtype, name, Target::buffer);
  Target::where(dtype, shape.n, shape.v, out.operand, cond.operand, a.operand, b.operand);
  return info.Env().Undefined();
}

// cast(from, to, shape, out..., in...)
template <class Target>
Napi::Value cast(const Napi::CallbackInfo& info) {
  const char* name = "cast";
  DType from = readDType(info[0], name), to = readDType(info[1], name);
  Dims shape = readDims(info[2], name);
  StridedArg out = readStrided(info, 3, shape, to, name, Target::buffer);
  StridedArg in = readStrided(info, 6, shape, from, name, Target::buffer);
  Target::cast(from, to, shape.n, shape.v, out.operand, in.operand);
  return info.Env().Undefined();
}

// fill(dtype, value, shape, out...)
template <class Target>
Napi::Value fill(const Napi::CallbackInfo& info) {
  const char* name = "fill";
  DType dtype = readDType(info[0], name);
  double value = readDouble(info[1], name);
  Dims shape = readDims(info[2], name);
  StridedArg out = readStrided(info, 3, shape, dtype, name, Target::buffer);
  Target::fill(dtype, value, shape.n, shape.v, out.operand);
  return info.Env().Undefined();
}

void registerElementwise(Napi::Env env, Napi::Object exports) {
  registerFamily<CpuKernels, CudaKernels>(env, exports, [](auto target) -> EntryPoints {
    using Target = decltype(target);
    return {{"unary", unary<Target>},
            {"binary", binary<Target>},
            {"where", where<Target>},
            {"cast", cast<Target>},
            {"fill", fill<Target>}};
  });
}

}  // namespace

KD_REGISTER(registerElementwise);

}  // namespace kd::binding
