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

// The module's entry points, written out instead of NODE_API_MODULE so that the addon can declare
// the experimental Node-API version while compiling against version 8. Under that version Node
// runs finalizers directly from the garbage collector instead of queueing them until the event
// loop turns: storages a synchronous loop forgot are freed at each collection
// (storage.cc, freeCollected). Every finalizer the addon installs touches native memory only.
extern "C" {
NAPI_MODULE_EXPORT int32_t node_api_module_get_api_version_v1(void) { return NAPI_VERSION_EXPERIMENTAL; }
NAPI_MODULE_EXPORT napi_value napi_register_module_v1(napi_env env, napi_value exports) {
  return Napi::RegisterModule(env, exports, init);
}
}
