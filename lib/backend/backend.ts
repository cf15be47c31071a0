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

export interface Backend extends StorageKernels, ElementwiseKernels, ReduceKernels, GemmKernels, IndexKernels, SoftmaxKernels {
  readonly device: Device;
}
