// The CPU backend: thin calls into the native addon. Storage handles are external ArrayBuffers
// made by native.alloc (64-byte aligned); the binding bounds-checks every operand.
import { DTYPE_CODE } from '../dtype.js';
import { native } from '../native.js';
import type { Backend, GemmCall, KernelOperand } from './backend.js';
import type { BinaryOp, ReduceOp, UnaryOp } from './opcodes.js';

function hostOf(handle: unknown): ArrayBuffer {
  return handle as ArrayBuffer;
}

export const cpuBackend: Backend = {
  device: 'cpu',

  alloc(bytes: number): unknown {
    return native.alloc(bytes);
  },
  free(handle: unknown): void {
    native.dispose(handle);
  },
  write(handle: unknown, src: Uint8Array): void {
    new Uint8Array(hostOf(handle), 0, src.byteLength).set(src);
  },
  read(handle: unknown, byteOffset: number, bytes: number): Uint8Array {
    return new Uint8Array(hostOf(handle), byteOffset, bytes).slice();
  },
  hostBuffer(handle: unknown): ArrayBuffer {
    return hostOf(handle);
  },

  unary(op: UnaryOp, p0: number, p1: number, out: KernelOperand, x: KernelOperand): void {
    native.unary(op, DTYPE_CODE[x.dtype], p0, p1, out.shape, out.handle, out.offset, out.strides, x.handle, x.offset, x.strides);
  },
  binary(op: BinaryOp, out: KernelOperand, a: KernelOperand, b: KernelOperand): void {
    native.binary(op, DTYPE_CODE[a.dtype], out.shape, out.handle, out.offset, out.strides,
      a.handle, a.offset, a.strides, b.handle, b.offset, b.strides);
  },
  where(out: KernelOperand, cond: KernelOperand, a: KernelOperand, b: KernelOperand): void {
    native.where(DTYPE_CODE[out.dtype], out.shape, out.handle, out.offset, out.strides,
      cond.handle, cond.offset, cond.strides, a.handle, a.offset, a.strides, b.handle, b.offset, b.strides);
  },
  cast(out: KernelOperand, x: KernelOperand): void {
    native.cast(DTYPE_CODE[x.dtype], DTYPE_CODE[out.dtype], out.shape, out.handle, out.offset, out.strides,
      x.handle, x.offset, x.strides);
  },
  fill(out: KernelOperand, value: number): void {
    native.fill(DTYPE_CODE[out.dtype], value, out.shape, out.handle, out.offset, out.strides);
  },

  reduce(op: ReduceOp, out: KernelOperand, x: KernelOperand, reduced: readonly number[]): void {
    const keptShape: number[] = [], keptStrides: number[] = [], redShape: number[] = [], redStrides: number[] = [];
    for (let d = 0; d < x.shape.length; d++) {
      if (reduced.includes(d)) {
        redShape.push(x.shape[d]);
        redStrides.push(x.strides[d]);
      } else {
        keptShape.push(x.shape[d]);
        keptStrides.push(x.strides[d]);
      }
    }
    native.reduce(op, DTYPE_CODE[x.dtype], keptShape, keptStrides, redShape, redStrides, x.handle, x.offset,
      out.handle, out.offset, out.strides);
  },

  gemm(c: GemmCall): void {
    native.gemm(c.m, c.n, c.k, c.batch,
      c.a.handle, c.a.offset, c.a.rowStride, c.a.colStride, c.a.batchStride,
      c.b.handle, c.b.offset, c.b.rowStride, c.b.colStride, c.b.batchStride,
      c.c.handle, c.c.offset, c.c.rowStride, c.c.colStride, c.c.batchStride,
      c.alpha, c.beta);
  },
};
