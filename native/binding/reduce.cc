// Entry point for reductions.
#include "binding/operand.h"
#include "binding/registry.h"
#include "binding/targets.h"
#include "common/reduce.h"

namespace kd::binding {
namespace {

struct CpuKernels : CpuTarget {
  static constexpr auto reduce = reduceKernel;
};

struct CudaKernels : CudaTarget {
  static constexpr auto reduce = cuda::reduce;
};

// reduce(op, dtype, keptShape, keptInStrides, reducedShape, reducedInStrides, in, inOffset,
//        out, outOffset, outStrides)
template <class Target>
Napi::Value reduce(const Napi::CallbackInfo& info) {
  const char* name = "reduce";
  int64_t code = readInt(info[0], name);
  if (code < 0 || code >= static_cast<int64_t>(ReduceOp::Count)) throw Napi::RangeError::New(info.Env(), "reduce: unknown op");
  ReduceOp op = static_cast<ReduceOp>(code);
  DType dtype = readDType(info[1], name);
  if (dtype == DType::Bool) throw Napi::TypeError::New(info.Env(), "reduce: bool input must be cast first");
  Dims keptShape = readDims(info[2], name), keptStrides = readDims(info[3], name);
  Dims redShape = readDims(info[4], name), redStrides = readDims(info[5], name);
  requireSameLength(info.Env(), keptShape, keptStrides, name);
  requireSameLength(info.Env(), redShape, redStrides, name);
  if (keptShape.n + redShape.n > kMaxDims) throw Napi::RangeError::New(info.Env(), "reduce: too many dimensions");
  // Check the input span over all dims together.
  Dims all;
  Dims allStrides;
  all.n = allStrides.n = keptShape.n + redShape.n;
  for (int i = 0; i < keptShape.n; ++i) { all.v[i] = keptShape.v[i]; allStrides.v[i] = keptStrides.v[i]; }
  for (int i = 0; i < redShape.n; ++i) { all.v[keptShape.n + i] = redShape.v[i]; allStrides.v[keptShape.n + i] = redStrides.v[i]; }
  HostView inView = Target::buffer(info[6], name);
  int64_t inOffset = readInt(info[7], name);
  checkSpan(inView, inOffset, all.n, all.v, allStrides.v, dtypeBytes(dtype), name);
  bool argOp = op == ReduceOp::Argmax || op == ReduceOp::Argmin;
  StridedArg out = readStrided(info, 8, keptShape, argOp ? DType::Int32 : dtype, name, Target::buffer);
  ReduceArgs args{op, dtype, keptShape.n, keptShape.v, keptStrides.v, redShape.n, redShape.v, redStrides.v,
                  elementPtr(inView, inOffset, dtypeBytes(dtype)), out.operand};
  Target::reduce(args);
  return info.Env().Undefined();
}

void registerReduce(Napi::Env env, Napi::Object exports) {
  registerFamily<CpuKernels, CudaKernels>(env, exports, [](auto target) -> EntryPoints {
    using Target = decltype(target);
    return {{"reduce", reduce<Target>}};
  });
}

}  // namespace

KD_REGISTER(registerReduce);

}  // namespace kd::binding
