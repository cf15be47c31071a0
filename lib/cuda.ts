// kd.cuda: the CUDA runtime as users see it (PyTorch's torch.cuda names, camelCase).
import { cudaAvailable, cudaRuntime, requireCuda } from './backend/cuda.js';
import { native } from './native.js';

export function isAvailable(): boolean {
  return cudaAvailable();
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

/** The device tensors on 'cuda' live on (0 unless setDevice chose another). */
export function currentDevice(): number {
  requireCuda('currentDevice');
  return cudaRuntime.currentDevice();
}

/** Selects the GPU for 'cuda' tensors; only while none is allocated. */
export function setDevice(device: number): void {
  requireCuda('setDevice');
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
 * Whether float32 matmuls may use TF32 tensor cores (default true: ~1e-3 relative error, several
 * times faster). Convolutions always use TF32.
 */
export function setAllowTF32(allow: boolean): void {
  cudaRuntime.setAllowTf32(allow);
}

export function getAllowTF32(): boolean {
  return cudaRuntime.getAllowTf32();
}
