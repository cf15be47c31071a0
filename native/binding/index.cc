#include "binding/registry.h"

namespace kd::binding {

void registerIndex(Napi::Env, Napi::Object) {}

}  // namespace kd::binding
