// Entry points for the fused optimizer updates (cpu/optim.h). Every operand is a contiguous
// float32 run of n elements, checked against its storage.
#include <string>

#include "binding/args.h"
#include "binding/registry.h"
#include "binding/storage.h"
#include "cpu/optim.h"

namespace kd::binding {
namespace {

float* denseFloats(const Napi::CallbackInfo& info, size_t at, int64_t n, const char* op) {
  HostView view = hostBuffer(info[at], op);
  const int64_t offset = readInt(info[at + 1], op);
  const int64_t shape[1] = {n}, strides[1] = {1};
  checkSpan(view, offset, 1, shape, strides, sizeof(float), op);
  return elementPtr<float>(view, offset, sizeof(float));
}

// adam([lr, beta1, beta2, eps, weightDecay, decoupled, maximize, step], n,
//      param, paramOffset, grad, gradOffset, expAvg, expAvgOffset, expAvgSq, expAvgSqOffset,
//      maxExpAvgSq | null, maxExpAvgSqOffset)
Napi::Value adam(const Napi::CallbackInfo& info) {
  const char* name = "adam";
  if (!info[0].IsArray()) throw Napi::TypeError::New(info.Env(), "adam: expected an array of hyperparameters");
  Napi::Array h = info[0].As<Napi::Array>();
  if (h.Length() != 8) throw Napi::RangeError::New(info.Env(), "adam: expected 8 hyperparameters");
  auto at = [&](uint32_t i) { return readDouble(h.Get(i), name); };
  AdamHyper hp{static_cast<float>(at(0)), static_cast<float>(at(1)), static_cast<float>(at(2)), static_cast<float>(at(3)),
               static_cast<float>(at(4)), at(5) != 0.0, at(6) != 0.0, static_cast<int64_t>(at(7))};
  if (hp.step < 1) throw Napi::RangeError::New(info.Env(), "adam: step must be at least 1");
  const int64_t n = readInt(info[1], name);
  if (n < 0) throw Napi::RangeError::New(info.Env(), "adam: negative size");
  float* param = denseFloats(info, 2, n, name);
  const float* grad = denseFloats(info, 4, n, name);
  float* expAvg = denseFloats(info, 6, n, name);
  float* expAvgSq = denseFloats(info, 8, n, name);
  float* maxExpAvgSq = info[10].IsNull() || info[10].IsUndefined() ? nullptr : denseFloats(info, 10, n, name);
  adamStep(hp, n, param, grad, expAvg, expAvgSq, maxExpAvgSq);
  return info.Env().Undefined();
}

}  // namespace

void registerOptim(Napi::Env env, Napi::Object exports) {
  exports.Set("adam", Napi::Function::New(env, adam, "adam"));
}

}  // namespace kd::binding
