// kd.io: state dicts to and from safetensors files, with PyTorch's dtypes. Writes are atomic
// (temp file, fsync, rename), so a crash never loses the previous checkpoint.
import type { Tensor } from '../tensor.js';
import { checkPath, writeFileAtomic } from './files.js';
import type { SafetensorsMetadata } from './safetensors.js';
import { encodeStateDict, readMetadataOf, readStateDictFile } from './state_dict.js';

/**
 * Writes tensors to a safetensors file PyTorch's safetensors.torch.load_file reads (float32 as
 * F32, int32 as I32, bool as BOOL; metadata {"format": "pt"} plus any given). The write is
 * atomic; a read-only file at `path` is an IOError, not replaced.
 */
export function save(stateDict: Record<string, Tensor>, path: string, metadata: SafetensorsMetadata = {}): void {
  checkPath('save', path);
  writeFileAtomic(path, encodeStateDict(stateDict, metadata, 'save'), 'save');
}

/**
 * Reads every tensor of a safetensors file (int64 as int32 when all values fit; f16/bf16/f64 as
 * float32; U8 is refused). The result has a null prototype, so any key, '__proto__' included,
 * is an ordinary entry. Nothing is returned (and nothing leaks) unless every tensor converts.
 */
export function load(path: string): Record<string, Tensor> {
  return readStateDictFile(path, 'load').tensors;
}

/** The file's __metadata__ (string to string), or an empty object. */
export function loadMetadata(path: string): SafetensorsMetadata {
  return readMetadataOf(path, 'loadMetadata');
}

export { writeFileAtomic } from './files.js';
