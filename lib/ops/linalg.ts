// Linear algebra on top of matmul and the elementwise ops, with PyTorch's shape rules: mm, bmm,
// addmm, baddbmm, dot, outer, kron, cross and the vector norm. All but norm are compositions,
// so their backwards come from the ops they are made of; norm states its own (PyTorch's
// subgradients at zero).
import { DTypeError, ShapeError, ArgumentError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor.js';
import { scoped } from '../scope.js';
import { zerosLike } from './creation.js';
import * as ew from './elementwise.js';
import { matmul } from './matmul.js';
import { assertTensor, broadcastShapes, record, sameDevice } from './record.js';
import * as red from './reduce.js';
import { normalizeDim, reshape, select, stack, unsqueeze } from './shape.js';

function assertFloatMatrices(op: string, a: Tensor, b: Tensor): void {
  if (a.dtype !== 'float32' || b.dtype !== 'float32') throw new DTypeError(`${op}: expected float32 operands, got ${a.dtype} and ${b.dtype}`);
}

/** a @ b for two matrices. */
export function mm(a: Tensor, b: Tensor): Tensor {
  assertTensor(a, 'mm', 'input');
  assertTensor(b, 'mm', 'mat2');
  sameDevice('mm', a, b);
  if (a.ndim !== 2 || b.ndim !== 2) throw new ShapeError(`mm: expected two 2-d tensors, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  if (a.shape[1] !== b.shape[0]) throw new ShapeError(`mm: shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)} cannot be multiplied (${a.shape[1]} != ${b.shape[0]})`);
  assertFloatMatrices('mm', a, b);
  return matmul(a, b);
}

/** a[i] @ b[i] for two batches of matrices of one batch size (no broadcasting, as in PyTorch). */
export function bmm(a: Tensor, b: Tensor): Tensor {
  assertTensor(a, 'bmm', 'input');
  assertTensor(b, 'bmm', 'mat2');
  sameDevice('bmm', a, b);
  if (a.ndim !== 3 || b.ndim !== 3) throw new ShapeError(`bmm: expected two 3-d tensors, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  if (a.shape[0] !== b.shape[0] || a.shape[2] !== b.shape[1]) {
    throw new ShapeError(`bmm: shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)} cannot be multiplied (batch ${a.shape[0]} vs ${b.shape[0]}, inner ${a.shape[2]} vs ${b.shape[1]})`);
  }
  assertFloatMatrices('bmm', a, b);
  return matmul(a, b);
}

export interface AddmmOptions {
  beta?: number;
  alpha?: number;
}

/** beta * input + alpha * product, input broadcast to the product's shape; beta 0 ignores input (NaN included). */
function addProduct(op: string, input: Tensor, product: () => Tensor, outShape: number[], { beta = 1, alpha = 1 }: AddmmOptions): Tensor {
  assertTensor(input, op, 'input');
  const shape = broadcastShapes(op, input.shape, outShape);
  if (shape.length !== outShape.length || shape.some((s, i) => s !== outShape[i])) {
    throw new ShapeError(`${op}: input of shape ${fmtShape(input.shape)} does not broadcast to the product's shape ${fmtShape(outShape)}`);
  }
  if (input.dtype !== 'float32') throw new DTypeError(`${op}: expected a float32 input, got ${input.dtype}`);
  if (typeof beta !== 'number' || typeof alpha !== 'number') throw new ArgumentError(`${op}: beta and alpha must be numbers, got ${beta} and ${alpha}`);
  return scoped(() => {
    const p = product();
    const scaled = alpha === 1 ? p : ew.mul(p, alpha);
    if (beta === 0) return scaled;
    return ew.add(beta === 1 ? input : ew.mul(input, beta), scaled);
  });
}

export function addmm(input: Tensor, mat1: Tensor, mat2: Tensor, options: AddmmOptions = {}): Tensor {
  assertTensor(mat1, 'addmm', 'mat1');
  assertTensor(mat2, 'addmm', 'mat2');
  if (mat1.ndim !== 2 || mat2.ndim !== 2) throw new ShapeError(`addmm: expected 2-d mat1 and mat2, got ${fmtShape(mat1.shape)} and ${fmtShape(mat2.shape)}`);
  return addProduct('addmm', input, () => mm(mat1, mat2), [mat1.shape[0], mat2.shape[1]], options);
}

export function baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, options: AddmmOptions = {}): Tensor {
  assertTensor(batch1, 'baddbmm', 'batch1');
  assertTensor(batch2, 'baddbmm', 'batch2');
  if (batch1.ndim !== 3 || batch2.ndim !== 3) throw new ShapeError(`baddbmm: expected 3-d batch1 and batch2, got ${fmtShape(batch1.shape)} and ${fmtShape(batch2.shape)}`);
  return addProduct('baddbmm', input, () => bmm(batch1, batch2), [batch1.shape[0], batch1.shape[1], batch2.shape[2]], options);
}

/** The inner product of two 1-d tensors of one size and one dtype (int32 wraps like PyTorch's). */
export function dot(a: Tensor, b: Tensor): Tensor {
  assertTensor(a, 'dot', 'input');
  assertTensor(b, 'dot', 'other');
  sameDevice('dot', a, b);
  if (a.ndim !== 1 || b.ndim !== 1) throw new ShapeError(`dot: expected two 1-d tensors, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  if (a.shape[0] !== b.shape[0]) throw new ShapeError(`dot: sizes ${a.shape[0]} and ${b.shape[0]} differ`);
  if (a.dtype !== b.dtype) throw new DTypeError(`dot: expected both vectors to have one dtype, got ${a.dtype} and ${b.dtype}`);
  if (a.dtype === 'bool') throw new DTypeError('dot: not implemented for bool tensors');
  if (a.dtype === 'float32') return matmul(a, b);
  return scoped(() => red.sum(ew.mul(a, b)));
}

/** a[i] * b[j]: the outer product of two 1-d tensors (dtypes promote). */
export function outer(a: Tensor, b: Tensor): Tensor {
  assertTensor(a, 'outer', 'input');
  assertTensor(b, 'outer', 'vec2');
  if (a.ndim !== 1 || b.ndim !== 1) throw new ShapeError(`outer: expected two 1-d tensors, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  return scoped(() => ew.mul(unsqueeze(a, 1), unsqueeze(b, 0)));
}

/**
 * The Kronecker product: with both padded to one rank, out[i * b.shape + j] = a[i] * b[j]; a is
 * viewed as [a0, 1, a1, 1, ...] and b as [1, b0, 1, b1, ...], multiplied, and merged.
 */
export function kron(a: Tensor, b: Tensor): Tensor {
  assertTensor(a, 'kron', 'input');
  assertTensor(b, 'kron', 'other');
  const n = Math.max(a.ndim, b.ndim);
  const as = [...new Array<number>(n - a.ndim).fill(1), ...a.shape];
  const bs = [...new Array<number>(n - b.ndim).fill(1), ...b.shape];
  return scoped(() => {
    const ai = reshape(a, as.flatMap((s) => [s, 1]));
    const bi = reshape(b, bs.flatMap((s) => [1, s]));
    return reshape(ew.mul(ai, bi), as.map((s, i) => s * bs[i]));
  });
}

/**
 * The cross product of 3-vectors along dim (default: the first dim of size 3 in a, as
 * torch.cross); the other dims broadcast.
 */
export function cross(a: Tensor, b: Tensor, dim?: number): Tensor {
  assertTensor(a, 'cross', 'input');
  assertTensor(b, 'cross', 'other');
  sameDevice('cross', a, b);
  if (a.ndim !== b.ndim) throw new ShapeError(`cross: inputs must have the same number of dims, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  let d: number;
  if (dim === undefined) {
    d = a.shape.indexOf(3);
    if (d < 0) throw new ShapeError(`cross: no dim of size 3 in input of shape ${fmtShape(a.shape)}`);
  } else {
    d = normalizeDim(dim, a.ndim, 'cross');
  }
  if (a.shape[d] !== 3 || b.shape[d] !== 3) throw new ShapeError(`cross: dim ${d} must have length 3 in both inputs, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  if (a.dtype === 'bool' || b.dtype === 'bool') throw new DTypeError('cross: not implemented for bool tensors');
  broadcastShapes('cross', a.shape, b.shape);
  return scoped(() => {
    const [a0, a1, a2] = [0, 1, 2].map((i) => select(a, d, i));
    const [b0, b1, b2] = [0, 1, 2].map((i) => select(b, d, i));
    const c0 = ew.sub(ew.mul(a1, b2), ew.mul(a2, b1));
    const c1 = ew.sub(ew.mul(a2, b0), ew.mul(a0, b2));
    const c2 = ew.sub(ew.mul(a0, b1), ew.mul(a1, b0));
    return stack([c0, c1, c2], d);
  });
}

export type NormOrder = number | 'fro';

/**
 * The vector norm over dims (all by default): torch.norm / linalg.vector_norm for p = 2 ('fro'),
 * 1, Infinity, -Infinity, 0 and any other p > 0. Backward as PyTorch's: zero where the norm is zero,
 * and for +-Infinity the gradient shared among the elements that reach the norm.
 */
export function norm(x: Tensor, p: NormOrder = 'fro', dim?: number | number[] | null, keepdim = false): Tensor {
  assertTensor(x, 'norm', 'input');
  if (x.dtype !== 'float32') throw new DTypeError(`norm: expected a floating point input, got ${x.dtype} (shape ${fmtShape(x.shape)})`);
  const order = p === 'fro' ? 2 : p;
  if (typeof order !== 'number' || Number.isNaN(order) || order < 0 && order !== -Infinity) {
    throw new ArgumentError(`norm: p must be 'fro', a non-negative number, Infinity or -Infinity, got ${String(p)}`);
  }
  const all = dim === undefined || dim === null || (Array.isArray(dim) && dim.length === 0);
  const list = all ? x.shape.map((_, i) => i) : Array.isArray(dim) ? dim : [dim];
  const dims = x.ndim === 0 ? [] : list.map((d) => normalizeDim(d, x.ndim, 'norm'));
  if (new Set(dims).size !== dims.length) throw new ArgumentError(`norm: dim ${fmtShape(list)} appears more than once`);
  if (!Number.isFinite(order) && (x.numel === 0 || dims.some((d) => x.shape[d] === 0))) {
    throw new ShapeError(`norm: the ${order} norm of an empty tensor (shape ${fmtShape(x.shape)}) has no identity`);
  }
  const xd = x.detach();
  const keptShape = x.shape.map((s, i) => (dims.includes(i) ? 1 : s));
  const outShape = keepdim ? keptShape : x.shape.filter((_, i) => !dims.includes(i));
  const out = scoped(() => reshape(normValue(xd, order, dims), outShape));
  return record('NormBackward', out, [x], (node) => {
    const xs = node.save(x), ns = node.save(out);
    return (g) => {
      const ge = reshape(g, keptShape), ne = reshape(ns, keptShape);
      if (order === 0) return [zerosLike(xs)];
      if (order === 1) return [ew.mul(ew.sign(xs), ge)];
      if (order === 2) return [ew.mul(xs, ew.where(ew.eq(ne, 0), 0, ew.div(ge, ne)))];
      if (!Number.isFinite(order)) {
        const ax = ew.abs(xs);
        const hit = ew.cast(ew.logicalOr(ew.eq(ax, ne), ew.ne(ax, ax)), 'float32');
        const count = red.sum(hit, dims, true);
        return [ew.mul(ew.sign(xs), ew.mul(ew.div(ge, count), hit))];
      }
      const scaled = ew.where(ew.eq(xs, 0), 0, ew.mul(ew.sign(xs), ew.pow(ew.abs(xs), order - 1)));
      const scale = ew.where(ew.eq(ne, 0), 0, ew.div(ge, ew.pow(ne, order - 1)));
      return [ew.mul(scaled, scale)];
    };
  });
}

/** The norm's value with the reduced dims kept (size 1). */
function normValue(x: Tensor, p: number, dims: number[]): Tensor {
  if (p === 2) return ew.sqrt(red.sum(ew.mul(x, x), dims, true));
  if (p === 1) return red.sum(ew.abs(x), dims, true);
  if (p === Infinity) return dims.length === 0 ? ew.abs(x) : red.amax(ew.abs(x), dims, true);
  if (p === -Infinity) return dims.length === 0 ? ew.abs(x) : red.amin(ew.abs(x), dims, true);
  if (p === 0) return ew.cast(red.sum(ew.ne(x, 0), dims, true), 'float32');
  return ew.pow(red.sum(ew.pow(ew.abs(x), p), dims, true), 1 / p);
}
