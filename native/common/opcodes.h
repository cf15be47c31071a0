// Operation codes shared with lib/backend/opcodes.ts. Each list is written once, as an X-macro:
// it defines the enum here and the name table the binding exports (native/binding/opcodes.cc),
// which test/native/opcodes.test.ts compares with the TypeScript tables, names and values.
#pragma once

namespace kd {

// Unary maps; p0/p1 are scalar parameters where the op takes them.
#define KD_UNARY_OPS(X)                                                                          \
  X(Neg) X(Exp) X(Log) X(Sqrt) X(Rsqrt) X(Abs) X(Relu) X(Gelu) X(GeluTanh) X(Sigmoid) X(Tanh)   \
  X(Silu) X(Sin) X(Cos) X(Reciprocal) X(Sign) X(Floor) X(Ceil) X(Round) X(Square) X(Log1p)      \
  X(Expm1) X(Erf) X(LogicalNot)                                                                 \
  X(AddScalar)  /* x + p0 */                                                                    \
  X(MulScalar)  /* x * p0 */                                                                    \
  X(RSubScalar) /* p0 - x */                                                                    \
  X(RDivScalar) /* p0 / x */                                                                    \
  X(PowScalar)  /* x ^ p0 */                                                                    \
  X(Clamp)      /* min(max(x, p0), p1) */                                                       \
  X(LeakyRelu)  /* x > 0 ? x : p0 * x */                                                        \
  X(Elu)        /* x > 0 ? x : p0 * (exp(x) - 1) */                                             \
  X(Softplus)   /* log(1 + exp(x)), linear above p0 */                                          \
  X(Sinh) X(Cosh)                                                                               \
  X(Trunc)      /* round toward zero (the identity on int32) */

// Binary maps over two broadcast operands of one dtype.
#define KD_BINARY_OPS(X)                                                                         \
  X(Add) X(Sub) X(Mul) X(Div) X(Pow) X(Maximum) X(Minimum) X(Remainder) X(Atan2)                \
  X(Eq) X(Ne) X(Lt) X(Le) X(Gt) X(Ge)  /* -> bool */                                            \
  X(LogicalAnd) X(LogicalOr) X(LogicalXor)  /* bool x bool -> bool */                           \
  /* Fused backward rules: first operand the incoming gradient. */                              \
  X(ReluBackward)     /* g * (x > 0) */                                                         \
  X(GeluBackward)     /* g * d/dx [x * Phi(x)] */                                               \
  X(GeluTanhBackward) /* g * d/dx of the tanh approximation */                                  \
  X(SigmoidBackward)  /* g * y * (1 - y), y = sigmoid(x) */                                     \
  X(TanhBackward)     /* g * (1 - y^2), y = tanh(x) */                                          \
  X(SiluBackward)     /* g * d/dx [x * sigmoid(x)] */                                           \
  X(Fmod)             /* C's fmod: the result has the dividend's sign (int32: truncated %) */

// Reductions (common/reduce.h); the arg ops return int32 positions.
#define KD_REDUCE_OPS(X) X(Sum) X(Mean) X(Max) X(Min) X(Argmax) X(Argmin) X(Prod)

#define KD_OPCODE_ENUMERATOR(name) name,
#define KD_OPCODE_NAME(name) #name,

enum class UnaryOp : int { KD_UNARY_OPS(KD_OPCODE_ENUMERATOR) Count };
enum class BinaryOp : int { KD_BINARY_OPS(KD_OPCODE_ENUMERATOR) Count };
enum class ReduceOp : int { KD_REDUCE_OPS(KD_OPCODE_ENUMERATOR) Count };

// The names in enum order (index = value), for the binding's exported tables.
inline constexpr const char* kUnaryOpNames[] = {KD_UNARY_OPS(KD_OPCODE_NAME)};
inline constexpr const char* kBinaryOpNames[] = {KD_BINARY_OPS(KD_OPCODE_NAME)};
inline constexpr const char* kReduceOpNames[] = {KD_REDUCE_OPS(KD_OPCODE_NAME)};
static_assert(sizeof(kUnaryOpNames) / sizeof(kUnaryOpNames[0]) == static_cast<int>(UnaryOp::Count));
static_assert(sizeof(kBinaryOpNames) / sizeof(kBinaryOpNames[0]) == static_cast<int>(BinaryOp::Count));
static_assert(sizeof(kReduceOpNames) / sizeof(kReduceOpNames[0]) == static_cast<int>(ReduceOp::Count));

#undef KD_OPCODE_ENUMERATOR
#undef KD_OPCODE_NAME

inline bool isComparison(BinaryOp op) { return op >= BinaryOp::Eq && op <= BinaryOp::Ge; }
inline bool isLogical(BinaryOp op) { return op >= BinaryOp::LogicalAnd && op <= BinaryOp::LogicalXor; }

}  // namespace kd
