// The CUDA backend end to end: memory held flat over training steps and released on dispose, a
// real cudaMalloc failure as a KindlingError that leaves the process usable, the allocator's
// retry after returning its cache, and the MLP and the Keras
// MNIST CNN following the CPU's loss curve from the same weights. Runs only where a CUDA device is.
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { kerasMnistCnn, mlp } from '../../lib/models/index.js';
import type { Module } from '../../lib/nn/module.js';
import { freshSeed, makeRng } from '../helpers.js';
import { describeCuda } from './require_cuda.js';

const seed = freshSeed();

function batch(rng: () => number, n: number): { x: Tensor; y: Tensor } {
  const x = new Float32Array(n * 784), y = new Int32Array(n);
  for (let i = 0; i < x.length; i++) x[i] = rng();
  for (let i = 0; i < n; i++) y[i] = Math.floor(10 * rng());
  return { x: kd.tensor(x).reshape([n, 1, 28, 28]), y: kd.tensor(y) };
}

/** Losses of `steps` Adam steps of `model` on `device` over the same batches. */
function lossCurve(model: Module, device: 'cpu' | 'cuda', batches: { x: Tensor; y: Tensor }[]): number[] {
  model.to(device);
  const opt = new kd.optim.Adam(model.parameters(), { lr: 1e-3 });
  return batches.map(({ x, y }) => kd.tidy(() => {
    opt.zeroGrad();
    const loss = kd.nn.functional.crossEntropy(model.forward(x.to(device)) as Tensor, y.to(device));
    loss.backward();
    opt.step();
    return loss.item();
  }));
}

describeCuda(`CUDA training and memory (needs a CUDA device; seed ${seed})`, () => {
  it('memory stays flat over many training steps and returns to the start after dispose', () => {
    const rng = makeRng(seed);
    const data = batch(rng, 32);
    const xg = data.x.to('cuda'), yg = data.y.to('cuda');
    const before = kd.cuda.memoryAllocated();
    const model = mlp().to('cuda');
    const opt = new kd.optim.AdamW(model.parameters());
    const step = () => kd.tidy(() => {
      opt.zeroGrad();
      kd.nn.functional.crossEntropy(model.forward(xg) as Tensor, yg).backward();
      opt.step();
    });
    for (let i = 0; i < 5; i++) step();
    const warm = kd.cuda.memoryAllocated(), reserved = kd.cuda.memoryReserved();
    for (let i = 0; i < 50; i++) step();
    expect(kd.cuda.memoryAllocated()).toBe(warm);
    expect(kd.cuda.memoryReserved()).toBe(reserved); // blocks are reused, nothing new is taken
    expect(warm).toBeGreaterThan(before);
    for (const p of model.parameters()) {
      p.grad?.dispose();
      p.dispose();
    }
    xg.dispose();
    yg.dispose();
    expect(kd.cuda.memoryAllocated()).toBeLessThan(warm);
    kd.cuda.emptyCache();
    expect(kd.cuda.memoryReserved()).toBeLessThan(reserved);
  });

  it('a tensor dispose returns its block at once, and emptyCache returns cached blocks to the driver', () => {
    kd.cuda.emptyCache();
    const a0 = kd.cuda.memoryAllocated(), r0 = kd.cuda.memoryReserved();
    const t = kd.zeros([1024, 1024], { device: 'cuda' });
    expect(kd.cuda.memoryAllocated()).toBe(a0 + 4 * 1024 * 1024);
    t.dispose();
    expect(kd.cuda.memoryAllocated()).toBe(a0);
    expect(kd.cuda.memoryReserved()).toBe(r0 + 4 * 1024 * 1024);
    kd.cuda.emptyCache();
    expect(kd.cuda.memoryReserved()).toBe(r0);
  });

  // A tensor holds at most 2^31 - 1 elements (8 GiB of float32), less than a big GPU has free,
  // so a real cudaMalloc failure takes many tensors: fill the device in 2 GiB blocks.
  const GiB = 2 ** 30;
  const fill = (leaveFree: number): Tensor[] => {
    const held: Tensor[] = [];
    while (kd.cuda.memGetInfo()[0] >= leaveFree + 2 * GiB) held.push(kd.empty([GiB / 2], { device: 'cuda' }));
    return held;
  };

  it('an allocation beyond the free device memory is a KindlingError naming cudaMalloc, and the process stays usable', () => {
    kd.cuda.emptyCache();
    const before = kd.cuda.memoryAllocated();
    const held = fill(0);
    const [free] = kd.cuda.memGetInfo();
    const elems = Math.min(2 ** 31 - 1, Math.ceil((free + GiB) / 4)); // under the shape limit, over what is free
    expect(elems * 4).toBeGreaterThan(free);
    let caught: unknown;
    try {
      kd.empty([elems], { device: 'cuda' });
    } catch (e) {
      caught = e;
    }
    for (const t of held) t.dispose();
    expect(caught).toBeInstanceOf(kd.KindlingError);
    expect((caught as Error).message).toMatch(/cudaMalloc: out of memory allocating \d+ bytes on cuda:0/);
    expect(kd.cuda.memoryAllocated()).toBe(before);
    kd.cuda.emptyCache();
    const t = kd.ones([100], { device: 'cuda' });
    expect(t.sum().item()).toBe(100);
    t.dispose();
  });

  it('an allocation that fails while freed blocks are cached succeeds after the cache is returned to the driver', () => {
    kd.cuda.emptyCache();
    const held = fill(2 * GiB); // leaves between 2 and 4 GiB free
    // Two 2 GiB blocks go back to the cache: still reserved, so the driver's free memory is unchanged.
    held.pop()!.dispose();
    held.pop()!.dispose();
    const [free] = kd.cuda.memGetInfo();
    const reserved = kd.cuda.memoryReserved();
    // More than is free, of another size class than the cached blocks (> 2 GiB), and less than
    // what is free once they are released: the first cudaMalloc fails, the retry succeeds.
    const bytes = Math.min(free + GiB, 8 * GiB - 4);
    expect(bytes).toBeGreaterThan(free);
    let t: Tensor | undefined;
    try {
      t = kd.empty([Math.floor(bytes / 4)], { device: 'cuda' });
      expect(kd.cuda.memoryReserved()).toBeLessThan(reserved + bytes); // the 4 GiB cached went back first
      t.fill_(1);
      kd.cuda.synchronize();
    } finally {
      t?.dispose();
      for (const h of held) h.dispose();
      kd.cuda.emptyCache();
    }
    expect(t).toBeDefined();
  });

  it('the MLP trains on the GPU along the CPU loss curve (same initial weights and batches)', () => {
    const rng = makeRng(seed);
    const batches = Array.from({ length: 8 }, () => batch(rng, 64));
    kd.manualSeed(seed);
    const cpuModel = mlp();
    const gpuModel = mlp();
    gpuModel.loadStateDict(cpuModel.stateDict());
    const cpu = lossCurve(cpuModel, 'cpu', batches);
    const gpu = lossCurve(gpuModel, 'cuda', batches);
    for (let i = 0; i < cpu.length; i++) expect(Math.abs(gpu[i] - cpu[i]), `step ${i}: ${gpu[i]} vs ${cpu[i]}`).toBeLessThan(5e-3 * Math.max(1, cpu[i]));
  });

  it('the Keras MNIST CNN trains on the GPU along the CPU loss curve', () => {
    const rng = makeRng(seed + 1);
    const batches = Array.from({ length: 5 }, () => batch(rng, 32));
    kd.manualSeed(seed);
    const cpuModel = kerasMnistCnn();
    const gpuModel = kerasMnistCnn();
    gpuModel.loadStateDict(cpuModel.stateDict());
    const cpu = lossCurve(cpuModel, 'cpu', batches);
    const gpu = lossCurve(gpuModel, 'cuda', batches);
    for (let i = 0; i < cpu.length; i++) expect(Math.abs(gpu[i] - cpu[i]), `step ${i}: ${gpu[i]} vs ${cpu[i]}`).toBeLessThan(1e-2 * Math.max(1, cpu[i]));
  });
});
