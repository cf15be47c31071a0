// kd.cuda: what the CUDA runtime reports.
import { native } from './native.js';

export function isAvailable(): boolean {
  return native.cudaDeviceCount() > 0;
}

export function deviceCount(): number {
  return native.cudaDeviceCount();
}

export function getDeviceName(device = 0): string {
  return native.cudaDeviceName(device);
}

/** Whether this build of the addon includes the CUDA kernels. */
export function isBuilt(): boolean {
  return native.cudaBuilt();
}
