// The runtime settings: KINDLING_NUM_THREADS and KINDLING_CPU_ISA are checked when kindling is
// imported (in a child process, since the pool and ISA are fixed at load), and threads the
// system refuses are a clean KindlingError with the pool left on one thread, never a hang.
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';

import * as kd from '../lib/index.js';
import { native } from '../lib/native.js';
import { checkEnvironment } from '../lib/runtime.js';

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const addonPath: string = process.env.KINDLING_ADDON ?? require('node-gyp-build').path(root);
const viteNode = join(root, 'node_modules', 'vite-node', 'vite-node.mjs');
const fixture = join(root, 'test', 'fixtures', 'import_kindling.ts');

interface ImportResult { threads?: number; isa?: string; error?: string; message?: string }

async function importWith(env: Record<string, string>): Promise<ImportResult> {
  const { stdout } = await run(process.execPath, [viteNode, fixture], {
    cwd: root, env: { ...process.env, KINDLING_NUM_THREADS: '', KINDLING_CPU_ISA: '', ...env }, timeout: 60_000,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!) as ImportResult;
}

afterEach(() => vi.restoreAllMocks());

describe('runtime settings from the environment', () => {
  it('refuses thread counts that are not integers in 1..1024 and ISA names it does not know, at import', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ KINDLING_NUM_THREADS: '0' }, /KINDLING_NUM_THREADS='0' is not a thread count: expected an integer in 1\.\.1024/],
      [{ KINDLING_NUM_THREADS: '-1' }, /KINDLING_NUM_THREADS='-1'.*1\.\.1024/],
      [{ KINDLING_NUM_THREADS: 'abc' }, /KINDLING_NUM_THREADS='abc'.*1\.\.1024/],
      [{ KINDLING_NUM_THREADS: '1025' }, /KINDLING_NUM_THREADS='1025'.*1\.\.1024/],
      [{ KINDLING_CPU_ISA: 'bogus' }, /KINDLING_CPU_ISA='bogus' names no instruction set: expected avx512, avx2 or scalar/],
      [{ KINDLING_CPU_ISA: 'AVX2' }, /KINDLING_CPU_ISA='AVX2'.*avx512, avx2 or scalar/],
    ];
    const results = await Promise.all(cases.map(([env]) => importWith(env)));
    results.forEach((result, i) => {
      expect(result.error, JSON.stringify(cases[i][0])).toBe('ArgumentError');
      expect(result.message).toMatch(cases[i][1]);
    });
    // Valid values still apply (empty means unset).
    expect(await importWith({ KINDLING_NUM_THREADS: '3', KINDLING_CPU_ISA: 'scalar' })).toEqual({ threads: 3, isa: 'scalar' });
  });

  it('turns the native runtime complaints into KindlingErrors', () => {
    vi.spyOn(native, 'configErrors').mockReturnValue({ threads: null, isa: null, threadStart: 'KINDLING_NUM_THREADS: could not start 64 threads' });
    expect(() => checkEnvironment()).toThrow(kd.KindlingError);
    expect(() => checkEnvironment()).toThrow(/could not start 64 threads/);
  });
});

describe('setNumThreads', () => {
  it('rejects anything but an integer in 1..1024 with an ArgumentError', () => {
    for (const bad of [0, -1, 1.5, 1025, Number.NaN, '4' as unknown as number]) {
      expect(() => kd.setNumThreads(bad), String(bad)).toThrow(kd.ArgumentError);
    }
  });

  it('reports threads the system refuses as a KindlingError, never a plain Error', () => {
    vi.spyOn(native, 'setNumThreads').mockImplementation(() => {
      throw new Error('setNumThreads: could not start 1024 threads: the system refused thread 270');
    });
    expect(() => kd.setNumThreads(1024)).toThrow(kd.KindlingError);
  });

  it('with the address space too small for 1024 thread stacks: an error, one thread, kernels still run, and no hang at exit', async () => {
    // The child loads the addon alone (plain node, 3 GB of address space: 1024 stacks need 8 GB).
    const script = `
      const native = require(${JSON.stringify(addonPath)});
      let message = null;
      try { native.setNumThreads(1024); } catch (e) { message = e.message; }
      const h = native.alloc(64);
      native.fill(0, 2.5, [16], h, 0, [1]);
      console.log(JSON.stringify({ message, threads: native.numThreads(), value: native.readScalar(h, 3, 0) }));`;
    const { stdout } = await run('bash', ['-c', `ulimit -v 3000000 && exec "${process.execPath}" -e '${script.replace(/'/g, "'\\''")}'`],
      { timeout: 30_000 });
    const result = JSON.parse(stdout.trim()) as { message: string | null; threads: number; value: number };
    expect(result.message).toMatch(/could not start 1024 threads: the system refused thread \d+ .*running on 1 thread/);
    expect(result.threads).toBe(1);
    expect(result.value).toBe(2.5);
    // The same through KINDLING_NUM_THREADS: the import-time check sees it.
    const env = `
      const native = require(${JSON.stringify(addonPath)});
      console.log(JSON.stringify({ threads: native.numThreads(), errors: native.configErrors() }));`;
    const fromEnv = await run('bash', ['-c', `ulimit -v 3000000 && KINDLING_NUM_THREADS=1024 exec "${process.execPath}" -e '${env.replace(/'/g, "'\\''")}'`],
      { timeout: 30_000 });
    const parsed = JSON.parse(fromEnv.stdout.trim()) as { threads: number; errors: { threadStart: string | null } };
    expect(parsed.threads).toBe(1);
    expect(parsed.errors.threadStart).toMatch(/KINDLING_NUM_THREADS: could not start 1024 threads/);
  });
});
