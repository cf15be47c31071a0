// The two devices as a family binding sees them. A family file (elementwise.cc, conv.cc, ...)
// writes its entry points once, as templates over a kernel table, and names its kernels in two
// small structs in the same file: one deriving from CpuTarget, one from CudaTarget, with the same
// static members. Instantiating the entry points with each gives the CPU table (`exports`) and
// the CUDA one (`exports.cuda`) the same names, argument layouts and checks:
//
//   struct CpuKernels : CpuTarget { static constexpr auto softmax = softmaxKernel; };
//   struct CudaKernels : CudaTarget { static constexpr auto softmax = cuda::softmax; };
//   void registerSoftmax(Napi::Env env, Napi::Object exports) {
//     registerFamily<CpuKernels, CudaKernels>(env, exports, [](auto target) -> EntryPoints {
//       using Target = decltype(target);
//       return {{"softmax", softmax<Target>}, {"softmaxBackward", softmaxBackward<Target>}};
//     });
//   }
//   KD_REGISTER(registerSoftmax);
#pragma once
#include <napi.h>

#include <string>
#include <vector>

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

// One entry point of a family: its name in the table and the function behind it.
struct EntryPoint {
  const char* name;
  Napi::Value (*fn)(const Napi::CallbackInfo&);
};
using EntryPoints = std::vector<EntryPoint>;

// Registers a family's entry points on both devices: `entries(Cpu{})` on `exports` and, in a
// build with CUDA, `entries(Cuda{})` on `exports.cuda`. In a build without CUDA the CUDA
// instantiation is never compiled, so the family's cuda/ kernels need no stand-in: exports.cuda
// gets the CPU's names instead, each throwing "kindling was built without CUDA".
template <class Cpu, class Cuda, class Entries>
void registerFamily(Napi::Env env, Napi::Object exports, Entries entries) {
  for (const EntryPoint& e : entries(Cpu{})) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
  Napi::Object cuda = cudaTable(env, exports);
  if constexpr (kBuiltWithCuda) {
    for (const EntryPoint& e : entries(Cuda{})) cuda.Set(e.name, Napi::Function::New(env, e.fn, e.name));
  } else {
    for (const EntryPoint& e : entries(Cpu{})) {
      const std::string name = e.name;
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
