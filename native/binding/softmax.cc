// Entry points for the fused softmax / log-softmax kernels (float32; all operands strided over
// one shape, each checked against its storage).
#include <string>

#include "binding/operand.h"
#include "binding/registry.h"
#include "cpu/softmax.h"

namespace kd::binding {
namespace {

int readSoftmaxDim(const Napi::Value& value, const Dims& shape, const char* op) {
  int64_t dim = readInt(value, op);
  if (shape.n < 1 || dim < 0 || dim >= shape.n) throw Napi::RangeError::New(value.Env(), std::string(op) + ": dim out of range");
  return static_cast<int>(dim);
}

// softmax(log, shape, dim, out, outOffset, outStrides, x, xOffset, xStrides)
Napi::Value softmax(const Napi::CallbackInfo& info) {
  const char* name = "softmax";
  bool log = info[0].ToBoolean();
  Dims shape = readDims(info[1], name);
  int dim = readSoftmaxDim(info[2], shape, name);
  StridedArg out = readStrided(info, 3, shape, DType::Float32, name);
  StridedArg x = readStrided(info, 6, shape, DType::Float32, name);
  softmaxKernel(log, shape.n, shape.v, dim, out.operand, x.operand);
  return info.Env().Undefined();
}

// softmaxBackward(log, shape, dim, dx, dxOffset, dxStrides, y, yOffset, yStrides, g, gOffset, gStrides)
Napi::Value softmaxBackward(const Napi::CallbackInfo& info) {
  const char* name = "softmaxBackward";
  bool log = info[0].ToBoolean();
  Dims shape = readDims(info[1], name);
  int dim = readSoftmaxDim(info[2], shape, name);
  StridedArg dx = readStrided(info, 3, shape, DType::Float32, name);
  StridedArg y = readStrided(info, 6, shape, DType::Float32, name);
  StridedArg g = readStrided(info, 9, shape, DType::Float32, name);
  softmaxBackwardKernel(log, shape.n, shape.v, dim, dx.operand, y.operand, g.operand);
  return info.Env().Undefined();
}

}  // namespace

void registerSoftmax(Napi::Env env, Napi::Object exports) {
  exports.Set("softmax", Napi::Function::New(env, softmax, "softmax"));
  exports.Set("softmaxBackward", Napi::Function::New(env, softmaxBackward, "softmaxBackward"));
}

}  // namespace kd::binding
