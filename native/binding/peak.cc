// measurePeakGflops(isa: 'avx512' | 'avx2' | 'scalar', threads): the FMA peak the benchmarks
// report kernels against (cpu/peak.h).
#include <stdexcept>
#include <string>

#include "binding/registry.h"
#include "cpu/peak.h"

namespace kd::binding {
namespace {

Napi::Value measurePeak(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsString() || !info[1].IsNumber())
    throw Napi::TypeError::New(env, "measurePeakGflops: expected (isa: string, threads: number)");
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  const double threads = info[1].As<Napi::Number>().DoubleValue();
  CpuIsa isa;
  if (name == "avx512") isa = CpuIsa::Avx512;
  else if (name == "avx2") isa = CpuIsa::Avx2;
  else if (name == "scalar") isa = CpuIsa::Scalar;
  else throw Napi::RangeError::New(env, "measurePeakGflops: expected avx512 | avx2 | scalar, got '" + name + "'");
  if (!(threads >= 1 && threads <= 1024) || threads != static_cast<int>(threads))
    throw Napi::RangeError::New(env, "measurePeakGflops: threads must be an integer in 1..1024, got " + std::to_string(threads));
  try {
    return Napi::Number::New(env, measurePeakGflops(isa, static_cast<int>(threads)));
  } catch (const std::invalid_argument& e) {
    throw Napi::Error::New(env, e.what());
  }
}

}  // namespace

void registerPeak(Napi::Env env, Napi::Object exports) {
  exports.Set("measurePeakGflops", Napi::Function::New(env, measurePeak, "measurePeakGflops"));
}

KD_REGISTER(registerPeak);

}  // namespace kd::binding
