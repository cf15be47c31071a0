// Entry points for the fused batch-norm kernels (float32), on the CPU and CUDA tables alike.
// x, y, g, dx are strided over [n, c, l]; weight, bias and the running statistics are strided
// [c] vectors, each given as (buffer | null, offset, strides); the saved statistics and the
// parameter gradients are contiguous [c] runs given as (buffer | null, offset). Every operand is
// checked against its storage before a kernel runs.
//   batchNormForward([n, c, l], training, momentum, eps, y, yOffset, yStrides, x, xOffset, xStrides,
//                    weight, wOffset, wStrides, bias, .., .., runningMean, .., .., runningVar, .., ..,
//                    saveMean, saveMeanOffset, saveInvstd, saveInvstdOffset)
//   batchNormBackward([n, c, l], training, dx | null, dxOffset, dxStrides, g, .., .., x, .., ..,
//                     weight | null, .., .., saveMean, .., saveInvstd, .., dweight | null, ..,
//                     dbias | null, ..)
#include <string>

#include "binding/operand.h"
#include "binding/registry.h"
#include "binding/targets.h"
#include "common/batchnorm.h"

namespace kd::binding {
namespace {

struct CpuKernels : CpuTarget {
  static constexpr auto forward = kd::batchNormForward;
  static constexpr auto backward = kd::batchNormBackward;
};

struct CudaKernels : CudaTarget {
  static constexpr auto forward = cuda::batchNormForward;
  static constexpr auto backward = cuda::batchNormBackward;
};

bool absent(const Napi::Value& v) { return v.IsNull() || v.IsUndefined(); }

BatchNormShape readShape(const Napi::Value& value, Dims& dims, const char* op) {
  dims = readDims(value, op);
  if (dims.n != 3 || dims.v[0] < 0 || dims.v[1] < 0 || dims.v[2] < 0) {
    throw Napi::RangeError::New(value.Env(), std::string(op) + ": expected a shape [n, c, l] of sizes >= 0");
  }
  return {dims.v[0], dims.v[1], dims.v[2]};
}

// An optional strided operand: absent (null buffer) gives data == nullptr.
template <class Target>
StridedArg readOptional(const Napi::CallbackInfo& info, size_t at, const Dims& shape, const char* op) {
  if (absent(info[at])) return StridedArg{Dims{}, Operand{nullptr, nullptr}};
  return readStrided(info, at, shape, DType::Float32, op, Target::buffer);
}

// An optional contiguous run of c floats at (buffer, offset).
template <class Target>
float* readRun(const Napi::CallbackInfo& info, size_t at, int64_t c, bool required, const char* op) {
  if (absent(info[at])) {
    if (required) throw Napi::TypeError::New(info.Env(), std::string(op) + ": missing a per-channel buffer");
    return nullptr;
  }
  HostView view = Target::buffer(info[at], op);
  const int64_t offset = readInt(info[at + 1], op);
  const int64_t shape[1] = {c}, strides[1] = {1};
  checkSpan(view, offset, 1, shape, strides, sizeof(float), op);
  return elementPtr<float>(view, offset, sizeof(float));
}

template <class Target>
Napi::Value batchNormForward(const Napi::CallbackInfo& info) {
  const char* name = "batchNormForward";
  Dims shape;
  BatchNormForwardArgs a{};
  a.s = readShape(info[0], shape, name);
  a.training = info[1].ToBoolean();
  a.momentum = readDouble(info[2], name);
  a.eps = readDouble(info[3], name);
  Dims channels;
  channels.n = 1;
  channels.v[0] = a.s.c;
  const StridedArg y = readStrided(info, 4, shape, DType::Float32, name, Target::buffer);
  const StridedArg x = readStrided(info, 7, shape, DType::Float32, name, Target::buffer);
  const StridedArg w = readOptional<Target>(info, 10, channels, name);
  const StridedArg b = readOptional<Target>(info, 13, channels, name);
  const StridedArg rm = readOptional<Target>(info, 16, channels, name);
  const StridedArg rv = readOptional<Target>(info, 19, channels, name);
  if (!a.training && (!rm.operand.data || !rv.operand.data)) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + ": eval mode needs the running statistics");
  }
  a.y = y.operand;
  a.x = x.operand;
  a.weight = w.operand;
  a.bias = b.operand;
  a.runningMean = rm.operand;
  a.runningVar = rv.operand;
  a.saveMean = readRun<Target>(info, 22, a.s.c, true, name);
  a.saveInvstd = readRun<Target>(info, 24, a.s.c, true, name);
  Target::forward(a);
  return info.Env().Undefined();
}

template <class Target>
Napi::Value batchNormBackward(const Napi::CallbackInfo& info) {
  const char* name = "batchNormBackward";
  Dims shape;
  BatchNormBackwardArgs a{};
  a.s = readShape(info[0], shape, name);
  a.training = info[1].ToBoolean();
  Dims channels;
  channels.n = 1;
  channels.v[0] = a.s.c;
  const StridedArg dx = readOptional<Target>(info, 2, shape, name);
  const StridedArg g = readStrided(info, 5, shape, DType::Float32, name, Target::buffer);
  const StridedArg x = readStrided(info, 8, shape, DType::Float32, name, Target::buffer);
  const StridedArg w = readOptional<Target>(info, 11, channels, name);
  a.dx = dx.operand;
  a.g = g.operand;
  a.x = x.operand;
  a.weight = w.operand;
  a.saveMean = readRun<Target>(info, 14, a.s.c, true, name);
  a.saveInvstd = readRun<Target>(info, 16, a.s.c, true, name);
  a.dweight = readRun<Target>(info, 18, a.s.c, false, name);
  a.dbias = readRun<Target>(info, 20, a.s.c, false, name);
  Target::backward(a);
  return info.Env().Undefined();
}

void registerBatchNorm(Napi::Env env, Napi::Object exports) {
  registerFamily<CpuKernels, CudaKernels>(env, exports, [](auto target) -> EntryPoints {
    using Target = decltype(target);
    return {{"batchNormForward", batchNormForward<Target>},
            {"batchNormBackward", batchNormBackward<Target>}};
  });
}

}  // namespace

KD_REGISTER(registerBatchNorm);

}  // namespace kd::binding
