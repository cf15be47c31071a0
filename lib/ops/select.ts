// Selections whose result depends on the values: maskedSelect, nonzero, unique, median, and
// scatter (out of place and in place). The positions are computed on the host from t.data()
// (for CUDA tensors too: the output's size, or which element wins, depends on the values) and
// the elements are then gathered on the tensor's device by indexSelect / gather, so the values
// stay exact and the gradients come from those ops.
import { isGradEnabled, noGrad } from '../autograd/grad_mode.js';
import type { DType } from '../dtype.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { Tensor, contiguousStrides, shapeNumel } from '../tensor.js';
import { scoped, tidy } from '../scope.js';
import { fromTypedArray, fullLike } from './creation.js';
import * as ew from './elementwise.js';
import { gather, indexSelect, scatterAdd } from './indexing.js';
import { type ValuesIndices, assertTensor, broadcastShapes, needsGrad, record, sameDevice, valuesIndices } from './record.js';
import { expand, normalizeDim, reshape, slice, squeeze } from './shape.js';

function int32Tensor(values: Int32Array | number[], shape: number[], like: Tensor): Tensor {
  return fromTypedArray(values instanceof Int32Array ? values : Int32Array.from(values), shape, 'int32', like.device);
}

/** x's elements in row-major order on the host (a copy for GPU or strided tensors). */
function hostValues(x: Tensor): ArrayLike<number> {
  return x.data();
}

/** Ascending, NaN after every number (as PyTorch sorts). */
function compareValues(a: number, b: number): number {
  if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : 1;
  if (Number.isNaN(b)) return -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---- maskedSelect, nonzero --------------------------------------------------------------------

/** The elements of x where mask (broadcast with x) is true, as a 1-d tensor in row-major order. */
export function maskedSelect(x: Tensor, mask: Tensor): Tensor {
  assertTensor(x, 'maskedSelect', 'input');
  assertTensor(mask, 'maskedSelect', 'mask');
  sameDevice('maskedSelect', x, mask);
  if (mask.dtype !== 'bool') throw new DTypeError(`maskedSelect: mask must be a bool tensor, got ${mask.dtype}`);
  const shape = broadcastShapes('maskedSelect', x.shape, mask.shape);
  return scoped(() => {
    const picks = hostValues(expand(mask, shape));
    const positions: number[] = [];
    for (let i = 0; i < picks.length; i++) if (picks[i]) positions.push(i);
    const flat = reshape(expand(x, shape), [shapeNumel(shape)]);
    return indexSelect(flat, 0, int32Tensor(positions, [positions.length], x));
  });
}

export interface NonzeroOptions {
  asTuple?: boolean;
}

/** The indices of the non-zero elements: an int32 [count, ndim] tensor, or one 1-d tensor per dim with asTuple. */
export function nonzero(x: Tensor, options?: { asTuple?: false }): Tensor;
export function nonzero(x: Tensor, options: { asTuple: true }): Tensor[];
export function nonzero(x: Tensor, options?: NonzeroOptions): Tensor | Tensor[];
export function nonzero(x: Tensor, { asTuple = false }: NonzeroOptions = {}): Tensor | Tensor[] {
  assertTensor(x, 'nonzero', 'input');
  const values = hostValues(x);
  const found: number[] = [];
  for (let i = 0; i < values.length; i++) if (values[i] !== 0) found.push(i);
  const ndim = x.ndim, strides = contiguousStrides(x.shape);
  const coords = new Int32Array(found.length * ndim);
  found.forEach((flat, row) => {
    for (let d = 0; d < ndim; d++) coords[row * ndim + d] = Math.floor(flat / strides[d]) % x.shape[d];
  });
  if (!asTuple) return int32Tensor(coords, [found.length, ndim], x);
  // A 0-d input answers like a 1-d one of one element, as in PyTorch.
  if (ndim === 0) return [int32Tensor(found.map(() => 0), [found.length], x)];
  return x.shape.map((_, d) => int32Tensor(found.map((__, row) => coords[row * ndim + d]), [found.length], x));
}

// ---- unique -----------------------------------------------------------------------------------

export interface UniqueOptions {
  /** Accepted for PyTorch's signature; the result is always sorted (a valid order for false). */
  sorted?: boolean;
  returnInverse?: boolean;
  returnCounts?: boolean;
  /** Unique slices along dim instead of unique elements. */
  dim?: number | null;
}

/**
 * The distinct elements (or slices along dim) in ascending order; with returnInverse and/or
 * returnCounts, [values, inverse?, counts?] in PyTorch's order. Each NaN counts as distinct.
 * Not differentiable, as in PyTorch.
 */
export function unique(x: Tensor, options?: UniqueOptions & { returnInverse?: false; returnCounts?: false }): Tensor;
export function unique(x: Tensor, options: UniqueOptions & { returnInverse: true; returnCounts: true }): [Tensor, Tensor, Tensor];
export function unique(x: Tensor, options: UniqueOptions & ({ returnInverse: true } | { returnCounts: true })): [Tensor, Tensor];
export function unique(x: Tensor, options?: UniqueOptions): Tensor | Tensor[];
export function unique(x: Tensor, options: UniqueOptions = {}): Tensor | Tensor[] {
  assertTensor(x, 'unique', 'input');
  const { returnInverse = false, returnCounts = false, dim = null } = options;
  const byDim = dim !== null && dim !== undefined;
  const d = byDim ? normalizeDim(dim, x.ndim, 'unique') : 0;
  if (byDim && x.ndim === 0) throw new ShapeError('unique: cannot take unique slices of a 0-d tensor');
  return noGrad(() => scoped(() => {
    // The input as [outer, n, inner]: n items (elements, or slices along dim), each `outer x inner` values.
    const src = byDim ? x : reshape(x, [x.numel]);
    const n = src.ndim === 0 ? 1 : src.shape[d];
    const outer = shapeNumel(src.shape.slice(0, d)), inner = shapeNumel(src.shape.slice(d + 1));
    const values = hostValues(src);
    const itemAt = (item: number, k: number) => values[(Math.floor(k / inner) * n + item) * inner + (k % inner)];
    const width = outer * inner;
    const compareItems = (a: number, b: number) => {
      for (let k = 0; k < width; k++) {
        const c = compareValues(itemAt(a, k), itemAt(b, k));
        if (c !== 0) return c;
      }
      return 0;
    };
    const sameItem = (a: number, b: number) => {
      for (let k = 0; k < width; k++) if (!(itemAt(a, k) === itemAt(b, k))) return false;
      return true;
    };
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => compareItems(a, b) || a - b);
    const firsts: number[] = [], counts: number[] = [];
    const inverse = new Int32Array(n);
    order.forEach((item, rank) => {
      if (rank === 0 || !sameItem(order[rank - 1], item)) {
        firsts.push(item);
        counts.push(0);
      }
      inverse[item] = firsts.length - 1;
      counts[counts.length - 1]++;
    });
    const picked = indexSelect(src, d, int32Tensor(firsts, [firsts.length], x));
    if (!returnInverse && !returnCounts) return picked;
    const result = [picked];
    if (returnInverse) result.push(int32Tensor(inverse, byDim ? [n] : [...x.shape], x));
    if (returnCounts) result.push(int32Tensor(counts, [counts.length], x));
    return result;
  }));
}

// ---- median -----------------------------------------------------------------------------------

/** The position (within `positions`) of the lower median of values at those positions; NaN wins. */
function lowerMedian(values: ArrayLike<number>, positions: number[]): number {
  const firstNaN = positions.find((p) => Number.isNaN(values[p]));
  if (firstNaN !== undefined) return firstNaN;
  const sorted = [...positions].sort((a, b) => compareValues(values[a], values[b]) || a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

function assertMedianDType(x: Tensor): void {
  if (x.dtype === 'bool') throw new DTypeError(`median: not implemented for bool tensors (shape ${fmtShape(x.shape)})`);
}

/**
 * The lower median of all elements (NaN if any is NaN). Its gradient is shared evenly among the
 * elements equal to it, as PyTorch's.
 */
export function median(x: Tensor): Tensor;
/** The lower median along dim: { values, indices }, the gradient to the index. */
export function median(x: Tensor, dim: number, keepdim?: boolean): ValuesIndices;
export function median(x: Tensor, dim?: number, keepdim = false): Tensor | ValuesIndices {
  assertTensor(x, 'median', 'input');
  assertMedianDType(x);
  if (dim === undefined || dim === null) return globalMedian(x);
  const d = normalizeDim(dim, x.ndim, 'median');
  const n = x.ndim === 0 ? 1 : x.shape[d];
  if (n === 0) throw new ShapeError(`median: cannot take the median of a zero-size dim (input shape ${fmtShape(x.shape)}, dim ${d})`);
  const values = hostValues(x);
  const keptShape = x.ndim === 0 ? [] : x.shape.map((s, i) => (i === d ? 1 : s));
  const outer = shapeNumel(x.shape.slice(0, d)), inner = shapeNumel(x.shape.slice(d + 1));
  const picks = new Int32Array(outer * inner);
  const positions = new Array<number>(n);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      for (let k = 0; k < n; k++) positions[k] = (o * n + k) * inner + i;
      picks[o * inner + i] = Math.floor((lowerMedian(values, positions) - o * n * inner - i) / inner);
    }
  }
  return tidy(() => {
    const keptIndices = int32Tensor(picks, keptShape, x);
    if (x.ndim === 0) return valuesIndices(ew.clone(x), keptIndices);
    const keptValues = gather(x, d, keptIndices);
    if (keepdim) return valuesIndices(keptValues, keptIndices);
    return valuesIndices(squeeze(keptValues, d), squeeze(keptIndices, d));
  });
}

function globalMedian(x: Tensor): Tensor {
  if (x.numel === 0) {
    if (x.dtype !== 'float32') throw new ShapeError('median: cannot take the median of an empty integer tensor');
    return fromTypedArray(Float32Array.of(NaN), [], 'float32', x.device);
  }
  const values = hostValues(x);
  const at = lowerMedian(values, Array.from({ length: values.length }, (_, i) => i));
  const isNaN = Number.isNaN(values[at]);
  const out = noGrad(() => scoped(() => reshape(indexSelect(reshape(x, [x.numel]), 0, int32Tensor([at], [1], x)), [])));
  return record('MedianBackward', out, [x], (node) => {
    const xs = node.save(x), ms = node.save(out);
    return (g) => {
      const hit = ew.cast(isNaN ? ew.ne(xs, xs) : ew.eq(xs, ms), 'float32');
      return [ew.mul(hit, ew.div(g, hit.sum()))];
    };
  });
}

// ---- scatter ----------------------------------------------------------------------------------

export type ScatterReduce = 'add' | 'multiply';

interface ScatterPlan {
  /** For each element of the output (row-major), the row-major position in index that writes it last, or -1. */
  writer: Int32Array;
  /** Row-major positions in the output written by each index element, in index order. */
  targets: Int32Array;
}

/** Checks scatter's shapes and dtypes, PyTorch's rules, and reads the index on the host. */
function planScatter(op: string, x: Tensor, d: number, index: Tensor, src: Tensor | null): ScatterPlan {
  if (index.dtype !== 'int32') throw new DTypeError(`${op}: index must be int32, got ${index.dtype}`);
  if (index.ndim !== x.ndim) throw new ShapeError(`${op}: index ${fmtShape(index.shape)} must have as many dims as input ${fmtShape(x.shape)}`);
  for (let k = 0; k < index.ndim; k++) {
    if (src && index.shape[k] > src.shape[k]) throw new ShapeError(`${op}: index ${fmtShape(index.shape)} is larger than src ${fmtShape(src.shape)} in dim ${k}`);
    if (k !== d && index.shape[k] > x.shape[k]) throw new ShapeError(`${op}: index ${fmtShape(index.shape)} is larger than input ${fmtShape(x.shape)} in dim ${k}`);
  }
  const idx = hostValues(index);
  const outStrides = contiguousStrides(x.shape), idxStrides = contiguousStrides(index.shape);
  const size = x.ndim === 0 ? 1 : x.shape[d];
  const writer = new Int32Array(x.numel).fill(-1);
  const targets = new Int32Array(idx.length);
  for (let p = 0; p < idx.length; p++) {
    const v = idx[p];
    if (v < 0 || v >= size) throw new ArgumentError(`${op}: index ${v} is out of bounds for dim ${d} with size ${size}`);
    let target = 0;
    for (let k = 0; k < index.ndim; k++) {
      const coord = k === d ? v : Math.floor(p / idxStrides[k]) % index.shape[k];
      target += coord * outStrides[k];
    }
    targets[p] = target;
    writer[target] = p;
  }
  return { writer, targets };
}

/**
 * Out of place: x with src's elements (or a value) written at index along dim,
 * out[index[i][j]][j] = src[i][j] (dim 0); where an index repeats, the last write wins.
 * reduce 'add' adds instead, 'multiply' multiplies (PyTorch's deprecated reduce argument).
 * Gradients as PyTorch's: x's is g without the written places, src's is g gathered at index.
 */
export function scatter(x: Tensor, dim: number, index: Tensor, src: Tensor | number, options: { reduce?: ScatterReduce } = {}): Tensor {
  const op = 'scatter';
  assertTensor(x, op, 'input');
  assertTensor(index, op, 'index');
  sameDevice(op, x, index);
  const srcT = src instanceof Tensor ? assertTensor(src, op, 'src') : null;
  if (srcT) {
    sameDevice(op, x, srcT);
    if (srcT.dtype !== x.dtype) throw new DTypeError(`${op}: src dtype ${srcT.dtype} does not match input dtype ${x.dtype}`);
    if (srcT.ndim !== x.ndim) throw new ShapeError(`${op}: src ${fmtShape(srcT.shape)} must have as many dims as input ${fmtShape(x.shape)}`);
  } else if (typeof src !== 'number') {
    throw new ArgumentError(`${op}: expected a Tensor or a number as src, got ${typeof src}`);
  }
  const { reduce } = options;
  if (reduce !== undefined && reduce !== 'add' && reduce !== 'multiply') throw new ArgumentError(`${op}: reduce must be 'add' or 'multiply', got '${String(reduce)}'`);
  if (x.dtype === 'bool' && reduce) throw new DTypeError(`${op}: reduce '${reduce}' is not implemented for bool tensors`);
  const d = normalizeDim(dim, x.ndim, op);
  const plan = planScatter(op, x, d, index, srcT);
  if (reduce === 'multiply') return scatterMultiply(x, plan, index, src);
  if (reduce === 'add') {
    if (srcT) return scatterAdd(x, d, index, srcT);
    return scoped(() => scatterAdd(x, d, index, fullLike(index, src as number, { dtype: x.dtype })));
  }
  const written = () => fromTypedArray(Uint8Array.from(plan.writer, (w) => (w >= 0 ? 1 : 0)), [...x.shape], 'bool', x.device);
  if (!srcT) return scoped(() => ew.maskedFill(x, written(), src as number));
  // Each output element's source: the src element at the index position that wrote it last.
  const srcStrides = contiguousStrides(srcT.shape), idxStrides = contiguousStrides(index.shape);
  const from = Int32Array.from(plan.writer, (p) => {
    if (p < 0) return 0;
    let at = 0;
    for (let k = 0; k < index.ndim; k++) at += (Math.floor(p / idxStrides[k]) % index.shape[k]) * srcStrides[k];
    return at;
  });
  const srcShape = [...srcT.shape];
  return scoped(() => {
    const hit = written();
    const out = noGrad(() => {
      const picked = reshape(indexSelect(reshape(srcT, [srcT.numel]), 0, int32Tensor(from, [from.length], x)), [...x.shape]);
      return ew.where(hit, picked, x);
    });
    return record('ScatterBackward', out, [x, index, srcT], (node) => {
      const hs = node.save(hit), is = node.save(index);
      return (g) => [ew.where(hs, 0, g), null, padTo(gather(g, d, is), srcShape)];
    });
  });
}

/** t in the leading corner of zeros(shape) (src may be larger than index). */
function padTo(t: Tensor, shape: number[]): Tensor {
  if (t.shape.every((s, i) => s === shape[i])) return t;
  const out = Tensor._empty(shape, t.dtype, t.device);
  ew.fillInplace(out, 0);
  let region = out;
  for (let k = 0; k < shape.length; k++) region = slice(region, k, 0, t.shape[k]);
  ew.copyInplace(region, t);
  return out;
}

/** reduce 'multiply', on the host in index order with the dtype's own rounding (no gradient, as in PyTorch). */
function scatterMultiply(x: Tensor, plan: ScatterPlan, index: Tensor, src: Tensor | number): Tensor {
  if (needsGrad(x, src instanceof Tensor ? src : null)) {
    throw new ArgumentError("scatter: reduce 'multiply' has no gradient; call it on detached tensors or under kd.noGrad()");
  }
  const dtype: DType = x.dtype;
  const acc = dtype === 'float32' ? Float32Array.from(hostValues(x)) : Int32Array.from(hostValues(x));
  const srcValues = src instanceof Tensor ? hostValues(src) : null;
  const srcStrides = src instanceof Tensor ? contiguousStrides(src.shape) : [];
  const idxStrides = contiguousStrides(index.shape);
  plan.targets.forEach((target, p) => {
    let v = src as number;
    if (srcValues) {
      let at = 0;
      for (let k = 0; k < index.ndim; k++) at += (Math.floor(p / idxStrides[k]) % index.shape[k]) * srcStrides[k];
      v = srcValues[at];
    }
    acc[target] = dtype === 'float32' ? acc[target] * v : Math.imul(acc[target], Math.trunc(v));
  });
  return fromTypedArray(acc, [...x.shape], dtype, x.device);
}

/** In place: t.scatter_(dim, index, src) writes into t (not while t requires grad and grad is on). */
export function scatterInplace(x: Tensor, dim: number, index: Tensor, src: Tensor | number, options: { reduce?: ScatterReduce } = {}): void {
  assertTensor(x, 'scatter_', 'input');
  if (isGradEnabled() && x.requiresGrad) {
    throw new ArgumentError('scatter_: a tensor that requires grad cannot be modified in place while gradients are recorded; wrap the update in kd.noGrad()');
  }
  scoped(() => ew.copyInplace(x, noGrad(() => scatter(x, dim, index, src, options))));
}
