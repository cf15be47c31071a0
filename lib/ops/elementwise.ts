// Elementwise ops: unary maps, binary maps with NumPy broadcasting and PyTorch type promotion,
// where / maskedFill, casts, and the in-place forms optimizers use. Each op's backward sits
// beside its forward.
import { isGradEnabled } from '../autograd/grad_mode.js';
import { backendOf } from '../backend/index.js';
import { BinaryOp, UnaryOp } from '../backend/opcodes.js';
import { type DType, promoteTypes } from '../dtype.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { scoped, tidy } from '../scope.js';
import { Tensor, type TensorOrScalar } from '../tensor.js';
import { fullLike, zerosLike } from './creation.js';
import {
  assertTensor, broadcastOperand, broadcastShapes, needsGrad, record, sameDevice, scalarTensor,
} from './record.js';
import { sum, sumToShape } from './reduce.js';
import { memoryOverlap } from './shape.js';

// ---- building blocks ----------------------------------------------------------------------

function toFloat(x: Tensor): Tensor {
  return x.dtype === 'float32' ? x : cast(x, 'float32');
}

function unaryKernel(op: UnaryOp, x: Tensor, p0 = 0, p1 = 0, outDtype: DType = x.dtype): Tensor {
  const out = Tensor._empty(x.shape, outDtype, x.device);
  backendOf(x).unary(op, p0, p1, out, x);
  return out;
}

type UnaryBackward = (g: Tensor, x: Tensor, out: Tensor) => Tensor;

/**
 * A float unary op: ints and bools are promoted to float32 first, as in PyTorch. `saves` names
 * what backward reads: the input x, the output, or both.
 */
export function floatUnary(name: string, op: UnaryOp, input: Tensor, backward: UnaryBackward | null, p0 = 0, p1 = 0, saves: 'x' | 'out' | 'both' = 'both'): Tensor {
  const x0 = assertTensor(input, name, 'input');
  return scoped(() => {
    const out = unaryKernel(op, toFloat(x0), p0, p1);
    if (!backward) return out;
    return record(name, out, [x0], (node) => {
      const xs = saves !== 'out' ? node.save(x0) : x0, os = saves !== 'x' ? node.save(out) : out;
      return (g) => [backward(g, xs, os)];
    });
  });
}

function binaryKernel(op: BinaryOp, a: Tensor, b: Tensor, outDtype: DType): Tensor {
  const shape = broadcastShapes(opName(op), a.shape, b.shape);
  const out = Tensor._empty(shape, outDtype, a.device);
  backendOf(a).binary(op, out, broadcastOperand(a, shape), broadcastOperand(b, shape));
  return out;
}

const OP_NAMES: Record<number, string> = {
  [BinaryOp.Add]: 'add', [BinaryOp.Sub]: 'sub', [BinaryOp.Mul]: 'mul', [BinaryOp.Div]: 'div', [BinaryOp.Pow]: 'pow',
  [BinaryOp.Maximum]: 'maximum', [BinaryOp.Minimum]: 'minimum', [BinaryOp.Remainder]: 'remainder',
  [BinaryOp.Eq]: 'eq', [BinaryOp.Ne]: 'ne', [BinaryOp.Lt]: 'lt', [BinaryOp.Le]: 'le', [BinaryOp.Gt]: 'gt', [BinaryOp.Ge]: 'ge',
  [BinaryOp.LogicalAnd]: 'logicalAnd', [BinaryOp.LogicalOr]: 'logicalOr', [BinaryOp.LogicalXor]: 'logicalXor',
};
function opName(op: BinaryOp): string {
  return OP_NAMES[op] ?? 'binary';
}

/** The dtype of `a op b` where b may be a JS scalar (PyTorch: a scalar never widens int to float unless it is fractional... or any float). */
function resultType(a: Tensor, b: TensorOrScalar): DType {
  if (b instanceof Tensor) {
    // A 0-d tensor participates like a scalar of its kind.
    if (b.ndim === 0 && a.ndim > 0 && !(b.dtype === 'float32' && a.dtype !== 'float32')) return a.dtype === 'bool' ? b.dtype : a.dtype;
    return promoteTypes(a.dtype, b.dtype);
  }
  if (typeof b === 'boolean') return a.dtype;
  if (a.dtype === 'float32') return 'float32';
  return Number.isInteger(b) ? (a.dtype === 'bool' ? 'int32' : a.dtype) : 'float32';
}

/** Both operands as tensors of `dtype` (casts and scalar tensors are new: call it in a scope). */
function operands(name: string, a: Tensor, b: TensorOrScalar, dtype: DType): [Tensor, Tensor] {
  const ta = a.dtype === dtype ? a : cast(a, dtype);
  let tb: Tensor;
  if (b instanceof Tensor) {
    b._assertLive(name);
    sameDevice(name, a, b);
    tb = b.dtype === dtype ? b : cast(b, dtype);
  } else if (typeof b === 'number' || typeof b === 'boolean') {
    tb = scalarTensor(b, dtype, a);
  } else {
    throw new ArgumentError(`${name}: expected a Tensor or a number, got ${typeof b}`);
  }
  return [ta, tb];
}

type BinaryBackward = (g: Tensor, a: Tensor, b: Tensor, out: Tensor) => [Tensor | null, Tensor | null];

/** `saves` lists what backward reads: 'a', 'b', 'out' (unsaved ones arrive as the originals). */
export function arithmetic(name: string, op: BinaryOp, a0: Tensor, b0: TensorOrScalar, backward: BinaryBackward | null, forceFloat = false, saves = 'a,b,out'): Tensor {
  assertTensor(a0, opName(op), 'input');
  let dtype = resultType(a0, b0);
  if (forceFloat) dtype = 'float32';
  if (dtype === 'bool') return boolArithmetic(op, a0, b0);
  return scoped(() => {
    const [a, b] = operands(opName(op), a0, b0, dtype);
    const out = binaryKernel(op, a, b, dtype);
    if (!backward || dtype !== 'float32') return out;
    const b1 = b0 instanceof Tensor ? b0 : null;
    return record(name, out, [a0, b1], (node) => {
      const as = saves.includes('a') ? node.save(a) : a, bs = saves.includes('b') ? node.save(b) : b;
      const os = saves.includes('out') ? node.save(out) : out;
      // A broadcast operand that needs no gradient (a frozen bias) is not reduced for nothing.
      const needA = a0.requiresGrad, needB = b1 !== null && b1.requiresGrad;
      return (g) => {
        const [ga, gb] = backward(g, as, bs, os);
        return [needA && ga ? sumToShape(ga, a0.shape) : null, needB && gb ? sumToShape(gb, b1!.shape) : null];
      };
    });
  });
}

/**
 * bool op bool stays bool, as in PyTorch: add is logical or, mul logical and, maximum / minimum
 * likewise; other arithmetic on two bools has no bool meaning.
 */
function boolArithmetic(op: BinaryOp, a: Tensor, b: TensorOrScalar): Tensor {
  const logicalOp = op === BinaryOp.Add || op === BinaryOp.Maximum ? BinaryOp.LogicalOr
    : op === BinaryOp.Mul || op === BinaryOp.Minimum ? BinaryOp.LogicalAnd : null;
  if (logicalOp === null) {
    throw new DTypeError(`${opName(op)}: not supported for two bool operands (shapes ${fmtShape(a.shape)} and ${b instanceof Tensor ? fmtShape(b.shape) : typeof b}); use logicalXor/logicalNot or cast to int32`);
  }
  return logical(opName(op), logicalOp, a, b);
}

function comparison(name: string, op: BinaryOp, a0: Tensor, b0: TensorOrScalar): Tensor {
  assertTensor(a0, name, 'input');
  const dtype = resultType(a0, b0);
  return scoped(() => binaryKernel(op, ...operands(name, a0, b0, dtype), 'bool'));
}

// ---- binary arithmetic ----------------------------------------------------------------------

export function add(a: Tensor, b: TensorOrScalar, alpha = 1): Tensor {
  if (alpha !== 1) return scoped(() => add(a, b instanceof Tensor ? mul(b, alpha) : (b as number) * alpha));
  return arithmetic('AddBackward', BinaryOp.Add, a, b, (g) => [g, g], false, '');
}

export function sub(a: Tensor, b: TensorOrScalar, alpha = 1): Tensor {
  if (alpha !== 1) return scoped(() => sub(a, b instanceof Tensor ? mul(b, alpha) : (b as number) * alpha));
  return arithmetic('SubBackward', BinaryOp.Sub, a, b, (g) => [g, neg(g)], false, '');
}

export function mul(a: Tensor, b: TensorOrScalar): Tensor {
  return arithmetic('MulBackward', BinaryOp.Mul, a, b, (g, x, y) => [mul(g, y), mul(g, x)], false, 'a,b');
}

/** True division: integer inputs give float32, as in PyTorch. */
export function div(a: Tensor, b: TensorOrScalar): Tensor {
  return arithmetic('DivBackward', BinaryOp.Div, a, b, (g, _x, y, out) => {
    const ga = div(g, y);
    return [ga, neg(mul(ga, out))];
  }, true, 'b,out');
}

export function pow(a: Tensor, exponent: TensorOrScalar): Tensor {
  if (typeof exponent === 'number') {
    const x0 = assertTensor(a, 'pow', 'input');
    const p = exponent;
    if (x0.dtype !== 'float32' && Number.isInteger(p) && p >= 0) {
      return powInt(x0, p);
    }
    return floatUnary('PowBackward', UnaryOp.PowScalar, x0, (g, x) => {
      if (p === 0) return zerosLike(x);
      return mul(g, p === 2 ? mul(x, 2) : mul(pow(x, p - 1), p));
    }, p);
  }
  // d/dx = y x^(y-1), d/dy = x^y log x
  return arithmetic('PowBackward', BinaryOp.Pow, a, exponent, (g, x, y, out) =>
    [mul(g, mul(pow(x, sub(y, 1)), y)), mul(g, mul(out, log(x)))], true);
}

/** x ** p for an integer tensor and a non-negative integer p, by repeated squaring (wrapping like int32). */
function powInt(x0: Tensor, p: number): Tensor {
  return scoped(() => {
    let result = fullLike(x0, 1, { dtype: 'int32' });
    let base = x0.dtype === 'int32' ? x0 : cast(x0, 'int32');
    for (let e = p; e > 0; e = Math.floor(e / 2)) {
      if (e % 2 === 1) result = mul(result, base);
      if (e > 1) base = mul(base, base);
    }
    return result;
  });
}

export function remainder(a: Tensor, b: TensorOrScalar): Tensor {
  assertTensor(a, 'remainder', 'input');
  // Integer division by zero has no value (the kernel would write 0); PyTorch raises ZeroDivisionError.
  if (resultType(a, b) === 'int32') {
    const zeroDivisor = b instanceof Tensor
      ? tidy(() => sum(cast(eq(b, 0), 'int32')).item() > 0)
      : b === 0;
    if (zeroDivisor) {
      throw new ArgumentError(`remainder: integer division by zero (input ${fmtShape(a.shape)}, other ${b instanceof Tensor ? `${fmtShape(b.shape)} holding a 0` : String(b)})`);
    }
  }
  // d/da = 1, d/db = -floor(a / b)
  return arithmetic('RemainderBackward', BinaryOp.Remainder, a, b, (g, x, y) => [g, neg(mul(g, floor(div(x, y))))], false, 'a,b');
}

function pickBackward(op: 'max' | 'min'): BinaryBackward {
  return (g, x, y) => {
    // a's share: 1 where it wins, 1/2 on a tie (ties split evenly, as PyTorch does); b gets the rest.
    const wins = cast(op === 'max' ? gt(x, y) : lt(x, y), 'float32'), ties = cast(eq(x, y), 'float32');
    const shareA = add(wins, mul(ties, 0.5));
    return [mul(g, shareA), mul(g, neg(sub(shareA, 1)))];
  };
}

export function maximum(a: Tensor, b: TensorOrScalar): Tensor {
  return arithmetic('MaximumBackward', BinaryOp.Maximum, a, b, pickBackward('max'), false, 'a,b');
}

export function minimum(a: Tensor, b: TensorOrScalar): Tensor {
  return arithmetic('MinimumBackward', BinaryOp.Minimum, a, b, pickBackward('min'), false, 'a,b');
}

// ---- comparisons and logic (bool results, no gradient) ---------------------------------------

export const eq = (a: Tensor, b: TensorOrScalar) => comparison('eq', BinaryOp.Eq, a, b);
export const ne = (a: Tensor, b: TensorOrScalar) => comparison('ne', BinaryOp.Ne, a, b);
export const lt = (a: Tensor, b: TensorOrScalar) => comparison('lt', BinaryOp.Lt, a, b);
export const le = (a: Tensor, b: TensorOrScalar) => comparison('le', BinaryOp.Le, a, b);
export const gt = (a: Tensor, b: TensorOrScalar) => comparison('gt', BinaryOp.Gt, a, b);
export const ge = (a: Tensor, b: TensorOrScalar) => comparison('ge', BinaryOp.Ge, a, b);

function logical(name: string, op: BinaryOp, a0: Tensor, b0: TensorOrScalar): Tensor {
  assertTensor(a0, name, 'input');
  if (b0 instanceof Tensor) {
    assertTensor(b0, name, 'other');
    sameDevice(name, a0, b0);
  }
  const asBool = (t: Tensor) => (t.dtype === 'bool' ? t : cast(t, 'bool'));
  return scoped(() => {
    const b = b0 instanceof Tensor ? asBool(b0) : scalarTensor(Boolean(b0), 'bool', a0);
    return binaryKernel(op, asBool(a0), b, 'bool');
  });
}

export const logicalAnd = (a: Tensor, b: TensorOrScalar) => logical('logicalAnd', BinaryOp.LogicalAnd, a, b);
export const logicalOr = (a: Tensor, b: TensorOrScalar) => logical('logicalOr', BinaryOp.LogicalOr, a, b);
export const logicalXor = (a: Tensor, b: TensorOrScalar) => logical('logicalXor', BinaryOp.LogicalXor, a, b);

export function logicalNot(x: Tensor): Tensor {
  assertTensor(x, 'logicalNot', 'input');
  return scoped(() => unaryKernel(UnaryOp.LogicalNot, x.dtype === 'bool' ? x : cast(x, 'bool')));
}

// ---- unary maps -----------------------------------------------------------------------------

export function neg(x: Tensor): Tensor {
  assertTensor(x, 'neg', 'input');
  if (x.dtype === 'bool') throw new DTypeError('neg: negation of a bool tensor is not supported; use logicalNot()');
  const out = unaryKernel(UnaryOp.Neg, x);
  if (x.dtype !== 'float32') return out;
  return record('NegBackward', out, [x], () => (g) => [neg(g)]);
}

export const exp = (x: Tensor) => floatUnary('ExpBackward', UnaryOp.Exp, x, (g, _x, out) => mul(g, out), 0, 0, 'out');
export const log = (x: Tensor) => floatUnary('LogBackward', UnaryOp.Log, x, (g, xs) => div(g, xs), 0, 0, 'x');
export const sqrt = (x: Tensor) => floatUnary('SqrtBackward', UnaryOp.Sqrt, x, (g, _x, out) => div(g, mul(out, 2)));
export const rsqrt = (x: Tensor) => floatUnary('RsqrtBackward', UnaryOp.Rsqrt, x, (g, _x, out) => mul(g, mul(pow(out, 3), -0.5)));
/**
 * A backward that one fused kernel computes from g and a saved tensor, unless the backward is
 * itself being recorded (createGraph): then the same formula written in ops, so it can be
 * differentiated again.
 */
function fusedBackward(op: BinaryOp, g: Tensor, saved: Tensor, inOps: () => Tensor): Tensor {
  return needsGrad(g, saved) ? inOps() : binaryKernel(op, g, saved, 'float32');
}

export const sigmoid = (x: Tensor) => floatUnary('SigmoidBackward', UnaryOp.Sigmoid, x, (g, _x, out) =>
  fusedBackward(BinaryOp.SigmoidBackward, g, out, () => mul(g, mul(out, add(neg(out), 1)))), 0, 0, 'out');
export const tanh = (x: Tensor) => floatUnary('TanhBackward', UnaryOp.Tanh, x, (g, _x, out) =>
  fusedBackward(BinaryOp.TanhBackward, g, out, () => mul(g, add(neg(mul(out, out)), 1))), 0, 0, 'out');
export const silu = (x: Tensor) => floatUnary('SiluBackward', UnaryOp.Silu, x, (g, xs) =>
  fusedBackward(BinaryOp.SiluBackward, g, xs, () => {
    const s = sigmoid(xs);
    return mul(g, mul(s, add(mul(xs, add(neg(s), 1)), 1)));
  }), 0, 0, 'x');
export const sin = (x: Tensor): Tensor => floatUnary('SinBackward', UnaryOp.Sin, x, (g, xs) => mul(g, cos(xs)));
export const cos = (x: Tensor): Tensor => floatUnary('CosBackward', UnaryOp.Cos, x, (g, xs) => mul(g, neg(sin(xs))));
export const reciprocal = (x: Tensor) => floatUnary('ReciprocalBackward', UnaryOp.Reciprocal, x, (g, _x, out) => mul(g, neg(mul(out, out))));
export const log1p = (x: Tensor) => floatUnary('Log1pBackward', UnaryOp.Log1p, x, (g, xs) => div(g, add(xs, 1)));
export const expm1 = (x: Tensor) => floatUnary('Expm1Backward', UnaryOp.Expm1, x, (g, _x, out) => mul(g, add(out, 1)));
export const erf = (x: Tensor) => floatUnary('ErfBackward', UnaryOp.Erf, x, (g, xs) =>
  mul(g, mul(exp(neg(mul(xs, xs))), 2 / Math.sqrt(Math.PI))));

export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  if (approximate !== 'none' && approximate !== 'tanh') throw new ArgumentError(`gelu: approximate must be 'none' or 'tanh', got '${String(approximate)}'`);
  const tanhForm = approximate === 'tanh';
  return floatUnary('GeluBackward', tanhForm ? UnaryOp.GeluTanh : UnaryOp.Gelu, x, (g, xs) =>
    fusedBackward(tanhForm ? BinaryOp.GeluTanhBackward : BinaryOp.GeluBackward, g, xs, () => {
      if (tanhForm) {
        // d/dx 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3)
        const k = Math.sqrt(2 / Math.PI), x2 = mul(xs, xs);
        const t = tanh(mul(add(mul(mul(x2, xs), 0.044715), xs), k));
        const du = mul(add(mul(x2, 3 * 0.044715), 1), k);
        return mul(g, add(mul(add(t, 1), 0.5), mul(mul(mul(xs, 0.5), add(neg(mul(t, t)), 1)), du)));
      }
      // Phi(x) + x phi(x)
      const cdf = mul(add(erf(mul(xs, Math.SQRT1_2)), 1), 0.5);
      const pdf = mul(exp(mul(mul(xs, xs), -0.5)), 1 / Math.sqrt(2 * Math.PI));
      return mul(g, add(cdf, mul(xs, pdf)));
    }), 0, 0, 'x');
}

export function relu(x: Tensor): Tensor {
  assertTensor(x, 'relu', 'input');
  if (x.dtype === 'int32') return unaryKernel(UnaryOp.Relu, x);
  if (x.dtype === 'bool') throw new DTypeError('relu: not defined for bool tensors');
  return floatUnary('ReluBackward', UnaryOp.Relu, x, (g, xs) =>
    // sign(relu(x)) is the step function, differentiable (to zero) like torch's threshold_backward.
    fusedBackward(BinaryOp.ReluBackward, g, xs, () => mul(g, sign(relu(xs)))), 0, 0, 'x');
}

export function abs(x: Tensor): Tensor {
  assertTensor(x, 'abs', 'input');
  if (x.dtype === 'int32') return unaryKernel(UnaryOp.Abs, x);
  return floatUnary('AbsBackward', UnaryOp.Abs, x, (g, xs) => mul(g, sign(xs)));
}

export function sign(x: Tensor): Tensor {
  assertTensor(x, 'sign', 'input');
  if (x.dtype === 'int32') return unaryKernel(UnaryOp.Sign, x);
  return floatUnary('SignBackward', UnaryOp.Sign, x, (_g, xs) => zerosLike(xs));
}

export function square(x: Tensor): Tensor {
  assertTensor(x, 'square', 'input');
  if (x.dtype === 'int32') return unaryKernel(UnaryOp.Square, x);
  return floatUnary('SquareBackward', UnaryOp.Square, x, (g, xs) => mul(g, mul(xs, 2)));
}

function roundingOp(name: string, op: UnaryOp, x: Tensor): Tensor {
  assertTensor(x, name, 'input');
  if (x.dtype !== 'float32') return clone(x);
  return floatUnary(name, op, x, (_g, xs) => zerosLike(xs));
}
export const floor = (x: Tensor) => roundingOp('FloorBackward', UnaryOp.Floor, x);
export const ceil = (x: Tensor) => roundingOp('CeilBackward', UnaryOp.Ceil, x);
/** Rounds half to even, as PyTorch does. */
export const round = (x: Tensor) => roundingOp('RoundBackward', UnaryOp.Round, x);

export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return floatUnary('LeakyReluBackward', UnaryOp.LeakyRelu, x, (g, xs) => mul(g, where(gt(xs, 0), 1, negativeSlope)), negativeSlope);
}

export function elu(x: Tensor, alpha = 1): Tensor {
  // d/dx = 1 for x > 0, else alpha e^x = out + alpha
  return floatUnary('EluBackward', UnaryOp.Elu, x, (g, xs, out) => mul(g, where(gt(xs, 0), 1, add(out, alpha))), alpha);
}

export function softplus(x: Tensor, beta = 1, threshold = 20): Tensor {
  assertTensor(x, 'softplus', 'input');
  if (beta !== 1) return scoped(() => div(softplus(mul(x, beta), 1, threshold), beta));
  return floatUnary('SoftplusBackward', UnaryOp.Softplus, x, (g, xs) => mul(g, where(gt(xs, threshold), 1, sigmoid(xs))), threshold);
}

export function clamp(x: Tensor, min?: number | null, max?: number | null): Tensor {
  assertTensor(x, 'clamp', 'input');
  if ((min === undefined || min === null) && (max === undefined || max === null)) {
    throw new ArgumentError('clamp: at least one of min and max must be given');
  }
  const lo = min ?? -Infinity, hi = max ?? Infinity;
  if (Number.isNaN(lo) || Number.isNaN(hi)) throw new ArgumentError(`clamp: bounds must not be NaN, got min ${min}, max ${max}`);
  if (x.dtype === 'bool') throw new DTypeError(`clamp: not supported on bool tensors (shape ${fmtShape(x.shape)})`);
  // Integer bounds keep an int32 tensor int32; a fractional bound promotes it to float32, as in PyTorch.
  const intOnly = [min, max].every((v) => v === undefined || v === null || Number.isInteger(v));
  if (x.dtype === 'int32' && intOnly) {
    const [ilo, ihi] = intBounds(lo, hi);
    return unaryKernel(UnaryOp.Clamp, x, ilo, ihi);
  }
  return floatUnary('ClampBackward', UnaryOp.Clamp, x, (g, xs) => mul(g, cast(logicalAnd(ge(xs, lo), le(xs, hi)), 'float32')), lo, hi);
}

/** Integer clamp bounds: saturated to the int32 range; min > max clamps everything to max (as PyTorch does). */
function intBounds(lo: number, hi: number): [number, number] {
  const ilo = Math.min(Math.max(Math.ceil(lo), -2147483648), 2147483647);
  const ihi = Math.min(Math.max(Math.floor(hi), -2147483648), 2147483647);
  return [Math.min(ilo, ihi), ihi];
}

// ---- selection ------------------------------------------------------------------------------

/** Elements of a where condition is true, else of b (both broadcast with condition). */
export function where(condition: Tensor, a: TensorOrScalar, b: TensorOrScalar): Tensor {
  assertTensor(condition, 'where', 'condition');
  if (condition.dtype !== 'bool') throw new DTypeError(`where: condition must be a bool tensor, got ${condition.dtype}`);
  for (const [v, what] of [[a, 'input'], [b, 'other']] as const) {
    if (v instanceof Tensor) assertTensor(v, 'where', what);
    else if (typeof v !== 'number' && typeof v !== 'boolean') throw new ArgumentError(`where: expected a Tensor or a number as ${what}, got ${v === null ? 'null' : typeof v}`);
  }
  const like = a instanceof Tensor ? a : b instanceof Tensor ? b : condition;
  let dtype: DType;
  if (a instanceof Tensor && b instanceof Tensor) dtype = promoteTypes(a.dtype, b.dtype);
  else if (a instanceof Tensor) dtype = resultType(a, b);
  else if (b instanceof Tensor) dtype = resultType(b, a);
  else dtype = Number.isInteger(a) && Number.isInteger(b) ? 'int32' : 'float32';
  if (typeof a === 'boolean' && typeof b === 'boolean') dtype = 'bool';
  const out = scoped(() => {
    const ta = a instanceof Tensor ? (a.dtype === dtype ? a : cast(a, dtype)) : scalarTensor(a, dtype, like);
    const tb = b instanceof Tensor ? (b.dtype === dtype ? b : cast(b, dtype)) : scalarTensor(b, dtype, like);
    sameDevice('where', condition, ta, tb);
    const shape = broadcastShapes('where', broadcastShapes('where', condition.shape, ta.shape), tb.shape);
    const o = Tensor._empty(shape, dtype, condition.device);
    backendOf(o).where(o, broadcastOperand(condition, shape), broadcastOperand(ta, shape), broadcastOperand(tb, shape));
    return o;
  });
  if (dtype !== 'float32') return out;
  return record('WhereBackward', out, [a instanceof Tensor ? a : null, b instanceof Tensor ? b : null], (node) => {
    const cs = node.save(condition);
    return (g) => [
      a instanceof Tensor && a.requiresGrad ? sumToShape(where(cs, g, 0), a.shape) : null,
      b instanceof Tensor && b.requiresGrad ? sumToShape(where(cs, 0, g), b.shape) : null,
    ];
  });
}

/** x with `value` wherever mask (broadcast to x's shape) is true. */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  assertTensor(x, 'maskedFill', 'input');
  assertTensor(mask, 'maskedFill', 'mask');
  if (mask.dtype !== 'bool') throw new DTypeError(`maskedFill: mask must be a bool tensor, got ${mask.dtype}`);
  const shape = broadcastShapes('maskedFill', x.shape, mask.shape);
  if (shape.join(',') !== x.shape.join(',')) {
    throw new ShapeError(`maskedFill: mask of shape ${fmtShape(mask.shape)} does not broadcast to the input's shape ${fmtShape(x.shape)}`);
  }
  const out = Tensor._empty(x.shape, x.dtype, x.device);
  scoped(() => backendOf(x).where(out, broadcastOperand(mask, shape), broadcastOperand(scalarTensor(value, x.dtype, x), shape), x));
  return record('MaskedFillBackward', out, [x], (node) => {
    const ms = node.save(mask);
    return (g) => [where(ms, 0, g)];
  });
}

// ---- copies and casts -----------------------------------------------------------------------

export function cast(x: Tensor, dtype: DType): Tensor {
  assertTensor(x, 'cast', 'input');
  const out = Tensor._empty(x.shape, dtype, x.device);
  backendOf(x).cast(out, x);
  if (dtype !== 'float32' || x.dtype !== 'float32') return out;
  return record('CloneBackward', out, [x], () => (g) => [g]);
}

/** A contiguous copy that stays in the graph. */
export function clone(x: Tensor): Tensor {
  assertTensor(x, 'clone', 'input');
  const out = Tensor._empty(x.shape, x.dtype, x.device);
  backendOf(x).cast(out, x);
  return record('CloneBackward', out, [x], () => (g) => [g]);
}

// ---- in place -------------------------------------------------------------------------------

function assertInplaceAllowed(t: Tensor, op: string): void {
  t._assertLive(op);
  if (isGradEnabled() && t.requiresGrad) {
    throw new ArgumentError(
      `${op}: a tensor that requires grad cannot be modified in place while gradients are recorded; wrap the update in kd.noGrad()`,
    );
  }
  // Several elements of an expanded view share one memory location; writing them is ill-defined.
  if (t.shape.some((s, d) => s > 1 && t.strides[d] === 0)) {
    throw new ArgumentError(`${op}: cannot write in place into an expanded tensor (shape ${fmtShape(t.shape)}, strides ${fmtShape(t.strides)}); call contiguous() or clone() first`);
  }
}

const INPLACE_OPS: Record<string, BinaryOp> = { add_: BinaryOp.Add, sub_: BinaryOp.Sub, mul_: BinaryOp.Mul, div_: BinaryOp.Div };

export function binaryInplace(t: Tensor, op: 'add_' | 'sub_' | 'mul_' | 'div_', other: TensorOrScalar, alpha = 1): void {
  assertInplaceAllowed(t, op);
  if (op === 'div_' && t.dtype !== 'float32') throw new DTypeError(`${op}: true division in place needs a float32 tensor, got ${t.dtype}`);
  if (t.dtype === 'bool') throw new DTypeError(`${op}: arithmetic in place is not supported on bool tensors (shape ${fmtShape(t.shape)})`);
  // The result must be representable in t's own dtype (PyTorch: "result type Float can't be cast to Int").
  if (other instanceof Tensor || typeof other === 'number' || typeof other === 'boolean') {
    const scaled = typeof other === 'number' ? other * alpha : other;
    const result = resultType(t, scaled);
    if (result !== t.dtype || (t.dtype === 'int32' && !Number.isInteger(alpha))) {
      throw new DTypeError(`${op}: the result type ${result} cannot be stored in the ${t.dtype} tensor of shape ${fmtShape(t.shape)}`);
    }
  }
  if (other instanceof Tensor) {
    other._assertLive(op);
    sameDevice(op, t, other);
    const shape = broadcastShapes(op, t.shape, other.shape);
    if (shape.join(',') !== t.shape.join(',')) {
      throw new ShapeError(`${op}: other of shape ${fmtShape(other.shape)} does not broadcast to ${fmtShape(t.shape)}`);
    }
  } else if (typeof other !== 'number' && typeof other !== 'boolean') {
    throw new ArgumentError(`${op}: expected a Tensor or a number`);
  }
  scoped(() => {
    let b: Tensor;
    if (other instanceof Tensor) {
      b = other.dtype === t.dtype ? other : cast(other, t.dtype);
      if (alpha !== 1) b = unaryKernel(UnaryOp.MulScalar, b, alpha);
    } else {
      b = scalarTensor(Number(other) * alpha, t.dtype, t);
    }
    backendOf(t).binary(INPLACE_OPS[op], t, t, broadcastOperand(b, t.shape));
  });
  t._storage.version++;
}

export function copyInplace(t: Tensor, src: Tensor): void {
  assertInplaceAllowed(t, 'copy_');
  assertTensor(src, 'copy_', 'src');
  const shape = broadcastShapes('copy_', t.shape, src.shape);
  if (shape.join(',') !== t.shape.join(',')) {
    throw new ShapeError(`copy_: source of shape ${fmtShape(src.shape)} does not broadcast to ${fmtShape(t.shape)}`);
  }
  // The kernel reads and writes in one pass, so a source that shares memory with the destination
  // (other than being the very same view) would read values it has already overwritten.
  const overlap = memoryOverlap(t, src);
  if (overlap === 'partial') {
    throw new ArgumentError(
      `copy_: unsupported operation: some elements of the input tensor and the written-to tensor refer to a single memory location (destination ${fmtShape(t.shape)} strides ${fmtShape(t.strides)} offset ${t.offset}, source ${fmtShape(src.shape)} strides ${fmtShape(src.strides)} offset ${src.offset}); clone() the source first`,
    );
  }
  scoped(() => {
    const source = overlap === 'unknown' ? src.clone() : src;
    backendOf(t).cast(t, broadcastOperand(source.device === t.device ? source : source.to(t.device), t.shape));
  });
  t._storage.version++;
}

export function fillInplace(t: Tensor, value: number): void {
  assertInplaceAllowed(t, 'fill_');
  backendOf(t).fill(t, value);
  t._storage.version++;
}

export function clampInplace(t: Tensor, min?: number | null, max?: number | null): void {
  assertInplaceAllowed(t, 'clamp_');
  if ((min === undefined || min === null) && (max === undefined || max === null)) {
    throw new ArgumentError('clamp_: at least one of min and max must be given');
  }
  let lo = min ?? -Infinity, hi = max ?? Infinity;
  if (Number.isNaN(lo) || Number.isNaN(hi)) throw new ArgumentError(`clamp_: bounds must not be NaN, got min ${min}, max ${max}`);
  if (t.dtype === 'bool') throw new DTypeError(`clamp_: not supported on bool tensors (shape ${fmtShape(t.shape)})`);
  if (t.dtype === 'int32') {
    if (![min, max].every((v) => v === undefined || v === null || Number.isInteger(v))) {
      throw new DTypeError(`clamp_: fractional bounds (min ${min}, max ${max}) give a float32 result that cannot be stored in the int32 tensor of shape ${fmtShape(t.shape)}`);
    }
    [lo, hi] = intBounds(lo, hi);
  }
  backendOf(t).unary(UnaryOp.Clamp, lo, hi, t, t);
  t._storage.version++;
}
