// exports.opcodes: the C++ opcode tables (common/opcodes.h) by name, index = value, so that
// test/native/opcodes.test.ts can check lib/backend/opcodes.ts against them without a GPU.
#include "binding/registry.h"
#include "common/opcodes.h"

namespace kd::binding {
namespace {

template <size_t N>
Napi::Array nameList(Napi::Env env, const char* const (&names)[N]) {
  Napi::Array list = Napi::Array::New(env, N);
  for (size_t i = 0; i < N; ++i) list.Set(static_cast<uint32_t>(i), Napi::String::New(env, names[i]));
  return list;
}

void registerOpcodes(Napi::Env env, Napi::Object exports) {
  Napi::Object tables = Napi::Object::New(env);
  tables.Set("unary", nameList(env, kUnaryOpNames));
  tables.Set("binary", nameList(env, kBinaryOpNames));
  tables.Set("reduce", nameList(env, kReduceOpNames));
  exports.Set("opcodes", tables);
}

}  // namespace

KD_REGISTER(registerOpcodes);

}  // namespace kd::binding
