// Indexing along one dim with int32 indices, PyTorch semantics: gather, indexSelect (the
// embedding lookup) and out-of-place scatterAdd, each with its backward, plus the scatter-adds
// into zeros that those backwards are. Index values are checked by the native kernels, which
// never touch memory for a bad one; the first out-of-range index (negative ones included) is
// reported here as an ArgumentError with its value and the dim size.
import type { BadIndex } from '../backend/backend.js';
import { backendOf } from '../backend/index.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { isGradEnabled } from '../autograd/grad_mode.js';
import { scoped } from '../scope.js';
import { Tensor } from '../tensor.js';
import { copyInplace } from './elementwise.js';
import { assertTensor, atLeast1d, record, sameDevice } from './record.js';
import { normalizeDim, slice } from './shape.js';

function assertIndex(index: Tensor, op: string): void {
  if (index.dtype !== 'int32') throw new DTypeError(`${op}: index must be int32, got ${index.dtype}`);
}

/**
 * Returns `out` once `write` (an indexing kernel, given `out`) has filled it, or throws naming the
 * first bad index the kernel reported; runs in a scope, so a failed op leaves no tensor behind.
 */
function checkedWrite(op: string, makeOut: () => Tensor, write: (out: Tensor) => BadIndex | null, dim: number, size: number, count: number): Tensor {
  return scoped(() => {
    const out = makeOut();
    const bad = count > 0 ? write(out) : null;
    if (bad) throw new ArgumentError(`${op}: index ${bad.value} is out of bounds for dim ${dim} with size ${size}`);
    return out;
  });
}

/** A contiguous copy of x outside the graph, for the out-of-place scatter to write into. */
function plainCopy(x: Tensor): Tensor {
  const out = Tensor._empty(x.shape, x.dtype, x.device);
  backendOf(x).cast(out, x);
  return out;
}

function zerosOfShape(shape: readonly number[], like: Tensor): Tensor {
  const out = Tensor._empty(shape, like.dtype, like.device);
  backendOf(out).fill(out, 0);
  return out;
}

/** index.shape[d] <= limit.shape[d] for every d (except `dim` when given). */
function assertIndexFits(op: string, index: Tensor, limit: Tensor, what: string, dim: number | null): void {
  for (let d = 0; d < index.ndim; d++) {
    if (d !== dim && index.shape[d] > limit.shape[d]) {
      throw new ShapeError(`${op}: index ${fmtShape(index.shape)} is larger than ${what} ${fmtShape(limit.shape)} in dim ${d}`);
    }
  }
}

// ---- gather -----------------------------------------------------------------------------------

function checkGather(x: Tensor, dim: number, index: Tensor): number {
  assertTensor(x, 'gather', 'input');
  assertTensor(index, 'gather', 'index');
  sameDevice('gather', x, index);
  assertIndex(index, 'gather');
  const d = normalizeDim(dim, x.ndim, 'gather');
  if (index.ndim !== x.ndim) {
    throw new ShapeError(`gather: index ${fmtShape(index.shape)} must have as many dims as input ${fmtShape(x.shape)}`);
  }
  assertIndexFits('gather', index, x, 'input', d);
  return d;
}

/** out[i][j][k] = x[index[i][j][k]][j][k] (dim 0), and likewise for other dims. */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  const d = checkGather(x, dim, index);
  const out = checkedWrite('gather', () => Tensor._empty(index.shape, x.dtype, x.device),
    (o) => backendOf(x).gather(atLeast1d(o), atLeast1d(x), atLeast1d(index), d), d, x.ndim === 0 ? 1 : x.shape[d], index.numel);
  const xShape = [...x.shape];
  return record('GatherBackward', out, [x, index], (node) => {
    const is = node.save(index);
    return (g) => [scatterAddIntoZeros(xShape, d, is, g), null];
  });
}

// ---- scatterAdd -------------------------------------------------------------------------------

/** zeros(shape) with g scattered in along dim; differentiable in g (its gradient gathers). */
function scatterAddIntoZeros(shape: readonly number[], d: number, index: Tensor, g: Tensor): Tensor {
  const out = checkedWrite('scatterAdd', () => zerosOfShape(shape, g),
    (o) => backendOf(o).scatterAdd(atLeast1d(o), atLeast1d(index), atLeast1d(g), d), d, shape.length === 0 ? 1 : shape[d], index.numel);
  return record('ScatterAddBackward', out, [g], (node) => {
    const is = node.save(index);
    return (gg) => [gather(gg, d, is)];
  });
}

/** The gradient for src: g gathered at index, zero where src lies outside index's shape. */
function scatterSourceGrad(g: Tensor, d: number, index: Tensor, srcShape: readonly number[]): Tensor {
  return scoped(() => {
    const picked = gather(g, d, index);
    if (picked.shape.every((s, i) => s === srcShape[i])) return picked;
    const grad = zerosOfShape(srcShape, picked);
    let region = grad;
    for (let k = 0; k < srcShape.length; k++) region = slice(region, k, 0, index.shape[k]);
    copyInplace(region, picked);
    return grad;
  });
}

/** x + src scattered along dim: out[index[i][j]][j] += src[i][j] (dim 0); x is not modified. */
export function scatterAdd(x: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
  assertTensor(x, 'scatterAdd', 'input');
  assertTensor(index, 'scatterAdd', 'index');
  assertTensor(src, 'scatterAdd', 'src');
  sameDevice('scatterAdd', x, index, src);
  assertIndex(index, 'scatterAdd');
  if (x.dtype === 'bool') throw new DTypeError('scatterAdd: input must be float32 or int32, got bool');
  if (src.dtype !== x.dtype) throw new DTypeError(`scatterAdd: src dtype ${src.dtype} does not match input dtype ${x.dtype}`);
  const d = normalizeDim(dim, x.ndim, 'scatterAdd');
  if (index.ndim !== x.ndim || src.ndim !== x.ndim) {
    throw new ShapeError(`scatterAdd: input ${fmtShape(x.shape)}, index ${fmtShape(index.shape)} and src ${fmtShape(src.shape)} must have the same number of dims`);
  }
  assertIndexFits('scatterAdd', index, src, 'src', null);
  assertIndexFits('scatterAdd', index, x, 'input', d);
  const out = checkedWrite('scatterAdd', () => plainCopy(x),
    (o) => backendOf(o).scatterAdd(atLeast1d(o), atLeast1d(index), atLeast1d(src), d), d, x.ndim === 0 ? 1 : x.shape[d], index.numel);
  const srcShape = [...src.shape];
  return record('ScatterAddBackward', out, [x, index, src], (node) => {
    const is = node.save(index);
    return (g) => [g, null, scatterSourceGrad(g, d, is, srcShape)];
  });
}

// ---- indexSelect ------------------------------------------------------------------------------

/** zeros(shape) with rows of g added at index along dim; differentiable in g. */
function indexAddIntoZeros(shape: readonly number[], d: number, index: Tensor, g: Tensor): Tensor {
  const out = checkedWrite('indexAdd', () => zerosOfShape(shape, g),
    (o) => backendOf(o).indexAdd(atLeast1d(o), index, atLeast1d(g), d), d, shape.length === 0 ? 1 : shape[d], index.numel);
  return record('IndexAddBackward', out, [g], (node) => {
    const is = node.save(index);
    return (gg) => [indexSelect(gg, d, is)];
  });
}

/** The entries of x at `index` (1-d) along dim: x.indexSelect(0, ids) is an embedding lookup. */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  assertTensor(x, 'indexSelect', 'input');
  assertTensor(index, 'indexSelect', 'index');
  sameDevice('indexSelect', x, index);
  assertIndex(index, 'indexSelect');
  if (index.ndim > 1) throw new ShapeError(`indexSelect: index must be 1-d, got shape ${fmtShape(index.shape)}`);
  const d = normalizeDim(dim, x.ndim, 'indexSelect');
  if (x.ndim === 0 && index.numel !== 1) {
    throw new ShapeError(`indexSelect: a 0-d input takes exactly one index, got ${index.numel}`);
  }
  const outShape = x.ndim === 0 ? [] : x.shape.map((s, k) => (k === d ? index.numel : s));
  const out = checkedWrite('indexSelect', () => Tensor._empty(outShape, x.dtype, x.device),
    (o) => backendOf(x).indexSelect(atLeast1d(o), atLeast1d(x), index, d), d, x.ndim === 0 ? 1 : x.shape[d], index.numel);
  const xShape = [...x.shape];
  const leaf = x.requiresGrad && !x.gradFn ? x : null;
  return record('IndexSelectBackward', out, [x, index], (node) => {
    const is = node.save(index);
    return (g) => (leaf && indexAddIntoLeafGrad(leaf, d, is, g) ? [null, null] : [indexAddIntoZeros(xShape, d, is, g), null]);
  });
}

/**
 * The engine would add this gradient (zeros but the looked-up rows) into the leaf's .grad in
 * place; when the leaf already has a plain gradient (a tied embedding whose LM head's gradient
 * came first) and no graph of the backward is built, the rows go straight into it: a sparse
 * update instead of a zero-filled table and a dense add. Returns false when it did nothing.
 */
function indexAddIntoLeafGrad(leaf: Tensor, d: number, index: Tensor, g: Tensor): boolean {
  const acc = leaf.grad;
  if (isGradEnabled() || leaf.isDisposed || !acc || acc.isDisposed || !acc.isContiguous() || acc.dtype !== g.dtype ||
    acc.device !== g.device || acc.ndim !== leaf.ndim || acc.shape.some((s, k) => s !== leaf.shape[k])) return false;
  if (index.numel > 0) backendOf(acc).indexAdd(atLeast1d(acc), index, atLeast1d(g), d);
  acc._storage.version++;
  return true;
}
