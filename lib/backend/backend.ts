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
  /** Copies `src` into the start of the storage. */
  write(handle: unknown, src: Uint8Array): void;
  /** Copies `bytes` bytes from `byteOffset` out of the storage. */
  read(handle: unknown, byteOffset: number, bytes: number): Uint8Array;
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

export interface Backend extends StorageKernels, ElementwiseKernels, ReduceKernels, GemmKernels {
  readonly device: Device;
}
