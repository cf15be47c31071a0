// The elementwise kernels, written once as plain loops that the compiler vectorises for the ISA
// of the including file (elementwise_{scalar,avx2}.cc; those files are built with
// -ffast-math -fno-finite-math-only; vector_math.h maps expf/logf/tanhf/erff to glibc's vector
// math while NaN and infinity keep their meaning). Include only from those files, inside KD_ISA_NS.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <type_traits>

#include "common/strided.h"
#include "cpu/elementwise_builds.h"
#include "cpu/vector_math.h"

namespace kd {
namespace KD_ISA_NS {
namespace {


template <UnaryOp OP>
inline float unaryF(float x, float p0, float p1) {
  if constexpr (OP == UnaryOp::Neg) return -x;
  else if constexpr (OP == UnaryOp::Exp) return std::exp(x);
  else if constexpr (OP == UnaryOp::Log) return std::log(x);
  else if constexpr (OP == UnaryOp::Sqrt) return std::sqrt(x);
  else if constexpr (OP == UnaryOp::Rsqrt) return 1.0f / std::sqrt(x);
  else if constexpr (OP == UnaryOp::Abs) return std::fabs(x);
  else if constexpr (OP == UnaryOp::Relu) return x > 0.0f ? x : (x != x ? x : 0.0f);
  // x Φ(x) through the normal tail, and x σ(2u) (vector_math.h): neither cancels for x << 0.
  else if constexpr (OP == UnaryOp::Gelu) return geluErf(x);
  else if constexpr (OP == UnaryOp::GeluTanh) return geluTanh(x);
  else if constexpr (OP == UnaryOp::Sigmoid) return 1.0f / (1.0f + std::exp(-x));
  else if constexpr (OP == UnaryOp::Tanh) return std::tanh(x);
  else if constexpr (OP == UnaryOp::Silu) return x / (1.0f + std::exp(-x));
  else if constexpr (OP == UnaryOp::Sin) return std::sin(x);
  else if constexpr (OP == UnaryOp::Cos) return std::cos(x);
  else if constexpr (OP == UnaryOp::Reciprocal) return 1.0f / x;
  else if constexpr (OP == UnaryOp::Sign) return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : (x != x ? x : 0.0f));
  else if constexpr (OP == UnaryOp::Floor) return std::floor(x);
  else if constexpr (OP == UnaryOp::Ceil) return std::ceil(x);
  else if constexpr (OP == UnaryOp::Round) return std::nearbyint(x);
  else if constexpr (OP == UnaryOp::Square) return x * x;
  else if constexpr (OP == UnaryOp::Log1p) return std::log1p(x);
  else if constexpr (OP == UnaryOp::Expm1) return std::expm1(x);
  else if constexpr (OP == UnaryOp::Erf) return std::erf(x);
  else if constexpr (OP == UnaryOp::AddScalar) return x + p0;
  else if constexpr (OP == UnaryOp::MulScalar) return x * p0;
  else if constexpr (OP == UnaryOp::RSubScalar) return p0 - x;
  else if constexpr (OP == UnaryOp::RDivScalar) return p0 / x;
  else if constexpr (OP == UnaryOp::PowScalar) {
    if (p0 == 2.0f) return x * x;
    if (p0 == 0.5f) return std::sqrt(x);
    if (p0 == 1.0f) return x;
    return std::pow(x, p0);
  }
  else if constexpr (OP == UnaryOp::Clamp) return x != x ? x : std::fmin(std::fmax(x, p0), p1);
  else if constexpr (OP == UnaryOp::LeakyRelu) return x > 0.0f ? x : p0 * x;
  else if constexpr (OP == UnaryOp::Elu) return x > 0.0f ? x : p0 * std::expm1(x);
  else if constexpr (OP == UnaryOp::Softplus) return x > p0 ? x : std::log1p(std::exp(x));
  else if constexpr (OP == UnaryOp::Sinh) return std::sinh(x);
  else if constexpr (OP == UnaryOp::Cosh) return std::cosh(x);
  // copysign keeps -0 (trunc(-0.5) is -0) where -ffast-math would lose it.
  else if constexpr (OP == UnaryOp::Trunc) return std::copysign(std::trunc(x), x);
  else return x;
}

template <UnaryOp OP>
inline int32_t unaryI(int32_t x, int32_t p0, int32_t p1) {
  if constexpr (OP == UnaryOp::Neg) return static_cast<int32_t>(0u - static_cast<uint32_t>(x));
  else if constexpr (OP == UnaryOp::Abs) return x < 0 ? static_cast<int32_t>(0u - static_cast<uint32_t>(x)) : x;
  else if constexpr (OP == UnaryOp::Sign) return (x > 0) - (x < 0);
  else if constexpr (OP == UnaryOp::Square) return static_cast<int32_t>(static_cast<uint32_t>(x) * static_cast<uint32_t>(x));
  else if constexpr (OP == UnaryOp::AddScalar) return static_cast<int32_t>(static_cast<uint32_t>(x) + static_cast<uint32_t>(p0));
  else if constexpr (OP == UnaryOp::MulScalar) return static_cast<int32_t>(static_cast<uint32_t>(x) * static_cast<uint32_t>(p0));
  else if constexpr (OP == UnaryOp::RSubScalar) return static_cast<int32_t>(static_cast<uint32_t>(p0) - static_cast<uint32_t>(x));
  else if constexpr (OP == UnaryOp::Clamp) return x < p0 ? p0 : (x > p1 ? p1 : x);
  else if constexpr (OP == UnaryOp::Relu) return x > 0 ? x : 0;
  else return x;
}

// Applies f(in) -> out over a strided loop; the contiguous inner case is a plain indexed loop
// the compiler vectorises.
template <class TIn, class TOut, class F>
void mapUnary(int ndim, const int64_t* shape, Operand out, Operand in, F f) {
  const int64_t* strides[2] = {out.strides, in.strides};
  const int bytes[2] = {sizeof(TOut), sizeof(TIn)};
  StridedLoop<2> loop(ndim, shape, strides, bytes);
  char* base[2] = {out.data, in.data};
  forEachRow<2>(loop, base, [&](char* const* p, const int64_t* s, int64_t n) {
    TOut* o = reinterpret_cast<TOut*>(p[0]);
    const TIn* x = reinterpret_cast<const TIn*>(p[1]);
    if (s[0] == sizeof(TOut) && s[1] == sizeof(TIn)) {
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i]);
    } else {
      const int64_t so = s[0] / int64_t(sizeof(TOut)), si = s[1] / int64_t(sizeof(TIn));
      for (int64_t i = 0; i < n; ++i) o[i * so] = f(x[i * si]);
    }
  });
}

template <class T, class TOut, class F>
void mapBinary(int ndim, const int64_t* shape, Operand out, Operand a, Operand b, F f) {
  const int64_t* strides[3] = {out.strides, a.strides, b.strides};
  const int bytes[3] = {sizeof(TOut), sizeof(T), sizeof(T)};
  StridedLoop<3> loop(ndim, shape, strides, bytes);
  char* base[3] = {out.data, a.data, b.data};
  forEachRow<3>(loop, base, [&](char* const* p, const int64_t* s, int64_t n) {
    TOut* o = reinterpret_cast<TOut*>(p[0]);
    const T* x = reinterpret_cast<const T*>(p[1]);
    const T* y = reinterpret_cast<const T*>(p[2]);
    const bool outDense = s[0] == sizeof(TOut);
    if (outDense && s[1] == sizeof(T) && s[2] == sizeof(T)) {
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
    } else if (outDense && s[1] == sizeof(T) && s[2] == 0) {
      const T yv = *y;
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], yv);
    } else if (outDense && s[1] == 0 && s[2] == sizeof(T)) {
      const T xv = *x;
      for (int64_t i = 0; i < n; ++i) o[i] = f(xv, y[i]);
    } else {
      const int64_t so = s[0] / int64_t(sizeof(TOut)), sx = s[1] / int64_t(sizeof(T)), sy = s[2] / int64_t(sizeof(T));
      for (int64_t i = 0; i < n; ++i) o[i * so] = f(x[i * sx], y[i * sy]);
    }
  });
}

// Which unary ops have an int32 form (lib/ops promotes the others to float32 first).
constexpr bool hasIntForm(UnaryOp op) {
  return op == UnaryOp::Neg || op == UnaryOp::Abs || op == UnaryOp::Sign || op == UnaryOp::Square ||
         op == UnaryOp::AddScalar || op == UnaryOp::MulScalar || op == UnaryOp::RSubScalar ||
         op == UnaryOp::Clamp || op == UnaryOp::Relu || op == UnaryOp::Trunc;
}

// Only the (op, dtype) pairs lib/ops can ask for are instantiated: this file is compiled per
// ISA and its template count dominates the build time.
template <UnaryOp OP>
void unaryTyped(DType dtype, double p0, double p1, int ndim, const int64_t* shape, Operand out, Operand in) {
  if constexpr (OP == UnaryOp::LogicalNot) {
    mapUnary<uint8_t, uint8_t>(ndim, shape, out, in, [](uint8_t x) -> uint8_t { return !x; });
  } else {
    if constexpr (hasIntForm(OP)) {
      if (dtype == DType::Int32) {
        const int32_t q0 = static_cast<int32_t>(p0), q1 = static_cast<int32_t>(p1);
        mapUnary<int32_t, int32_t>(ndim, shape, out, in, [=](int32_t x) { return unaryI<OP>(x, q0, q1); });
        return;
      }
    }
    if (dtype != DType::Float32) throw std::invalid_argument("unary: this op needs float32 input");
    const float q0 = static_cast<float>(p0), q1 = static_cast<float>(p1);
    mapUnary<float, float>(ndim, shape, out, in, [=](float x) { return unaryF<OP>(x, q0, q1); });
  }
}

template <BinaryOp OP>
inline float binaryF(float x, float y) {
  if constexpr (OP == BinaryOp::Add) return x + y;
  else if constexpr (OP == BinaryOp::Sub) return x - y;
  else if constexpr (OP == BinaryOp::Mul) return x * y;
  else if constexpr (OP == BinaryOp::Div) return x / y;
  else if constexpr (OP == BinaryOp::Pow) return std::pow(x, y);
  else if constexpr (OP == BinaryOp::Maximum) return (x != x || x > y) ? x : y;
  else if constexpr (OP == BinaryOp::Minimum) return (x != x || x < y) ? x : y;
  else if constexpr (OP == BinaryOp::Remainder) {  // Python-style: result has the divisor's sign
    float r = std::fmod(x, y);
    return (r != 0.0f && ((r < 0.0f) != (y < 0.0f))) ? r + y : r;
  }
  else if constexpr (OP == BinaryOp::Atan2) return std::atan2(x, y);
  else if constexpr (OP == BinaryOp::Fmod) return std::fmod(x, y);
  else if constexpr (OP == BinaryOp::ReluBackward) return y > 0.0f ? x : 0.0f;
  else if constexpr (OP == BinaryOp::GeluBackward) return x * geluErfSlope(y);
  else if constexpr (OP == BinaryOp::GeluTanhBackward) return x * geluTanhSlope(y);
  else if constexpr (OP == BinaryOp::SigmoidBackward) return x * y * (1.0f - y);
  else if constexpr (OP == BinaryOp::TanhBackward) return x * (1.0f - y * y);
  else if constexpr (OP == BinaryOp::SiluBackward) {
    float s = 1.0f / (1.0f + std::exp(-y));
    return x * s * (1.0f + y * (1.0f - s));
  }
  else return x;
}

template <BinaryOp OP>
inline int32_t binaryI(int32_t x, int32_t y) {
  using U = uint32_t;
  if constexpr (OP == BinaryOp::Add) return static_cast<int32_t>(U(x) + U(y));
  else if constexpr (OP == BinaryOp::Sub) return static_cast<int32_t>(U(x) - U(y));
  else if constexpr (OP == BinaryOp::Mul) return static_cast<int32_t>(U(x) * U(y));
  else if constexpr (OP == BinaryOp::Maximum) return x > y ? x : y;
  else if constexpr (OP == BinaryOp::Minimum) return x < y ? x : y;
  else if constexpr (OP == BinaryOp::Div) {  // floor division; division by zero gives 0 (no trap)
    if (y == 0 || (x == INT32_MIN && y == -1)) return 0;
    int32_t q = x / y;
    return (q * y != x && ((x < 0) != (y < 0))) ? q - 1 : q;
  }
  else if constexpr (OP == BinaryOp::Remainder) {
    if (y == 0 || y == -1) return 0;
    int32_t r = x % y;
    return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
  }
  // Truncated remainder; lib/ops rejects a zero divisor, and x % -1 (UB for INT32_MIN) is 0.
  else if constexpr (OP == BinaryOp::Fmod) return (y == 0 || y == -1) ? 0 : x % y;
  else return x;
}

template <BinaryOp OP, class T>
inline uint8_t compare(T x, T y) {
  if constexpr (OP == BinaryOp::Eq) return x == y;
  else if constexpr (OP == BinaryOp::Ne) return x != y;
  else if constexpr (OP == BinaryOp::Lt) return x < y;
  else if constexpr (OP == BinaryOp::Le) return x <= y;
  else if constexpr (OP == BinaryOp::Gt) return x > y;
  else if constexpr (OP == BinaryOp::Ge) return x >= y;
  else if constexpr (OP == BinaryOp::LogicalAnd) return (x != 0) & (y != 0);
  else if constexpr (OP == BinaryOp::LogicalOr) return (x != 0) | (y != 0);
  else return (x != 0) ^ (y != 0);
}

template <BinaryOp OP>
void binaryTyped(DType dtype, int ndim, const int64_t* shape, Operand out, Operand a, Operand b) {
  if constexpr (OP >= BinaryOp::Eq && OP <= BinaryOp::LogicalXor) {
    auto u8 = [](uint8_t x, uint8_t y) { return compare<OP>(x, y); };
    if constexpr (OP >= BinaryOp::LogicalAnd) {
      mapBinary<uint8_t, uint8_t>(ndim, shape, out, a, b, u8);  // logical ops take bool operands
    } else {
      auto f32 = [](float x, float y) { return compare<OP>(x, y); };
      auto i32 = [](int32_t x, int32_t y) { return compare<OP>(x, y); };
      if (dtype == DType::Float32) mapBinary<float, uint8_t>(ndim, shape, out, a, b, f32);
      else if (dtype == DType::Int32) mapBinary<int32_t, uint8_t>(ndim, shape, out, a, b, i32);
      else mapBinary<uint8_t, uint8_t>(ndim, shape, out, a, b, u8);
    }
  } else {
    constexpr bool intForm = OP == BinaryOp::Add || OP == BinaryOp::Sub || OP == BinaryOp::Mul || OP == BinaryOp::Div ||
                             OP == BinaryOp::Maximum || OP == BinaryOp::Minimum || OP == BinaryOp::Remainder ||
                             OP == BinaryOp::Fmod;
    if constexpr (intForm) {
      if (dtype == DType::Int32) {
        mapBinary<int32_t, int32_t>(ndim, shape, out, a, b, [](int32_t x, int32_t y) { return binaryI<OP>(x, y); });
        return;
      }
    }
    if (dtype != DType::Float32) throw std::invalid_argument("binary: this op needs float32 operands");
    mapBinary<float, float>(ndim, shape, out, a, b, [](float x, float y) { return binaryF<OP>(x, y); });
  }
}

template <class T>
void whereTyped(int ndim, const int64_t* shape, Operand out, Operand cond, Operand a, Operand b) {
  const int64_t* strides[4] = {out.strides, cond.strides, a.strides, b.strides};
  const int bytes[4] = {sizeof(T), 1, sizeof(T), sizeof(T)};
  StridedLoop<4> loop(ndim, shape, strides, bytes);
  char* base[4] = {out.data, cond.data, a.data, b.data};
  forEachRow<4>(loop, base, [&](char* const* p, const int64_t* s, int64_t n) {
    T* o = reinterpret_cast<T*>(p[0]);
    const uint8_t* c = reinterpret_cast<const uint8_t*>(p[1]);
    const T* x = reinterpret_cast<const T*>(p[2]);
    const T* y = reinterpret_cast<const T*>(p[3]);
    const int64_t so = s[0] / int64_t(sizeof(T)), sc = s[1], sx = s[2] / int64_t(sizeof(T)), sy = s[3] / int64_t(sizeof(T));
    for (int64_t i = 0; i < n; ++i) o[i * so] = c[i * sc] ? x[i * sx] : y[i * sy];
  });
}

template <class TIn, class TOut>
void castTyped(int ndim, const int64_t* shape, Operand out, Operand in) {
  mapUnary<TIn, TOut>(ndim, shape, out, in, [](TIn x) -> TOut {
    if constexpr (std::is_same_v<TOut, uint8_t>) return x != TIn(0);
    else if constexpr (std::is_same_v<TOut, int32_t> && std::is_same_v<TIn, float>) {
      // Truncation toward zero like PyTorch; NaN and out-of-range values saturate instead of
      // invoking undefined behaviour.
      if (!(x == x)) return 0;
      if (x >= 2147483647.0f) return INT32_MAX;
      if (x <= -2147483648.0f) return INT32_MIN;
      return static_cast<int32_t>(x);
    }
    else return static_cast<TOut>(x);
  });
}

template <class TIn>
void castFrom(DType to, int ndim, const int64_t* shape, Operand out, Operand in) {
  if (to == DType::Float32) castTyped<TIn, float>(ndim, shape, out, in);
  else if (to == DType::Int32) castTyped<TIn, int32_t>(ndim, shape, out, in);
  else castTyped<TIn, uint8_t>(ndim, shape, out, in);
}

}  // namespace

void unaryKernel(UnaryOp op, DType dtype, double p0, double p1, int ndim, const int64_t* shape, Operand out, Operand in) {
  switch (op) {
#define KD_CASE(name) case UnaryOp::name: return unaryTyped<UnaryOp::name>(dtype, p0, p1, ndim, shape, out, in);
    KD_CASE(Neg) KD_CASE(Exp) KD_CASE(Log) KD_CASE(Sqrt) KD_CASE(Rsqrt) KD_CASE(Abs) KD_CASE(Relu)
    KD_CASE(Gelu) KD_CASE(GeluTanh) KD_CASE(Sigmoid) KD_CASE(Tanh) KD_CASE(Silu) KD_CASE(Sin)
    KD_CASE(Cos) KD_CASE(Reciprocal) KD_CASE(Sign) KD_CASE(Floor) KD_CASE(Ceil) KD_CASE(Round)
    KD_CASE(Square) KD_CASE(Log1p) KD_CASE(Expm1) KD_CASE(Erf) KD_CASE(LogicalNot)
    KD_CASE(AddScalar) KD_CASE(MulScalar) KD_CASE(RSubScalar) KD_CASE(RDivScalar) KD_CASE(PowScalar)
    KD_CASE(Clamp) KD_CASE(LeakyRelu) KD_CASE(Elu) KD_CASE(Softplus)
    KD_CASE(Sinh) KD_CASE(Cosh) KD_CASE(Trunc)
#undef KD_CASE
    default: return;
  }
}

void binaryKernel(BinaryOp op, DType dtype, int ndim, const int64_t* shape, Operand out, Operand a, Operand b) {
  switch (op) {
#define KD_CASE(name) case BinaryOp::name: return binaryTyped<BinaryOp::name>(dtype, ndim, shape, out, a, b);
    KD_CASE(Add) KD_CASE(Sub) KD_CASE(Mul) KD_CASE(Div) KD_CASE(Pow) KD_CASE(Maximum) KD_CASE(Minimum)
    KD_CASE(Remainder) KD_CASE(Atan2) KD_CASE(Eq) KD_CASE(Ne) KD_CASE(Lt) KD_CASE(Le) KD_CASE(Gt)
    KD_CASE(Ge) KD_CASE(LogicalAnd) KD_CASE(LogicalOr) KD_CASE(LogicalXor) KD_CASE(ReluBackward)
    KD_CASE(GeluBackward) KD_CASE(GeluTanhBackward) KD_CASE(SigmoidBackward) KD_CASE(TanhBackward)
    KD_CASE(SiluBackward) KD_CASE(Fmod)
#undef KD_CASE
    default: return;
  }
}

void whereKernel(DType dtype, int ndim, const int64_t* shape, Operand out, Operand cond, Operand a, Operand b) {
  if (dtype == DType::Bool) whereTyped<uint8_t>(ndim, shape, out, cond, a, b);
  else whereTyped<int32_t>(ndim, shape, out, cond, a, b);  // float32 and int32: same 4-byte move
}

void castKernel(DType from, DType to, int ndim, const int64_t* shape, Operand out, Operand in) {
  if (from == to && from != DType::Bool) {  // a copy: move bits
    mapUnary<int32_t, int32_t>(ndim, shape, out, in, [](int32_t x) { return x; });
    return;
  }
  if (from == DType::Float32) castFrom<float>(to, ndim, shape, out, in);
  else if (from == DType::Int32) castFrom<int32_t>(to, ndim, shape, out, in);
  else castFrom<uint8_t>(to, ndim, shape, out, in);
}

}  // namespace KD_ISA_NS
}  // namespace kd
