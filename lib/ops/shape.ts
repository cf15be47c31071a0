// Views (reshape, transpose, permute, slice, expand, ...) share storage and only change shape,
// strides and offset; cat/stack/repeat/contiguous copy. Each backward maps the gradient back
// through the same view.
import type { KernelOperand } from '../backend/backend.js';
import { backendOf, backendFor } from '../backend/index.js';
import type { Device } from '../device.js';
import { type DType, dtypeBytes, promoteTypes } from '../dtype.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { Tensor, contiguousStrides, shapeNumel } from '../tensor.js';
import { scoped } from '../scope.js';
import { isGradEnabled } from '../autograd/grad_mode.js';
import { GradNode } from '../autograd/node.js';
import { assertTensor, needsGrad, record, sameDevice, viewOperand } from './record.js';
import { sumToShape } from './reduce.js';

const MAX_DIMS = 16;

export function normalizeDim(dim: number, ndim: number, op: string): number {
  if (!Number.isInteger(dim)) throw new ArgumentError(`${op}: dim must be an integer, got ${dim}`);
  const n = Math.max(ndim, 1);
  if (dim < -n || dim >= n) throw new ArgumentError(`${op}: dim ${dim} is out of range for a tensor of ${ndim} dims`);
  return dim < 0 ? dim + n : dim;
}

/** Accepts f(2, 3) and f([2, 3]). */
export function shapeArg(args: number[] | [number[]]): number[] {
  return args.length === 1 && Array.isArray(args[0]) ? [...(args[0] as number[])] : (args as number[]);
}

/**
 * The most elements one tensor may hold: indices (argmax, gather) are int32 and data() hands out
 * typed arrays, so 2^31 - 1. Views that allocate nothing (expand) may describe more.
 */
export const MAX_NUMEL = 2 ** 31 - 1;

/** Validates a shape; `allocates` (the default) also bounds its element count by MAX_NUMEL. */
export function checkShape(shape: readonly number[], op: string, allocates = true): void {
  if (!Array.isArray(shape)) throw new ShapeError(`${op}: expected a shape (array of sizes)`);
  if (shape.length > MAX_DIMS) throw new ShapeError(`${op}: at most ${MAX_DIMS} dims are supported, got ${shape.length}`);
  for (const s of shape) {
    if (!Number.isInteger(s) || s < 0) throw new ShapeError(`${op}: invalid size ${s} in shape ${fmtShape(shape)}`);
  }
  const n = shapeNumel(shape), limit = allocates ? MAX_NUMEL : Number.MAX_SAFE_INTEGER;
  if (n > limit) throw new ShapeError(`${op}: shape ${fmtShape(shape)} has ${n} elements, more than the ${limit} a tensor can hold`);
}

function inferShape(t: Tensor, shape: number[], op: string): number[] {
  const out = [...shape];
  const minus = out.filter((s) => s === -1).length;
  if (minus > 1) throw new ShapeError(`${op}: only one dimension can be inferred (-1), got ${fmtShape(shape)}`);
  const known = out.reduce((p, s) => (s === -1 ? p : p * s), 1);
  if (minus === 1) {
    if (known === 0 || t.numel % known !== 0) throw new ShapeError(`${op}: shape ${fmtShape(shape)} is invalid for input of size ${t.numel}`);
    out[out.indexOf(-1)] = t.numel / known;
  }
  checkShape(out, op);
  if (shapeNumel(out) !== t.numel) throw new ShapeError(`${op}: shape ${fmtShape(shape)} is invalid for input of size ${t.numel} (shape ${fmtShape(t.shape)})`);
  return out;
}

/** Strides that present t's elements with `shape` without copying, or null if none exist. */
function viewStrides(t: Tensor, shape: number[]): number[] | null {
  if (t.isContiguous() || t.numel === 0) return contiguousStrides(shape);
  // Walk t's dims from the last, grouping runs that are contiguous among themselves ("chunks");
  // the new shape must divide each chunk exactly (PyTorch's rule for view).
  const out = new Array<number>(shape.length);
  let viewD = shape.length - 1;
  let chunkBaseStride = t.strides[t.ndim - 1];
  let tensorNumel = 1, viewNumel = 1;
  for (let d = t.ndim - 1; d >= 0; d--) {
    tensorNumel *= t.shape[d];
    if (d === 0 || (t.shape[d - 1] !== 1 && t.strides[d - 1] !== tensorNumel * chunkBaseStride)) {
      while (viewD >= 0 && (viewNumel < tensorNumel || shape[viewD] === 1)) {
        out[viewD] = viewNumel * chunkBaseStride;
        viewNumel *= shape[viewD];
        viewD--;
      }
      if (viewNumel !== tensorNumel) return null;
      if (d > 0) {
        chunkBaseStride = t.strides[d - 1];
        tensorNumel = 1;
        viewNumel = 1;
      }
    }
  }
  return viewD === -1 ? out : null;
}

function viewOf(t: Tensor, shape: number[], strides: number[], offset: number, name: string, backward: (g: Tensor) => Tensor): Tensor {
  const out = t._view(shape, strides, offset);
  return record(name, out, [t], () => (g) => [backward(g)]);
}

export function view(t: Tensor, shape: number[]): Tensor {
  assertTensor(t, 'view', 'input');
  const target = inferShape(t, shape, 'view');
  const strides = viewStrides(t, target);
  if (!strides) {
    throw new ShapeError(
      `view: shape ${fmtShape(target)} is not compatible with the input's size and stride (shape ${fmtShape(t.shape)}, strides ${fmtShape(t.strides)}); use reshape()`,
    );
  }
  const inShape = [...t.shape];
  return viewOf(t, target, strides, t.offset, 'ViewBackward', (g) => reshape(g, inShape));
}

export function reshape(t: Tensor, shape: number[]): Tensor {
  assertTensor(t, 'reshape', 'input');
  const target = inferShape(t, shape, 'reshape');
  if (viewStrides(t, target)) return view(t, target);
  return scoped(() => view(contiguous(t), target));
}

export function flatten(t: Tensor, startDim = 0, endDim = -1): Tensor {
  assertTensor(t, 'flatten', 'input');
  if (t.ndim === 0) return reshape(t, [1]);
  const s = normalizeDim(startDim, t.ndim, 'flatten'), e = normalizeDim(endDim, t.ndim, 'flatten');
  if (s > e) throw new ArgumentError(`flatten: startDim ${startDim} comes after endDim ${endDim}`);
  const shape = [...t.shape.slice(0, s), shapeNumel(t.shape.slice(s, e + 1)), ...t.shape.slice(e + 1)];
  return reshape(t, shape);
}

export function unflatten(t: Tensor, dim: number, sizes: number[]): Tensor {
  assertTensor(t, 'unflatten', 'input');
  const d = normalizeDim(dim, t.ndim, 'unflatten');
  if (!Array.isArray(sizes) || sizes.length === 0) throw new ShapeError(`unflatten: expected a non-empty array of sizes, got ${String(sizes)}`);
  const known = sizes.filter((s) => s !== -1);
  const product = known.reduce((p, s) => p * s, 1);
  const fits = sizes.length - known.length > 1 ? false : known.length === sizes.length ? product === t.shape[d] : product > 0 && t.shape[d] % product === 0;
  if (!fits || known.some((s) => !Number.isInteger(s) || s < 0)) {
    throw new ShapeError(`unflatten: sizes ${fmtShape(sizes)} do not multiply to dim ${d} of size ${t.shape[d]} (input shape ${fmtShape(t.shape)})`);
  }
  return reshape(t, [...t.shape.slice(0, d), ...sizes, ...t.shape.slice(d + 1)]);
}

export function transpose(t: Tensor, dim0: number, dim1: number): Tensor {
  assertTensor(t, 'transpose', 'input');
  if (t.ndim === 0) return viewOf(t, [], [], t.offset, 'TransposeBackward', (g) => g);
  const a = normalizeDim(dim0, t.ndim, 'transpose'), b = normalizeDim(dim1, t.ndim, 'transpose');
  const shape = [...t.shape], strides = [...t.strides];
  [shape[a], shape[b]] = [shape[b], shape[a]];
  [strides[a], strides[b]] = [strides[b], strides[a]];
  return viewOf(t, shape, strides, t.offset, 'TransposeBackward', (g) => transpose(g, a, b));
}

export function permute(t: Tensor, dims: number[]): Tensor {
  assertTensor(t, 'permute', 'input');
  if (dims.length !== t.ndim) throw new ShapeError(`permute: expected ${t.ndim} dims for a tensor of shape ${fmtShape(t.shape)}, got ${fmtShape(dims)}`);
  const norm = dims.map((d) => normalizeDim(d, t.ndim, 'permute'));
  if (new Set(norm).size !== norm.length) throw new ArgumentError(`permute: repeated dim in ${fmtShape(dims)}`);
  const inverse = new Array<number>(norm.length);
  norm.forEach((d, i) => (inverse[d] = i));
  return viewOf(t, norm.map((d) => t.shape[d]), norm.map((d) => t.strides[d]), t.offset, 'PermuteBackward', (g) => permute(g, inverse));
}

export function unsqueeze(t: Tensor, dim: number): Tensor {
  assertTensor(t, 'unsqueeze', 'input');
  const d = normalizeDim(dim, t.ndim + 1, 'unsqueeze');
  const shape = [...t.shape], strides = [...t.strides];
  const stride = d < t.ndim ? t.strides[d] * t.shape[d] : 1;
  shape.splice(d, 0, 1);
  strides.splice(d, 0, stride);
  return viewOf(t, shape, strides, t.offset, 'UnsqueezeBackward', (g) => squeeze(g, d));
}

export function squeeze(t: Tensor, dim?: number | number[]): Tensor {
  assertTensor(t, 'squeeze', 'input');
  const dims = dim === undefined ? t.shape.map((_, i) => i) : (Array.isArray(dim) ? dim : [dim]).map((d) => normalizeDim(d, t.ndim, 'squeeze'));
  const drop = new Set(dims.filter((d) => t.shape[d] === 1));
  const inShape = [...t.shape];
  return viewOf(
    t,
    t.shape.filter((_, i) => !drop.has(i)),
    t.strides.filter((_, i) => !drop.has(i)),
    t.offset,
    'SqueezeBackward',
    (g) => reshape(g, inShape),
  );
}

export function expand(t: Tensor, shape: number[]): Tensor {
  assertTensor(t, 'expand', 'input');
  if (shape.length < t.ndim) throw new ShapeError(`expand: cannot expand ${fmtShape(t.shape)} to fewer dims ${fmtShape(shape)}`);
  const n = shape.length, k = t.ndim;
  const outShape = new Array<number>(n), strides = new Array<number>(n);
  for (let d = 0; d < n; d++) {
    const src = d - (n - k);
    const want = shape[d];
    if (src < 0) {
      if (want < 0) throw new ShapeError(`expand: -1 is not allowed for a new leading dim in ${fmtShape(shape)}`);
      outShape[d] = want;
      strides[d] = 0;
    } else if (want === -1 || want === t.shape[src]) {
      outShape[d] = t.shape[src];
      strides[d] = t.strides[src];
    } else if (t.shape[src] === 1) {
      outShape[d] = want;
      strides[d] = 0;
    } else {
      throw new ShapeError(`expand: the size of dim ${src} (${t.shape[src]}) must match ${want} or be 1 when expanding ${fmtShape(t.shape)} to ${fmtShape(shape)}`);
    }
  }
  checkShape(outShape, 'expand', false);
  const inShape = [...t.shape];
  return viewOf(t, outShape, strides, t.offset, 'ExpandBackward', (g) => sumToShape(g, inShape));
}

/** A fresh contiguous copy that stays in the graph (gradient passes through unchanged). */
function contiguousCopy(t: Tensor): Tensor {
  const out = Tensor._empty(t.shape, t.dtype, t.device);
  backendOf(t).cast(out, t);
  return record('CloneBackward', out, [t], () => (g) => [g]);
}

/** Always a new tensor object: a view when t is already contiguous, else a copy. */
export function contiguous(t: Tensor): Tensor {
  assertTensor(t, 'contiguous', 'input');
  if (t.isContiguous()) return viewOf(t, [...t.shape], contiguousStrides(t.shape), t.offset, 'ContiguousBackward', (g) => g);
  const out = Tensor._empty(t.shape, t.dtype, t.device);
  backendOf(t).cast(out, t);
  return record('ContiguousBackward', out, [t], () => (g) => [g]);
}

function sliceBounds(size: number, start: number | null | undefined, end: number | null | undefined): [number, number] {
  let s = start ?? 0, e = end ?? size;
  if (s < 0) s += size;
  if (e < 0) e += size;
  s = Math.min(Math.max(s, 0), size);
  e = Math.min(Math.max(e, s), size);
  return [s, e];
}

/** A gradient of the input's shape that is zero except where the view took its elements. */
function scatterIntoZeros(g: Tensor, inShape: number[], place: (z: Tensor) => KernelOperand): Tensor {
  const z = Tensor._empty(inShape, g.dtype, g.device);
  backendOf(z).fill(z, 0);
  backendOf(z).cast(place(z), g);
  return z;
}

export function slice(t: Tensor, dim: number, start?: number | null, end?: number | null, step = 1): Tensor {
  assertTensor(t, 'slice', 'input');
  if (t.ndim === 0) throw new ShapeError('slice: cannot slice a 0-d tensor');
  if (!Number.isInteger(step) || step < 1) throw new ArgumentError(`slice: step must be a positive integer, got ${step}`);
  const d = normalizeDim(dim, t.ndim, 'slice');
  for (const v of [start, end]) if (v !== undefined && v !== null && !Number.isInteger(v)) throw new ArgumentError(`slice: bounds must be integers, got ${v}`);
  const [s, e] = sliceBounds(t.shape[d], start, end);
  const shape = [...t.shape], strides = [...t.strides];
  shape[d] = Math.ceil((e - s) / step);
  strides[d] = t.strides[d] * step;
  const inShape = [...t.shape];
  return viewOf(t, shape, strides, t.offset + s * t.strides[d], 'SliceBackward', (g) =>
    scatterIntoZeros(g, inShape, (z) => viewOperand(z, shape, z.strides.map((st, i) => (i === d ? st * step : st)), s * z.strides[d])),
  );
}

/** The element range [begin, end) of the storage a view can touch. */
function memoryRange(t: Tensor): [number, number] {
  let begin = t.offset, end = t.offset + 1;
  t.shape.forEach((size, d) => {
    const reach = (size - 1) * t.strides[d]!;
    if (reach < 0) begin += reach;
    else end += reach;
  });
  return [begin, end];
}

/** No two elements share a location and they fill their range without gaps (some permutation of a contiguous layout). */
function isNonOverlappingAndDense(t: Tensor): boolean {
  const dims = t.shape.map((size, d) => ({ size, stride: t.strides[d]! })).filter(({ size }) => size !== 1);
  dims.sort((a, b) => a.stride - b.stride);
  let expected = 1;
  for (const { size, stride } of dims) {
    if (stride !== expected) return false;
    expected *= size;
  }
  return true;
}

/**
 * How two views of storage relate, as PyTorch's get_overlap_status sees it: 'full' when they are
 * the same view, 'partial' when their memory ranges meet otherwise, 'none' when they cannot
 * share an element, and 'unknown' for strided views whose ranges interleave (they may or may not
 * share elements).
 */
export function memoryOverlap(a: Tensor, b: Tensor): 'none' | 'full' | 'partial' | 'unknown' {
  if (a._storage !== b._storage || a.numel === 0 || b.numel === 0) return 'none';
  const [aBegin, aEnd] = memoryRange(a), [bBegin, bEnd] = memoryRange(b);
  if (aEnd <= bBegin || bEnd <= aBegin) return 'none';
  const sameView = a.offset === b.offset && a.shape.length === b.shape.length
    && a.shape.every((size, d) => size === b.shape[d] && (size === 1 || a.strides[d] === b.strides[d]));
  if (sameView) return 'full';
  return isNonOverlappingAndDense(a) && isNonOverlappingAndDense(b) ? 'partial' : 'unknown';
}

/** PyTorch's narrow: the view of `length` elements of dim `dim` from `start` (which may count from the end). */
export function narrow(t: Tensor, dim: number, start: number, length: number): Tensor {
  assertTensor(t, 'narrow', 'input');
  if (t.ndim === 0) throw new ShapeError('narrow: cannot narrow a 0-d tensor');
  const d = normalizeDim(dim, t.ndim, 'narrow');
  const size = t.shape[d]!;
  if (!Number.isInteger(start) || !Number.isInteger(length)) throw new ArgumentError(`narrow: start and length must be integers, got ${start} and ${length}`);
  if (length < 0) throw new ArgumentError(`narrow: length must be non-negative, got ${length}`);
  if (start < -size || start > size) {
    throw new ShapeError(`narrow: start ${start} is out of range [${-size}, ${size}] for dim ${d} of shape ${fmtShape(t.shape)}`);
  }
  const s = start < 0 ? start + size : start;
  if (s + length > size) {
    throw new ShapeError(`narrow: start (${s}) + length (${length}) exceeds dimension size (${size}) of dim ${d} of shape ${fmtShape(t.shape)}`);
  }
  return slice(t, d, s, s + length);
}

export function select(t: Tensor, dim: number, index: number): Tensor {
  assertTensor(t, 'select', 'input');
  if (t.ndim === 0) throw new ShapeError('select: cannot select from a 0-d tensor');
  const d = normalizeDim(dim, t.ndim, 'select');
  if (!Number.isInteger(index) || index < -t.shape[d] || index >= t.shape[d]) {
    throw new ArgumentError(`select: index ${index} is out of range for dim ${d} of size ${t.shape[d]}`);
  }
  const i = index < 0 ? index + t.shape[d] : index;
  const shape = t.shape.filter((_, k) => k !== d), strides = t.strides.filter((_, k) => k !== d);
  const inShape = [...t.shape];
  return viewOf(t, shape, strides, t.offset + i * t.strides[d], 'SelectBackward', (g) =>
    scatterIntoZeros(g, inShape, (z) => viewOperand(z, shape, z.strides.filter((_, k) => k !== d), i * z.strides[d])),
  );
}

export function split(t: Tensor, splitSize: number | number[], dim = 0): Tensor[] {
  assertTensor(t, 'split', 'input');
  const d = normalizeDim(dim, t.ndim, 'split');
  const size = t.shape[d];
  let sizes: number[];
  if (Array.isArray(splitSize)) {
    if (splitSize.reduce((a, b) => a + b, 0) !== size) throw new ShapeError(`split: sizes ${fmtShape(splitSize)} do not add up to ${size} (dim ${d} of ${fmtShape(t.shape)})`);
    sizes = splitSize;
  } else {
    if (!Number.isInteger(splitSize) || splitSize < 1) throw new ArgumentError(`split: splitSize must be a positive integer, got ${splitSize}`);
    sizes = [];
    for (let s = 0; s < size; s += splitSize) sizes.push(Math.min(splitSize, size - s));
  }
  if (!needsGrad(t)) {
    const out: Tensor[] = [];
    let start = 0;
    for (const s of sizes) {
      out.push(slice(t, d, start, start + s));
      start += s;
    }
    return out;
  }
  return splitWithGatheredGrad(t, d, sizes);
}

// Gradient storages laid out as a split's input (see markSplitGradBuffer): a split's backward
// takes such a storage as its buffer when a piece's gradient is its slab, instead of copying.
const splitGradBuffers = new WeakSet<object>();

/**
 * @internal Marks t's storage (a fresh contiguous tensor that a backward fills and hands on only
 * as views) as one whose views a split's backward may take in place when each is the slab of its
 * piece: an op whose gradients are pieces of its inputs' common source (attention's dq, dk, dv of
 * one qkv projection) writes them there, and the split gathers them with no copy.
 */
export function markSplitGradBuffer(t: Tensor): void {
  splitGradBuffers.add(t._storage);
}

/** Same layout: equal shapes, and equal strides wherever a dim has more than one element. */
function sameLayout(shape: readonly number[], a: readonly number[], b: readonly number[]): boolean {
  return shape.every((n, k) => n <= 1 || a[k] === b[k]);
}

/**
 * split's pieces as views of t whose backward is one concatenation: the first piece's gradient
 * allocates a buffer of t's shape, each piece copies its gradient into its own slab of it, and the
 * node gathering them (SplitBackward on t) zeroes only the slabs of pieces that got no gradient.
 * (Separate slice views would each scatter into a zero-filled tensor of t's shape, then be added.)
 * With createGraph the pieces scatter into zeros and are added, as slices do.
 */
function splitWithGatheredGrad(t: Tensor, d: number, sizes: number[]): Tensor[] {
  const inShape = [...t.shape];
  const starts: number[] = [];
  let at = 0;
  for (const s of sizes) {
    starts.push(at);
    at += s;
  }
  const pieceShape = (i: number) => inShape.map((n, k) => (k === d ? sizes[i] : n));
  const slab = (z: Tensor, i: number) => viewOperand(z, pieceShape(i), z.strides, starts[i] * z.strides[d]);
  let buffer: Tensor | null = null;
  const written = sizes.map(() => false);
  const gather = new GradNode('SplitBackward', [t], (g) => {
    if (g === buffer) {
      sizes.forEach((_, i) => {
        if (!written[i]) backendOf(g).fill(slab(g, i), 0);
      });
    }
    buffer = null;
    written.fill(false);
    return [g];
  });
  gather.gathers = true;
  return sizes.map((_, i) => {
    const shape = pieceShape(i);
    const out = t._view(shape, [...t.strides], t.offset + starts[i] * t.strides[d]);
    out._setGradFn(new GradNode('SplitBackward', [gather], (g) => {
      if (isGradEnabled()) return [scatterIntoZeros(g, inShape, (z) => slab(z, i))];
      const dense = contiguousStrides(inShape), at = starts[i] * dense[d];
      const isSlab = (z: Tensor) => g._storage === z._storage && g.offset === at && sameLayout(g.shape, g.strides, dense);
      if (!buffer || buffer.isDisposed) {
        const adopt = splitGradBuffers.has(g._storage) && g.dtype === t.dtype && g._storage.bytes === shapeNumel(inShape) * dtypeBytes(g.dtype);
        buffer = adopt && isSlab(g) ? g._view(inShape, dense, 0) : Tensor._empty(inShape, g.dtype, g.device);
        written.fill(false);
      }
      if (!isSlab(buffer)) backendOf(buffer).cast(slab(buffer, i), g);
      written[i] = true;
      return [buffer];
    }));
    return out;
  });
}

export function chunk(t: Tensor, chunks: number, dim = 0): Tensor[] {
  assertTensor(t, 'chunk', 'input');
  if (!Number.isInteger(chunks) || chunks < 1) throw new ArgumentError(`chunk: chunks must be a positive integer, got ${chunks}`);
  const d = normalizeDim(dim, t.ndim, 'chunk');
  return split(t, Math.max(1, Math.ceil(t.shape[d] / chunks)), d);
}

export function flip(t: Tensor, dims: number | number[]): Tensor {
  assertTensor(t, 'flip', 'input');
  // A negative-stride view would need every kernel to accept negative strides; copy instead.
  const list = (Array.isArray(dims) ? dims : [dims]).map((d) => normalizeDim(d, t.ndim, 'flip'));
  if (new Set(list).size !== list.length) throw new ArgumentError(`flip: dim appears more than once in ${fmtShape(Array.isArray(dims) ? dims : [dims])}`);
  if (t.ndim === 0) return contiguousCopy(t);
  let offset = t.offset;
  const strides = [...t.strides];
  for (const d of list) {
    if (t.shape[d] > 0) offset += (t.shape[d] - 1) * t.strides[d];
    strides[d] = -strides[d];
  }
  const out = Tensor._empty(t.shape, t.dtype, t.device);
  if (out.numel > 0) backendOf(t).cast(out, { handle: t.handle, offset, shape: t.shape, strides, dtype: t.dtype });
  return record('FlipBackward', out, [t], () => (g) => [flip(g, list)]);
}

export function cat(tensors: Tensor[], dim = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) throw new ArgumentError('cat: expected a non-empty array of tensors');
  tensors.forEach((t, i) => assertTensor(t, 'cat', `tensors[${i}]`));
  sameDevice('cat', ...tensors);
  // Like PyTorch, 1-d empty tensors are skipped when the others have more dims.
  const parts = tensors.filter((t) => !(t.ndim === 1 && t.shape[0] === 0));
  const ref = parts[0] ?? tensors[0];
  const d = normalizeDim(dim, ref.ndim, 'cat');
  // Mixed dtypes promote as in arithmetic (bool < int32 < float32); the cast kernel converts.
  const dtype = parts.reduce<DType>((dt, t) => promoteTypes(dt, t.dtype), ref.dtype);
  for (const t of parts) {
    if (t.ndim !== ref.ndim || t.shape.some((s, k) => k !== d && s !== ref.shape[k])) {
      throw new ShapeError(`cat: shapes ${parts.map((p) => fmtShape(p.shape)).join(', ')} differ outside dim ${d}`);
    }
  }
  const shape = [...ref.shape];
  shape[d] = parts.reduce((s, t) => s + t.shape[d], 0);
  const out = Tensor._empty(shape, dtype, ref.device);
  let start = 0;
  const starts: number[] = [];
  for (const t of parts) {
    starts.push(start);
    if (t.numel > 0) backendOf(out).cast(viewOperand(out, t.shape, out.strides, start * out.strides[d]), t);
    start += t.shape[d];
  }
  return record('CatBackward', out, parts, () => (g) => parts.map((t, i) => slice(g, d, starts[i], starts[i] + t.shape[d])));
}

export function stack(tensors: Tensor[], dim = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) throw new ArgumentError('stack: expected a non-empty array of tensors');
  tensors.forEach((t, i) => assertTensor(t, 'stack', `tensors[${i}]`));
  const ref = tensors[0];
  for (const t of tensors) {
    if (t.shape.join(',') !== ref.shape.join(',')) throw new ShapeError(`stack: expected all tensors to have one shape, got ${tensors.map((p) => fmtShape(p.shape)).join(', ')}`);
  }
  const d = normalizeDim(dim, ref.ndim + 1, 'stack');
  return scoped(() => cat(tensors.map((t) => unsqueeze(t, d)), d));
}

export function repeat(t: Tensor, repeats: number[]): Tensor {
  assertTensor(t, 'repeat', 'input');
  if (repeats.length < t.ndim) throw new ShapeError(`repeat: got ${repeats.length} repeats for a tensor of ${t.ndim} dims`);
  const lead = repeats.length - t.ndim;
  const padded = [...new Array<number>(lead).fill(1), ...t.shape];
  // View as [1, s0, 1, s1, ...], expand to [r0, s0, r1, s1, ...], then copy and merge.
  const inter: number[] = [], target: number[] = [];
  padded.forEach((s, i) => {
    inter.push(1, s);
    target.push(repeats[i], s);
  });
  return scoped(() => reshape(expand(reshape(t, inter), target), padded.map((s, i) => s * repeats[i])));
}

/** Copies a tensor to another device (contiguous on arrival). */
export function toDevice(t: Tensor, device: Device): Tensor {
  assertTensor(t, 'to', 'input');
  const out = Tensor._empty(t.shape, t.dtype, device);
  scoped(() => {
    const src = t.isContiguous() ? t : contiguous(t);
    backendFor(device).write(out.handle, backendOf(src).read(src.handle, src.offset * dtypeBytes(src.dtype), src.numel * dtypeBytes(src.dtype)));
  });
  const from = t.device;
  return record('ToCopyBackward', out, [t], () => (g) => [toDevice(g, from)]);
}
