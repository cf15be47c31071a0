// Devices a tensor can live on. 'cuda' means the current CUDA device ('cuda:0').
import { DeviceError } from './errors.js';

export type Device = 'cpu' | 'cuda';

export function parseDevice(value: unknown, op = 'device'): Device {
  if (value === undefined || value === 'cpu') return 'cpu';
  if (value === 'cuda' || value === 'cuda:0') return 'cuda';
  throw new DeviceError(`${op}: unknown device '${String(value)}' (expected 'cpu' or 'cuda')`);
}
