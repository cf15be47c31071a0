// The one place that maps a device to its backend.
import type { Device } from '../device.js';
import type { Backend } from './backend.js';
import { cpuBackend } from './cpu.js';
import { cudaBackend } from './cuda.js';

export function backendFor(device: Device): Backend {
  return device === 'cuda' ? cudaBackend : cpuBackend;
}

export function backendOf(t: { device: Device }): Backend {
  return backendFor(t.device);
}
