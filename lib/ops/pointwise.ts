// More elementwise maps, PyTorch's names and rules: sinh, cosh, trunc and fmod on native kernels
// (exact float32 results); lerp, clip and the float-class tests (isfinite, isinf, isnan,
// allclose) composed from existing ops. Each backward sits beside its forward.
import { BinaryOp, UnaryOp } from '../backend/opcodes.js';
import { ArgumentError, DTypeError, fmtShape } from '../errors.js';
import { Tensor, type TensorOrScalar } from '../tensor.js';
import { scoped, tidy } from '../scope.js';
import { fullLike, zerosLike } from './creation.js';
import * as ew from './elementwise.js';
import { assertTensor, broadcastShapes, sameDevice } from './record.js';

export const sinh = (x: Tensor): Tensor => ew.floatUnary('SinhBackward', UnaryOp.Sinh, x, (g, xs): Tensor => ew.mul(g, cosh(xs)), 0, 0, 'x');
export const cosh = (x: Tensor): Tensor => ew.floatUnary('CoshBackward', UnaryOp.Cosh, x, (g, xs): Tensor => ew.mul(g, sinh(xs)), 0, 0, 'x');

/** Rounds toward zero; an int32 tensor comes back as a copy, as in PyTorch. */
export function trunc(x: Tensor): Tensor {
  assertTensor(x, 'trunc', 'input');
  if (x.dtype === 'bool') throw new DTypeError(`trunc: not implemented for bool tensors (shape ${fmtShape(x.shape)})`);
  if (x.dtype === 'int32') return ew.clone(x);
  return ew.floatUnary('TruncBackward', UnaryOp.Trunc, x, (_g, xs) => zerosLike(xs), 0, 0, 'x');
}

/**
 * C's fmod: a - trunc(a / b) * b, the result has the dividend's sign (remainder() takes the
 * divisor's). Integer operands stay int32, and an integer zero divisor is an error, as PyTorch's
 * ZeroDivisionError.
 */
export function fmod(a: Tensor, b: TensorOrScalar): Tensor {
  assertTensor(a, 'fmod', 'input');
  if (b instanceof Tensor) {
    assertTensor(b, 'fmod', 'other');
    sameDevice('fmod', a, b);
    broadcastShapes('fmod', a.shape, b.shape);
  } else if (typeof b !== 'number') {
    throw new ArgumentError(`fmod: expected a Tensor or a number as other, got ${typeof b}`);
  }
  if (a.dtype === 'bool' && b instanceof Tensor && b.dtype === 'bool') {
    throw new DTypeError(`fmod: not implemented for bool tensors (shapes ${fmtShape(a.shape)} and ${b instanceof Tensor ? fmtShape(b.shape) : 'scalar'})`);
  }
  const intResult = a.dtype !== 'float32' && (b instanceof Tensor ? b.dtype !== 'float32' : Number.isInteger(b));
  if (intResult && hasZero(b)) {
    throw new ArgumentError(`fmod: integer division by zero (input ${fmtShape(a.shape)}, other ${b instanceof Tensor ? fmtShape(b.shape) : String(b)})`);
  }
  return ew.arithmetic('FmodBackward', BinaryOp.Fmod, a, b, (g, x, y) =>
    // d/da = 1, d/db = -trunc(a / b)
    [g, ew.neg(ew.mul(g, trunc(ew.div(x, y))))], false, 'a,b');
}

/** Whether an integer divisor holds a zero (read on the host: the answer decides an error). */
function hasZero(b: TensorOrScalar): boolean {
  if (!(b instanceof Tensor)) return b === 0;
  const values = b.data();
  for (let i = 0; i < values.length; i++) if (values[i] === 0) return true;
  return false;
}

/**
 * start + weight * (end - start), written as PyTorch's kernel does for |weight| >= 0.5
 * (end - (end - start) * (1 - weight)) so that weight 1 gives end exactly.
 */
export function lerp(start: Tensor, end: Tensor, weight: Tensor | number): Tensor {
  assertTensor(start, 'lerp', 'input');
  assertTensor(end, 'lerp', 'end');
  sameDevice('lerp', start, end);
  if (start.dtype !== 'float32' || end.dtype !== 'float32') {
    throw new DTypeError(`lerp: expected float32 input and end, got ${start.dtype} and ${end.dtype}`);
  }
  let shape = broadcastShapes('lerp', start.shape, end.shape);
  if (weight instanceof Tensor) {
    assertTensor(weight, 'lerp', 'weight');
    sameDevice('lerp', start, weight);
    if (weight.dtype !== 'float32') throw new DTypeError(`lerp: expected a float32 weight, got ${weight.dtype}`);
    shape = broadcastShapes('lerp', shape, weight.shape);
  } else if (typeof weight !== 'number') {
    throw new ArgumentError(`lerp: expected a Tensor or a number as weight, got ${typeof weight}`);
  }
  return scoped(() => {
    const diff = ew.sub(end, start);
    if (typeof weight === 'number') {
      return Math.abs(weight) < 0.5 ? ew.add(start, ew.mul(diff, weight)) : ew.sub(end, ew.mul(diff, 1 - weight));
    }
    const low = ew.add(start, ew.mul(weight, diff));
    const high = ew.sub(end, ew.mul(diff, ew.add(ew.neg(weight), 1)));
    return ew.where(ew.lt(ew.abs(weight), 0.5), low, high);
  });
}

/** clamp under NumPy's name. */
export function clip(x: Tensor, min?: number | null, max?: number | null): Tensor {
  return ew.clamp(x, min, max);
}

// ---- float classes (bool results, no gradient) ------------------------------------------------

export function isnan(x: Tensor): Tensor {
  assertTensor(x, 'isnan', 'input');
  return x.dtype === 'float32' ? ew.ne(x, x) : fullLike(x, 0, { dtype: 'bool' });
}

export function isinf(x: Tensor): Tensor {
  assertTensor(x, 'isinf', 'input');
  return x.dtype === 'float32' ? scoped(() => ew.eq(ew.abs(x.detach()), Infinity)) : fullLike(x, 0, { dtype: 'bool' });
}

/** x - x is 0 exactly when x is finite (NaN for NaN and the infinities). */
export function isfinite(x: Tensor): Tensor {
  assertTensor(x, 'isfinite', 'input');
  return x.dtype === 'float32' ? scoped(() => { const d = x.detach(); return ew.eq(ew.sub(d, d), 0); }) : fullLike(x, 1, { dtype: 'bool' });
}

export interface AllcloseOptions {
  rtol?: number;
  atol?: number;
  equalNan?: boolean;
}

/** Whether |a - b| <= atol + rtol * |b| everywhere (broadcast), with PyTorch's isclose rules for NaN and infinity. */
export function allclose(a: Tensor, b: Tensor, options: AllcloseOptions = {}): boolean {
  assertTensor(a, 'allclose', 'input');
  assertTensor(b, 'allclose', 'other');
  sameDevice('allclose', a, b);
  const { rtol = 1e-5, atol = 1e-8, equalNan = false } = options;
  if (a.dtype !== b.dtype) throw new DTypeError(`allclose: input dtype ${a.dtype} does not match other dtype ${b.dtype} (shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)})`);
  if (!(rtol >= 0) || !(atol >= 0)) throw new ArgumentError(`allclose: rtol and atol must be non-negative, got rtol ${rtol}, atol ${atol}`);
  broadcastShapes('allclose', a.shape, b.shape);
  return tidy(() => {
    const x = a.dtype === 'float32' ? a.detach() : ew.cast(a, 'float32');
    const y = b.dtype === 'float32' ? b.detach() : ew.cast(b, 'float32');
    let close = ew.eq(x, y);
    if (equalNan) close = ew.logicalOr(close, ew.logicalAnd(isnan(x), isnan(y)));
    if (rtol !== 0 || atol !== 0) {
      const allowed = ew.add(ew.abs(ew.mul(y, rtol)), atol);
      const actual = ew.abs(ew.sub(x, y));
      close = ew.logicalOr(close, ew.logicalAnd(isfinite(actual), ew.le(actual, allowed)));
    }
    const values = close.data();
    for (let i = 0; i < values.length; i++) if (values[i] === 0) return false;
    return true;
  });
}
