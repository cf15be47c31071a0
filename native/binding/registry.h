// How binding files reach the addon's exports: each file ends with `KD_REGISTER(registerX);`, which
// adds its registration function to a list that addon.cc runs when the addon loads. Adding a kernel
// family is adding one binding file; no shared list is edited. A family with CPU and CUDA kernels
// registers one template instantiation per device (targets.h): the CPU one in `exports`, the CUDA
// one in `exports.cuda`, under the same names and argument layouts.
#pragma once
#include <napi.h>

namespace kd::binding {

using Registrar = void (*)(Napi::Env env, Napi::Object exports);

// Appends `fn` to the list; returns true so that it can initialise a file-scope constant.
bool addRegistrar(Registrar fn);

// Runs every registered function (addon.cc).
void registerAll(Napi::Env env, Napi::Object exports);

// exports.cuda: the CUDA backend's entry points, named and called like the CPU ones in exports.
inline Napi::Object cudaTable(Napi::Env env, Napi::Object exports) {
  if (!exports.Has("cuda")) exports.Set("cuda", Napi::Object::New(env));
  return exports.Get("cuda").As<Napi::Object>();
}

}  // namespace kd::binding

#define KD_REGISTER(fn) [[maybe_unused]] static const bool kdRegistered_##fn = ::kd::binding::addRegistrar(fn)
