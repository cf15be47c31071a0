// Process-wide CPU settings: the kernel thread pool and the instruction set in use.
import { ArgumentError } from './errors.js';
import { native } from './native.js';

export type CpuIsa = 'avx512' | 'avx2' | 'scalar';

export function getNumThreads(): number {
  return native.numThreads();
}

export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new ArgumentError(`setNumThreads: expected an integer in 1..1024, got ${n}`);
  native.setNumThreads(n);
}

/** The instruction set CPU kernels use now. */
export function cpuIsa(): CpuIsa {
  return native.cpuIsa();
}

/** The best instruction set this processor supports. */
export function cpuIsaDetected(): CpuIsa {
  return native.cpuIsaDetected();
}

/** Selects an instruction set at or below the detected one; returns false if unsupported here. */
export function setCpuIsa(isa: CpuIsa): boolean {
  if (isa !== 'avx512' && isa !== 'avx2' && isa !== 'scalar') throw new ArgumentError(`setCpuIsa: expected avx512 | avx2 | scalar, got ${String(isa)}`);
  return native.setCpuIsa(isa);
}
