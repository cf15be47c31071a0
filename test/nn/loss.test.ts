// Every loss against a float64 transcription of PyTorch's definition (each option, each
// reduction), its gradient against finite differences, and its input validation.
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import * as F from '../../lib/nn/functional/loss.js';
import { BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss, SmoothL1Loss, BCELoss } from '../../lib/nn/loss.js';
import { expectClose, freshSeed, gradcheck, makeRng, randomTensor } from '../helpers.js';

type Reduction = F.Reduction;
const REDUCTIONS: Reduction[] = ['mean', 'sum', 'none'];

function values(t: Tensor): number[] {
  return Array.from(t.data());
}

/** A reduced (scalar) or unreduced loss compared with its reference. */
function expectLoss(out: Tensor, ref: number | number[], tol: number, context: string): void {
  if (typeof ref === 'number') {
    expect(out.shape, context).toEqual([]);
    expectClose([out.item()], [ref], tol, context);
  } else {
    expectClose(out.data(), ref, tol, context);
  }
}

function reduceRef(losses: number[], reduction: Reduction): number | number[] {
  if (reduction === 'none') return losses;
  const s = losses.reduce((a, b) => a + b, 0);
  return reduction === 'sum' ? s : s / losses.length;
}

// ---- cross entropy reference ------------------------------------------------------------------

interface CEOptions {
  weight?: number[];
  ignoreIndex?: number;
  labelSmoothing?: number;
  reduction?: Reduction;
}

/** Splits an input of shape [N, C, ...rest] (or [C]) into positions; calls fn(classValues, position). */
function positions(x: ArrayLike<number>, shape: number[], fn: (z: number[], pos: number) => void): void {
  const C = shape.length === 1 ? shape[0] : shape[1];
  const N = shape.length === 1 ? 1 : shape[0];
  const R = shape.slice(2).reduce((a, b) => a * b, 1);
  for (let n = 0; n < N; n++) {
    for (let r = 0; r < R; r++) {
      const z: number[] = [];
      for (let c = 0; c < C; c++) z.push(x[(n * C + c) * R + r]);
      fn(z, n * R + r);
    }
  }
}

function logSoftmaxRef(z: number[]): number[] {
  const m = Math.max(...z);
  const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
  return z.map((v) => v - lse);
}

/** torch.nn.functional.cross_entropy (or nll_loss when logProbs) with class-index targets. */
function crossEntropyRef(x: ArrayLike<number>, shape: number[], target: number[], o: CEOptions, logProbs = false): number | number[] {
  const ignore = o.ignoreIndex ?? -100, ls = o.labelSmoothing ?? 0, reduction = o.reduction ?? 'mean';
  const C = shape.length === 1 ? shape[0] : shape[1];
  const nll: number[] = [], smooth: number[] = [];
  let weightSum = 0;
  positions(x, shape, (z, pos) => {
    const lp = logProbs ? z : logSoftmaxRef(z);
    const t = target[pos];
    if (t === ignore) {
      nll.push(0);
      smooth.push(0);
      return;
    }
    const w = o.weight ? o.weight[t] : 1;
    weightSum += w;
    nll.push(-w * lp[t]);
    smooth.push(-lp.reduce((s, v, c) => s + (o.weight ? o.weight[c] : 1) * v, 0));
  });
  const mix = (a: number, b: number) => (1 - ls) * a + (ls / C) * b;
  if (reduction === 'none') return nll.map((v, i) => mix(v, smooth[i]));
  const sn = nll.reduce((a, b) => a + b, 0), ss = smooth.reduce((a, b) => a + b, 0);
  return reduction === 'sum' ? mix(sn, ss) : mix(sn / weightSum, ss / weightSum);
}

/** cross_entropy with class-probability targets (same shape as the input). */
function softCrossEntropyRef(x: ArrayLike<number>, shape: number[], target: ArrayLike<number>, o: CEOptions): number | number[] {
  const ls = o.labelSmoothing ?? 0, reduction = o.reduction ?? 'mean';
  const C = shape.length === 1 ? shape[0] : shape[1];
  const targets: number[][] = [];
  positions(target, shape, (t) => targets.push(t));
  const losses: number[] = [];
  positions(x, shape, (z, pos) => {
    const lp = logSoftmaxRef(z);
    losses.push(-lp.reduce((s, v, c) => s + (o.weight ? o.weight[c] : 1) * v * (targets[pos][c] * (1 - ls) + ls / C), 0));
  });
  return reduceRef(losses, reduction);
}

function randomTargets(rng: () => number, count: number, C: number, ignoreIndex?: number): number[] {
  return Array.from({ length: count }, (_, i) => (ignoreIndex !== undefined && i % 3 === 1 ? ignoreIndex : Math.floor(rng() * C)));
}

function targetTensor(values: number[], shape: number[]): Tensor {
  return kd.tensor(Int32Array.from(values)).reshape(shape);
}

describe('crossEntropy with class indices', () => {
  const cases: { shape: number[]; options: CEOptions }[] = [
    { shape: [5, 7], options: {} },
    { shape: [4, 3], options: { weight: [0.2, 1.5, 0.7] } },
    { shape: [6, 4], options: { ignoreIndex: -100 } },
    { shape: [6, 4], options: { ignoreIndex: 2, weight: [1, 2, 3, 4] } },
    { shape: [5, 6], options: { labelSmoothing: 0.2 } },
    { shape: [6, 5], options: { labelSmoothing: 0.1, weight: [0.5, 1, 2, 0.1, 3], ignoreIndex: -1 } },
    { shape: [3, 4, 2, 5], options: { weight: [1, 0.5, 2, 1.5], labelSmoothing: 0.3 } },
    { shape: [1, 1], options: {} },
    { shape: [9], options: { labelSmoothing: 0.05 } },
  ];
  for (const { shape, options } of cases) {
    for (const reduction of REDUCTIONS) {
      const seed = freshSeed();
      it(`input ${JSON.stringify(shape)} ${JSON.stringify(options)} reduction ${reduction} matches float64 (seed ${seed})`, () => {
        const rng = makeRng(seed);
        const { t: x, ref } = randomTensor(rng, shape, -3, 3);
        const C = shape.length === 1 ? shape[0] : shape[1];
        const tShape = shape.filter((_, d) => d !== (shape.length === 1 ? 0 : 1));
        const count = tShape.reduce((a, b) => a * b, 1);
        const targets = randomTargets(rng, count, C, options.ignoreIndex);
        const weight = options.weight ? kd.tensor(Float32Array.from(options.weight)) : undefined;
        const o = { ...options, weight, reduction };
        const out = F.crossEntropy(x, targetTensor(targets, tShape), o);
        const expected = crossEntropyRef(ref, shape, targets, { ...options, reduction });
        if (reduction === 'none') expect(out.shape).toEqual(tShape);
        expectLoss(out, expected, 1e-5, `seed ${seed}`);
        // The module gives the same.
        const m = new CrossEntropyLoss(o);
        expectLoss(m.forward(x, targetTensor(targets, tShape)), expected, 1e-5, `module seed ${seed}`);
      });
    }
  }

  const seed = freshSeed();
  it(`gradients match finite differences with weights, ignored targets and label smoothing (seed ${seed})`, () => {
    const rng = makeRng(seed);
    for (const { shape, options } of [cases[3], cases[5], cases[6]]) {
      const { t: x } = randomTensor(rng, shape, -2, 2, true);
      const C = shape[1];
      const tShape = shape.filter((_, d) => d !== 1);
      // At least one target not ignored: a mean over no targets is 0/0 (NaN), as in PyTorch.
      let drawn = randomTargets(rng, tShape.reduce((a, b) => a * b, 1), C, options.ignoreIndex);
      while (options.ignoreIndex !== undefined && Array.from(drawn).every((v) => v === options.ignoreIndex)) {
        drawn = randomTargets(rng, tShape.reduce((a, b) => a * b, 1), C, options.ignoreIndex);
      }
      const targets = targetTensor(drawn, tShape);
      const weight = options.weight ? kd.tensor(Float32Array.from(options.weight)) : undefined;
      for (const reduction of ['mean', 'sum'] as const) {
        gradcheck((xx) => F.crossEntropy(xx, targets, { ...options, weight, reduction }), [x], { context: `${JSON.stringify(options)} ${reduction} seed ${seed}` });
      }
    }
  });

  it('extreme logits (±1e4) give the exact finite loss and a finite gradient', () => {
    const x = kd.tensor([[1e4, -1e4, 0], [-1e4, -1e4, 1e4], [5e3, 5e3, -1e4]], { dtype: 'float32', requiresGrad: true });
    const target = kd.tensor([1, 2, 0]);
    const out = F.crossEntropy(x, target, { reduction: 'none' });
    expectClose(out.data(), [2e4, 0, Math.log(2)], 1e-6, 'extreme losses');
    const mean = F.crossEntropy(x, target);
    mean.backward();
    const g = values(x.grad!);
    expect(g.every(Number.isFinite)).toBe(true);
    // d/dz = (softmax − onehot) / N
    expectClose(g, [1 / 3, -1 / 3, 0, 0, 0, 0, -1 / 6, 1 / 6, 0], 1e-6, 'extreme grads');
  });

  it('all targets ignored gives NaN for the mean (0 / 0, as PyTorch) and 0 for the sum', () => {
    const x = kd.randn([3, 4]);
    const t = kd.tensor([-100, -100, -100]);
    expect(Number.isNaN(F.crossEntropy(x, t).item())).toBe(true);
    expect(F.crossEntropy(x, t, { reduction: 'sum' }).item()).toBe(0);
  });
});

describe('crossEntropy with class probabilities', () => {
  for (const options of [{}, { weight: [0.3, 1, 2, 0.5] }, { labelSmoothing: 0.25 }, { weight: [1, 2, 0.5, 0.1], labelSmoothing: 0.1 }] as CEOptions[]) {
    for (const shape of [[5, 4], [2, 4, 3]]) {
      const seed = freshSeed();
      it(`input ${JSON.stringify(shape)} ${JSON.stringify(options)} (seed ${seed})`, () => {
        const rng = makeRng(seed);
        const { t: x, ref } = randomTensor(rng, shape, -3, 3, true);
        const { t: raw } = randomTensor(rng, shape, 0, 1);
        const probs = kd.tidy(() => raw.div(raw.sum(1, true)));
        const weight = options.weight ? kd.tensor(Float32Array.from(options.weight)) : undefined;
        for (const reduction of REDUCTIONS) {
          const out = F.crossEntropy(x, probs, { ...options, weight, reduction });
          expectLoss(out, softCrossEntropyRef(ref, shape, probs.data(), { ...options, reduction }), 1e-5, `${reduction} seed ${seed}`);
        }
        gradcheck((xx) => F.crossEntropy(xx, probs, { ...options, weight }), [x], { context: `seed ${seed}` });
      });
    }
  }
});

describe('nllLoss', () => {
  const seed = freshSeed();
  it(`matches float64 over log-probabilities with weights and ignoreIndex (seed ${seed})`, () => {
    const rng = makeRng(seed);
    const shape = [7, 5, 3];
    const { t: x, ref } = randomTensor(rng, shape, -4, 0, true);
    const targets = randomTargets(rng, 21, 5, -100);
    const target = targetTensor(targets, [7, 3]);
    const weight = [0.5, 1, 2, 0.25, 1.5];
    for (const reduction of REDUCTIONS) {
      const o = { weight: kd.tensor(Float32Array.from(weight)), reduction };
      expectLoss(F.nllLoss(x, target, o), crossEntropyRef(ref, shape, targets, { weight, reduction }, true), 1e-5, `${reduction} seed ${seed}`);
      expectLoss(new NLLLoss(o).forward(x, target), crossEntropyRef(ref, shape, targets, { weight, reduction }, true), 1e-5, `module ${reduction}`);
    }
    gradcheck((xx) => F.nllLoss(xx, target, { weight: kd.tensor(Float32Array.from(weight)) }), [x], { context: `seed ${seed}` });
  });
});

describe('classification input validation', () => {
  const x = kd.zeros([4, 3]);
  it('names the op and the offending value or shapes', () => {
    expect(() => F.crossEntropy(x, kd.tensor([0, 1, 3, 0]))).toThrow(/crossEntropy: target 3 is out of bounds for 3 classes/);
    expect(() => F.crossEntropy(x, kd.tensor([0, -2, 1, 0]))).toThrow(kd.ArgumentError);
    expect(() => F.nllLoss(x, kd.tensor([0, 1, 5, 0]))).toThrow(/nllLoss: target 5/);
    expect(() => F.crossEntropy(x, kd.tensor([0, 1, 2]))).toThrow(/crossEntropy: input \[4,3\] needs a target of shape \[4\], got \[3\]/);
    expect(() => F.crossEntropy(x, kd.tensor([true, false, true, true]))).toThrow(kd.DTypeError);
    expect(() => F.crossEntropy(x, kd.zeros([4, 2]))).toThrow(/probability target \[4,2\]/);
    expect(() => F.crossEntropy(kd.tensor([[1, 2]]), kd.tensor([0]))).toThrow(/input must be float32/);
    expect(() => F.crossEntropy(x, kd.tensor([0, 1, 2, 0]), { weight: kd.ones([2]) })).toThrow(/weight must have shape \[3\]/);
    expect(() => F.crossEntropy(x, kd.tensor([0, 1, 2, 0]), { labelSmoothing: 1.5 })).toThrow(/labelSmoothing/);
    expect(() => F.crossEntropy(x, kd.tensor([0, 1, 2, 0]), { reduction: 'avg' as never })).toThrow(/reduction must be/);
  });
});

// ---- binary cross entropy ---------------------------------------------------------------------

function bceRef(p: number, t: number, w = 1): number {
  return -w * (t * Math.max(Math.log(p), -100) + (1 - t) * Math.max(Math.log(1 - p), -100));
}

function bceLogitsRef(x: number, t: number, w = 1, pw = 1): number {
  const logWeight = (pw - 1) * t + 1;
  return w * ((1 - t) * x + logWeight * (Math.log1p(Math.exp(-Math.abs(x))) + Math.max(-x, 0)));
}

describe('binary cross entropy', () => {
  const seed = freshSeed();
  it(`bceLoss matches float64 with a broadcast weight, all reductions, and its gradient (seed ${seed})`, () => {
    const rng = makeRng(seed);
    const { t: p, ref: pr } = randomTensor(rng, [6, 4], 0.05, 0.95, true);
    const { t: tg, ref: tr } = randomTensor(rng, [6, 4], 0, 1, true);
    const { t: w, ref: wr } = randomTensor(rng, [4], 0.5, 2);
    for (const reduction of REDUCTIONS) {
      const losses = Array.from(pr, (v, i) => bceRef(v, tr[i], wr[i % 4]));
      expectLoss(F.bceLoss(p, tg, { weight: w, reduction }), reduceRef(losses, reduction), 1e-5, `${reduction} seed ${seed}`);
      expectLoss(new BCELoss({ weight: w, reduction }).forward(p, tg), reduceRef(losses, reduction), 1e-5, `module ${reduction}`);
    }
    gradcheck((pp, tt) => F.bceLoss(pp, tt, { weight: w }), [p, tg], { eps: 1e-3, context: `seed ${seed}` });
  });

  it('bceLoss clamps the logs at -100: saturated predictions give 100 and finite gradients', () => {
    const p = kd.tensor([0, 1, 0, 1], { dtype: 'float32', requiresGrad: true });
    const t = kd.tensor([1, 0, 0, 1], { dtype: 'float32' });
    expectClose(F.bceLoss(p, t, { reduction: 'none' }).data(), [100, 100, 0, 0], 1e-7, 'clamped');
    F.bceLoss(p, t).backward();
    expect(values(p.grad!).every(Number.isFinite)).toBe(true);
    expect(() => F.bceLoss(kd.tensor([1.5, 0.2]), kd.tensor([1, 0], { dtype: 'float32' }))).toThrow(/bceLoss: input values must be probabilities/);
  });

  const seed2 = freshSeed();
  it(`bceWithLogitsLoss matches float64 with weight and posWeight, and its gradient (seed ${seed2})`, () => {
    const rng = makeRng(seed2);
    const { t: x, ref: xr } = randomTensor(rng, [5, 3], -4, 4, true);
    const { t: tg, ref: tr } = randomTensor(rng, [5, 3], 0, 1);
    const { t: w, ref: wr } = randomTensor(rng, [5, 1], 0.5, 2);
    const { t: pw, ref: pwr } = randomTensor(rng, [3], 0.5, 3);
    for (const reduction of REDUCTIONS) {
      const plain = Array.from(xr, (v, i) => bceLogitsRef(v, tr[i]));
      expectLoss(F.bceWithLogitsLoss(x, tg, { reduction }), reduceRef(plain, reduction), 1e-5, `${reduction} seed ${seed2}`);
      const weighted = Array.from(xr, (v, i) => bceLogitsRef(v, tr[i], wr[Math.floor(i / 3)], pwr[i % 3]));
      expectLoss(F.bceWithLogitsLoss(x, tg, { weight: w, posWeight: pw, reduction }), reduceRef(weighted, reduction), 1e-5, `weighted ${reduction}`);
      expectLoss(new BCEWithLogitsLoss({ weight: w, posWeight: pw, reduction }).forward(x, tg), reduceRef(weighted, reduction), 1e-5, `module ${reduction}`);
    }
    gradcheck((xx) => F.bceWithLogitsLoss(xx, tg, { weight: w, posWeight: pw }), [x], { context: `seed ${seed2}` });
  });

  it('bceWithLogitsLoss is exact and has finite gradients at logits ±1e4', () => {
    const x = kd.tensor([1e4, -1e4, 1e4, -1e4], { dtype: 'float32', requiresGrad: true });
    const t = kd.tensor([1, 0, 0, 1], { dtype: 'float32' });
    expectClose(F.bceWithLogitsLoss(x, t, { reduction: 'none' }).data(), [0, 0, 1e4, 1e4], 1e-7, 'extreme');
    F.bceWithLogitsLoss(x, t, { reduction: 'sum' }).backward();
    expectClose(x.grad!.data(), [0, 0, 1, -1], 1e-7, 'sigmoid(x) - t');
  });
});

// ---- regression -----------------------------------------------------------------------------

describe('regression losses', () => {
  const defs: [string, (x: Tensor, t: Tensor, r: Reduction) => Tensor, (d: number) => number][] = [
    ['mseLoss', (x, t, reduction) => F.mseLoss(x, t, { reduction }), (d) => d * d],
    ['l1Loss', (x, t, reduction) => F.l1Loss(x, t, { reduction }), (d) => Math.abs(d)],
    ['smoothL1Loss beta 1', (x, t, reduction) => F.smoothL1Loss(x, t, { reduction }), (d) => (Math.abs(d) < 1 ? 0.5 * d * d : Math.abs(d) - 0.5)],
    ['smoothL1Loss beta 0.3', (x, t, reduction) => F.smoothL1Loss(x, t, { beta: 0.3, reduction }), (d) => (Math.abs(d) < 0.3 ? (0.5 * d * d) / 0.3 : Math.abs(d) - 0.15)],
    ['smoothL1Loss beta 0', (x, t, reduction) => F.smoothL1Loss(x, t, { beta: 0, reduction }), (d) => Math.abs(d)],
    ['huberLoss delta 0.7', (x, t, reduction) => F.huberLoss(x, t, { delta: 0.7, reduction }), (d) => (Math.abs(d) < 0.7 ? 0.5 * d * d : 0.7 * (Math.abs(d) - 0.35))],
    ['MSELoss module', (x, t, reduction) => new MSELoss({ reduction }).forward(x, t), (d) => d * d],
    ['L1Loss module', (x, t, reduction) => new L1Loss({ reduction }).forward(x, t), (d) => Math.abs(d)],
    ['SmoothL1Loss module', (x, t, reduction) => new SmoothL1Loss({ beta: 0.5, reduction }).forward(x, t), (d) => (Math.abs(d) < 0.5 ? d * d : Math.abs(d) - 0.25)],
    ['HuberLoss module', (x, t, reduction) => new HuberLoss({ delta: 2, reduction }).forward(x, t), (d) => (Math.abs(d) < 2 ? 0.5 * d * d : 2 * (Math.abs(d) - 1))],
  ];
  for (const [name, loss, elementRef] of defs) {
    const seed = freshSeed();
    it(`${name} on a transposed view matches float64 for every reduction, and its gradient (seed ${seed})`, () => {
      const rng = makeRng(seed);
      const { t: base, ref: br } = randomTensor(rng, [5, 3], -2, 2, true);
      const x = base.transpose(0, 1); // [3, 5], non-contiguous
      const xr = Array.from({ length: 15 }, (_, i) => br[(i % 5) * 3 + Math.floor(i / 5)]);
      // Targets stay at least 0.05 from the input: |d| has a kink at 0 that a central difference
      // with eps 1e-3 straddles.
      const tr = xr.map((v) => {
        const d = (rng() < 0.5 ? -1 : 1) * (0.05 + 1.95 * rng());
        return Math.fround(v - d);
      });
      const tg = kd.tensor(Float32Array.from(tr)).reshape([3, 5]);
      for (const reduction of REDUCTIONS) {
        expectLoss(loss(x, tg, reduction), reduceRef(xr.map((v, i) => elementRef(v - tr[i])), reduction), 1e-5, `${reduction} seed ${seed}`);
      }
      gradcheck((b) => loss(b.transpose(0, 1), tg, 'mean'), [base], { eps: 1e-3, context: `seed ${seed}` });
    });
  }

  it('rejects mismatched shapes, int targets and bad options', () => {
    expect(() => F.mseLoss(kd.zeros([4, 1]), kd.zeros([4]))).toThrow(/mseLoss: input \[4,1\] and target \[4\] must have the same shape/);
    expect(() => F.l1Loss(kd.zeros([2]), kd.tensor([1, 2]))).toThrow(kd.DTypeError);
    expect(() => F.smoothL1Loss(kd.zeros([2]), kd.zeros([2]), { beta: -1 })).toThrow(/beta/);
    expect(() => F.huberLoss(kd.zeros([2]), kd.zeros([2]), { delta: 0 })).toThrow(/delta/);
    expect(() => F.bceWithLogitsLoss(kd.zeros([2, 3]), kd.zeros([2, 3]), { posWeight: kd.ones([2]) })).toThrow(/posWeight \[2\] does not broadcast/);
  });
});

describe('penalties and modules', () => {
  it('l1Penalty and l2Penalty sum over all parameters and differentiate', () => {
    const a = kd.tensor([[1, -2], [3, -0.5]], { requiresGrad: true });
    const b = kd.tensor([-1.5, 0.25], { requiresGrad: true });
    expect(F.l1Penalty([a, b]).item()).toBeCloseTo(8.25, 6);
    const l2 = F.l2Penalty([a, b]);
    expect(l2.item()).toBeCloseTo(1 + 4 + 9 + 0.25 + 2.25 + 0.0625, 5);
    l2.backward();
    expect(values(a.grad!)).toEqual([2, -4, 6, -1]);
    expect(() => F.l2Penalty([])).toThrow(kd.ArgumentError);
  });

  it('weighted losses save weight and pos_weight with the state dict', () => {
    const ce = new CrossEntropyLoss({ weight: kd.tensor([1, 2, 3], { dtype: 'float32' }), labelSmoothing: 0.1 });
    expect(Object.keys(ce.stateDict())).toEqual(['weight']);
    expect(Object.keys(new CrossEntropyLoss().stateDict())).toEqual([]);
    const bce = new BCEWithLogitsLoss({ posWeight: kd.tensor([2], { dtype: 'float32' }) });
    expect(Object.keys(bce.stateDict())).toEqual(['pos_weight']);
    expect(ce.parameters()).toEqual([]);
    expect(() => new MSELoss({ reduction: 'avg' as never })).toThrow(/MSELoss: reduction must be/);
  });

  it('does not leave intermediate tensors to a surrounding tidy: the result survives, the inputs too', () => {
    const x = kd.randn([4, 5], { requiresGrad: true });
    const t = kd.tensor([0, 4, 2, 1]);
    const loss = kd.tidy(() => F.crossEntropy(x, t, { labelSmoothing: 0.1 }));
    expect(loss.isDisposed).toBe(false);
    loss.backward();
    expect(x.grad!.shape).toEqual([4, 5]);
  });
});
