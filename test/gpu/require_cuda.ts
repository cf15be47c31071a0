// How a GPU suite declares that it needs a CUDA device. Without one it is skipped, so the CPU
// suite stays green on machines with no GPU; with KINDLING_REQUIRE_CUDA=1 (a GPU run, where a
// skip would let a broken driver or a CPU-only build pass unseen) it fails instead, and says why
// in CUDA's words (kd.cuda.unavailableReason: the failed call and its error text).
import { afterAll, beforeAll, describe, it } from 'vitest';

import * as kd from '../../lib/index.js';

export const cudaRequired = process.env.KINDLING_REQUIRE_CUDA === '1';

/** The message a required-but-missing device fails with. */
export function missingCudaMessage(): string {
  return `KINDLING_REQUIRE_CUDA=1 but CUDA is not usable: ${kd.cuda.unavailableReason() ?? 'unknown reason'}`;
}

/** describe() for a suite that needs a CUDA device: skipped without one, failed if one is required. */
export function describeCuda(title: string, body: () => void): void {
  if (kd.cuda.isAvailable()) {
    describe(title, body);
  } else if (cudaRequired) {
    const message = missingCudaMessage();
    console.error(`${title}: ${message}`);
    describe(title, () => {
      it('has a CUDA device (KINDLING_REQUIRE_CUDA=1)', () => {
        throw new Error(message);
      });
    });
  } else {
    describe.skip(title, body);
  }
}

/**
 * Inside a describeCuda body: TF32 matmuls on (`allow`) or off for the suite's tests, and the
 * setting the suite found restored after them.
 */
export function useTf32(allow: boolean): void {
  let atStart = true;
  beforeAll(() => {
    atStart = kd.cuda.getAllowTF32();
    kd.cuda.setAllowTF32(allow);
  });
  afterAll(() => kd.cuda.setAllowTF32(atStart));
}
