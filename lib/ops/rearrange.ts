// Rearranging elements: t, broadcastTo, tile, repeatInterleave, roll, diag and the diagonal view.
// Most are compositions of views, cat and indexSelect (their backwards come with them); diagonal
// is a strided view whose backward writes the gradient into the diagonal of zeros.
import { backendOf } from '../backend/index.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor.js';
import { scoped } from '../scope.js';
import { fromTypedArray } from './creation.js';
import * as ew from './elementwise.js';
import { indexSelect } from './indexing.js';
import { assertTensor, record } from './record.js';
import { cat, expand, normalizeDim, repeat, reshape, slice, transpose } from './shape.js';

/** The transpose of a matrix; 0-d and 1-d tensors come back as they are (as a view). */
export function t(x: Tensor): Tensor {
  assertTensor(x, 't', 'input');
  if (x.ndim > 2) throw new ShapeError(`t: expects a tensor with at most 2 dims, got shape ${fmtShape(x.shape)}`);
  return x.ndim < 2 ? sameView(x) : transpose(x, 0, 1);
}

/** A new tensor object viewing x as it is (in the graph), for results that equal the input. */
function sameView(x: Tensor): Tensor {
  return transpose(x, 0, 0);
}

/** expand() under NumPy's name: a view of x with the broadcast shape (-1 keeps a size). */
export function broadcastTo(x: Tensor, shape: number[]): Tensor {
  assertTensor(x, 'broadcastTo', 'input');
  if (!Array.isArray(shape)) throw new ArgumentError(`broadcastTo: expected a shape, got ${String(shape)}`);
  const lead = shape.length - x.ndim;
  const fits = lead >= 0 && x.shape.every((s, i) => shape[lead + i] === -1 || shape[lead + i] === s || s === 1);
  if (!fits || shape.slice(0, Math.max(lead, 0)).some((s) => s < 0)) {
    throw new ShapeError(`broadcastTo: cannot broadcast shape ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
  }
  return expand(x, shape);
}

/** Repeats x along each dim; fewer dims than x's count as leading 1s (unlike repeat). */
export function tile(x: Tensor, dims: number[]): Tensor {
  assertTensor(x, 'tile', 'input');
  if (!Array.isArray(dims) || dims.some((r) => !Number.isInteger(r) || r < 0)) {
    throw new ArgumentError(`tile: dims must be non-negative integers, got ${String(dims)}`);
  }
  const padded = [...new Array<number>(Math.max(x.ndim - dims.length, 0)).fill(1), ...dims];
  return repeat(x, padded);
}

/**
 * Repeats each element (each slice along dim) repeats[i] times, keeping their order:
 * [a, b].repeatInterleave(2) is [a, a, b, b]. Without dim the input is flattened first.
 * The index is built on the host (the output's size depends on the repeats' values), then
 * gathered on the device with indexSelect, whose backward sums the copies. With no repeats,
 * x itself holds the counts and the result is each index i repeated x[i] times.
 */
export function repeatInterleave(x: Tensor, repeats?: number | Tensor | null, dim?: number | null): Tensor {
  assertTensor(x, 'repeatInterleave', 'input');
  if (repeats === undefined || repeats === null) return repeatIndices(x);
  const flat = dim === undefined || dim === null || x.ndim === 0;
  const d = flat ? 0 : normalizeDim(dim, x.ndim, 'repeatInterleave');
  const counts = repeatCounts(repeats, flat ? x.numel : x.shape[d]);
  let total = 0;
  for (const c of counts) total += c;
  const index = new Int32Array(total);
  let at = 0;
  counts.forEach((c, i) => index.fill(i, at, (at += c)));
  return scoped(() => indexSelect(flat ? reshape(x, [x.numel]) : x, d, fromTypedArray(index, [total], 'int32', x.device)));
}

/** The per-slice counts: one number for all, or a 1-d (or one-element) int32 tensor. */
function repeatCounts(repeats: number | Tensor, size: number): number[] {
  if (typeof repeats === 'number') {
    if (!Number.isInteger(repeats) || repeats < 0) throw new ArgumentError(`repeatInterleave: repeats must be a non-negative integer, got ${repeats}`);
    return new Array<number>(size).fill(repeats);
  }
  assertTensor(repeats, 'repeatInterleave', 'repeats');
  if (repeats.dtype !== 'int32') throw new DTypeError(`repeatInterleave: repeats must be an int32 tensor, got ${repeats.dtype}`);
  if (repeats.ndim > 1) throw new ShapeError(`repeatInterleave: repeats must be 0-d or 1-d, got shape ${fmtShape(repeats.shape)}`);
  const values = Array.from(repeats.data());
  if (values.some((r) => r < 0)) throw new ArgumentError('repeatInterleave: repeats must be non-negative');
  if (values.length === 1) return new Array<number>(size).fill(values[0]);
  if (values.length !== size) throw new ShapeError(`repeatInterleave: repeats must have the same size as input along dim, got ${values.length} and ${size}`);
  return values;
}

/** torch.repeat_interleave(repeats): index i repeated repeats[i] times. */
function repeatIndices(repeats: Tensor): Tensor {
  assertTensor(repeats, 'repeatInterleave', 'repeats');
  if (repeats.ndim !== 1) throw new ShapeError(`repeatInterleave: repeats must be 1-d, got shape ${fmtShape(repeats.shape)}`);
  const counts = repeatCounts(repeats, repeats.shape[0]);
  const index: number[] = [];
  counts.forEach((c, i) => { for (let k = 0; k < c; k++) index.push(i); });
  return fromTypedArray(Int32Array.from(index), [index.length], 'int32', repeats.device);
}

/**
 * Shifts elements along dims with wrap-around: out[(i + shift) mod n] = x[i]. Without dims the
 * tensor is rolled as if flattened. Each shift is a cat of two slices.
 */
export function roll(x: Tensor, shifts: number | number[], dims?: number | number[] | null): Tensor {
  assertTensor(x, 'roll', 'input');
  const shiftList = Array.isArray(shifts) ? shifts : [shifts];
  if (shiftList.some((s) => !Number.isInteger(s))) throw new ArgumentError(`roll: shifts must be integers, got ${String(shifts)}`);
  if (dims === undefined || dims === null) {
    if (shiftList.length !== 1) throw new ArgumentError(`roll: without dims, shifts must be one number, got ${fmtShape(shiftList)}`);
    return scoped(() => reshape(rollDim(reshape(x, [x.numel]), shiftList[0], 0), [...x.shape]));
  }
  const dimList = Array.isArray(dims) ? dims : [dims];
  if (dimList.length !== shiftList.length) {
    throw new ArgumentError(`roll: shifts and dims must align, got ${shiftList.length} shifts and ${dimList.length} dims`);
  }
  const ds = dimList.map((d) => normalizeDim(d, x.ndim, 'roll'));
  return scoped(() => ds.reduce((acc, d, i) => rollDim(acc, shiftList[i], d), sameView(x)));
}

function rollDim(x: Tensor, shift: number, d: number): Tensor {
  const n = x.ndim === 0 ? 1 : x.shape[d];
  const s = n === 0 ? 0 : ((shift % n) + n) % n;
  if (s === 0 || x.ndim === 0) return sameView(x);
  return cat([slice(x, d, n - s), slice(x, d, 0, n - s)], d);
}

// ---- diagonals --------------------------------------------------------------------------------

/** Where the diagonal `offset` of dims d1, d2 of a tensor of this shape starts, its length and step. */
function diagonalLayout(shape: number[], strides: number[], offset: number, d1: number, d2: number): { length: number; start: number; stride: number } {
  const length = Math.max(0, offset >= 0 ? Math.min(shape[d1], shape[d2] - offset) : Math.min(shape[d1] + offset, shape[d2]));
  const start = length === 0 ? 0 : offset >= 0 ? offset * strides[d2] : -offset * strides[d1];
  return { length, start, stride: strides[d1] + strides[d2] };
}

function diagonalView(x: Tensor, offset: number, d1: number, d2: number): Tensor {
  const { length, start, stride } = diagonalLayout(x.shape, x.strides, offset, d1, d2);
  const keep = (_: number, i: number) => i !== d1 && i !== d2;
  return x._view([...x.shape.filter(keep), length], [...x.strides.filter(keep), stride], x.offset + start);
}

/**
 * The diagonal of dims dim1 and dim2 (offset > 0 above the main one, < 0 below), as a view:
 * those dims are removed and the diagonal becomes the last dim.
 */
export function diagonal(x: Tensor, offset = 0, dim1 = 0, dim2 = 1): Tensor {
  assertTensor(x, 'diagonal', 'input');
  if (x.ndim < 2) throw new ShapeError(`diagonal: expects a tensor with at least 2 dims, got shape ${fmtShape(x.shape)}`);
  if (!Number.isInteger(offset)) throw new ArgumentError(`diagonal: offset must be an integer, got ${offset}`);
  const d1 = normalizeDim(dim1, x.ndim, 'diagonal'), d2 = normalizeDim(dim2, x.ndim, 'diagonal');
  if (d1 === d2) throw new ArgumentError(`diagonal: dim1 and dim2 cannot be the same dim (${dim1}, ${dim2})`);
  const out = diagonalView(x, offset, d1, d2);
  const inShape = [...x.shape];
  return record('DiagonalBackward', out, [x], () => (g) => [diagonalIntoZeros(g, inShape, offset, d1, d2)]);
}

/** zeros(shape) with g written into its diagonal (offset, d1, d2). */
function diagonalIntoZeros(g: Tensor, shape: number[], offset: number, d1: number, d2: number): Tensor {
  const z = Tensor._empty(shape, g.dtype, g.device);
  backendOf(z).fill(z, 0);
  scoped(() => {
    const region = diagonalView(z, offset, d1, d2);
    if (region.numel > 0) backendOf(z).cast(region, g);
  });
  return z;
}

/**
 * diag(v, k) of a 1-d v: the square matrix with v on diagonal k; diag(m, k) of a matrix: a copy of
 * its diagonal k.
 */
export function diag(x: Tensor, offset = 0): Tensor {
  assertTensor(x, 'diag', 'input');
  if (!Number.isInteger(offset)) throw new ArgumentError(`diag: diagonal must be an integer, got ${offset}`);
  if (x.ndim === 2) return scoped(() => ew.clone(diagonal(x, offset, 0, 1)));
  if (x.ndim !== 1) throw new ShapeError(`diag: expects a 1-d or 2-d tensor, got shape ${fmtShape(x.shape)}`);
  const m = x.shape[0] + Math.abs(offset);
  const out = diagonalIntoZeros(x, [m, m], offset, 0, 1);
  return record('DiagEmbedBackward', out, [x], () => (g) => [ew.clone(diagonal(g, offset, 0, 1))]);
}
