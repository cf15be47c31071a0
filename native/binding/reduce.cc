#include "binding/registry.h"

namespace kd::binding {

void registerReduce(Napi::Env, Napi::Object) {}

}  // namespace kd::binding
