#include "binding/registry.h"

namespace kd::binding {

void registerConv(Napi::Env, Napi::Object) {}

}  // namespace kd::binding
