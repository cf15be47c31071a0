#include "binding/registry.h"

namespace kd::binding {

void registerGemm(Napi::Env, Napi::Object) {}

}  // namespace kd::binding
