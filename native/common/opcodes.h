// Operation codes shared with lib/backend/opcodes.ts (keep the two lists in the same order).
#pragma once

namespace kd {

// Unary maps; p0/p1 are scalar parameters where the op takes them.
enum class UnaryOp : int {
  Neg, Exp, Log, Sqrt, Rsqrt, Abs, Relu, Gelu, GeluTanh, Sigmoid, Tanh, Silu, Sin, Cos,
  Reciprocal, Sign, Floor, Ceil, Round, Square, Log1p, Expm1, Erf, LogicalNot,
  AddScalar,   // x + p0
  MulScalar,   // x * p0
  RSubScalar,  // p0 - x
  RDivScalar,  // p0 / x
  PowScalar,   // x ^ p0
  Clamp,       // min(max(x, p0), p1)
  LeakyRelu,   // x > 0 ? x : p0 * x
  Elu,         // x > 0 ? x : p0 * (exp(x) - 1)
  Softplus,    // log(1 + exp(x)), linear above p0
  Sinh, Cosh,
  Trunc,       // round toward zero (the identity on int32)
  Count
};

// Binary maps over two broadcast operands of one dtype.
enum class BinaryOp : int {
  Add, Sub, Mul, Div, Pow, Maximum, Minimum, Remainder, Atan2,
  Eq, Ne, Lt, Le, Gt, Ge,              // -> bool
  LogicalAnd, LogicalOr, LogicalXor,   // bool x bool -> bool
  // Fused backward rules: first operand the incoming gradient.
  ReluBackward,     // g * (x > 0)
  GeluBackward,     // g * d/dx [x * Phi(x)]
  GeluTanhBackward, // g * d/dx of the tanh approximation
  SigmoidBackward,  // g * y * (1 - y), y = sigmoid(x)
  TanhBackward,     // g * (1 - y^2), y = tanh(x)
  SiluBackward,     // g * d/dx [x * sigmoid(x)]
  Fmod,             // C's fmod: the result has the dividend's sign (int32: truncated %)
  Count
};

inline bool isComparison(BinaryOp op) { return op >= BinaryOp::Eq && op <= BinaryOp::Ge; }
inline bool isLogical(BinaryOp op) { return op >= BinaryOp::LogicalAnd && op <= BinaryOp::LogicalXor; }

}  // namespace kd
