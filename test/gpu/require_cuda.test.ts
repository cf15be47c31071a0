// KINDLING_REQUIRE_CUDA=1 turns a GPU suite's skip into a failure that says why CUDA is not usable,
// and makes `npm run bench -- gpu` exit non-zero when it measures nothing. The suites run here in a
// child vitest with CUDA_VISIBLE_DEVICES='' so that no device is seen even on a GPU machine.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';

const run = promisify(execFile);

interface ChildResult {
  code: number;
  output: string;
}

async function vitestChild(file: string, env: Record<string, string>): Promise<ChildResult> {
  try {
    const r = await run(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', file],
      { env: { ...process.env, CUDA_VISIBLE_DEVICES: '', ...env }, timeout: 110_000, maxBuffer: 16 << 20 });
    return { code: 0, output: r.stdout + r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, output: (err.stdout ?? '') + (err.stderr ?? '') };
  }
}

const REASON = /KINDLING_REQUIRE_CUDA=1 but CUDA is not usable: (kindling was built without CUDA|cudaGetDeviceCount: \w+: .+)/;

describe('KINDLING_REQUIRE_CUDA=1', () => {
  it('kd.cuda.unavailableReason says why there is no device, in CUDA\'s words, or null with one', () => {
    const reason = kd.cuda.unavailableReason();
    if (kd.cuda.isAvailable()) expect(reason).toBeNull();
    else expect(reason).toMatch(/^(kindling was built without CUDA|cudaGetDeviceCount: \w+: .+)$/);
    if (!kd.cuda.isAvailable()) expect(() => kd.zeros([2], { device: 'cuda' })).toThrow(kd.DeviceError);
  });

  it('fails a GPU suite that would skip, printing the CUDA error; without it the suite skips and passes', async () => {
    const file = 'test/gpu/conv_pool.test.ts';
    const [required, plain] = await Promise.all([
      vitestChild(file, { KINDLING_REQUIRE_CUDA: '1' }),
      vitestChild(file, { KINDLING_REQUIRE_CUDA: '' }),
    ]);
    expect(required.code, required.output).not.toBe(0);
    expect(required.output).toMatch(REASON);
    expect(required.output).toMatch(/has a CUDA device \(KINDLING_REQUIRE_CUDA=1\)/);
    expect(plain.code, plain.output).toBe(0);
    expect(plain.output).toMatch(/skipped/);
  }, 120_000);

  describe.skipIf(kd.cuda.isAvailable())('the gpu bench on a machine without a device', () => {
    const saved = { require: process.env.KINDLING_REQUIRE_CUDA, exitCode: process.exitCode };
    afterEach(() => {
      process.env.KINDLING_REQUIRE_CUDA = saved.require;
      if (saved.require === undefined) delete process.env.KINDLING_REQUIRE_CUDA;
      process.exitCode = saved.exitCode;
    });

    it('exits non-zero under KINDLING_REQUIRE_CUDA=1 and says why; exits 0 (skipped) without it', async () => {
      const lines: string[] = [];
      const log = console.log, error = console.error;
      console.log = (...a: unknown[]) => lines.push(a.join(' '));
      console.error = console.log;
      try {
        process.env.KINDLING_REQUIRE_CUDA = '1';
        const { main } = await import('../../bench/gpu.js');
        await main();
        expect(process.exitCode).toBe(1);
        process.exitCode = undefined;
        delete process.env.KINDLING_REQUIRE_CUDA;
        await main();
        expect(process.exitCode ?? 0).toBe(0);
      } finally {
        console.log = log;
        console.error = error;
      }
      expect(lines[0]).toMatch(REASON);
      expect(lines[1]).toMatch(/^gpu bench skipped: (kindling was built without CUDA|cudaGetDeviceCount: )/);
    });
  });
});
