// Device query entry points over cuda/runtime.h.
#include "binding/registry.h"
#include "runtime.h"

namespace kd::binding {
namespace {

Napi::Value builtWithCuda(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), cuda::builtWithCuda()); }
Napi::Value deviceCount(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), cuda::deviceCount()); }
Napi::Value unavailableReason(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), cuda::unavailableReason());
}
Napi::Value deviceName(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), cuda::deviceName(info[0].As<Napi::Number>().Int32Value()));
}

}  // namespace

void registerCuda(Napi::Env env, Napi::Object exports) {
  exports.Set("cudaBuilt", Napi::Function::New(env, builtWithCuda, "cudaBuilt"));
  exports.Set("cudaDeviceCount", Napi::Function::New(env, deviceCount, "cudaDeviceCount"));
  exports.Set("cudaUnavailableReason", Napi::Function::New(env, unavailableReason, "cudaUnavailableReason"));
  exports.Set("cudaDeviceName", Napi::Function::New(env, deviceName, "cudaDeviceName"));
}

KD_REGISTER(registerCuda);

}  // namespace kd::binding
