// The interface every device implements (lib/backend/cpu.ts, lib/backend/cuda.ts). Ops call
// `backendOf(tensor)` and never test the device themselves. Kernels receive tensors (storage
// handle, offset, strides, shape, dtype); outputs are allocated by the op before the call.
import type { Device } from '../device.js';
import type { DType } from '../dtype.js';
import type { BinaryOp, ReduceOp, UnaryOp } from './opcodes.js';

/** What a kernel needs to know about an operand; `Tensor` satisfies it. */
export interface KernelOperand {
  readonly handle: unknown;
  readonly offset: number;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly dtype: DType;
}

export interface StorageKernels {
  alloc(bytes: number): unknown;
  free(handle: unknown): void;
  /** Copies `src` into the storage at `byteOffset` (default 0). */
  write(handle: unknown, src: Uint8Array, byteOffset?: number): void;
  /** Copies `bytes` bytes from `byteOffset` out of the storage. */
  read(handle: unknown, byteOffset: number, bytes: number): Uint8Array;
  /** One element (index in elements of `dtype`) as a number; what item() uses. */
  readScalar(handle: unknown, index: number, dtype: DType): number;
  /** The storage's memory itself, where the device shares it with JavaScript (CPU); else null. */
  hostBuffer(handle: unknown): ArrayBuffer | null;
}

export interface ElementwiseKernels {
  unary(op: UnaryOp, p0: number, p1: number, out: KernelOperand, x: KernelOperand): void;
  /** a and b are already broadcast to out.shape (stride 0 on broadcast dims). */
  binary(op: BinaryOp, out: KernelOperand, a: KernelOperand, b: KernelOperand): void;
  where(out: KernelOperand, cond: KernelOperand, a: KernelOperand, b: KernelOperand): void;
  /** Converts x into out's dtype; a plain strided copy when the dtypes match. */
  cast(out: KernelOperand, x: KernelOperand): void;
  fill(out: KernelOperand, value: number): void;
}

export interface ReduceKernels {
  /**
   * Reduces x over the dims listed in `reduced` (x's own dim indices). out's shape is x's shape
   * without those dims (its strides follow that order).
   */
  reduce(op: ReduceOp, out: KernelOperand, x: KernelOperand, reduced: readonly number[]): void;
}

/** C[b] = alpha * A[b] @ B[b] + beta * C[b]; A is [batch, m, k], B [batch, k, n], C [batch, m, n]. */
export interface GemmCall {
  m: number;
  n: number;
  k: number;
  batch: number;
  a: { handle: unknown; offset: number; rowStride: number; colStride: number; batchStride: number };
  b: { handle: unknown; offset: number; rowStride: number; colStride: number; batchStride: number };
  c: { handle: unknown; offset: number; rowStride: number; colStride: number; batchStride: number };
  alpha: number;
  beta: number;
}

export interface GemmKernels {
  gemm(call: GemmCall): void;
}

/** An out-of-range index a kernel found: its row-major position in the index and its value. */
export interface BadIndex {
  position: number;
  value: number;
}

/** Indexing along `dim` with int32 indices; each returns the first bad index, or null. */
export interface IndexKernels {
  /** out[p] = x[p with p[dim] = index[p]] for p over index's shape (out's shape). */
  gather(out: KernelOperand, x: KernelOperand, index: KernelOperand, dim: number): BadIndex | null;
  /** out = x.indexSelect(dim, index) for a 1-d index. */
  indexSelect(out: KernelOperand, x: KernelOperand, index: KernelOperand, dim: number): BadIndex | null;
  /** out[p with p[dim] = index[p]] += src[p] for p over index's shape, in place. */
  scatterAdd(out: KernelOperand, index: KernelOperand, src: KernelOperand, dim: number): BadIndex | null;
  /** out.select(dim, index[j]) += src.select(dim, j) for a 1-d index, in place. */
  indexAdd(out: KernelOperand, index: KernelOperand, src: KernelOperand, dim: number): BadIndex | null;
}

/** Fused softmax / log-softmax along `dim` (float32). */
export interface SoftmaxKernels {
  softmax(log: boolean, out: KernelOperand, x: KernelOperand, dim: number): void;
  /** dx from the forward output y and its gradient g. */
  softmaxBackward(log: boolean, dx: KernelOperand, y: KernelOperand, g: KernelOperand, dim: number): void;
}

/**
 * 2-d convolution, NCHW float32 (PyTorch's semantics). `x` may be strided; weight
 * [k, c/groups, kh, kw], bias [k], gradOutput and every output are contiguous.
 */
export interface ConvGeometry {
  n: number; c: number; h: number; w: number;
  k: number; kh: number; kw: number;
  /** Output size; rows/columns past the input read zeros (so asymmetric 'same' padding works). */
  oh: number; ow: number;
  strideH: number; strideW: number;
  /** Top / left padding. */
  padH: number; padW: number;
  dilationH: number; dilationW: number;
  groups: number;
}

export interface ConvKernels {
  conv2d(g: ConvGeometry, out: KernelOperand, x: KernelOperand, weight: KernelOperand, bias: KernelOperand | null): void;
  /** Overwrites gradInput. */
  conv2dInputGrad(g: ConvGeometry, gradInput: KernelOperand, gradOutput: KernelOperand, weight: KernelOperand): void;
  /** Overwrites gradWeight with the sum over the batch. */
  conv2dWeightGrad(g: ConvGeometry, gradWeight: KernelOperand, x: KernelOperand, gradOutput: KernelOperand): void;
  conv2dBiasGrad(g: ConvGeometry, gradBias: KernelOperand, gradOutput: KernelOperand): void;
  /**
   * out and indices ([n, k, pool.oh, pool.ow]) = maxPool2d(conv2d(x, weight) + bias), where pool
   * describes the convolution's output; the conv output itself is not kept (a backend may pool
   * each image while it is in cache).
   */
  conv2dMaxPool2d(g: ConvGeometry, pool: PoolGeometry, out: KernelOperand, indices: KernelOperand, x: KernelOperand,
    weight: KernelOperand, bias: KernelOperand | null): void;
  /**
   * The gradients of a convolution followed by max pooling (geometry pool), from the pooled
   * gradient and the pool's indices (both [n, k, pool.oh, pool.ow], indices oy·ow + ox in the
   * conv output plane), skipping the zeros of the convolution's output gradient where the
   * backend has a kernel for that (else through maxPool2dBackward and the conv gradients).
   * Each target may be null; the others are overwritten.
   */
  conv2dPooledBackward(g: ConvGeometry, pool: PoolGeometry, x: KernelOperand, weight: KernelOperand,
    gradPooled: KernelOperand, indices: KernelOperand, gradInput: KernelOperand | null, gradWeight: KernelOperand | null,
    gradBias: KernelOperand | null): void;
}

/** 2-d pooling windows over NCHW float32: `x` may be strided, the rest is contiguous. */
export interface PoolGeometry {
  n: number; c: number; h: number; w: number; oh: number; ow: number;
  kh: number; kw: number; strideH: number; strideW: number;
  padH: number; padW: number; dilationH: number; dilationW: number;
}

export interface PoolKernels {
  /** indices (int32): y*w + x of each window's maximum within its plane. */
  maxPool2d(g: PoolGeometry, out: KernelOperand, indices: KernelOperand, x: KernelOperand): void;
  maxPool2dBackward(g: PoolGeometry, gradInput: KernelOperand, gradOutput: KernelOperand, indices: KernelOperand): void;
  avgPool2d(g: PoolGeometry, countIncludePad: boolean, out: KernelOperand, x: KernelOperand): void;
  avgPool2dBackward(g: PoolGeometry, countIncludePad: boolean, gradInput: KernelOperand, gradOutput: KernelOperand): void;
  /** Shapes come from the operands: x [n, c, h, w], out [n, c, oh, ow]. */
  adaptiveAvgPool2d(out: KernelOperand, x: KernelOperand): void;
  adaptiveAvgPool2dBackward(gradInput: KernelOperand, gradOutput: KernelOperand): void;
}

/** Hyperparameters of one Adam/AdamW step (torch.optim's update order and bias correction). */
export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** AdamW: p <- p (1 - lr wd) first; Adam: grad + wd p. */
  decoupled: boolean;
  maximize: boolean;
}

/** One parameter's tensors for a fused Adam step: all float32, contiguous, of the parameter's size. */
export interface AdamTensors {
  param: KernelOperand;
  grad: KernelOperand;
  expAvg: KernelOperand;
  expAvgSq: KernelOperand;
  /** AMSGrad's running maximum of expAvgSq, or null. */
  maxExpAvgSq: KernelOperand | null;
  /** The step number after this update (1 on the first), for the bias corrections. */
  step: number;
}

export interface OptimKernels {
  /** Updates every listed parameter and its moments in place (one launch per call where the device can). */
  adam(h: AdamHyper, tensors: readonly AdamTensors[]): void;
}

export interface Backend extends StorageKernels, ElementwiseKernels, ReduceKernels, GemmKernels, IndexKernels, SoftmaxKernels,
  ConvKernels, PoolKernels, OptimKernels {
  readonly device: Device;
}
