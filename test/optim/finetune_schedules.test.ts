// Warm-up schedules against transformers' get_linear/cosine_schedule_with_warmup (numbers written by
// test/fixtures/make_lora_fixtures.py), weightDecayGroups, and per-group lr / weightDecay.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { ArgumentError } from '../../lib/errors.js';

const { nn } = kd;
const { WarmupCosineLR, WarmupLinearLR } = kd.optim.lrScheduler;
const schedules = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'lora', 'schedules.json'), 'utf8')) as {
  base_lr: number;
  cases: Record<string, { kind: 'linear' | 'cosine'; num_warmup_steps: number; num_training_steps: number; num_cycles?: number; lrs: number[] }>;
};

describe('WarmupLinearLR / WarmupCosineLR', () => {
  for (const [name, c] of Object.entries(schedules.cases)) {
    it(`matches transformers' ${c.kind} schedule with warmup (${name}) at every step, past the end too`, () => {
      const optimizer = new kd.optim.SGD([kd.zeros([1]).requiresGrad_()], { lr: schedules.base_lr });
      const options = { warmupSteps: c.num_warmup_steps, totalSteps: c.num_training_steps };
      const scheduler = c.kind === 'linear' ? new WarmupLinearLR(optimizer, options) : new WarmupCosineLR(optimizer, { ...options, numCycles: c.num_cycles });
      const lrs: number[] = [];
      for (let i = 0; i < c.lrs.length; i++) {
        lrs.push(optimizer.paramGroups[0].lr);
        expect(scheduler.getLastLr()[0]).toBe(optimizer.paramGroups[0].lr);
        scheduler.step();
      }
      lrs.forEach((lr, i) => expect(Math.abs(lr - c.lrs[i]), `step ${i}`).toBeLessThan(1e-12));
    });
  }

  it('scales each group from its own lr, and its state dict resumes the schedule', () => {
    const a = kd.zeros([1]).requiresGrad_(), b = kd.zeros([1]).requiresGrad_();
    const optimizer = new kd.optim.AdamW([{ params: [a], lr: 1e-3 }, { params: [b], lr: 1e-4 }]);
    const scheduler = new WarmupCosineLR(optimizer, { warmupSteps: 2, totalSteps: 10 });
    for (let i = 0; i < 5; i++) scheduler.step();
    const lrs = optimizer.paramGroups.map((g) => g.lr);
    expect(lrs[0] / lrs[1]).toBeCloseTo(10, 10);
    const state = scheduler.stateDict();
    expect(state).toMatchObject({ num_warmup_steps: 2, num_training_steps: 10, num_cycles: 0.5, last_epoch: 5 });
    const optimizer2 = new kd.optim.AdamW([{ params: [a], lr: 1e-3 }, { params: [b], lr: 1e-4 }]);
    const resumed = new WarmupCosineLR(optimizer2, { warmupSteps: 2, totalSteps: 10 });
    resumed.loadStateDict(state);
    scheduler.step();
    resumed.step();
    expect(optimizer2.paramGroups.map((g) => g.lr)).toEqual(optimizer.paramGroups.map((g) => g.lr));
  });

  it('rejects bad options', () => {
    const optimizer = new kd.optim.SGD([kd.zeros([1]).requiresGrad_()], { lr: 0.1 });
    expect(() => new WarmupLinearLR(optimizer, { warmupSteps: -1, totalSteps: 5 })).toThrow(/WarmupLinearLR: warmupSteps must be an integer >= 0/);
    expect(() => new WarmupCosineLR(optimizer, { warmupSteps: 1, totalSteps: 0 })).toThrow(/WarmupCosineLR: totalSteps must be a positive integer/);
    expect(() => new WarmupCosineLR(optimizer, { warmupSteps: 1, totalSteps: 4, numCycles: 0 })).toThrow(ArgumentError);
  });
});

class Small extends nn.Module {
  embed = new nn.Embedding(10, 4);
  proj = new nn.Linear(4, 4);
  norm = new nn.LayerNorm(4);
  rms = new nn.RMSNorm(4);
  head = new nn.Linear(4, 2, { bias: false });
  forward(x: Tensor): Tensor {
    return this.head.forward(this.rms.forward(this.norm.forward(this.proj.forward(this.embed.forward(x)))));
  }
}

describe('weightDecayGroups', () => {
  it('puts biases and normalisation weights (and embeddings on request) in a no-decay group', () => {
    const model = new Small();
    const [decay, noDecay] = kd.optim.weightDecayGroups(model, { weightDecay: 0.1 });
    expect(decay.paramNames).toEqual(['embed.weight', 'proj.weight', 'head.weight']);
    expect(decay.weightDecay).toBe(0.1);
    expect(noDecay.paramNames).toEqual(['proj.bias', 'norm.weight', 'norm.bias', 'rms.weight']);
    expect(noDecay.weightDecay).toBe(0);
    const withEmb = kd.optim.weightDecayGroups(model, { noDecayEmbeddings: true, noDecay: /^head/ });
    expect(withEmb[0].paramNames).toEqual(['proj.weight']);
    expect(withEmb[0].weightDecay).toBe(0.01);
    expect(withEmb[1].paramNames).toEqual(['embed.weight', 'proj.bias', 'norm.weight', 'norm.bias', 'rms.weight', 'head.weight']);
    model.freeze(/^embed/);
    expect(kd.optim.weightDecayGroups(model)[0].paramNames).toEqual(['proj.weight', 'head.weight']);
    model.freeze();
    expect(() => kd.optim.weightDecayGroups(model)).toThrow(/weightDecayGroups: the model has no trainable parameters/);
    expect(() => kd.optim.weightDecayGroups(model, { weightDecay: -1 })).toThrow(ArgumentError);
  });

  it('AdamW decays only the first group and each group steps with its own lr (PyTorch\'s update, float64 reference)', () => {
    const model = new Small();
    const groups = kd.optim.weightDecayGroups(model, { weightDecay: 0.5 });
    const optimizer = new kd.optim.AdamW([{ ...groups[0], lr: 0.1 }, { ...groups[1], lr: 0.01 }]);
    expect(optimizer.stateDict().param_groups.map((g) => g.param_names)).toEqual(groups.map((g) => g.paramNames));
    const before = model.parameters().map((p) => Float64Array.from(p.data() as Float32Array));
    kd.tidy(() => (model.forward(kd.tensor([[1, 2, 3]], { dtype: 'int32' })) as Tensor).square().sum().backward());
    const grads = model.parameters().map((p) => Float64Array.from(p.grad!.data() as Float32Array));
    optimizer.step();
    const decayed = new Set(groups[0].params);
    model.parameters().forEach((p, i) => {
      const lr = decayed.has(p) ? 0.1 : 0.01, wd = decayed.has(p) ? 0.5 : 0;
      const after = p.data() as Float32Array;
      before[i].forEach((w0, j) => {
        // First AdamW step: w ← w(1 − lr·wd) − lr · g / (|g| + eps) (bias corrections cancel).
        const g = grads[i][j];
        const ref = w0 * (1 - lr * wd) - (lr * g) / (Math.abs(g) + 1e-8);
        expect(Math.abs(after[j] - ref)).toBeLessThan(1e-6);
      });
    });
  });
});
