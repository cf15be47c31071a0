// Thread-pool size and CPU instruction-set selection.
#include <string>

#include "binding/registry.h"
#include "common/isa.h"
#include "common/parallel.h"

namespace kd::binding {
namespace {

Napi::Value getNumThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), numThreads()); }

Napi::Value setThreads(const Napi::CallbackInfo& info) {
  int n = info[0].As<Napi::Number>().Int32Value();
  if (n < 1 || n > kMaxThreads)
    throw Napi::RangeError::New(info.Env(), "setNumThreads: expected 1.." + std::to_string(kMaxThreads) + ", got " + std::to_string(n));
  try {
    setNumThreads(n);
  } catch (const ThreadStartError& e) {
    throw Napi::Error::New(info.Env(), std::string("setNumThreads: ") + e.what());
  }
  return info.Env().Undefined();
}

// What went wrong applying KINDLING_NUM_THREADS and KINDLING_CPU_ISA: { threads, threadStart,
// isa }, each a message or null; lib/runtime.ts turns them into errors when kindling is imported.
Napi::Value configErrors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  auto message = [&](const std::string& m) -> Napi::Value { return m.empty() ? env.Null() : Napi::String::New(env, m); };
  out.Set("threads", message(threadEnvError()));
  out.Set("threadStart", message(threadStartError()));
  out.Set("isa", message(isaConfigError()));
  return out;
}

Napi::Value cpuIsa(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), isaName(activeIsa())); }
Napi::Value cpuIsaDetected(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), isaName(detectedIsa())); }

Napi::Value setCpuIsa(const Napi::CallbackInfo& info) {
  std::string name = info[0].As<Napi::String>().Utf8Value();
  CpuIsa isa;
  if (name == "avx512") isa = CpuIsa::Avx512;
  else if (name == "avx2") isa = CpuIsa::Avx2;
  else if (name == "scalar") isa = CpuIsa::Scalar;
  else throw Napi::RangeError::New(info.Env(), "setCpuIsa: expected avx512 | avx2 | scalar, got '" + name + "'");
  return Napi::Boolean::New(info.Env(), setActiveIsa(isa));
}

// Kernel calls per ISA build since the process started (kd::dispatchCount), for tests.
Napi::Value isaDispatchCounts(const Napi::CallbackInfo& info) {
  Napi::Object counts = Napi::Object::New(info.Env());
  for (CpuIsa isa : {CpuIsa::Avx512, CpuIsa::Avx2, CpuIsa::Scalar})
    counts.Set(isaName(isa), Napi::Number::New(info.Env(), static_cast<double>(dispatchCount(isa))));
  return counts;
}

}  // namespace

void registerRuntime(Napi::Env env, Napi::Object exports) {
  exports.Set("numThreads", Napi::Function::New(env, getNumThreads, "numThreads"));
  exports.Set("setNumThreads", Napi::Function::New(env, setThreads, "setNumThreads"));
  exports.Set("configErrors", Napi::Function::New(env, configErrors, "configErrors"));
  exports.Set("cpuIsa", Napi::Function::New(env, cpuIsa, "cpuIsa"));
  exports.Set("cpuIsaDetected", Napi::Function::New(env, cpuIsaDetected, "cpuIsaDetected"));
  exports.Set("setCpuIsa", Napi::Function::New(env, setCpuIsa, "setCpuIsa"));
  exports.Set("isaDispatchCounts", Napi::Function::New(env, isaDispatchCounts, "isaDispatchCounts"));
}

KD_REGISTER(registerRuntime);

}  // namespace kd::binding
