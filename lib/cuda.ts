// kd.cuda: the CUDA runtime as users see it (PyTorch's torch.cuda names, camelCase).
// Without a driver or a CUDA build, calls that need a GPU raise a DeviceError; queries
// (isAvailable, deviceCount, memory stats) answer as if there were no GPU.
import { cudaAvailable, cudaRuntime, cudaUnavailableReason, requireCuda } from './backend/cuda.js';
import { ArgumentError, DeviceError, KindlingError } from './errors.js';
import { native } from './native.js';

/** Runs a native CUDA query, reporting its failure as a DeviceError naming the call. */
function deviceCall<T>(op: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof KindlingError) throw err;
    throw new DeviceError(`cuda.${op}: ${(err as Error).message ?? String(err)}`);
  }
}

function checkDeviceIndex(op: string, device: unknown): number {
  if (typeof device !== 'number' || !Number.isInteger(device) || device < 0) {
    throw new ArgumentError(`cuda.${op}: device must be an integer >= 0, got ${String(device)}`);
  }
  requireCuda(`cuda.${op}`);
  const count = deviceCount();
  if (device >= count) throw new DeviceError(`cuda.${op}: device ${device} does not exist (${count} CUDA device${count === 1 ? '' : 's'}: 0..${count - 1})`);
  return device;
}

export function isAvailable(): boolean {
  return cudaAvailable();
}

/**
 * Why isAvailable() is false, in CUDA's words: "kindling was built without CUDA", or the failed call
 * and its error ("cudaGetDeviceCount: cudaErrorNoDevice: no CUDA-capable device is detected");
 * null when a device is available.
 */
export function unavailableReason(): string | null {
  if (cudaAvailable()) return null;
  return deviceCall('unavailableReason', () => cudaUnavailableReason()) || 'no CUDA device is available';
}

export function deviceCount(): number {
  return deviceCall('deviceCount', () => native.cudaDeviceCount() as number);
}

export function getDeviceName(device = 0): string {
  checkDeviceIndex('getDeviceName', device);
  return deviceCall('getDeviceName', () => native.cudaDeviceName(device) as string);
}

/** Whether this build of the addon includes the CUDA kernels. */
export function isBuilt(): boolean {
  return deviceCall('isBuilt', () => native.cudaBuilt() as boolean);
}

/** The device tensors on 'cuda' live on (0 unless setDevice chose another). */
export function currentDevice(): number {
  requireCuda('currentDevice');
  return cudaRuntime.currentDevice();
}

/** Selects the GPU for 'cuda' tensors; only while none is allocated. */
export function setDevice(device: number): void {
  checkDeviceIndex('setDevice', device);
  cudaRuntime.setDevice(device);
}

/** Waits until every kernel and copy enqueued so far has finished. */
export function synchronize(): void {
  requireCuda('synchronize');
  cudaRuntime.synchronize();
}

export interface MemoryStats {
  /** Bytes in blocks held by live tensors (block sizes, as the caching allocator hands them out). */
  allocated: number;
  /** Bytes taken from the driver: live blocks plus cached free ones. */
  reserved: number;
  /** Highest `allocated` since start or resetPeakMemoryStats(). */
  peakAllocated: number;
  /** Live blocks. */
  allocations: number;
}

export function memoryStats(): MemoryStats {
  if (!cudaAvailable()) return { allocated: 0, reserved: 0, peakAllocated: 0, allocations: 0 };
  return cudaRuntime.memoryStats() as MemoryStats;
}

/** [free, total] bytes of the current device as the driver reports them (torch.cuda.mem_get_info). */
export function memGetInfo(): [number, number] {
  requireCuda('memGetInfo');
  return cudaRuntime.memGetInfo() as [number, number];
}

export function memoryAllocated(): number {
  return memoryStats().allocated;
}

export function memoryReserved(): number {
  return memoryStats().reserved;
}

export function maxMemoryAllocated(): number {
  return memoryStats().peakAllocated;
}

export function resetPeakMemoryStats(): void {
  if (cudaAvailable()) cudaRuntime.resetPeakMemory();
}

/** Returns the allocator's cached free blocks to the driver (tensors in use keep theirs). */
export function emptyCache(): void {
  if (cudaAvailable()) cudaRuntime.emptyCache();
}

/**
 * Whether float32 matmuls and convolutions may use TF32 tensor cores (default true: ~1e-3 relative
 * error, several times faster); false runs them in exact FP32 (PyTorch's allow_tf32 flags).
 */
export function setAllowTF32(allow: boolean): void {
  if (typeof allow !== 'boolean') throw new ArgumentError(`cuda.setAllowTF32: expected a boolean, got ${typeof allow}`);
  // A build without CUDA has no runtime to tell; the setting is kept for when one would read it.
  if (!isBuilt()) allowTf32WithoutCuda = allow;
  else deviceCall('setAllowTF32', () => cudaRuntime.setAllowTf32(allow));
}

export function getAllowTF32(): boolean {
  return isBuilt() ? deviceCall('getAllowTF32', () => cudaRuntime.getAllowTf32() as boolean) : allowTf32WithoutCuda;
}

let allowTf32WithoutCuda = true;
