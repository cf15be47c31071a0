// The two devices as a family binding sees them. A family file (elementwise.cc, conv.cc, ...)
// writes its entry points once, as templates over a kernel table, and names its kernels in two
// small structs in the same file: one deriving from CpuTarget, one from CudaTarget, with the same
// static members. Instantiating the entry points with each gives the CPU table (`exports`) and
// the CUDA one (`exports.cuda`) the same names, argument layouts and checks:
//
//   struct CpuKernels : CpuTarget { static constexpr auto softmax = softmaxKernel; };
//   struct CudaKernels : CudaTarget { static constexpr auto softmax = cuda::softmax; };
//   template <class Target> void registerFor(Napi::Env env, Napi::Object table) { table.Set(...); }
//   void registerSoftmax(Napi::Env env, Napi::Object exports) {
//     registerFamily<CpuKernels, CudaKernels>(env, exports, [](auto t, Napi::Env e, Napi::Object o) {
//       registerFor<decltype(t)>(e, o);
//     });
//   }
//   KD_REGISTER(registerSoftmax);
#pragma once
#include <napi.h>

#include <string>

#include "binding/cuda_storage.h"
#include "binding/registry.h"
#include "binding/storage.h"

namespace kd::binding {

// The one place that reads the build's CUDA switch (CMakeLists.txt defines KINDLING_WITH_CUDA).
#ifdef KINDLING_WITH_CUDA
inline constexpr bool kBuiltWithCuda = true;
#else
inline constexpr bool kBuiltWithCuda = false;
#endif

struct CpuTarget {
  // Resolves a storage handle of this device to its memory (host pointer here).
  static HostView buffer(const Napi::Value& v, const char* op) { return hostBuffer(v, op); }
};

struct CudaTarget {
  // A device pointer the binding never dereferences; spans are checked on the host.
  static HostView buffer(const Napi::Value& v, const char* op) { return deviceBuffer(v, op); }
};

// Registers a family's entry points on both devices: `registerFor(Cpu{}, env, exports)` and, in a
// build with CUDA, `registerFor(Cuda{}, env, exports.cuda)`. In a build without CUDA the CUDA
// instantiation is never compiled, so the family's cuda/ kernels need no stand-in: exports.cuda
// gets the CPU's names instead, each throwing "kindling was built without CUDA".
template <class Cpu, class Cuda, class RegisterFor>
void registerFamily(Napi::Env env, Napi::Object exports, RegisterFor registerFor) {
  registerFor(Cpu{}, env, exports);
  Napi::Object cuda = cudaTable(env, exports);
  if constexpr (kBuiltWithCuda) {
    registerFor(Cuda{}, env, cuda);
  } else {
    Napi::Object names = Napi::Object::New(env);
    registerFor(Cpu{}, env, names);
    Napi::Array keys = names.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      const std::string name = keys.Get(i).As<Napi::String>().Utf8Value();
      cuda.Set(name, Napi::Function::New(
                         env,
                         [name](const Napi::CallbackInfo& info) -> Napi::Value {
                           throw Napi::Error::New(info.Env(), name + ": kindling was built without CUDA");
                         },
                         name));
    }
  }
}

}  // namespace kd::binding
