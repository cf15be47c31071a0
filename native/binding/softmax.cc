// Entry points for the fused softmax / log-softmax kernels (float32; all operands strided over
// one shape, each checked against its storage).
#include <string>

#include "binding/operand.h"
#include "binding/registry.h"
#include "binding/targets.h"
#include "common/softmax.h"

namespace kd::binding {
namespace {

struct CpuKernels : CpuTarget {
  static constexpr auto softmax = softmaxKernel;
  static constexpr auto softmaxBackward = softmaxBackwardKernel;
};

struct CudaKernels : CudaTarget {
  static constexpr auto softmax = cuda::softmax;
  static constexpr auto softmaxBackward = cuda::softmaxBackward;
};

int readSoftmaxDim(const Napi::Value& value, const Dims& shape, const char* op) {
  int64_t dim = readInt(value, op);
  if (shape.n < 1 || dim < 0 || dim >= shape.n) throw Napi::RangeError::New(value.Env(), std::string(op) + ": dim out of range");
  return static_cast<int>(dim);
}

// softmax(log, shape, dim, out, outOffset, outStrides, x, xOffset, xStrides)
template <class Target>
Napi::Value softmax(const Napi::CallbackInfo& info) {
  const char* name = "softmax";
  bool log = info[0].ToBoolean();
  Dims shape = readDims(info[1], name);
  int dim = readSoftmaxDim(info[2], shape, name);
  StridedArg out = readStrided(info, 3, shape, DType::Float32, name, Target::buffer);
  StridedArg x = readStrided(info, 6, shape, DType::Float32, name, Target::buffer);
  Target::softmax(log, shape.n, shape.v, dim, out.operand, x.operand);
  return info.Env().Undefined();
}

// softmaxBackward(log, shape, dim, dx, dxOffset, dxStrides, y, yOffset, yStrides, g, gOffset, gStrides)
template <class Target>
Napi::Value softmaxBackward(const Napi::CallbackInfo& info) {
  const char* name = "softmaxBackward";
  bool log = info[0].ToBoolean();
  Dims shape = readDims(info[1], name);
  int dim = readSoftmaxDim(info[2], shape, name);
  StridedArg dx = readStrided(info, 3, shape, DType::Float32, name, Target::buffer);
  StridedArg y = readStrided(info, 6, shape, DType::Float32, name, Target::buffer);
  StridedArg g = readStrided(info, 9, shape, DType::Float32, name, Target::buffer);
  Target::softmaxBackward(log, shape.n, shape.v, dim, dx.operand, y.operand, g.operand);
  return info.Env().Undefined();
}

void registerSoftmax(Napi::Env env, Napi::Object exports) {
  registerFamily<CpuKernels, CudaKernels>(env, exports, [](auto target) -> EntryPoints {
    using Target = decltype(target);
    return {{"softmax", softmax<Target>},
            {"softmaxBackward", softmaxBackward<Target>}};
  });
}

}  // namespace

KD_REGISTER(registerSoftmax);

}  // namespace kd::binding
