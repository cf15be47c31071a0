// One registration function per kernel family; addon.cc calls each. A family's binding file
// converts and checks arguments, then calls plain C++ kernels in native/cpu or cuda/.
#pragma once
#include <napi.h>

namespace kd::binding {

void registerStorage(Napi::Env env, Napi::Object exports);
void registerRuntime(Napi::Env env, Napi::Object exports);
void registerPeak(Napi::Env env, Napi::Object exports);
void registerElementwise(Napi::Env env, Napi::Object exports);
void registerReduce(Napi::Env env, Napi::Object exports);
void registerIndex(Napi::Env env, Napi::Object exports);
void registerGemm(Napi::Env env, Napi::Object exports);
void registerSoftmax(Napi::Env env, Napi::Object exports);
void registerConv(Napi::Env env, Napi::Object exports);
void registerOptim(Napi::Env env, Napi::Object exports);
void registerCuda(Napi::Env env, Napi::Object exports);
void registerCudaStorage(Napi::Env env, Napi::Object exports);
void registerCudaConv(Napi::Env env, Napi::Object exports);

// exports.cuda: the CUDA backend's entry points, named and called like the CPU ones in exports.
inline Napi::Object cudaTable(Napi::Env env, Napi::Object exports) {
  if (!exports.Has("cuda")) exports.Set("cuda", Napi::Object::New(env));
  return exports.Get("cuda").As<Napi::Object>();
}

}  // namespace kd::binding
