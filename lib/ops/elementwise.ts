// Elementwise ops: unary maps, binary maps with NumPy broadcasting and PyTorch type promotion,
// where / maskedFill, casts, and the in-place forms optimizers use. Each op's backward sits
// beside its forward.
import { isGradEnabled } from '../autograd/grad_mode.js';
import { backendOf } from '../backend/index.js';
import { BinaryOp, UnaryOp } from '../backend/opcodes.js';
import { type DType, promoteTypes } from '../dtype.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { Tensor, type TensorOrScalar } from '../tensor.js';
import {
  assertTensor, broadcastOperand, broadcastShapes, needsGrad, record, sameDevice, scalarTensor,
} from './record.js';
import { sumToShape } from './reduce.js';

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

/** A float unary op: ints and bools are promoted to float32 first, as in PyTorch. */
/** `saves` names what backward reads: the input x, the output, or both. */
export function floatUnary(name: string, op: UnaryOp, input: Tensor, backward: UnaryBackward | null, p0 = 0, p1 = 0, saves: 'x' | 'out' | 'both' = 'both'): Tensor {
  const x0 = assertTensor(input, name, 'input');
  const x = toFloat(x0);
  const out = unaryKernel(op, x, p0, p1);
  if (x !== x0) x.dispose();
  if (!backward) return out;
  return record(name, out, [x0], (node) => {
    const xs = saves !== 'out' ? node.save(x0) : x0, os = saves !== 'x' ? node.save(out) : out;
    return (g) => [backward(g, xs, os)];
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
  [BinaryOp.LogicalAnd]: 'logicalAnd', [BinaryOp.LogicalOr]: 'logicalOr',
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

/** Both operands as tensors of `dtype` (casts and scalar tensors are new; the caller frees them). */
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

function release(made: Tensor, original: TensorOrScalar): void {
  if (made !== original) made.dispose();
}

type BinaryBackward = (g: Tensor, a: Tensor, b: Tensor, out: Tensor) => [Tensor | null, Tensor | null];

/** `saves` lists what backward reads: 'a', 'b', 'out' (unsaved ones arrive as the originals). */
export function arithmetic(name: string, op: BinaryOp, a0: Tensor, b0: TensorOrScalar, backward: BinaryBackward | null, forceFloat = false, saves = 'a,b,out'): Tensor {
  assertTensor(a0, opName(op), 'input');
  let dtype = resultType(a0, b0);
  if (forceFloat) dtype = 'float32';
  if (dtype === 'bool') return boolArithmetic(op, a0, b0);
  const [a, b] = operands(opName(op), a0, b0, dtype);
  const out = binaryKernel(op, a, b, dtype);
  const bIsTensor = b0 instanceof Tensor;
  if (!backward || dtype !== 'float32') {
    release(a, a0);
    release(b, b0);
    return out;
  }
  return record(name, out, [a0, bIsTensor ? b0 : null], (node) => {
    const keepA = saves.includes('a'), keepB = saves.includes('b');
    const as = keepA ? node.save(a) : a, bs = keepB ? node.save(b) : b, os = saves.includes('out') ? node.save(out) : out;
    release(a, a0);
    release(b, b0);
    return (g) => {
      const [ga, gb] = backward(g, as, bs, os);
      const ra = ga ? sumToShape(ga, a0.shape) : null;
      const rb = gb && bIsTensor ? sumToShape(gb, (b0 as Tensor).shape) : null;
      // Free what backward made and no result holds (ga may be g itself, or equal gb).
      for (const t of [ga, gb]) if (t && t !== g && t !== ra && t !== rb) t.dispose();
      return [ra, rb];
    };
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

/** Sums a fresh broadcast gradient back to the input's shape, freeing the unreduced one. */
function reduceGrad(g: Tensor, shape: readonly number[]): Tensor {
  const r = sumToShape(g, shape);
  if (r !== g) g.dispose();
  return r;
}

function comparison(name: string, op: BinaryOp, a0: Tensor, b0: TensorOrScalar): Tensor {
  assertTensor(a0, name, 'input');
  const dtype = resultType(a0, b0);
  const [a, b] = operands(name, a0, b0, dtype);
  const out = binaryKernel(op, a, b, 'bool');
  release(a, a0);
  release(b, b0);
  return out;
}

// ---- binary arithmetic ----------------------------------------------------------------------

export function add(a: Tensor, b: TensorOrScalar, alpha = 1): Tensor {
  if (alpha !== 1) {
    const scaled = b instanceof Tensor ? mul(b, alpha) : (b as number) * alpha;
    const out = add(a, scaled);
    if (scaled instanceof Tensor) scaled.dispose();
    return out;
  }
  return arithmetic('AddBackward', BinaryOp.Add, a, b, (g) => [g, g], false, '');
}

export function sub(a: Tensor, b: TensorOrScalar, alpha = 1): Tensor {
  if (alpha !== 1) {
    const scaled = b instanceof Tensor ? mul(b, alpha) : (b as number) * alpha;
    const out = sub(a, scaled);
    if (scaled instanceof Tensor) scaled.dispose();
    return out;
  }
  return arithmetic('SubBackward', BinaryOp.Sub, a, b, (g) => [g, neg(g)], false, '');
}

export function mul(a: Tensor, b: TensorOrScalar): Tensor {
  return arithmetic('MulBackward', BinaryOp.Mul, a, b, (g, x, y) => [mul(g, y), mul(g, x)], false, 'a,b');
}

/** True division: integer inputs give float32, as in PyTorch. */
export function div(a: Tensor, b: TensorOrScalar): Tensor {
  return arithmetic('DivBackward', BinaryOp.Div, a, b, (g, _x, y, out) => {
    const ga = div(g, y);
    const t = mul(ga, out);
    const gb = neg(t);
    t.dispose();
    return [ga, gb];
  }, true, 'b,out');
}

export function pow(a: Tensor, exponent: TensorOrScalar): Tensor {
  if (typeof exponent === 'number') {
    const x0 = assertTensor(a, 'pow', 'input');
    const p = exponent;
    if (x0.dtype !== 'float32' && Number.isInteger(p) && p >= 0) {
      return tidyPowInt(x0, p);
    }
    return floatUnary('PowBackward', UnaryOp.PowScalar, x0, (g, x) => {
      if (p === 0) return zerosLike(x);
      const d = p === 2 ? mul(x, 2) : (() => { const xp = pow(x, p - 1); const r = mul(xp, p); xp.dispose(); return r; })();
      const r = mul(g, d);
      d.dispose();
      return r;
    }, p);
  }
  return arithmetic('PowBackward', BinaryOp.Pow, a, exponent, (g, x, y, out) => {
    const ym1 = sub(y, 1), xp = pow(x, ym1), t = mul(xp, y), ga = mul(g, t);
    const lx = log(x), t2 = mul(out, lx), gb = mul(g, t2);
    for (const z of [ym1, xp, t, lx, t2]) z.dispose();
    return [ga, gb];
  }, true);
}

/** x ** p for an integer tensor and a non-negative integer p, by repeated squaring (wrapping like int32). */
function tidyPowInt(x0: Tensor, p: number): Tensor {
  let result = fullLike(x0, 1, 'int32');
  let base = x0.dtype === 'int32' ? x0 : cast(x0, 'int32');
  for (let e = p; e > 0; e = Math.floor(e / 2)) {
    if (e % 2 === 1) {
      const next = mul(result, base);
      result.dispose();
      result = next;
    }
    if (e > 1) {
      const sq = mul(base, base);
      if (base !== x0) base.dispose();
      base = sq;
    }
  }
  if (base !== x0) base.dispose();
  return result;
}

export function remainder(a: Tensor, b: TensorOrScalar): Tensor {
  return arithmetic('RemainderBackward', BinaryOp.Remainder, a, b, (g, x, y) => {
    // d/da = 1, d/db = -floor(a / b)
    const q = div(x, y), f = floor(q), gb = mul(g, f), ngb = neg(gb);
    q.dispose(); f.dispose(); gb.dispose();
    return [g, ngb];
  }, false, 'a,b');
}

function pickBackward(op: 'max' | 'min'): BinaryBackward {
  return (g, x, y) => {
    // Ties split the gradient evenly, as PyTorch does.
    const wins = op === 'max' ? gt(x, y) : lt(x, y), ties = eq(x, y);
    const wf = cast(wins, 'float32'), tf = cast(ties, 'float32');
    const half = mul(tf, 0.5), wa = add(wf, half), ga = mul(g, wa);
    const wb = sub(wa, 1), nwb = neg(wb), gb = mul(g, nwb);
    for (const z of [wins, ties, wf, tf, half, wa, wb, nwb]) z.dispose();
    return [ga, gb];
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
  const a = a0.dtype === 'bool' ? a0 : cast(a0, 'bool');
  const bT = b0 instanceof Tensor ? b0 : scalarTensor(Boolean(b0), 'bool', a0);
  const b = bT.dtype === 'bool' ? bT : cast(bT, 'bool');
  if (b0 instanceof Tensor) sameDevice(name, a0, b0);
  const out = binaryKernel(op, a, b, 'bool');
  release(a, a0);
  if (b !== bT) b.dispose();
  release(bT, b0);
  return out;
}

export const logicalAnd = (a: Tensor, b: TensorOrScalar) => logical('logicalAnd', BinaryOp.LogicalAnd, a, b);
export const logicalOr = (a: Tensor, b: TensorOrScalar) => logical('logicalOr', BinaryOp.LogicalOr, a, b);

export function logicalNot(x: Tensor): Tensor {
  assertTensor(x, 'logicalNot', 'input');
  const b = x.dtype === 'bool' ? x : cast(x, 'bool');
  const out = unaryKernel(UnaryOp.LogicalNot, b);
  release(b, x);
  return out;
}

// ---- unary maps -----------------------------------------------------------------------------

function times(g: Tensor, d: Tensor): Tensor {
  const r = mul(g, d);
  d.dispose();
  return r;
}

export function neg(x: Tensor): Tensor {
  assertTensor(x, 'neg', 'input');
  if (x.dtype === 'bool') throw new DTypeError('neg: negation of a bool tensor is not supported; use logicalNot()');
  const out = unaryKernel(UnaryOp.Neg, x);
  if (x.dtype !== 'float32') return out;
  return record('NegBackward', out, [x], () => (g) => [neg(g)]);
}

export const exp = (x: Tensor) => floatUnary('ExpBackward', UnaryOp.Exp, x, (g, _x, out) => mul(g, out), 0, 0, 'out');
export const log = (x: Tensor) => floatUnary('LogBackward', UnaryOp.Log, x, (g, xs) => div(g, xs), 0, 0, 'x');
export const sqrt = (x: Tensor) => floatUnary('SqrtBackward', UnaryOp.Sqrt, x, (g, _x, out) => { const d = mul(out, 2); const r = div(g, d); d.dispose(); return r; });
export const rsqrt = (x: Tensor) => floatUnary('RsqrtBackward', UnaryOp.Rsqrt, x, (g, _x, out) => {
  const o3 = pow(out, 3), d = mul(o3, -0.5);
  o3.dispose();
  return times(g, d);
});
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
export const sin = (x: Tensor) => floatUnary('SinBackward', UnaryOp.Sin, x, (g, xs) => times(g, cos(xs)));
export const cos = (x: Tensor) => floatUnary('CosBackward', UnaryOp.Cos, x, (g, xs) => { const s = sin(xs); const n = neg(s); s.dispose(); return times(g, n); });
export const reciprocal = (x: Tensor) => floatUnary('ReciprocalBackward', UnaryOp.Reciprocal, x, (g, _x, out) => { const o2 = mul(out, out); const n = neg(o2); o2.dispose(); return times(g, n); });
export const log1p = (x: Tensor) => floatUnary('Log1pBackward', UnaryOp.Log1p, x, (g, xs) => { const d = add(xs, 1); const r = div(g, d); d.dispose(); return r; });
export const expm1 = (x: Tensor) => floatUnary('Expm1Backward', UnaryOp.Expm1, x, (g, _x, out) => times(g, add(out, 1)));
export const erf = (x: Tensor) => floatUnary('ErfBackward', UnaryOp.Erf, x, (g, xs) => {
  const x2 = mul(xs, xs), nx2 = neg(x2), e = exp(nx2);
  x2.dispose(); nx2.dispose();
  return times(g, mul(e, 2 / Math.sqrt(Math.PI)));
});

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
  return floatUnary('AbsBackward', UnaryOp.Abs, x, (g, xs) => times(g, sign(xs)));
}

export function sign(x: Tensor): Tensor {
  assertTensor(x, 'sign', 'input');
  if (x.dtype === 'int32') return unaryKernel(UnaryOp.Sign, x);
  return floatUnary('SignBackward', UnaryOp.Sign, x, (_g, xs) => zerosLike(xs));
}

export function square(x: Tensor): Tensor {
  assertTensor(x, 'square', 'input');
  if (x.dtype === 'int32') return unaryKernel(UnaryOp.Square, x);
  return floatUnary('SquareBackward', UnaryOp.Square, x, (g, xs) => times(g, mul(xs, 2)));
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
  return floatUnary('LeakyReluBackward', UnaryOp.LeakyRelu, x, (g, xs) => {
    const pos = gt(xs, 0), slope = where(pos, 1, negativeSlope);
    pos.dispose();
    return times(g, slope);
  }, negativeSlope);
}

export function elu(x: Tensor, alpha = 1): Tensor {
  return floatUnary('EluBackward', UnaryOp.Elu, x, (g, xs, out) => {
    const pos = gt(xs, 0), neg1 = add(out, alpha), d = where(pos, 1, neg1);
    pos.dispose(); neg1.dispose();
    return times(g, d);
  }, alpha);
}

export function softplus(x: Tensor, beta = 1, threshold = 20): Tensor {
  assertTensor(x, 'softplus', 'input');
  if (beta !== 1) {
    const bx = mul(x, beta), s = softplus(bx, 1, threshold), out = div(s, beta);
    bx.dispose(); s.dispose();
    return out;
  }
  return floatUnary('SoftplusBackward', UnaryOp.Softplus, x, (g, xs) => {
    const s = sigmoid(xs), over = gt(xs, threshold), d = where(over, 1, s);
    s.dispose(); over.dispose();
    return times(g, d);
  }, threshold);
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
  return floatUnary('ClampBackward', UnaryOp.Clamp, x, (g, xs) => {
    const a = ge(xs, lo), b = le(xs, hi), inside = logicalAnd(a, b), f = cast(inside, 'float32');
    a.dispose(); b.dispose(); inside.dispose();
    return times(g, f);
  }, lo, hi);
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
  const ta = a instanceof Tensor ? (a.dtype === dtype ? a : cast(a, dtype)) : scalarTensor(a, dtype, like);
  const tb = b instanceof Tensor ? (b.dtype === dtype ? b : cast(b, dtype)) : scalarTensor(b, dtype, like);
  sameDevice('where', condition, ta, tb);
  let shape = broadcastShapes('where', condition.shape, ta.shape);
  shape = broadcastShapes('where', shape, tb.shape);
  const out = Tensor._empty(shape, dtype, condition.device);
  backendOf(out).where(out, broadcastOperand(condition, shape), broadcastOperand(ta, shape), broadcastOperand(tb, shape));
  release(ta, a);
  release(tb, b);
  if (dtype !== 'float32') return out;
  return record('WhereBackward', out, [a instanceof Tensor ? a : null, b instanceof Tensor ? b : null], (node) => {
    const cs = node.save(condition);
    return (g) => {
      const ga = a instanceof Tensor && a.requiresGrad ? reduceGrad(where(cs, g, 0), a.shape) : null;
      const gb = b instanceof Tensor && b.requiresGrad ? reduceGrad(where(cs, 0, g), b.shape) : null;
      return [ga, gb];
    };
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
  const fill = scalarTensor(value, x.dtype, x);
  const out = Tensor._empty(x.shape, x.dtype, x.device);
  backendOf(x).where(out, broadcastOperand(mask, shape), broadcastOperand(fill, shape), x);
  fill.dispose();
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

export function fullLike(x: Tensor, value: number, dtype: DType = x.dtype): Tensor {
  const out = Tensor._empty(x.shape, dtype, x.device);
  backendOf(out).fill(out, value);
  return out;
}

export function zerosLike(x: Tensor): Tensor {
  return fullLike(x, 0);
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
  let b: Tensor;
  if (other instanceof Tensor) {
    other._assertLive(op);
    sameDevice(op, t, other);
    const shape = broadcastShapes(op, t.shape, other.shape);
    if (shape.join(',') !== t.shape.join(',')) {
      throw new ShapeError(`${op}: other of shape ${fmtShape(other.shape)} does not broadcast to ${fmtShape(t.shape)}`);
    }
    b = other.dtype === t.dtype ? other : cast(other, t.dtype);
    if (alpha !== 1) {
      const scaled = unaryKernel(UnaryOp.MulScalar, b, alpha);
      if (b !== other) b.dispose();
      b = scaled;
    }
  } else {
    if (typeof other !== 'number' && typeof other !== 'boolean') throw new ArgumentError(`${op}: expected a Tensor or a number`);
    b = scalarTensor(Number(other) * alpha, t.dtype, t);
  }
  backendOf(t).binary(INPLACE_OPS[op], t, t, broadcastOperand(b, t.shape));
  if (b !== other) b.dispose();
  t._storage.version++;
}

export function copyInplace(t: Tensor, src: Tensor): void {
  assertInplaceAllowed(t, 'copy_');
  assertTensor(src, 'copy_', 'src');
  const shape = broadcastShapes('copy_', t.shape, src.shape);
  if (shape.join(',') !== t.shape.join(',')) {
    throw new ShapeError(`copy_: source of shape ${fmtShape(src.shape)} does not broadcast to ${fmtShape(t.shape)}`);
  }
  if (src.device !== t.device) {
    const moved = src.to(t.device);
    backendOf(t).cast(t, broadcastOperand(moved, t.shape));
    moved.dispose();
  } else {
    backendOf(t).cast(t, broadcastOperand(src, t.shape));
  }
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
