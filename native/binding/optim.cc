// Entry point for the fused Adam / AdamW update, on the CPU and CUDA tables alike: every
// parameter of a step in one call,
//   adam([lr, beta1, beta2, eps, weightDecay, decoupled, maximize],
//        [[step, n, param, paramOffset, grad, gradOffset, expAvg, expAvgOffset, expAvgSq, expAvgSqOffset,
//          maxExpAvgSq | null, maxExpAvgSqOffset], ...])
// Every operand is a contiguous float32 run of n elements, checked against its storage. The CPU
// updates all of them in one threaded pass; CUDA updates them all in one
// launch per 32 tensors.
#include <string>
#include <vector>

#include "binding/args.h"
#include "binding/registry.h"
#include "binding/targets.h"
#include "common/optim.h"

namespace kd::binding {
namespace {

struct CpuKernels : CpuTarget {
  static constexpr auto adam = kd::adamStep;
};

struct CudaKernels : CudaTarget {
  static constexpr auto adam = cuda::adamStep;
};

template <class Target>
float* denseFloats(const Napi::Value& buffer, const Napi::Value& offsetArg, int64_t n, const char* op) {
  HostView view = Target::buffer(buffer, op);
  const int64_t offset = readInt(offsetArg, op);
  const int64_t shape[1] = {n}, strides[1] = {1};
  checkSpan(view, offset, 1, shape, strides, sizeof(float), op);
  return elementPtr<float>(view, offset, sizeof(float));
}

template <class Target>
Napi::Value adam(const Napi::CallbackInfo& info) {
  const char* name = "adam";
  Napi::Env env = info.Env();
  if (!info[0].IsArray() || !info[1].IsArray()) throw Napi::TypeError::New(env, "adam: expected hyperparameters and a tensor list");
  Napi::Array h = info[0].As<Napi::Array>(), list = info[1].As<Napi::Array>();
  if (h.Length() != 7) throw Napi::RangeError::New(env, "adam: expected 7 hyperparameters");
  auto at = [&](uint32_t i) { return static_cast<float>(readDouble(h.Get(i), name)); };
  const AdamHyper hp{at(0), at(1), at(2), at(3), at(4), at(5) != 0.f, at(6) != 0.f};
  std::vector<AdamTensor> tensors(list.Length());
  for (uint32_t i = 0; i < list.Length(); ++i) {
    if (!list.Get(i).IsArray()) throw Napi::TypeError::New(env, "adam: each tensor entry must be an array");
    Napi::Array e = list.Get(i).As<Napi::Array>();
    if (e.Length() != 12) throw Napi::RangeError::New(env, "adam: each tensor entry needs 12 values");
    AdamTensor& t = tensors[i];
    t.step = readInt(e.Get(0u), name);
    if (t.step < 1) throw Napi::RangeError::New(env, "adam: step must be at least 1");
    t.n = readInt(e.Get(1u), name);
    if (t.n < 0) throw Napi::RangeError::New(env, "adam: negative size");
    t.param = denseFloats<Target>(e.Get(2u), e.Get(3u), t.n, name);
    t.grad = denseFloats<Target>(e.Get(4u), e.Get(5u), t.n, name);
    t.expAvg = denseFloats<Target>(e.Get(6u), e.Get(7u), t.n, name);
    t.expAvgSq = denseFloats<Target>(e.Get(8u), e.Get(9u), t.n, name);
    const Napi::Value vmax = e.Get(10u);
    t.maxExpAvgSq = vmax.IsNull() || vmax.IsUndefined() ? nullptr : denseFloats<Target>(vmax, e.Get(11u), t.n, name);
  }
  Target::adam(hp, tensors.data(), static_cast<int>(tensors.size()));
  return env.Undefined();
}

void registerOptim(Napi::Env env, Napi::Object exports) {
  registerFamily<CpuKernels, CudaKernels>(env, exports, [](auto target) -> EntryPoints {
    return {{"adam", adam<decltype(target)>}};
  });
}

}  // namespace

KD_REGISTER(registerOptim);

}  // namespace kd::binding
