#include "binding/registry.h"

namespace kd::binding {

void registerSoftmax(Napi::Env, Napi::Object) {}

}  // namespace kd::binding
