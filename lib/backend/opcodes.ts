// Operation codes shared with native/common/opcodes.h and native/cpu/reduce.h (same order).

export const enum UnaryOp {
  Neg, Exp, Log, Sqrt, Rsqrt, Abs, Relu, Gelu, GeluTanh, Sigmoid, Tanh, Silu, Sin, Cos,
  Reciprocal, Sign, Floor, Ceil, Round, Square, Log1p, Expm1, Erf, LogicalNot,
  AddScalar, MulScalar, RSubScalar, RDivScalar, PowScalar, Clamp, LeakyRelu, Elu, Softplus,
  Sinh, Cosh, Trunc,
}

export const enum BinaryOp {
  Add, Sub, Mul, Div, Pow, Maximum, Minimum, Remainder, Atan2,
  Eq, Ne, Lt, Le, Gt, Ge,
  LogicalAnd, LogicalOr, LogicalXor,
  ReluBackward, GeluBackward, GeluTanhBackward, SigmoidBackward, TanhBackward, SiluBackward,
  Fmod,
}

export const enum ReduceOp {
  Sum, Mean, Max, Min, Argmax, Argmin, Prod,
}
