// Converting JavaScript arguments for kernel entry points. Shapes and strides arrive as plain
// arrays of integers; these helpers read them into fixed-size arrays and reject bad values.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

#include "common/dtype.h"

namespace kd::binding {

struct Dims {
  int n = 0;
  int64_t v[kMaxDims];
};

inline Dims readDims(const Napi::Value& value, const char* op) {
  if (!value.IsArray()) throw Napi::TypeError::New(value.Env(), std::string(op) + ": expected an array of integers");
  Napi::Array arr = value.As<Napi::Array>();
  Dims d;
  d.n = static_cast<int>(arr.Length());
  if (d.n > kMaxDims) throw Napi::RangeError::New(value.Env(), std::string(op) + ": too many dimensions");
  for (int i = 0; i < d.n; ++i) {
    Napi::Value e = arr.Get(static_cast<uint32_t>(i));
    if (!e.IsNumber()) throw Napi::TypeError::New(value.Env(), std::string(op) + ": expected an array of integers");
    d.v[i] = e.As<Napi::Number>().Int64Value();
  }
  return d;
}

inline int64_t readInt(const Napi::Value& value, const char* op) {
  if (!value.IsNumber()) throw Napi::TypeError::New(value.Env(), std::string(op) + ": expected an integer");
  return value.As<Napi::Number>().Int64Value();
}

inline double readDouble(const Napi::Value& value, const char* op) {
  if (!value.IsNumber()) throw Napi::TypeError::New(value.Env(), std::string(op) + ": expected a number");
  return value.As<Napi::Number>().DoubleValue();
}

inline DType readDType(const Napi::Value& value, const char* op) {
  int64_t code = readInt(value, op);
  if (code < 0 || code > 2) throw Napi::RangeError::New(value.Env(), std::string(op) + ": unknown dtype code");
  return static_cast<DType>(code);
}

inline void requireSameLength(const Napi::Env& env, const Dims& a, const Dims& b, const char* op) {
  if (a.n != b.n) throw Napi::RangeError::New(env, std::string(op) + ": shape and strides differ in length");
}

}  // namespace kd::binding
