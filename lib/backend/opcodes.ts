// Operation codes shared with native/common/opcodes.h: each table lists the names in the C++
// enum's order, and an op's code is its position. test/native/opcodes.test.ts checks both lists
// against the names the addon exports (names and values), so a reordering on either side fails.

/** { Name: index } for a list of names, as a frozen object. */
function codes<const Names extends readonly string[]>(names: Names): { readonly [K in Names[number]]: number } {
  return Object.freeze(Object.fromEntries(names.map((name, i) => [name, i]))) as { readonly [K in Names[number]]: number };
}

export const UnaryOp = codes([
  'Neg', 'Exp', 'Log', 'Sqrt', 'Rsqrt', 'Abs', 'Relu', 'Gelu', 'GeluTanh', 'Sigmoid', 'Tanh', 'Silu', 'Sin', 'Cos',
  'Reciprocal', 'Sign', 'Floor', 'Ceil', 'Round', 'Square', 'Log1p', 'Expm1', 'Erf', 'LogicalNot',
  'AddScalar', 'MulScalar', 'RSubScalar', 'RDivScalar', 'PowScalar', 'Clamp', 'LeakyRelu', 'Elu', 'Softplus',
  'Sinh', 'Cosh', 'Trunc',
]);
export type UnaryOp = (typeof UnaryOp)[keyof typeof UnaryOp];

export const BinaryOp = codes([
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Maximum', 'Minimum', 'Remainder', 'Atan2',
  'Eq', 'Ne', 'Lt', 'Le', 'Gt', 'Ge',
  'LogicalAnd', 'LogicalOr', 'LogicalXor',
  'ReluBackward', 'GeluBackward', 'GeluTanhBackward', 'SigmoidBackward', 'TanhBackward', 'SiluBackward',
  'Fmod',
]);
export type BinaryOp = (typeof BinaryOp)[keyof typeof BinaryOp];

export const ReduceOp = codes(['Sum', 'Mean', 'Max', 'Min', 'Argmax', 'Argmin', 'Prod']);
export type ReduceOp = (typeof ReduceOp)[keyof typeof ReduceOp];
