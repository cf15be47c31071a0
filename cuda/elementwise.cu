// Elementwise kernels: one thread per output element over a coalesced strided walk
// (strided.cuh). The op is a run-time switch inside the kernel (uniform across a launch, so it
// costs a few instructions per element) rather than a template parameter: one kernel per dtype
// combination keeps the build fast. The math mirrors native/cpu/elementwise_impl.h line by line;
// this file is built without --use_fast_math so expf/logf/powf keep full float accuracy.
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <type_traits>

#include "common/elementwise.h"
#include "runtime.h"
#include "strided.cuh"

namespace kd::cuda {
namespace {

using detail::launchMap;
using detail::makeWalk;

constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;
constexpr float kSqrt2OverPi = 0.79788456080286536f;

cudaStream_t currentStream() { return static_cast<cudaStream_t>(stream()); }

__device__ float unaryF(UnaryOp op, float x, float p0, float p1) {
  switch (op) {
    case UnaryOp::Neg: return -x;
    case UnaryOp::Exp: return expf(x);
    case UnaryOp::Log: return logf(x);
    case UnaryOp::Sqrt: return sqrtf(x);
    case UnaryOp::Rsqrt: return 1.0f / sqrtf(x);
    case UnaryOp::Abs: return fabsf(x);
    case UnaryOp::Relu: return x > 0.0f ? x : (x != x ? x : 0.0f);
    case UnaryOp::Gelu: return 0.5f * x * erfcf(-x * kInvSqrt2);  // erfc: no cancellation for x << 0
    case UnaryOp::GeluTanh: {  // sigmoid form in double, as the CPU does
      const double xd = x, u = 0.7978845608028654 * (xd + 0.044715 * xd * xd * xd);
      return static_cast<float>(xd / (1.0 + exp(-2.0 * u)));
    }
    case UnaryOp::Sigmoid: return 1.0f / (1.0f + expf(-x));
    case UnaryOp::Tanh: return tanhf(x);
    case UnaryOp::Silu: return x / (1.0f + expf(-x));
    case UnaryOp::Sin: return sinf(x);
    case UnaryOp::Cos: return cosf(x);
    case UnaryOp::Reciprocal: return 1.0f / x;
    case UnaryOp::Sign: return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : (x != x ? x : 0.0f));
    case UnaryOp::Floor: return floorf(x);
    case UnaryOp::Ceil: return ceilf(x);
    case UnaryOp::Round: return rintf(x);  // half to even, like nearbyint
    case UnaryOp::Square: return x * x;
    case UnaryOp::Log1p: return log1pf(x);
    case UnaryOp::Expm1: return expm1f(x);
    case UnaryOp::Erf: return erff(x);
    case UnaryOp::AddScalar: return x + p0;
    case UnaryOp::MulScalar: return x * p0;
    case UnaryOp::RSubScalar: return p0 - x;
    case UnaryOp::RDivScalar: return p0 / x;
    case UnaryOp::PowScalar:
      if (p0 == 2.0f) return x * x;
      if (p0 == 0.5f) return sqrtf(x);
      if (p0 == 1.0f) return x;
      return powf(x, p0);
    case UnaryOp::Clamp: return x != x ? x : fminf(fmaxf(x, p0), p1);
    case UnaryOp::LeakyRelu: return x > 0.0f ? x : p0 * x;
    case UnaryOp::Elu: return x > 0.0f ? x : p0 * expm1f(x);
    case UnaryOp::Softplus: return x > p0 ? x : log1pf(expf(x));
    case UnaryOp::Sinh: return sinhf(x);
    case UnaryOp::Cosh: return coshf(x);
    case UnaryOp::Trunc: return truncf(x);
    default: return x;
  }
}

// int32 arithmetic wraps (through uint32) like PyTorch's instead of being undefined behaviour.
__device__ int32_t unaryI(UnaryOp op, int32_t x, int32_t p0, int32_t p1) {
  using U = uint32_t;
  switch (op) {
    case UnaryOp::Neg: return int32_t(0u - U(x));
    case UnaryOp::Abs: return x < 0 ? int32_t(0u - U(x)) : x;
    case UnaryOp::Sign: return (x > 0) - (x < 0);
    case UnaryOp::Square: return int32_t(U(x) * U(x));
    case UnaryOp::AddScalar: return int32_t(U(x) + U(p0));
    case UnaryOp::MulScalar: return int32_t(U(x) * U(p0));
    case UnaryOp::RSubScalar: return int32_t(U(p0) - U(x));
    case UnaryOp::Clamp: return x < p0 ? p0 : (x > p1 ? p1 : x);
    case UnaryOp::Relu: return x > 0 ? x : 0;
    default: return x;
  }
}

bool hasIntForm(UnaryOp op) {
  return op == UnaryOp::Neg || op == UnaryOp::Abs || op == UnaryOp::Sign || op == UnaryOp::Square ||
         op == UnaryOp::AddScalar || op == UnaryOp::MulScalar || op == UnaryOp::RSubScalar || op == UnaryOp::Clamp ||
         op == UnaryOp::Relu || op == UnaryOp::Trunc;
}

struct UnaryFloat {
  UnaryOp op;
  float p0, p1;
  __device__ void operator()(char* (&p)[2], int64_t) const {
    *reinterpret_cast<float*>(p[0]) = unaryF(op, *reinterpret_cast<const float*>(p[1]), p0, p1);
  }
};
struct UnaryInt {
  UnaryOp op;
  int32_t p0, p1;
  __device__ void operator()(char* (&p)[2], int64_t) const {
    *reinterpret_cast<int32_t*>(p[0]) = unaryI(op, *reinterpret_cast<const int32_t*>(p[1]), p0, p1);
  }
};
struct LogicalNot {
  __device__ void operator()(char* (&p)[2], int64_t) const { *reinterpret_cast<uint8_t*>(p[0]) = !*p[1]; }
};

__device__ float binaryF(BinaryOp op, float x, float y) {
  switch (op) {
    case BinaryOp::Add: return x + y;
    case BinaryOp::Sub: return x - y;
    case BinaryOp::Mul: return x * y;
    case BinaryOp::Div: return x / y;
    case BinaryOp::Pow: return powf(x, y);
    case BinaryOp::Maximum: return (x != x || x > y) ? x : y;
    case BinaryOp::Minimum: return (x != x || x < y) ? x : y;
    case BinaryOp::Remainder: {  // Python-style: the result has the divisor's sign
      const float r = fmodf(x, y);
      return (r != 0.0f && ((r < 0.0f) != (y < 0.0f))) ? r + y : r;
    }
    case BinaryOp::Atan2: return atan2f(x, y);
    case BinaryOp::Fmod: return fmodf(x, y);
    case BinaryOp::ReluBackward: return y > 0.0f ? x : 0.0f;
    case BinaryOp::GeluBackward: {
      const float cdf = 0.5f * erfcf(-y * kInvSqrt2);
      return x * (cdf + y * kInvSqrt2Pi * expf(-0.5f * y * y));
    }
    case BinaryOp::GeluTanhBackward: {
      const float inner = kSqrt2OverPi * (y + 0.044715f * y * y * y);
      const float s = 1.0f / (1.0f + expf(-2.0f * inner));
      const float dInner = kSqrt2OverPi * (1.0f + 3.0f * 0.044715f * y * y);
      return x * (s + 2.0f * y * s * (1.0f - s) * dInner);
    }
    case BinaryOp::SigmoidBackward: return x * y * (1.0f - y);
    case BinaryOp::TanhBackward: return x * (1.0f - y * y);
    case BinaryOp::SiluBackward: {
      const float s = 1.0f / (1.0f + expf(-y));
      return x * s * (1.0f + y * (1.0f - s));
    }
    default: return x;
  }
}

__device__ int32_t binaryI(BinaryOp op, int32_t x, int32_t y) {
  using U = uint32_t;
  switch (op) {
    case BinaryOp::Add: return int32_t(U(x) + U(y));
    case BinaryOp::Sub: return int32_t(U(x) - U(y));
    case BinaryOp::Mul: return int32_t(U(x) * U(y));
    case BinaryOp::Maximum: return x > y ? x : y;
    case BinaryOp::Minimum: return x < y ? x : y;
    case BinaryOp::Div: {  // floor division; division by zero gives 0 (no trap)
      if (y == 0 || (x == INT32_MIN && y == -1)) return 0;
      const int32_t q = x / y;
      return (q * y != x && ((x < 0) != (y < 0))) ? q - 1 : q;
    }
    case BinaryOp::Remainder: {
      if (y == 0 || y == -1) return 0;
      const int32_t r = x % y;
      return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
    }
    case BinaryOp::Fmod: return (y == 0 || y == -1) ? 0 : x % y;  // truncated; no trap
    default: return x;
  }
}

bool hasIntForm(BinaryOp op) {
  return op == BinaryOp::Add || op == BinaryOp::Sub || op == BinaryOp::Mul || op == BinaryOp::Div ||
         op == BinaryOp::Maximum || op == BinaryOp::Minimum || op == BinaryOp::Remainder ||
         op == BinaryOp::Fmod;
}

template <class T>
__device__ uint8_t compare(BinaryOp op, T x, T y) {
  switch (op) {
    case BinaryOp::Eq: return x == y;
    case BinaryOp::Ne: return x != y;
    case BinaryOp::Lt: return x < y;
    case BinaryOp::Le: return x <= y;
    case BinaryOp::Gt: return x > y;
    case BinaryOp::Ge: return x >= y;
    case BinaryOp::LogicalAnd: return (x != T(0)) & (y != T(0));
    case BinaryOp::LogicalOr: return (x != T(0)) | (y != T(0));
    default: return (x != T(0)) ^ (y != T(0));
  }
}

template <class T>
struct BinaryArith {
  BinaryOp op;
  __device__ void operator()(char* (&p)[3], int64_t) const {
    const T x = *reinterpret_cast<const T*>(p[1]), y = *reinterpret_cast<const T*>(p[2]);
    if constexpr (std::is_same_v<T, float>) *reinterpret_cast<T*>(p[0]) = binaryF(op, x, y);
    else *reinterpret_cast<T*>(p[0]) = binaryI(op, x, y);
  }
};
template <class T>
struct BinaryCompare {
  BinaryOp op;
  __device__ void operator()(char* (&p)[3], int64_t) const {
    *reinterpret_cast<uint8_t*>(p[0]) = compare<T>(op, *reinterpret_cast<const T*>(p[1]), *reinterpret_cast<const T*>(p[2]));
  }
};

template <class T>
struct WhereFn {
  __device__ void operator()(char* (&p)[4], int64_t) const {
    *reinterpret_cast<T*>(p[0]) = *p[1] ? *reinterpret_cast<const T*>(p[2]) : *reinterpret_cast<const T*>(p[3]);
  }
};

template <class TIn, class TOut>
struct CastFn {
  __device__ void operator()(char* (&p)[2], int64_t) const {
    const TIn x = *reinterpret_cast<const TIn*>(p[1]);
    TOut y;
    if constexpr (std::is_same_v<TOut, uint8_t>) {
      y = x != TIn(0);
    } else if constexpr (std::is_same_v<TOut, int32_t> && std::is_same_v<TIn, float>) {
      // Truncation toward zero; NaN and out-of-range values saturate, as on the CPU.
      y = !(x == x) ? 0 : x >= 2147483647.0f ? INT32_MAX : x <= -2147483648.0f ? INT32_MIN : int32_t(x);
    } else {
      y = static_cast<TOut>(x);
    }
    *reinterpret_cast<TOut*>(p[0]) = y;
  }
};

template <class T>
struct FillFn {
  T value;
  __device__ void operator()(char* (&p)[1], int64_t) const { *reinterpret_cast<T*>(p[0]) = value; }
};

template <class TIn, class TOut>
void castTyped(int ndim, const int64_t* shape, Operand out, Operand in) {
  const Operand ops[2] = {out, in};
  const int bytes[2] = {int(sizeof(TOut)), int(sizeof(TIn))};
  launchMap(makeWalk<2>(ndim, shape, ops, bytes), CastFn<TIn, TOut>{}, currentStream(), "cast");
}

template <class TIn>
void castFrom(kd::DType to, int ndim, const int64_t* shape, Operand out, Operand in) {
  if (to == kd::DType::Float32) castTyped<TIn, float>(ndim, shape, out, in);
  else if (to == kd::DType::Int32) castTyped<TIn, int32_t>(ndim, shape, out, in);
  else castTyped<TIn, uint8_t>(ndim, shape, out, in);
}

template <class TIn, class TOut, class F>
void launchBinary(int ndim, const int64_t* shape, Operand out, Operand a, Operand b, const F& f) {
  const Operand ops[3] = {out, a, b};
  const int bytes[3] = {int(sizeof(TOut)), int(sizeof(TIn)), int(sizeof(TIn))};
  launchMap(makeWalk<3>(ndim, shape, ops, bytes), f, currentStream(), "binary");
}

}  // namespace

void unary(UnaryOp op, kd::DType dtype, double p0, double p1, int ndim, const int64_t* shape, Operand out, Operand in) {
  const Operand ops[2] = {out, in};
  cudaStream_t s = currentStream();
  if (op == UnaryOp::LogicalNot) {
    const int bytes[2] = {1, 1};
    return launchMap(makeWalk<2>(ndim, shape, ops, bytes), LogicalNot{}, s, "unary");
  }
  const int bytes[2] = {4, 4};
  if (dtype == kd::DType::Int32 && hasIntForm(op))
    return launchMap(makeWalk<2>(ndim, shape, ops, bytes), UnaryInt{op, int32_t(p0), int32_t(p1)}, s, "unary");
  if (dtype != kd::DType::Float32) throw std::invalid_argument("unary: this op needs float32 input");
  launchMap(makeWalk<2>(ndim, shape, ops, bytes), UnaryFloat{op, float(p0), float(p1)}, s, "unary");
}

void binary(BinaryOp op, kd::DType dtype, int ndim, const int64_t* shape, Operand out, Operand a, Operand b) {
  if (isLogical(op)) return launchBinary<uint8_t, uint8_t>(ndim, shape, out, a, b, BinaryCompare<uint8_t>{op});
  if (isComparison(op)) {
    if (dtype == kd::DType::Float32) return launchBinary<float, uint8_t>(ndim, shape, out, a, b, BinaryCompare<float>{op});
    if (dtype == kd::DType::Int32) return launchBinary<int32_t, uint8_t>(ndim, shape, out, a, b, BinaryCompare<int32_t>{op});
    return launchBinary<uint8_t, uint8_t>(ndim, shape, out, a, b, BinaryCompare<uint8_t>{op});
  }
  if (dtype == kd::DType::Int32 && hasIntForm(op))
    return launchBinary<int32_t, int32_t>(ndim, shape, out, a, b, BinaryArith<int32_t>{op});
  if (dtype != kd::DType::Float32) throw std::invalid_argument("binary: this op needs float32 operands");
  launchBinary<float, float>(ndim, shape, out, a, b, BinaryArith<float>{op});
}

void where(kd::DType dtype, int ndim, const int64_t* shape, Operand out, Operand cond, Operand a, Operand b) {
  const Operand ops[4] = {out, cond, a, b};
  cudaStream_t s = currentStream();
  if (dtype == kd::DType::Bool) {
    const int bytes[4] = {1, 1, 1, 1};
    return launchMap(makeWalk<4>(ndim, shape, ops, bytes), WhereFn<uint8_t>{}, s, "where");
  }
  const int bytes[4] = {4, 1, 4, 4};  // float32 and int32: the same 4-byte move
  launchMap(makeWalk<4>(ndim, shape, ops, bytes), WhereFn<uint32_t>{}, s, "where");
}

void cast(kd::DType from, kd::DType to, int ndim, const int64_t* shape, Operand out, Operand in) {
  if (from == to && from != kd::DType::Bool) return castTyped<uint32_t, uint32_t>(ndim, shape, out, in);  // move bits
  if (from == kd::DType::Float32) castFrom<float>(to, ndim, shape, out, in);
  else if (from == kd::DType::Int32) castFrom<int32_t>(to, ndim, shape, out, in);
  else castFrom<uint8_t>(to, ndim, shape, out, in);
}

void fill(kd::DType dtype, double value, int ndim, const int64_t* shape, Operand out) {
  const Operand ops[1] = {out};
  cudaStream_t s = currentStream();
  if (dtype == kd::DType::Float32) {
    const int bytes[1] = {4};
    launchMap(makeWalk<1>(ndim, shape, ops, bytes), FillFn<float>{float(value)}, s, "fill");
  } else if (dtype == kd::DType::Int32) {
    const int bytes[1] = {4};
    const int32_t v = value != value ? 0 : value >= 2147483647.0 ? INT32_MAX : value <= -2147483648.0 ? INT32_MIN : int32_t(value);
    launchMap(makeWalk<1>(ndim, shape, ops, bytes), FillFn<int32_t>{v}, s, "fill");
  } else {
    const int bytes[1] = {1};
    launchMap(makeWalk<1>(ndim, shape, ops, bytes), FillFn<uint8_t>{uint8_t(value != 0)}, s, "fill");
  }
}

}  // namespace kd::cuda
