// Element types. Codes match native/common/dtype.h.
import { DTypeError } from './errors.js';

export type DType = 'float32' | 'int32' | 'bool';

export const DTYPE_CODE: Record<DType, number> = { float32: 0, int32: 1, bool: 2 };

export function dtypeBytes(dtype: DType): number {
  return dtype === 'bool' ? 1 : 4;
}

export type TypedArrayFor<D extends DType> = D extends 'float32' ? Float32Array : D extends 'int32' ? Int32Array : Uint8Array;
export type AnyTypedArray = Float32Array | Int32Array | Uint8Array;

export function typedArrayView(dtype: DType, buffer: ArrayBuffer, byteOffset: number, length: number): AnyTypedArray {
  if (dtype === 'float32') return new Float32Array(buffer, byteOffset, length);
  if (dtype === 'int32') return new Int32Array(buffer, byteOffset, length);
  return new Uint8Array(buffer, byteOffset, length);
}

export function assertDType(value: unknown, op: string): DType {
  if (value === 'float32' || value === 'int32' || value === 'bool') return value;
  throw new DTypeError(`${op}: unknown dtype '${String(value)}' (expected float32, int32 or bool)`);
}

/** The dtype two operands combine to: float32 > int32 > bool, as PyTorch promotes. */
export function promoteTypes(a: DType, b: DType): DType {
  if (a === 'float32' || b === 'float32') return 'float32';
  if (a === 'int32' || b === 'int32') return 'int32';
  return 'bool';
}
