// Entry points for the fused optimizer updates (cpu/optim.h). Every operand is a contiguous
// float32 run of n elements, checked against its storage.
#include <string>
#include <vector>

#include "binding/args.h"
#include "binding/registry.h"
#include "binding/cuda_storage.h"
#include "binding/storage.h"
#include "cpu/optim.h"
#include "optim.h"  // cuda/

namespace kd::binding {
namespace {

float* denseFloats(const Napi::Value& buffer, const Napi::Value& offsetArg, int64_t n, const char* op, BufferLookup lookup) {
  HostView view = lookup(buffer, op);
  const int64_t offset = readInt(offsetArg, op);
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
  float* param = denseFloats(info[2], info[3], n, name, hostBuffer);
  const float* grad = denseFloats(info[4], info[5], n, name, hostBuffer);
  float* expAvg = denseFloats(info[6], info[7], n, name, hostBuffer);
  float* expAvgSq = denseFloats(info[8], info[9], n, name, hostBuffer);
  float* maxExpAvgSq = info[10].IsNull() || info[10].IsUndefined() ? nullptr : denseFloats(info[10], info[11], n, name, hostBuffer);
  adamStep(hp, n, param, grad, expAvg, expAvgSq, maxExpAvgSq);
  return info.Env().Undefined();
}

// The CUDA form updates every parameter of a step in one call (one launch per 32 tensors):
// adam([lr, beta1, beta2, eps, weightDecay, decoupled, maximize],
//      [[step, n, param, paramOffset, grad, gradOffset, expAvg, expAvgOffset, expAvgSq, expAvgSqOffset,
//        maxExpAvgSq | null, maxExpAvgSqOffset], ...])
Napi::Value cudaAdam(const Napi::CallbackInfo& info) {
  const char* name = "adam";
  Napi::Env env = info.Env();
  if (!info[0].IsArray() || !info[1].IsArray()) throw Napi::TypeError::New(env, "adam: expected hyperparameters and a tensor list");
  Napi::Array h = info[0].As<Napi::Array>(), list = info[1].As<Napi::Array>();
  if (h.Length() != 7) throw Napi::RangeError::New(env, "adam: expected 7 hyperparameters");
  auto at = [&](uint32_t i) { return static_cast<float>(readDouble(h.Get(i), name)); };
  const cuda::AdamHyper hp{at(0), at(1), at(2), at(3), at(4), at(5) != 0.f, at(6) != 0.f};
  std::vector<cuda::AdamTensor> tensors(list.Length());
  for (uint32_t i = 0; i < list.Length(); ++i) {
    if (!list.Get(i).IsArray()) throw Napi::TypeError::New(env, "adam: each tensor entry must be an array");
    Napi::Array e = list.Get(i).As<Napi::Array>();
    if (e.Length() != 12) throw Napi::RangeError::New(env, "adam: each tensor entry needs 12 values");
    cuda::AdamTensor& t = tensors[i];
    t.step = readInt(e.Get(0u), name);
    if (t.step < 1) throw Napi::RangeError::New(env, "adam: step must be at least 1");
    t.n = readInt(e.Get(1u), name);
    if (t.n < 0) throw Napi::RangeError::New(env, "adam: negative size");
    t.param = denseFloats(e.Get(2u), e.Get(3u), t.n, name, deviceBuffer);
    t.grad = denseFloats(e.Get(4u), e.Get(5u), t.n, name, deviceBuffer);
    t.expAvg = denseFloats(e.Get(6u), e.Get(7u), t.n, name, deviceBuffer);
    t.expAvgSq = denseFloats(e.Get(8u), e.Get(9u), t.n, name, deviceBuffer);
    const Napi::Value vmax = e.Get(10u);
    t.maxExpAvgSq = vmax.IsNull() || vmax.IsUndefined() ? nullptr : denseFloats(vmax, e.Get(11u), t.n, name, deviceBuffer);
  }
  cuda::adamStep(hp, tensors.data(), static_cast<int>(tensors.size()));
  return env.Undefined();
}

}  // namespace

void registerOptim(Napi::Env env, Napi::Object exports) {
  exports.Set("adam", Napi::Function::New(env, adam, "adam"));
  cudaTable(env, exports).Set("adam", Napi::Function::New(env, cudaAdam, "adam"));
}

}  // namespace kd::binding
