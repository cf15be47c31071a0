// The addon's entry point: every kernel family registers its functions here.
#include <napi.h>

#include "binding/registry.h"

namespace {

Napi::Object init(Napi::Env env, Napi::Object exports) {
  using namespace kd::binding;
  registerStorage(env, exports);
  registerRuntime(env, exports);
  registerPeak(env, exports);
  registerElementwise(env, exports);
  registerReduce(env, exports);
  registerIndex(env, exports);
  registerGemm(env, exports);
  registerSoftmax(env, exports);
  registerConv(env, exports);
  registerOptim(env, exports);
  registerCuda(env, exports);
  registerCudaStorage(env, exports);
  registerCudaConv(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(kindling, init)
