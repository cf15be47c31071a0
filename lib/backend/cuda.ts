// The CUDA backend. Until its kernels land, every call answers with a DeviceError naming the
// kernel, so nothing silently falls back to the CPU (the candle "dummy backend" pattern).
import { DeviceError } from '../errors.js';
import { native } from '../native.js';
import type { Backend } from './backend.js';

export function cudaAvailable(): boolean {
  return native.cudaDeviceCount() > 0;
}

function unavailable(kernel: string): never {
  if (!native.cudaBuilt()) throw new DeviceError(`${kernel}: kindling was built without CUDA`);
  if (!cudaAvailable()) throw new DeviceError(`${kernel}: no CUDA device is available`);
  throw new DeviceError(`${kernel}: this op has no CUDA kernel yet`);
}

export const cudaBackend: Backend = new Proxy({ device: 'cuda' } as Backend, {
  get(target, key) {
    if (key === 'device') return 'cuda';
    if (typeof key !== 'string') return undefined;
    return () => unavailable(key);
  },
});
