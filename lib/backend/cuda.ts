// The CUDA backend: the addon's `cuda` table (native/binding: the same entry points and argument
// checks as the CPU's, over device storages with their own negative handles; hostView answers
// null, so Tensor.data() copies back through `read`). What differs from the CPU: every call first
// checks that a device exists, so a machine without one answers with a DeviceError naming the op;
// nothing ever falls back to the CPU silently.
import { ArgumentError, DeviceError, KindlingError } from '../errors.js';
import { native } from '../native.js';
import type { Backend } from './backend.js';
import { nativeBackend, withKindlingErrors } from './native_backend.js';

let deviceCountCache: number | undefined;

export function cudaAvailable(): boolean {
  deviceCountCache ??= native.cudaDeviceCount() as number;
  return deviceCountCache > 0;
}

/** Throws the DeviceError a call on this machine gets when it cannot run CUDA kernels. */
export function requireCuda(op: string): void {
  if (cudaAvailable()) return;
  if (!native.cudaBuilt()) throw new DeviceError(`${op}: kindling was built without CUDA`);
  throw new DeviceError(`${op}: no CUDA device is available (${cudaUnavailableReason()})`);
}

/** Why there is no usable device: the CUDA call that failed and CUDA's error text; '' when one is there. */
export function cudaUnavailableReason(): string {
  if (!native.cudaBuilt()) return 'kindling was built without CUDA';
  return native.cudaUnavailableReason() as string;
}

// Argument checks in the binding throw RangeError / TypeError, and a bad index that a gather or
// scatter-add met on the device is reported at the next read ("gather: index 9 is out of bounds
// for dim 1 with size 9 ..."): ArgumentErrors, as on the CPU. Everything else that reaches JS from
// the CUDA table is a failed CUDA call (out of memory included).
function cudaErrorKind(e: unknown): new (message: string) => KindlingError {
  if (e instanceof RangeError || e instanceof TypeError) return ArgumentError;
  return e instanceof Error && DEFERRED_INDEX_ERROR.test(e.message) ? ArgumentError : DeviceError;
}
const DEFERRED_INDEX_ERROR = /^(gather|indexSelect|scatterAdd|indexAdd): index -?\d+ is out of bounds for dim \d+/;

const table = withKindlingErrors(native.cuda ?? {}, cudaErrorKind);
function guarded(kernels: Backend): Backend {
  const out: Record<string, unknown> = { device: 'cuda' };
  for (const [name, fn] of Object.entries(kernels)) {
    if (typeof fn !== 'function') continue;
    out[name] = (...args: unknown[]) => {
      requireCuda(name);
      return (fn as (...a: unknown[]) => unknown)(...args);
    };
  }
  return out as unknown as Backend;
}

export const cudaBackend: Backend = guarded(nativeBackend('cuda', table));

/** The raw CUDA table (runtime entry points: memory statistics, synchronize, ...), errors wrapped. */
export const cudaRuntime = table;
