// The addon's entry point: runs every binding file's registration function (registry.h).
#include <napi.h>

#include <vector>

#include "binding/registry.h"

namespace kd::binding {
namespace {

// Filled during static initialisation, from every binding file, in link order; a function-local
// static so that it exists before the first file adds to it.
std::vector<Registrar>& registrars() {
  static std::vector<Registrar> list;
  return list;
}

}  // namespace

bool addRegistrar(Registrar fn) {
  registrars().push_back(fn);
  return true;
}

void registerAll(Napi::Env env, Napi::Object exports) {
  for (Registrar fn : registrars()) fn(env, exports);
}

}  // namespace kd::binding

namespace {

Napi::Object init(Napi::Env env, Napi::Object exports) {
  kd::binding::registerAll(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(kindling, init)
