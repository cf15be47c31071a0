// The Tensor: a typed, strided view of a storage on a device, with autograd metadata. Methods
// are thin: each forwards to the op defined (with its backward) in lib/ops/<family>.ts.
import { inspect } from 'node:util';

import { runBackward, type BackwardOptions } from './autograd/engine.js';
import type { GradNode } from './autograd/node.js';
import type { KernelOperand } from './backend/backend.js';
import { backendFor } from './backend/index.js';
import { Storage } from './backend/storage.js';
import type { Device } from './device.js';
import { parseDevice } from './device.js';
import { type AnyTypedArray, type DType, assertDType, dtypeBytes, typedArrayView } from './dtype.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from './errors.js';
import { formatTensor } from './format.js';
import * as ew from './ops/elementwise.js';
import * as idx from './ops/indexing.js';
import * as la from './ops/linalg.js';
import * as mm from './ops/matmul.js';
import * as pw from './ops/pointwise.js';
import * as rea from './ops/rearrange.js';
import * as red from './ops/reduce.js';
import * as sel from './ops/select.js';
import * as shp from './ops/shape.js';
import * as smx from './ops/softmax.js';
import * as lgc from './ops/logical.js';
import * as rnd from './ops/random_ops.js';
import * as scn from './ops/scan.js';
import * as srt from './ops/sorting.js';
import type { ValuesIndices } from './ops/record.js';
import * as tri from './ops/triangular.js';
import * as unb from './ops/unbind.js';
import { isKept, keep, trackTensor } from './scope.js';

export type Scalar = number | boolean;
export type TensorOrScalar = Tensor | number | boolean;
export type NestedArray = number | boolean | NestedArray[];

export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d];
  }
  return strides;
}

export function shapeNumel(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

// A zero-copy array returned by data() keeps its storage alive: the buffer is a key here, so the
// Storage (and the native block it owns) cannot be collected while the array is reachable.
const viewOwners = new WeakMap<ArrayBuffer, Storage>();

export class Tensor implements KernelOperand {
  readonly shape: number[];
  readonly strides: number[];
  readonly offset: number;
  readonly dtype: DType;
  /** @internal */ readonly _storage: Storage;
  grad: Tensor | null = null;
  /** The op that produced this tensor, when it was recorded for autograd. */
  gradFn: GradNode | null = null;
  private _requiresGrad = false;
  private _disposed = false;

  /** @internal Use kd.tensor / kd.zeros / ... to make tensors. */
  constructor(storage: Storage, shape: number[], strides: number[], offset: number, dtype: DType) {
    this._storage = storage;
    this.shape = shape;
    this.strides = strides;
    this.offset = offset;
    this.dtype = dtype;
    if (!trackTensor(this)) storage.exposeToCollector();
  }

  /** @internal No tidy scope holds this tensor any longer: the collector may have to free its storage. */
  leftScopes(): void {
    this._storage.exposeToCollector();
  }

  /** @internal A fresh contiguous tensor with uninitialised memory. */
  static _empty(shape: readonly number[], dtype: DType, device: Device): Tensor {
    const numel = shapeNumel(shape);
    // Every allocation passes here: refuse sizes no tensor may have before asking for memory.
    if (numel > shp.MAX_NUMEL) throw new ShapeError(`allocating a tensor of shape ${fmtShape(shape)} (${numel} elements): more than the ${shp.MAX_NUMEL} a tensor can hold`);
    const storage = Storage.allocate(device, numel * dtypeBytes(dtype));
    return new Tensor(storage, [...shape], contiguousStrides(shape), 0, dtype);
  }

  /** @internal Another tensor object over the same storage and layout (a new reference). */
  _view(shape: number[], strides: number[], offset: number): Tensor {
    this._assertLive('view');
    this._storage.retain();
    return new Tensor(this._storage, shape, strides, offset, this.dtype);
  }

  /**
   * @internal An untracked alias, for autograd's saved tensors: kept out of tidy scopes, since a
   * loss computed inside an inner tidy returns a graph whose nodes still need it; the node frees it.
   */
  _alias(): Tensor {
    return keep(this._view(this.shape, this.strides, this.offset));
  }

  /**
   * @internal Points this tensor object at `other`'s data (its own reference to the storage),
   * keeping the object's identity: Module.to() moves parameters optimizers already hold.
   */
  _replaceWith(other: Tensor): void {
    other._storage.retain();
    this._storage.release();
    const self = this as unknown as { _storage: Storage; shape: number[]; strides: number[]; offset: number };
    self._storage = other._storage;
    self.shape = [...other.shape];
    self.strides = [...other.strides];
    self.offset = other.offset;
    this.grad?.dispose();
    this.grad = null;
  }

  /** @internal */
  _ownsStorageAlone(): boolean {
    return (this._storage as unknown as { refs: number }).refs === 1;
  }

  /** @internal */
  _assertLive(op: string): void {
    if (this._disposed) throw new ArgumentError(`${op}: tensor was disposed`);
  }

  // ---- properties ---------------------------------------------------------------------------

  get device(): Device {
    return this._storage.device;
  }
  get handle(): unknown {
    this._assertLive('kernel');
    return this._storage.handle;
  }
  get ndim(): number {
    return this.shape.length;
  }
  get numel(): number {
    return shapeNumel(this.shape);
  }
  get isDisposed(): boolean {
    return this._disposed;
  }
  get isLeaf(): boolean {
    return this.gradFn === null;
  }
  get requiresGrad(): boolean {
    return this._requiresGrad;
  }
  set requiresGrad(value: boolean) {
    if (value && this.gradFn === null && this.dtype !== 'float32') {
      throw new DTypeError(`requiresGrad: only floating-point tensors can require gradients, got ${this.dtype}`);
    }
    if (!value && this.gradFn !== null) {
      throw new ArgumentError('requiresGrad: cannot turn off gradients of a non-leaf tensor; use detach()');
    }
    this._requiresGrad = value;
  }
  /** @internal Marks an op output as part of the graph. */
  _setGradFn(node: GradNode): void {
    this.gradFn = node;
    this._requiresGrad = true;
  }

  size(): number[];
  size(dim: number): number;
  size(dim?: number): number | number[] {
    if (dim === undefined) return [...this.shape];
    return this.shape[shp.normalizeDim(dim, this.ndim, 'size')];
  }

  isContiguous(): boolean {
    let expected = 1;
    for (let d = this.ndim - 1; d >= 0; d--) {
      if (this.shape[d] !== 1 && this.strides[d] !== expected) return false;
      expected *= this.shape[d];
    }
    return true;
  }

  // ---- memory -------------------------------------------------------------------------------

  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    this._storage.release();
    if (this.grad && !isKept(this)) {
      this.grad.dispose();
      this.grad = null;
    }
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  // ---- conversion ---------------------------------------------------------------------------

  /**
   * The elements in row-major order. On the CPU, a contiguous tensor returns a view of its own
   * memory (writes show in the tensor), valid for as long as the array is referenced, even after
   * the tensor itself is dropped; dispose() empties it. Otherwise (a strided view, a GPU tensor)
   * a copy.
   */
  data(): AnyTypedArray {
    this._assertLive('data');
    const host = backendFor(this.device).hostBuffer(this.handle);
    if (host && this.isContiguous()) {
      viewOwners.set(host, this._storage);
      return typedArrayView(this.dtype, host, this.offset * dtypeBytes(this.dtype), this.numel);
    }
    return this._dataCopy();
  }

  /**
   * @internal The elements as a copy in memory V8 owns. What library code reads on every step
   * (argument checks) uses this: Node frees the wrapper of a zero-copy view only when the event
   * loop turns, so a synchronous loop calling data() each step holds a little more each step.
   */
  _dataCopy(): AnyTypedArray {
    this._assertLive('data');
    const dense = this.isContiguous() ? this : this.contiguous();
    const bytes = backendFor(this.device).read(dense.handle, dense.offset * dtypeBytes(this.dtype), this.numel * dtypeBytes(this.dtype));
    if (dense !== this) dense.dispose();
    return typedArrayView(this.dtype, bytes.buffer as ArrayBuffer, bytes.byteOffset, this.numel);
  }

  /** Nested arrays of numbers (booleans for bool tensors), like PyTorch's tolist(). */
  toArray(): NestedArray {
    const flat = this.data();
    const asValue = (i: number): number | boolean => (this.dtype === 'bool' ? flat[i] !== 0 : flat[i]);
    if (this.ndim === 0) return asValue(0);
    let pos = 0;
    const build = (dim: number): NestedArray[] => {
      const out: NestedArray[] = [];
      for (let i = 0; i < this.shape[dim]; i++) out.push(dim === this.ndim - 1 ? asValue(pos++) : build(dim + 1));
      return out;
    };
    return build(0);
  }

  item(): number {
    if (this.numel !== 1) throw new ShapeError(`item: only one-element tensors can be converted to a number, got shape ${fmtShape(this.shape)}`);
    this._assertLive('item');
    return backendFor(this.device).readScalar(this.handle, this.offset, this.dtype);
  }

  /** Moves to a device and/or converts the dtype: t.to('cuda'), t.to('int32'), t.to({ device, dtype }). */
  to(target: Device | DType | 'cuda:0' | { device?: Device | 'cuda:0'; dtype?: DType }): Tensor {
    let device: Device = this.device, dtype: DType = this.dtype;
    if (typeof target === 'string') {
      if (target === 'float32' || target === 'int32' || target === 'bool') dtype = target;
      else device = parseDevice(target, 'to');
    } else if (target && typeof target === 'object') {
      if (target.device !== undefined) device = parseDevice(target.device, 'to');
      if (target.dtype !== undefined) dtype = assertDType(target.dtype, 'to');
    } else {
      throw new ArgumentError(`to: expected a device, a dtype or { device, dtype }, got ${String(target)}`);
    }
    let out: Tensor = this;
    if (dtype !== this.dtype) out = ew.cast(out, dtype);
    if (device !== this.device) {
      const moved = shp.toDevice(out, device);
      if (out !== this) out.dispose();
      out = moved;
    }
    return out;
  }
  float(): Tensor { return this.to('float32'); }
  int(): Tensor { return this.to('int32'); }
  bool(): Tensor { return this.to('bool'); }
  cpu(): Tensor { return this.to('cpu'); }
  cuda(): Tensor { return this.to('cuda'); }

  toString(): string {
    return formatTensor(this);
  }
  [inspect.custom](): string {
    return formatTensor(this);
  }

  // ---- autograd -----------------------------------------------------------------------------

  backward(gradient?: Tensor, options?: BackwardOptions): void {
    runBackward(this, gradient, options);
  }

  /** A tensor sharing this one's storage, cut from the graph. */
  detach(): Tensor {
    return this._view([...this.shape], [...this.strides], this.offset);
  }

  requiresGrad_(value = true): this {
    this.requiresGrad = value;
    return this;
  }

  // ---- elementwise --------------------------------------------------------------------------

  add(other: TensorOrScalar, alpha?: number): Tensor { return ew.add(this, other, alpha); }
  sub(other: TensorOrScalar, alpha?: number): Tensor { return ew.sub(this, other, alpha); }
  mul(other: TensorOrScalar): Tensor { return ew.mul(this, other); }
  div(other: TensorOrScalar): Tensor { return ew.div(this, other); }
  pow(exponent: TensorOrScalar): Tensor { return ew.pow(this, exponent); }
  remainder(other: TensorOrScalar): Tensor { return ew.remainder(this, other); }
  maximum(other: TensorOrScalar): Tensor { return ew.maximum(this, other); }
  minimum(other: TensorOrScalar): Tensor { return ew.minimum(this, other); }
  neg(): Tensor { return ew.neg(this); }
  exp(): Tensor { return ew.exp(this); }
  log(): Tensor { return ew.log(this); }
  sqrt(): Tensor { return ew.sqrt(this); }
  rsqrt(): Tensor { return ew.rsqrt(this); }
  abs(): Tensor { return ew.abs(this); }
  relu(): Tensor { return ew.relu(this); }
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor { return ew.gelu(this, approximate); }
  sigmoid(): Tensor { return ew.sigmoid(this); }
  tanh(): Tensor { return ew.tanh(this); }
  silu(): Tensor { return ew.silu(this); }
  sin(): Tensor { return ew.sin(this); }
  cos(): Tensor { return ew.cos(this); }
  square(): Tensor { return ew.square(this); }
  reciprocal(): Tensor { return ew.reciprocal(this); }
  sign(): Tensor { return ew.sign(this); }
  floor(): Tensor { return ew.floor(this); }
  ceil(): Tensor { return ew.ceil(this); }
  round(): Tensor { return ew.round(this); }
  log1p(): Tensor { return ew.log1p(this); }
  expm1(): Tensor { return ew.expm1(this); }
  erf(): Tensor { return ew.erf(this); }
  leakyRelu(negativeSlope = 0.01): Tensor { return ew.leakyRelu(this, negativeSlope); }
  elu(alpha = 1): Tensor { return ew.elu(this, alpha); }
  softplus(beta = 1, threshold = 20): Tensor { return ew.softplus(this, beta, threshold); }
  clamp(min?: number | null, max?: number | null): Tensor { return ew.clamp(this, min, max); }
  eq(other: TensorOrScalar): Tensor { return ew.eq(this, other); }
  ne(other: TensorOrScalar): Tensor { return ew.ne(this, other); }
  lt(other: TensorOrScalar): Tensor { return ew.lt(this, other); }
  le(other: TensorOrScalar): Tensor { return ew.le(this, other); }
  gt(other: TensorOrScalar): Tensor { return ew.gt(this, other); }
  ge(other: TensorOrScalar): Tensor { return ew.ge(this, other); }
  logicalAnd(other: TensorOrScalar): Tensor { return ew.logicalAnd(this, other); }
  logicalOr(other: TensorOrScalar): Tensor { return ew.logicalOr(this, other); }
  logicalXor(other: TensorOrScalar): Tensor { return ew.logicalXor(this, other); }
  logicalNot(): Tensor { return ew.logicalNot(this); }
  where(condition: Tensor, other: TensorOrScalar): Tensor { return ew.where(condition, this, other); }
  maskedFill(mask: Tensor, value: number): Tensor { return ew.maskedFill(this, mask, value); }
  clone(): Tensor { return ew.clone(this); }
  sinh(): Tensor { return pw.sinh(this); }
  cosh(): Tensor { return pw.cosh(this); }
  trunc(): Tensor { return pw.trunc(this); }
  fmod(other: TensorOrScalar): Tensor { return pw.fmod(this, other); }
  lerp(end: Tensor, weight: Tensor | number): Tensor { return pw.lerp(this, end, weight); }
  clip(min?: number | null, max?: number | null): Tensor { return pw.clip(this, min, max); }
  isnan(): Tensor { return pw.isnan(this); }
  isinf(): Tensor { return pw.isinf(this); }
  isfinite(): Tensor { return pw.isfinite(this); }
  allclose(other: Tensor, options?: pw.AllcloseOptions): boolean { return pw.allclose(this, other, options); }

  // In place (under noGrad, or on tensors that do not require grad): optimizers and buffers.
  add_(other: TensorOrScalar, alpha?: number): this { ew.binaryInplace(this, 'add_', other, alpha); return this; }
  sub_(other: TensorOrScalar, alpha?: number): this { ew.binaryInplace(this, 'sub_', other, alpha); return this; }
  mul_(other: TensorOrScalar): this { ew.binaryInplace(this, 'mul_', other); return this; }
  div_(other: TensorOrScalar): this { ew.binaryInplace(this, 'div_', other); return this; }
  copy_(src: Tensor): this { ew.copyInplace(this, src); return this; }
  fill_(value: number): this { ew.fillInplace(this, value); return this; }
  zero_(): this { ew.fillInplace(this, 0); return this; }
  clamp_(min?: number | null, max?: number | null): this { ew.clampInplace(this, min, max); return this; }

  // ---- reductions ---------------------------------------------------------------------------

  sum(dim?: number | number[], keepdim = false): Tensor { return red.sum(this, dim, keepdim); }
  mean(dim?: number | number[], keepdim = false): Tensor { return red.mean(this, dim, keepdim); }
  prod(dim?: number, keepdim = false): Tensor { return red.prod(this, dim, keepdim); }
  var(dim?: number | number[], options?: { correction?: number; keepdim?: boolean }): Tensor { return red.variance(this, dim, options); }
  std(dim?: number | number[], options?: { correction?: number; keepdim?: boolean }): Tensor { return red.std(this, dim, options); }
  max(): Tensor;
  max(dim: number, keepdim?: boolean): ValuesIndices;
  max(dim?: number, keepdim = false): Tensor | ValuesIndices { return red.max(this, dim, keepdim); }
  min(): Tensor;
  min(dim: number, keepdim?: boolean): ValuesIndices;
  min(dim?: number, keepdim = false): Tensor | ValuesIndices { return red.min(this, dim, keepdim); }
  amax(dim?: number | number[], keepdim = false): Tensor { return red.amax(this, dim, keepdim); }
  amin(dim?: number | number[], keepdim = false): Tensor { return red.amin(this, dim, keepdim); }
  argmax(dim?: number, keepdim = false): Tensor { return red.argmax(this, dim, keepdim); }
  argmin(dim?: number, keepdim = false): Tensor { return red.argmin(this, dim, keepdim); }
  logsumexp(dim: number | number[], keepdim = false): Tensor { return red.logsumexp(this, dim, keepdim); }
  softmax(dim: number): Tensor { return smx.softmax(this, dim); }
  logSoftmax(dim: number): Tensor { return smx.logSoftmax(this, dim); }
  norm(p?: la.NormOrder, dim?: number | number[] | null, keepdim = false): Tensor { return la.norm(this, p, dim, keepdim); }
  any(dim?: number | number[] | null, keepdim = false): Tensor { return lgc.any(this, dim, keepdim); }
  all(dim?: number | number[] | null, keepdim = false): Tensor { return lgc.all(this, dim, keepdim); }
  cumsum(dim: number): Tensor { return scn.cumsum(this, dim); }
  cumprod(dim: number): Tensor { return scn.cumprod(this, dim); }
  sort(options?: srt.SortOptions): ValuesIndices { return srt.sort(this, options); }
  argsort(options?: srt.SortOptions): Tensor { return srt.argsort(this, options); }
  topk(k: number, options?: srt.TopkOptions): ValuesIndices { return srt.topk(this, k, options); }
  multinomial(numSamples: number, options?: rnd.MultinomialOptions): Tensor { return rnd.multinomial(this, numSamples, options); }
  bernoulli(options?: rnd.BernoulliOptions): Tensor { return rnd.bernoulli(this, options); }
  median(): Tensor;
  median(dim: number, keepdim?: boolean): ValuesIndices;
  median(dim?: number, keepdim = false): Tensor | ValuesIndices {
    return dim === undefined ? sel.median(this) : sel.median(this, dim, keepdim);
  }

  // ---- linear algebra -----------------------------------------------------------------------

  matmul(other: Tensor): Tensor { return mm.matmul(this, other); }
  mm(mat2: Tensor): Tensor { return la.mm(this, mat2); }
  bmm(mat2: Tensor): Tensor { return la.bmm(this, mat2); }
  addmm(mat1: Tensor, mat2: Tensor, options?: la.AddmmOptions): Tensor { return la.addmm(this, mat1, mat2, options); }
  baddbmm(batch1: Tensor, batch2: Tensor, options?: la.AddmmOptions): Tensor { return la.baddbmm(this, batch1, batch2, options); }
  dot(other: Tensor): Tensor { return la.dot(this, other); }
  outer(vec2: Tensor): Tensor { return la.outer(this, vec2); }
  kron(other: Tensor): Tensor { return la.kron(this, other); }
  cross(other: Tensor, dim?: number): Tensor { return la.cross(this, other, dim); }

  // ---- views and shape ----------------------------------------------------------------------

  reshape(...shape: number[] | [number[]]): Tensor { return shp.reshape(this, shp.shapeArg(shape)); }
  view(...shape: number[] | [number[]]): Tensor { return shp.view(this, shp.shapeArg(shape)); }
  flatten(startDim = 0, endDim = -1): Tensor { return shp.flatten(this, startDim, endDim); }
  unflatten(dim: number, sizes: number[]): Tensor { return shp.unflatten(this, dim, sizes); }
  transpose(dim0: number, dim1: number): Tensor { return shp.transpose(this, dim0, dim1); }
  /** The transpose of a matrix (a 2-d tensor): t.T. */
  get T(): Tensor { return shp.transpose(this, 0, 1); }
  /** Swaps the last two dims: t.mT. */
  get mT(): Tensor { return shp.transpose(this, -2, -1); }
  permute(...dims: number[] | [number[]]): Tensor { return shp.permute(this, shp.shapeArg(dims)); }
  unsqueeze(dim: number): Tensor { return shp.unsqueeze(this, dim); }
  squeeze(dim?: number | number[]): Tensor { return shp.squeeze(this, dim); }
  expand(...shape: number[] | [number[]]): Tensor { return shp.expand(this, shp.shapeArg(shape)); }
  expandAs(other: Tensor): Tensor { return shp.expand(this, other.shape); }
  contiguous(): Tensor { return shp.contiguous(this); }
  /** Elements start..end (exclusive) with a step along dim; negative indices count from the end. */
  slice(dim: number, start?: number | null, end?: number | null, step = 1): Tensor { return shp.slice(this, dim, start, end, step); }
  narrow(dim: number, start: number, length: number): Tensor { return shp.narrow(this, dim, start, length); }
  select(dim: number, index: number): Tensor { return shp.select(this, dim, index); }
  split(splitSize: number | number[], dim = 0): Tensor[] { return shp.split(this, splitSize, dim); }
  chunk(chunks: number, dim = 0): Tensor[] { return shp.chunk(this, chunks, dim); }
  repeat(...repeats: number[] | [number[]]): Tensor { return shp.repeat(this, shp.shapeArg(repeats)); }
  flip(dims: number | number[]): Tensor { return shp.flip(this, dims); }
  t(): Tensor { return rea.t(this); }
  broadcastTo(...shape: number[] | [number[]]): Tensor { return rea.broadcastTo(this, shp.shapeArg(shape)); }
  tile(...dims: number[] | [number[]]): Tensor { return rea.tile(this, shp.shapeArg(dims)); }
  repeatInterleave(repeats?: number | Tensor | null, dim?: number | null): Tensor { return rea.repeatInterleave(this, repeats, dim); }
  roll(shifts: number | number[], dims?: number | number[] | null): Tensor { return rea.roll(this, shifts, dims); }
  diag(diagonal = 0): Tensor { return rea.diag(this, diagonal); }
  diagonal(offset = 0, dim1 = 0, dim2 = 1): Tensor { return rea.diagonal(this, offset, dim1, dim2); }
  triu(diagonal = 0): Tensor { return tri.triu(this, diagonal); }
  tril(diagonal = 0): Tensor { return tri.tril(this, diagonal); }
  unbind(dim = 0): Tensor[] { return unb.unbind(this, dim); }

  // ---- indexing -----------------------------------------------------------------------------

  gather(dim: number, index: Tensor): Tensor { return idx.gather(this, dim, index); }
  indexSelect(dim: number, index: Tensor): Tensor { return idx.indexSelect(this, dim, index); }
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor { return idx.scatterAdd(this, dim, index, src); }
  scatter(dim: number, index: Tensor, src: Tensor | number, options?: { reduce?: sel.ScatterReduce }): Tensor { return sel.scatter(this, dim, index, src, options); }
  scatter_(dim: number, index: Tensor, src: Tensor | number, options?: { reduce?: sel.ScatterReduce }): this { sel.scatterInplace(this, dim, index, src, options); return this; }
  maskedSelect(mask: Tensor): Tensor { return sel.maskedSelect(this, mask); }
  nonzero(options?: { asTuple?: false }): Tensor;
  nonzero(options: { asTuple: true }): Tensor[];
  nonzero(options?: sel.NonzeroOptions): Tensor | Tensor[] { return sel.nonzero(this, options); }
  unique(options?: sel.UniqueOptions & { returnInverse?: false; returnCounts?: false }): Tensor;
  unique(options: sel.UniqueOptions & { returnInverse: true; returnCounts: true }): [Tensor, Tensor, Tensor];
  unique(options: sel.UniqueOptions & ({ returnInverse: true } | { returnCounts: true })): [Tensor, Tensor];
  unique(options?: sel.UniqueOptions): Tensor | Tensor[];
  unique(options?: sel.UniqueOptions): Tensor | Tensor[] { return sel.unique(this, options); }
}

export function isTensor(value: unknown): value is Tensor {
  return value instanceof Tensor;
}

/** The number of elements: kd.numel(t), the same as t.numel. */
export function numel(t: Tensor): number {
  if (!(t instanceof Tensor)) throw new ShapeError(`numel: expected a Tensor, got ${typeof t}`);
  return t.numel;
}
