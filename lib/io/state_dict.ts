// State dicts as safetensors bytes and back, with PyTorch's dtypes: what kd.io and checkpoints
// share. Not part of the public API (lib/io/index.ts is).
import { fromTypedArray } from '../ops/creation.js';
import { contiguous } from '../ops/shape.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor.js';
import {
  type SafetensorsEntry, type SafetensorsMetadata, int64BytesToInt32, readSafetensorsFile, typedArrayOf, encodeSafetensorsChunks,
} from './safetensors.js';
import { checkPath } from './files.js';
import { tidy } from '../scope.js';

const SAFETENSORS_DTYPE = { float32: 'F32', int32: 'I32', bool: 'BOOL' } as const;

function f16ToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1, exp = (bits >> 10) & 0x1f, frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

// Most dimensions a tensor may have (kMaxDims in native/common/dtype.h).
const maxDims = 16;

function entryToTensor(name: string, entry: SafetensorsEntry, path: string, op: string): Tensor {
  const shape = entry.shape;
  if (shape.length > maxDims) {
    throw new ShapeError(`${op}: ${path}: tensor '${name}' has ${shape.length} dims ${fmtShape(shape)}; kindling tensors have at most ${maxDims}`);
  }
  switch (entry.dtype) {
    case 'F32': return fromTypedArray(typedArrayOf(entry) as Float32Array, shape, 'float32', 'cpu');
    case 'F64': return fromTypedArray(Float32Array.from(typedArrayOf(entry) as Float64Array), shape, 'float32', 'cpu');
    case 'F16': return fromTypedArray(Float32Array.from(typedArrayOf(entry) as Uint16Array, f16ToF32), shape, 'float32', 'cpu');
    case 'BF16': {
      const bits = typedArrayOf(entry) as Uint16Array;
      const out = new Float32Array(bits.length);
      const asInt = new Uint32Array(out.buffer);
      for (let i = 0; i < bits.length; i++) asInt[i] = bits[i] << 16;
      return fromTypedArray(out, shape, 'float32', 'cpu');
    }
    case 'I64': {
      try {
        return fromTypedArray(int64BytesToInt32(name, entry.data), shape, 'int32', 'cpu');
      } catch (e) {
        throw new DTypeError(`${op}: ${path}: ${(e as Error).message}`);
      }
    }
    case 'I32': return fromTypedArray(typedArrayOf(entry) as Int32Array, shape, 'int32', 'cpu');
    case 'I16':
    case 'I8': return fromTypedArray(Int32Array.from(typedArrayOf(entry) as Int16Array), shape, 'int32', 'cpu');
    case 'U8':
      // No uint8 dtype here: reading 0..255 as bool would silently turn every nonzero into 1.
      throw new DTypeError(
        `${op}: ${path}: tensor '${name}' is U8 (uint8), which kindling has no dtype for; convert it to int32 or float32 (e.g. t.to(torch.int32)) before saving`,
      );
    case 'BOOL': return fromTypedArray(Uint8Array.from(typedArrayOf(entry) as Uint8Array, (v) => (v ? 1 : 0)), shape, 'bool', 'cpu');
  }
}

/** A state dict as the chunks of a safetensors file (what `save` writes); `op` names the caller in errors. */
export function encodeStateDict(stateDict: Record<string, Tensor>, metadata: SafetensorsMetadata = {}, op = 'save'): Uint8Array[] {
  if (!stateDict || typeof stateDict !== 'object') throw new ArgumentError(`${op}: expected an object of tensors`);
  // Null prototype: keys such as '__proto__' stay ordinary entries.
  const entries: Record<string, { dtype: string; shape: number[]; data: Uint8Array }> = Object.create(null);
  for (const [key, t] of Object.entries(stateDict)) {
    if (!(t instanceof Tensor)) throw new ArgumentError(`${op}: value for '${key}' is not a Tensor`);
    const bytes = tidy(() => {
      const dense = t.device === 'cpu' && t.isContiguous() ? t : contiguous(t.to('cpu'));
      const view = dense.data();
      return new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice();
    });
    entries[key] = { dtype: SAFETENSORS_DTYPE[t.dtype], shape: [...t.shape], data: bytes };
  }
  return encodeSafetensorsChunks(entries, { format: 'pt', ...metadata });
}

/**
 * Reads every tensor of a safetensors file and its metadata, or nothing: an error disposes what
 * was made. The record has a null prototype, so any key, '__proto__' included, is an ordinary entry.
 */
export function readStateDictFile(path: string, op: string): { tensors: Record<string, Tensor>; metadata: SafetensorsMetadata } {
  const file = readSafetensorsFile(checkPath(op, path), op);
  const tensors: Record<string, Tensor> = Object.create(null);
  try {
    for (const [key, entry] of Object.entries(file.entries)) tensors[key] = entryToTensor(key, entry, path, op);
  } catch (err) {
    for (const t of Object.values(tensors)) t.dispose();
    throw err;
  }
  return { tensors, metadata: file.metadata ?? Object.create(null) };
}

/** Only the metadata of a safetensors file (its tensors are parsed for validity, not converted). */
export function readMetadataOf(path: string, op: string): SafetensorsMetadata {
  return readSafetensorsFile(checkPath(op, path), op).metadata ?? Object.create(null);
}
