// Process-wide CPU settings: the kernel thread pool and the instruction set in use.
// KINDLING_NUM_THREADS (an integer in 1..1024; default the core count) and KINDLING_CPU_ISA
// (avx512 | avx2 | scalar; default the best the processor has) are checked when kindling is
// imported: a value that is not one of those, or threads the system refuses to start, is an
// error then instead of a setting silently ignored.
import { ArgumentError, KindlingError } from './errors.js';
import { native } from './native.js';

export type CpuIsa = 'avx512' | 'avx2' | 'scalar';

export const MAX_THREADS = 1024;

/** @internal Throws if the environment asked for a setting the native runtime could not apply. */
export function checkEnvironment(): void {
  const errors = native.configErrors() as { threads: string | null; threadStart: string | null; isa: string | null };
  if (errors.isa) throw new ArgumentError(`kindling: ${errors.isa}`);
  if (errors.threads) throw new ArgumentError(`kindling: ${errors.threads}`);
  if (errors.threadStart) throw new KindlingError(`kindling: ${errors.threadStart}`);
}

checkEnvironment();

export function getNumThreads(): number {
  return native.numThreads();
}

/** Resizes the kernel thread pool; throws a KindlingError if the system refuses the threads (the pool then runs on one). */
export function setNumThreads(n: number): void {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_THREADS) {
    throw new ArgumentError(`setNumThreads: expected an integer in 1..${MAX_THREADS}, got ${String(n)}`);
  }
  try {
    native.setNumThreads(n);
  } catch (e) {
    throw new KindlingError(e instanceof Error ? e.message : String(e));
  }
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
