// Schedulers against values PyTorch produces (hand-computed from its formulas), and the cosine
// closed form against PyTorch's recursive update.
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import { SGD, lrScheduler } from '../../lib/optim/index.js';

const {
  StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR, LinearWarmup, LambdaLR, SequentialLR, ReduceLROnPlateau,
} = lrScheduler;

function optimizer(lrs: number[] = [0.1]): SGD {
  return new SGD(lrs.map((lr) => ({ params: [kd.zeros([2], { requiresGrad: true })], lr })));
}

/** The lr after construction, then after each of n steps. */
function trace(s: { step(): void; getLastLr(): number[] }, n: number, group = 0): number[] {
  const out = [s.getLastLr()[group]];
  for (let i = 0; i < n; i++) {
    s.step();
    out.push(s.getLastLr()[group]);
  }
  return out;
}

function expectNear(actual: number[], expected: number[], tol = 1e-15): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((v, i) => expect(Math.abs(v - expected[i]), `entry ${i}: ${v} vs ${expected[i]}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(expected[i]))));
}

describe('epoch-based schedulers', () => {
  it('StepLR: gamma every stepSize epochs, written into the optimizer', () => {
    const opt = optimizer();
    const s = new StepLR(opt, { stepSize: 3, gamma: 0.5 });
    expectNear(trace(s, 7), [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025]);
    expect(opt.paramGroups[0].lr).toBe(s.getLastLr()[0]);
    expect(opt.paramGroups[0].initialLr).toBe(0.1);
  });

  it('MultiStepLR: gamma at each milestone (a repeated one twice), default gamma 0.1', () => {
    const s = new MultiStepLR(optimizer([1]), { milestones: [4, 2, 4] });
    expectNear(trace(s, 5), [1, 1, 0.1, 0.1, 0.001, 0.001]);
  });

  it('ExponentialLR: gamma every epoch', () => {
    const s = new ExponentialLR(optimizer([0.2]), { gamma: 0.9 });
    expectNear(trace(s, 4), [0.2, 0.18, 0.162, 0.1458, 0.13122]);
  });

  it('LinearLR defaults (1/3 to 1 over 5) and LinearWarmup from a start factor', () => {
    expectNear(trace(new LinearLR(optimizer([0.3])), 6), [0.1, 0.14, 0.18, 0.22, 0.26, 0.3, 0.3]);
    expectNear(trace(new LinearWarmup(optimizer([1]), { warmupSteps: 4, startFactor: 0 }), 5), [0, 0.25, 0.5, 0.75, 1, 1]);
    expectNear(trace(new LinearLR(optimizer([1]), { startFactor: 1, endFactor: 0.5, totalIters: 2 }), 3), [1, 0.75, 0.5, 0.5]);
  });

  it('each group follows its own initial lr', () => {
    const s = new StepLR(optimizer([0.1, 1]), { stepSize: 1, gamma: 0.5 });
    s.step();
    expectNear(s.getLastLr(), [0.05, 0.5]);
  });

  it('CosineAnnealingLR: the closed form matches PyTorch recursive values within 1e-12 for 100 steps', () => {
    for (const [tMax, etaMin] of [[10, 0], [7, 0.001], [30, 0.01]] as const) {
      const base = 0.1;
      const s = new CosineAnnealingLR(optimizer([base]), { tMax, etaMin });
      // torch.optim.lr_scheduler.CosineAnnealingLR.get_lr, transcribed.
      const recursive = [base];
      for (let e = 1; e <= 100; e++) {
        const lr = recursive[e - 1];
        if ((e - 1 - tMax) % (2 * tMax) === 0) recursive.push(lr + ((base - etaMin) * (1 - Math.cos(Math.PI / tMax))) / 2);
        else recursive.push(((1 + Math.cos((Math.PI * e) / tMax)) / (1 + Math.cos((Math.PI * (e - 1)) / tMax))) * (lr - etaMin) + etaMin);
      }
      const closed = trace(s, 100);
      closed.forEach((v, e) => expect(Math.abs(v - recursive[e]), `tMax ${tMax} epoch ${e}`).toBeLessThan(1e-12));
      expect(closed[tMax]).toBeCloseTo(etaMin, 15);
      expect(closed[2 * tMax]).toBeCloseTo(base, 15);
    }
  });

  it('LambdaLR takes one function per group; SequentialLR runs a warm-up then a cosine decay', () => {
    expectNear(trace(new LambdaLR(optimizer([0.5]), (e) => 1 / (e + 1)), 3), [0.5, 0.25, 0.5 / 3, 0.125]);
    const opt = optimizer([1]);
    const warm = new LinearWarmup(opt, { warmupSteps: 2, startFactor: 0.5 });
    const cos = new CosineAnnealingLR(opt, { tMax: 4 });
    const seq = new SequentialLR(opt, { schedulers: [warm, cos], milestones: [2] });
    const c = (e: number) => (1 + Math.cos((Math.PI * e) / 4)) / 2;
    expectNear(trace(seq, 6), [0.5, 0.75, c(0), c(1), c(2), c(3), c(4)]);
    expect(opt.paramGroups[0].lr).toBe(0);
  });

  it('state dicts use PyTorch keys and resume the schedule', () => {
    const a = new CosineAnnealingLR(optimizer([0.1]), { tMax: 10, etaMin: 0.001 });
    for (let i = 0; i < 4; i++) a.step();
    const sd = a.stateDict();
    expect(sd).toMatchObject({ T_max: 10, eta_min: 0.001, base_lrs: [0.1], last_epoch: 4, _step_count: 5 });
    const b = new CosineAnnealingLR(optimizer([0.1]), { tMax: 3 });
    b.loadStateDict(sd);
    a.step();
    b.step();
    expect(b.getLastLr()).toEqual(a.getLastLr());
    expect(new StepLR(optimizer(), { stepSize: 2 }).stateDict()).toMatchObject({ step_size: 2, gamma: 0.1 });
  });

  it('rejects bad options with ArgumentError', () => {
    expect(() => new StepLR(optimizer(), { stepSize: 0 })).toThrow(/stepSize/);
    expect(() => new CosineAnnealingLR(optimizer(), { tMax: 1.5 })).toThrow(kd.ArgumentError);
    expect(() => new LinearLR(optimizer(), { startFactor: 2 })).toThrow(/startFactor/);
    expect(() => new LinearWarmup(optimizer(), {} as never)).toThrow(/warmupSteps/);
    expect(() => new StepLR({} as never, { stepSize: 1 })).toThrow(/expected an optimizer/);
    expect(() => new StepLR(optimizer(), { stepSize: 1, lastEpoch: 3 })).toThrow(/initialLr/);
  });
});

describe('ReduceLROnPlateau', () => {
  it('reduces after patience bad epochs, waits out the cooldown and stops at minLr', () => {
    const opt = optimizer([1]);
    const s = new ReduceLROnPlateau(opt, { factor: 0.5, patience: 2, cooldown: 1, minLr: 0.2 });
    // Step by step, as torch.optim.lr_scheduler.ReduceLROnPlateau behaves.
    const metrics = [10, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9];
    const lrs = metrics.map((m) => {
      s.step(m);
      return s.getLastLr()[0];
    });
    expect(lrs).toEqual([1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.2, 0.2]);
    expect(s.best).toBe(9);
  });

  it('max mode with an absolute threshold; tensors as metrics', () => {
    const s = new ReduceLROnPlateau(optimizer([1]), { mode: 'max', threshold: 0.5, thresholdMode: 'abs', patience: 0 });
    s.step(kd.tensor(1));
    expect(s.getLastLr()).toEqual([1]);
    s.step(1.4); // not better by more than 0.5
    expect(s.getLastLr()[0]).toBeCloseTo(0.1, 15);
    s.step(2);
    expect(s.getLastLr()[0]).toBeCloseTo(0.1, 15);
    expect(s.best).toBe(2);
  });

  it('rel threshold in min mode needs best · (1 − threshold); state dict round trip', () => {
    const s = new ReduceLROnPlateau(optimizer([1, 2]), { threshold: 0.1, patience: 0, minLr: [0, 1.5] });
    s.step(100);
    s.step(95); // not below 90
    expectNear(s.getLastLr(), [0.1, 1.5]);
    const sd = s.stateDict();
    expect(sd).toMatchObject({ mode: 'min', threshold_mode: 'rel', best: 100, min_lrs: [0, 1.5], last_epoch: 2 });
    const t = new ReduceLROnPlateau(optimizer([1, 2]));
    t.loadStateDict(sd);
    expect(t.patience).toBe(0);
    expect(t.best).toBe(100);
    expect(() => new ReduceLROnPlateau(optimizer(), { factor: 1 })).toThrow(/factor/);
    expect(() => new ReduceLROnPlateau(optimizer([1, 2]), { minLr: [0] })).toThrow(/minLr/);
  });
});
