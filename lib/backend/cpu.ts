// The CPU backend: thin calls into the native addon. Storage handles are plain numbers naming
// 64-byte-aligned host blocks (native/binding/storage.cc); tensors see them without a copy.
import { native } from '../native.js';
import type { Backend } from './backend.js';
import { nativeBackend, withKindlingErrors } from './native_backend.js';

export const cpuBackend: Backend = nativeBackend('cpu', withKindlingErrors(native));
