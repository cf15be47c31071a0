// Reductions: sum, mean, prod, var/std, max/min (values and indices), amax/amin, argmax/argmin,
// logsumexp; and sumToShape, which folds a broadcast gradient back onto an input's shape.
import { noGrad } from '../autograd/grad_mode.js';
import { backendOf } from '../backend/index.js';
import { ReduceOp } from '../backend/opcodes.js';
import type { DType } from '../dtype.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { scoped } from '../scope.js';
import { Tensor } from '../tensor.js';
import * as ew from './elementwise.js';
import { type ValuesIndices, assertTensor, record, valuesIndices, viewOperand } from './record.js';
import { normalizeDim, reshape, expand } from './shape.js';

function reducedDims(t: Tensor, dim: number | number[] | undefined | null, op: string): number[] {
  if (dim === undefined || dim === null) return t.shape.map((_, i) => i);
  const list = Array.isArray(dim) ? dim : [dim];
  const dims = list.map((d) => normalizeDim(d, t.ndim, op));
  if (new Set(dims).size !== dims.length) throw new ArgumentError(`${op}: dim ${fmtShape(list)} appears more than once`);
  return t.ndim === 0 ? [] : dims.sort((a, b) => a - b);
}

function keptShape(t: Tensor, dims: number[], keepdim: boolean): number[] {
  return keepdim ? t.shape.map((s, i) => (dims.includes(i) ? 1 : s)) : t.shape.filter((_, i) => !dims.includes(i));
}

/** Runs the reduction kernel; the result has the keepdim or squeezed shape as asked. */
function reduceKernel(op: ReduceOp, x: Tensor, dims: number[], keepdim: boolean, outDtype: DType): Tensor {
  const out = Tensor._empty(keptShape(x, dims, keepdim), outDtype, x.device);
  // The kernel writes the squeezed shape; with keepdim the same contiguous memory has 1s added.
  backendOf(x).reduce(op, keepdim ? viewOperand(out, keptShape(x, dims, false)) : out, x, dims);
  return out;
}

/** g (shaped like the reduced output) broadcast back over the reduced dims of `inShape`. */
function expandGrad(g: Tensor, inShape: number[], dims: number[], keepdim: boolean): Tensor {
  return scoped(() => expand(keepdim ? g : reshape(g, inShape.map((s, i) => (dims.includes(i) ? 1 : s))), inShape));
}

function numericInput(x: Tensor, op: string): Tensor {
  assertTensor(x, op, 'input');
  return x.dtype === 'bool' ? ew.cast(x, 'int32') : x;
}

export function sum(x: Tensor, dim?: number | number[] | null, keepdim = false): Tensor {
  const dims = reducedDims(x, dim, 'sum');
  const out = scoped(() => {
    const xin = numericInput(x, 'sum');
    return reduceKernel(ReduceOp.Sum, xin, dims, keepdim, xin.dtype);
  });
  const inShape = [...x.shape];
  return record('SumBackward', out, [x], () => (g) => [expandGrad(g, inShape, dims, keepdim)]);
}

export function mean(x: Tensor, dim?: number | number[] | null, keepdim = false): Tensor {
  assertTensor(x, 'mean', 'input');
  if (x.dtype !== 'float32') throw new DTypeError(`mean: input dtype must be floating point, got ${x.dtype}`);
  const dims = reducedDims(x, dim, 'mean');
  const out = reduceKernel(ReduceOp.Mean, x, dims, keepdim, 'float32');
  const count = dims.reduce((n, d) => n * x.shape[d], 1);
  const inShape = [...x.shape];
  return record('MeanBackward', out, [x], () => (g) => [expandGrad(ew.div(g, count), inShape, dims, keepdim)]);
}

export function prod(x: Tensor, dim?: number, keepdim = false): Tensor {
  const dims = reducedDims(x, dim, 'prod');
  const out = scoped(() => {
    const xin = numericInput(x, 'prod');
    return reduceKernel(ReduceOp.Prod, xin, dims, keepdim, xin.dtype);
  });
  const inShape = [...x.shape];
  return record('ProdBackward', out, [x], (node) => {
    const xs = node.save(x);
    return (g) => {
      // d prod / d x_i is the product of the other elements. Dividing prod by x_i fails at zeros,
      // so take the product of the non-zero elements and the zero count per slice: with no zero
      // it is prodNonZero / x_i; with one, prodNonZero at the zero and 0 elsewhere; with more, 0.
      const isZero = ew.eq(xs, 0), safe = ew.where(isZero, 1, xs);
      const prodNonZero = prod(safe, dims.length === 1 ? dims[0] : undefined, true);
      const zeros = sum(isZero, dims.length === 1 ? dims[0] : undefined, true);
      const noZero = ew.eq(zeros, 0), oneZero = ew.eq(zeros, 1);
      const others = ew.div(prodNonZero, safe);
      const atTheZero = ew.logicalAnd(oneZero, isZero);
      const d = ew.where(noZero, others, ew.where(atTheZero, prodNonZero, 0));
      return [ew.mul(expandGrad(g, inShape, dims, keepdim), d)];
    };
  });
}

export function variance(x: Tensor, dim?: number | number[] | null, options: { correction?: number; keepdim?: boolean } = {}): Tensor {
  assertTensor(x, 'var', 'input');
  if (x.dtype !== 'float32') throw new DTypeError(`var: input dtype must be floating point, got ${x.dtype}`);
  const correction = options.correction ?? 1, keepdim = options.keepdim ?? false;
  const dims = reducedDims(x, dim, 'var');
  const n = dims.reduce((c, d) => c * x.shape[d], 1);
  return scoped(() => {
    const d = ew.sub(x, mean(x, dims, true));
    return ew.div(sum(ew.mul(d, d), dims, keepdim), Math.max(n - correction, 0));
  });
}

export function std(x: Tensor, dim?: number | number[] | null, options: { correction?: number; keepdim?: boolean } = {}): Tensor {
  return scoped(() => ew.sqrt(variance(x, dim, options)));
}

function assertNonEmpty(x: Tensor, dims: number[], op: string): void {
  if (dims.some((d) => x.shape[d] === 0) || (x.ndim === 0 && x.numel === 0)) {
    throw new ShapeError(`${op}: cannot reduce over a zero-size dim (input shape ${fmtShape(x.shape)})`);
  }
  if (x.numel === 0 && dims.length === x.ndim) throw new ShapeError(`${op}: cannot reduce a tensor with no elements`);
}

/** amax / amin: the extreme values; the gradient is shared evenly among ties. */
function extremum(x: Tensor, dim: number | number[] | undefined | null, keepdim: boolean, op: 'amax' | 'amin'): Tensor {
  assertTensor(x, op, 'input');
  const dims = reducedDims(x, dim, op);
  assertNonEmpty(x, dims, op);
  const out = scoped(() => {
    const xin = numericInput(x, op);
    return reduceKernel(op === 'amax' ? ReduceOp.Max : ReduceOp.Min, xin, dims, keepdim, xin.dtype);
  });
  const inShape = [...x.shape];
  return record(op === 'amax' ? 'AmaxBackward' : 'AminBackward', out, [x], (node) => {
    const xs = node.save(x), os = node.save(out);
    return (g) => {
      const hits = ew.cast(ew.eq(xs, expandGrad(os, inShape, dims, keepdim)), 'float32');
      return [ew.mul(ew.div(expandGrad(g, inShape, dims, keepdim), sum(hits, dims, true)), hits)];
    };
  });
}

export const amax = (x: Tensor, dim?: number | number[] | null, keepdim = false) => extremum(x, dim, keepdim, 'amax');
export const amin = (x: Tensor, dim?: number | number[] | null, keepdim = false) => extremum(x, dim, keepdim, 'amin');

function argExtremum(x: Tensor, dim: number | undefined | null, keepdim: boolean, op: 'argmax' | 'argmin'): Tensor {
  assertTensor(x, op, 'input');
  const code = op === 'argmax' ? ReduceOp.Argmax : ReduceOp.Argmin;
  return scoped(() => {
    const xin = numericInput(x, op);
    if (dim === undefined || dim === null) {
      // Over the flattened tensor, as PyTorch does.
      assertNonEmpty(xin, xin.shape.map((_, i) => i), op);
      const out = reduceKernel(code, reshape(xin, [xin.numel]), [0], false, 'int32');
      return keepdim ? reshape(out, x.shape.map(() => 1)) : out;
    }
    const dims = reducedDims(xin, dim, op);
    assertNonEmpty(xin, dims, op);
    return reduceKernel(code, xin, dims, keepdim, 'int32');
  });
}

export const argmax = (x: Tensor, dim?: number | null, keepdim = false) => argExtremum(x, dim, keepdim, 'argmax');
export const argmin = (x: Tensor, dim?: number | null, keepdim = false) => argExtremum(x, dim, keepdim, 'argmin');

/** max() over everything, or max(dim) as { values, indices } with the gradient to the index. */
function maxMin(x: Tensor, dim: number | undefined, keepdim: boolean, op: 'max' | 'min'): Tensor | ValuesIndices {
  if (dim === undefined || dim === null) return extremum(x, undefined, false, op === 'max' ? 'amax' : 'amin');
  assertTensor(x, op, 'input');
  const d = normalizeDim(dim, Math.max(x.ndim, 1), op);
  const dims = x.ndim === 0 ? [] : [d];
  assertNonEmpty(x, dims, op);
  const [values, indices] = scoped(() => {
    const xin = numericInput(x, op);
    return [
      reduceKernel(op === 'max' ? ReduceOp.Max : ReduceOp.Min, xin, dims, keepdim, xin.dtype),
      reduceKernel(op === 'max' ? ReduceOp.Argmax : ReduceOp.Argmin, xin, dims, keepdim, 'int32'),
    ];
  });
  const inShape = [...x.shape];
  record(op === 'max' ? 'MaxBackward' : 'MinBackward', values, [x], (node) => {
    const is = node.save(indices);
    return (g) => {
      if (dims.length === 0) return [g];
      // One-hot of the index along dim, times the incoming gradient.
      const positions = noGrad(() => arangeAlong(inShape, d, x.device));
      const hit = ew.cast(ew.eq(positions, expandGrad(is, inShape, dims, keepdim)), 'float32');
      return [ew.mul(expandGrad(g, inShape, dims, keepdim), hit)];
    };
  });
  return valuesIndices(values, indices);
}

function arangeAlong(shape: number[], dim: number, device: Tensor['device']): Tensor {
  const n = shape[dim];
  const line = Tensor._empty([n], 'int32', device);
  const host = new Int32Array(n);
  for (let i = 0; i < n; i++) host[i] = i;
  backendOf(line).write(line.handle, new Uint8Array(host.buffer));
  return expand(reshape(line, shape.map((s, i) => (i === dim ? n : 1))), shape);
}

export function max(x: Tensor, dim?: number, keepdim = false) {
  return maxMin(x, dim, keepdim, 'max');
}

export function min(x: Tensor, dim?: number, keepdim = false) {
  return maxMin(x, dim, keepdim, 'min');
}

export function logsumexp(x: Tensor, dim: number | number[], keepdim = false): Tensor {
  assertTensor(x, 'logsumexp', 'input');
  if (x.dtype !== 'float32') throw new DTypeError(`logsumexp: input dtype must be floating point, got ${x.dtype}`);
  const dims = reducedDims(x, dim, 'logsumexp');
  // Shift by the (detached) maximum so exp cannot overflow; infinities give a zero shift.
  return scoped(() => {
    const m = noGrad(() => {
      const raw = amax(x, dims, true);
      return ew.maskedFill(raw, ew.eq(ew.abs(raw), Infinity), 0);
    });
    const r = ew.add(ew.log(sum(ew.exp(ew.sub(x, m)), dims, true)), m);
    return keepdim ? r : reshape(r, keptShape(x, dims, false));
  });
}

/** Sums g over the dims that broadcasting added or stretched, so it has `shape`. */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.length === shape.length && g.shape.every((s, i) => s === shape[i])) return g;
  const lead = g.ndim - shape.length;
  const dims: number[] = [];
  for (let d = 0; d < g.ndim; d++) {
    if (d < lead || (shape[d - lead] === 1 && g.shape[d] !== 1)) dims.push(d);
  }
  return scoped(() => reshape(dims.length ? sum(g, dims, true) : g, [...shape]));
}
