#include "binding/registry.h"

namespace kd::binding {

void registerElementwise(Napi::Env, Napi::Object) {}

}  // namespace kd::binding
