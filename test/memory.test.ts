import { describe, expect, it } from 'vitest';

import * as kd from '../lib/index.js';

function rssMiB(): number {
  return process.memoryUsage().rss / 2 ** 20;
}

function settle(): void {
  // Give V8 a chance to run finalizers, so what is measured is what the program holds.
  if (global.gc) global.gc();
}

describe('memory', () => {
  it('stays flat over 20,000 op-and-backward iterations inside tidy', () => {
    kd.manualSeed(7);
    const w = kd.randn([64, 32], { requiresGrad: true });
    const b = kd.zeros([32], { requiresGrad: true });
    const x = kd.randn([16, 64]);
    const step = () =>
      kd.tidy(() => {
        const y = x.matmul(w).add(b).relu();
        const loss = y.mul(y).mean();
        loss.backward();
        kd.noGrad(() => {
          w.sub_(w.grad!, 1e-3);
          b.sub_(b.grad!, 1e-3);
        });
        w.grad!.dispose();
        w.grad = null;
        b.grad!.dispose();
        b.grad = null;
        return loss.item();
      });
    for (let i = 0; i < 5000; i++) step();
    settle();
    const warm = rssMiB();
    const readings: number[] = [];
    let last = 0;
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 5000; i++) last = step();
      settle();
      readings.push(rssMiB());
    }
    const after = readings[readings.length - 1];
    console.log(`RSS after warm-up ${warm.toFixed(1)} MiB, then per 5,000 steps: ${readings.map((r) => r.toFixed(1)).join(', ')}`);
    expect(Number.isFinite(last)).toBe(true);
    expect(after - warm, `RSS grew from ${warm.toFixed(1)} MiB to ${after.toFixed(1)} MiB`).toBeLessThan(8);
  });

  it('stays flat training a small CNN (the fused conv-pool node) with Adam inside tidy', () => {
    kd.manualSeed(11);
    const model = new kd.nn.Sequential(
      new kd.nn.Conv2d(1, 8, 3), new kd.nn.ReLU(), new kd.nn.MaxPool2d(2),
      new kd.nn.Conv2d(8, 8, 3), new kd.nn.ReLU(), new kd.nn.MaxPool2d(2),
      new kd.nn.Flatten(), new kd.nn.Linear(8 * 5 * 5, 10),
    );
    const opt = new kd.optim.Adam(model.parameters(), { lr: 1e-3 });
    const lossFn = new kd.nn.CrossEntropyLoss();
    const x = kd.randn([4, 1, 28, 28]);
    const y = kd.tensor([1, 3, 5, 7]);
    const step = () => kd.tidy(() => {
      opt.zeroGrad();
      const loss = lossFn.forward(model.forward(x) as kd.Tensor, y);
      loss.backward();
      opt.step();
      return loss.item();
    });
    for (let i = 0; i < 300; i++) step();
    settle();
    const warm = rssMiB();
    let last = 0;
    for (let round = 0; round < 4; round++) for (let i = 0; i < 300; i++) last = step();
    settle();
    const after = rssMiB();
    expect(Number.isFinite(last)).toBe(true);
    // A leaked pooled activation alone would be 21 KiB a step, 25 MiB over these 1,200 steps.
    expect(after - warm, `RSS grew from ${warm.toFixed(1)} MiB to ${after.toFixed(1)} MiB`).toBeLessThan(8);
  });

  it('frees storage deterministically: dispose, using, and tidy', () => {
    const t = kd.ones([1000]);
    const v = t.reshape([10, 100]);
    t.dispose();
    // The view still holds the storage.
    expect((v.sum().item())).toBe(1000);
    v.dispose();
    expect(() => v.sum()).toThrow(kd.ArgumentError);
    {
      using u = kd.ones([3]);
      expect(u.sum().item()).toBe(3);
    }
    let inner: kd.Tensor | null = null;
    const kept = kd.tidy(() => {
      inner = kd.ones([4]);
      return inner.add(1);
    });
    expect(inner!.isDisposed).toBe(true);
    expect(kept.isDisposed).toBe(false);
    expect(kept.toArray()).toEqual([2, 2, 2, 2]);
  });

  it('keeps data() views safe after dispose', () => {
    const t = kd.ones([8]);
    const view = t.data();
    t.dispose();
    // The buffer is detached: the stale view reads as empty instead of freed memory.
    expect(view.length).toBe(0);
  });
});
