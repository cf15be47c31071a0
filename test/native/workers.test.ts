// kindling from worker threads and the main thread at once: each Node environment has its own
// storage table and block cache (native/binding/storage.cc), so allocations, kernels, disposal
// and garbage-collected storages in one thread never see or corrupt another's. The workers drive
// the addon directly (they cannot load the TypeScript sources); the main thread uses kd.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const addonPath: string = process.env.KINDLING_ADDON ?? require('node-gyp-build').path(root);

// Allocates blocks of varying sizes, fills them with a kernel, checks them through a copy and a
// zero-copy view, and frees a third by dispose while the rest are left to the garbage collector.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const native = require(workerData.addonPath);
const { seed, iterations } = workerData;
let checked = 0;
for (let i = 0; i < iterations; i++) {
  const n = 16 + ((i * 7919 + seed * 104729) % 4000);
  const value = seed * 1000 + (i % 997);
  const h = native.alloc(n * 4);
  native.fill(0, value, [n], h, 0, [1]);
  const copy = new Float32Array(native.readBytes(h, 0, n * 4));
  const view = new Float32Array(native.hostView(h), 0, n);
  if (copy[n - 1] !== value || view[0] !== value || native.readScalar(h, n >> 1, 0) !== value)
    throw new Error('worker ' + seed + ': block ' + h + ' holds ' + copy[n - 1] + ', expected ' + value);
  checked++;
  if (i % 3 === 0) native.dispose(h);
  else native.freeWhenCollected({}, h);
}
parentPort.postMessage({ checked, stats: native.memoryStats() });
`;

function runWorker(seed: number, iterations: number): Promise<{ checked: number }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerSource, { eval: true, workerData: { addonPath, seed, iterations } });
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => { if (code !== 0) reject(new Error(`worker ${seed} exited with code ${code}`)); });
  });
}

describe('worker threads', () => {
  it('two workers and the main thread allocate, compute, dispose and forget storages at once', async () => {
    const iterations = 30_000;
    const workers = [runWorker(1, iterations), runWorker(2, iterations)];
    // The main thread meanwhile runs ops whose temporaries are disposed, kept or forgotten.
    kd.manualSeed(3);
    const w = kd.randn([64, 64]);
    let expected = 0, got = 0;
    for (let i = 0; i < 3000; i++) {
      const x = kd.full([8, 64], (i % 13) + 0.5);
      const y = x.matmul(w).relu().sum();
      got = y.item();
      expected = kd.full([8, 64], (i % 13) + 0.5).matmul(w).relu().sum().item();
      expect(got).toBe(expected);
      if (i % 2 === 0) x.dispose();
      if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const results = await Promise.all(workers);
    expect(results.map((r) => r.checked)).toEqual([iterations, iterations]);
  });

  it('a worker that exits returns its blocks, and the main thread keeps working', async () => {
    await runWorker(4, 2000);
    const t = kd.arange(10);
    expect(t.sum().item()).toBe(45);
  });
});
