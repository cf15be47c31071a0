// The fused batch-norm node (lib/ops/normalization.ts over native/cpu/batchnorm.cc): forward in
// training and eval against float64, gradients against a float64 formula and finite differences,
// running statistics and gradients against PyTorch (test/fixtures/make_batchnorm_fixtures.py),
// strided inputs, every ISA build, 1 and 2 threads, and double backward through the composed
// formula.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterEach, describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { native } from '../../lib/native.js';
import type { CpuIsa } from '../../lib/runtime.js';
import { expectClose, expectError, freshSeed, gradcheck, makeRng, numel, randomTensor } from '../helpers.js';

const F = kd.nn.functional;
const seed = freshSeed();
const isaAtStart = kd.cpuIsa();
const threadsAtStart = kd.getNumThreads();
afterEach(() => {
  kd.setCpuIsa(isaAtStart);
  kd.setNumThreads(threadsAtStart);
});

type Counts = Record<CpuIsa, number>;

/** How many kernel calls ran each ISA's build while fn ran. */
function counted(fn: () => void): Counts {
  const before = native.isaDispatchCounts() as Counts;
  fn();
  const after = native.isaDispatchCounts() as Counts;
  return { avx512: after.avx512 - before.avx512, avx2: after.avx2 - before.avx2, scalar: after.scalar - before.scalar };
}

const values = (t: Tensor) => Float64Array.from(t.data() as Float32Array);
const channelIndex = (shape: number[], i: number) => Math.floor(i / numel(shape.slice(2))) % shape[1];

/** Per-channel mean and biased / unbiased variance, in float64. */
function stats(x: Float64Array, shape: number[]) {
  const c = shape[1], count = x.length / c;
  const mean = new Float64Array(c), biased = new Float64Array(c);
  x.forEach((v, i) => { mean[channelIndex(shape, i)] += v / count; });
  x.forEach((v, i) => { const ch = channelIndex(shape, i); biased[ch] += (v - mean[ch]) ** 2 / count; });
  return { mean, biased, unbiased: biased.map((v) => (v * count) / (count - 1)) };
}

type Affine = ArrayLike<number> | null;

function forwardRef(x: Float64Array, shape: number[], mean: ArrayLike<number>, variance: ArrayLike<number>, eps: number, w: Affine, b: Affine) {
  return x.map((v, i) => {
    const ch = channelIndex(shape, i);
    return ((v - mean[ch]) / Math.sqrt(variance[ch] + eps)) * (w ? w[ch] : 1) + (b ? b[ch] : 0);
  });
}

/** dx, dw, db of sum(y * g) in float64. */
function backwardRef(x: Float64Array, g: Float64Array, shape: number[], training: boolean, mean: ArrayLike<number>, variance: ArrayLike<number>, eps: number, w: Affine) {
  const c = shape[1], count = x.length / c;
  const invstd = Float64Array.from({ length: c }, (_, ch) => 1 / Math.sqrt(variance[ch] + eps));
  const xhat = x.map((v, i) => (v - mean[channelIndex(shape, i)]) * invstd[channelIndex(shape, i)]);
  const db = new Float64Array(c), dw = new Float64Array(c);
  g.forEach((gv, i) => { const ch = channelIndex(shape, i); db[ch] += gv; dw[ch] += gv * xhat[i]; });
  const dx = g.map((gv, i) => {
    const ch = channelIndex(shape, i);
    const k = invstd[ch] * (w ? w[ch] : 1);
    return training ? k * (gv - db[ch] / count - (xhat[i] * dw[ch]) / count) : k * gv;
  });
  return { dx, dw, db };
}

// Odd sizes, one and two spatial dims, a size-1 batch, rows longer than a kernel chunk (1024).
const SHAPES = [[6, 4], [7, 3, 5], [3, 5, 7, 9], [1, 3, 5, 5], [2, 2, 3001], [65, 3]];

describe(`batchNorm forward (seed ${seed})`, () => {
  it('training matches float64 with the batch statistics and updates the running ones (unbiased, momentum), affine or not', () => {
    const rng = makeRng(seed);
    for (const shape of SHAPES) {
      for (const affine of [true, false]) {
        const c = shape[1];
        const { t: x, ref } = randomTensor(rng, shape, -1, 3);
        const w = affine ? randomTensor(rng, [c], 0.5, 1.5) : null;
        const b = affine ? randomTensor(rng, [c], -0.5, 0.5) : null;
        const rm0 = randomTensor(rng, [c], -1, 1), rv0 = randomTensor(rng, [c], 0.5, 2);
        const s = stats(ref, shape);
        const y = F.batchNorm(x, { training: true, momentum: 0.2, eps: 1e-4, weight: w?.t, bias: b?.t, runningMean: rm0.t, runningVar: rv0.t });
        const ctx = `${JSON.stringify(shape)} affine ${affine}`;
        expectClose(values(y), forwardRef(ref, shape, s.mean, s.biased, 1e-4, w?.ref ?? null, b?.ref ?? null), 1e-5, ctx);
        expectClose(values(rm0.t), rm0.ref.map((v, ch) => 0.8 * v + 0.2 * s.mean[ch]), 1e-6, `running_mean ${ctx}`);
        expectClose(values(rv0.t), rv0.ref.map((v, ch) => 0.8 * v + 0.2 * s.unbiased[ch]), 1e-6, `running_var ${ctx}`);
      }
    }
  });

  it('eval normalises with the running statistics and leaves them alone', () => {
    const rng = makeRng(seed + 1);
    for (const shape of SHAPES) {
      const c = shape[1];
      const { t: x, ref } = randomTensor(rng, shape, -2, 2);
      const w = randomTensor(rng, [c], 0.5, 1.5), b = randomTensor(rng, [c], -0.5, 0.5);
      const rm = randomTensor(rng, [c], -1, 1), rv = randomTensor(rng, [c], 0.5, 2);
      const y = F.batchNorm(x, { training: false, weight: w.t, bias: b.t, runningMean: rm.t, runningVar: rv.t });
      expectClose(values(y), forwardRef(ref, shape, rm.ref, rv.ref, 1e-5, w.ref, b.ref), 1e-5, JSON.stringify(shape));
      expect(values(rm.t)).toEqual(rm.ref);
      expect(values(rv.t)).toEqual(rv.ref);
    }
  });

  it('strided inputs (permuted NHWC storage, transposed spatial dims, sliced width, a transposed [N, L, C]) and strided running statistics match float64', () => {
    const rng = makeRng(seed + 2);
    const views: [string, () => { x: Tensor; shape: number[] }][] = [
      ['NHWC storage seen as NCHW', () => { const base = randomTensor(rng, [3, 5, 6, 4], -1, 2).t; return { x: base.permute(0, 3, 1, 2), shape: [3, 4, 5, 6] }; }],
      ['transposed H and W', () => { const base = randomTensor(rng, [2, 3, 7, 5], -1, 2).t; return { x: base.transpose(2, 3), shape: [2, 3, 5, 7] }; }],
      ['every other column', () => { const base = randomTensor(rng, [2, 3, 4, 10], -1, 2).t; return { x: base.slice(3, 0, 10, 2), shape: [2, 3, 4, 5] }; }],
      ['[N, L, C] transposed to [N, C, L]', () => { const base = randomTensor(rng, [4, 9, 3], -1, 2).t; return { x: base.transpose(1, 2), shape: [4, 3, 9] }; }],
      ['[C, N] transposed to [N, C]', () => { const base = randomTensor(rng, [5, 8], -1, 2).t; return { x: base.transpose(0, 1), shape: [8, 5] }; }],
    ];
    for (const [name, make] of views) {
      const { x, shape } = make();
      expect(x.shape).toEqual(shape);
      expect(x.isContiguous()).toBe(false);
      const ref = values(x.contiguous());
      const c = shape[1];
      // running statistics as every other element of a longer buffer
      const buf = kd.zeros([c, 2]);
      kd.noGrad(() => buf.narrow(1, 1, 1).fill_(1));
      const rm = buf.narrow(1, 0, 1).squeeze(1), rv = buf.narrow(1, 1, 1).squeeze(1);
      const w = randomTensor(rng, [c], 0.5, 1.5);
      const s = stats(ref, shape);
      const y = F.batchNorm(x, { training: true, weight: w.t, runningMean: rm, runningVar: rv });
      expectClose(values(y), forwardRef(ref, shape, s.mean, s.biased, 1e-5, w.ref, null), 1e-5, name);
      expectClose(values(rm.contiguous()), s.mean.map((m) => 0.1 * m), 1e-6, `running_mean ${name}`);
      expectClose(values(rv.contiguous()), s.unbiased.map((v) => 0.9 + 0.1 * v), 1e-6, `running_var ${name}`);
    }
  });

  it('statistics keep float64 accuracy for a mean far from zero over many values', () => {
    const rng = makeRng(seed + 3);
    for (const [shape, offset] of [[[16, 2, 4100], 1e4], [[3000, 3], -5e3], [[8, 2, 33, 31], 300]] as [number[], number][]) {
      const { t: x, ref } = randomTensor(rng, shape, offset - 1, offset + 1);
      const c = shape[1];
      const rm = kd.zeros([c]), rv = kd.ones([c]);
      F.batchNorm(x, { training: true, momentum: 1, runningMean: rm, runningVar: rv });
      const s = stats(ref, shape);
      expectClose(values(rm), s.mean, 1e-7, `mean ${JSON.stringify(shape)}`);
      expectClose(values(rv), s.unbiased, 1e-5, `variance ${JSON.stringify(shape)}`);
    }
  });

  it('the portable and AVX2 builds agree, and 1 and 2 threads give identical values', () => {
    const rng = makeRng(seed + 4);
    const shape = [5, 7, 9, 13];
    const { t: x } = randomTensor(rng, shape, -1, 2);
    const { t: g } = randomTensor(rng, shape);
    const w = randomTensor(rng, [7], 0.5, 1.5).t, b = randomTensor(rng, [7], -0.5, 0.5).t;
    const run = () => kd.tidy(() => {
      const xs = x.detach().requiresGrad_(), ws = w.detach().requiresGrad_(), bs = b.detach().requiresGrad_();
      const rm = kd.zeros([7]), rv = kd.ones([7]);
      const y = F.batchNorm(xs, { training: true, weight: ws, bias: bs, runningMean: rm, runningVar: rv });
      y.backward(g);
      const ye = F.batchNorm(x, { training: false, weight: w, bias: b, runningMean: rm, runningVar: rv });
      return [y, xs.grad!, ws.grad!, bs.grad!, rm, rv, ye].map(values);
    });
    const builds: string[] = [];
    let reference: Float64Array[] | null = null;
    for (const isa of ['scalar', 'avx2', 'avx512'] as const) {
      if (!kd.setCpuIsa(isa)) continue;
      builds.push(isa);
      kd.setNumThreads(1);
      const one = run();
      kd.setNumThreads(2);
      const two = run();
      one.forEach((v, i) => expect(two[i], `${isa} output ${i}: threads 1 vs 2`).toEqual(v));
      reference ??= one;
      one.forEach((v, i) => expectClose(v, reference![i], 1e-6, `${isa} vs ${builds[0]} output ${i}`));
    }
    expect(builds).toContain('scalar');
  });

  it('each ISA runs its own build of the kernels (AVX-512 machines run the AVX2 one)', () => {
    const rng = makeRng(seed + 9);
    const x = randomTensor(rng, [4, 3, 17], -1, 1, true).t;
    const g = randomTensor(rng, [4, 3, 17]).t;
    for (const isa of ['scalar', 'avx2', 'avx512'] as const) {
      if (!kd.setCpuIsa(isa)) continue;
      const build = isa === 'scalar' ? 'scalar' : 'avx2';
      const y = kd.tidy(() => F.batchNorm(x, { training: true }));
      const forward = counted(() => kd.tidy(() => void F.batchNorm(x, { training: true })));
      const backward = counted(() => y.backward(g));
      for (const calls of [forward, backward]) {
        expect(calls[build], `${isa}: ${build} build ran`).toBeGreaterThan(0);
        for (const other of ['scalar', 'avx2', 'avx512'] as const) if (other !== build) expect(calls[other], `${isa}: ${other} build ran`).toBe(0);
      }
      x.grad = null;
    }
  });
});

describe(`batchNorm backward (seed ${seed})`, () => {
  it('BatchNorm2d is one autograd node over the fused kernels (its edges: input, weight, bias)', () => {
    const bn = new kd.nn.BatchNorm2d(3);
    const y = bn.forward(kd.randn([2, 3, 4, 4]).requiresGrad_());
    expect(y.gradFn?.name).toBe('NativeBatchNormBackward');
    expect(y.gradFn?.edges.length).toBe(3);
    bn.eval();
    expect(bn.forward(kd.randn([2, 3, 4, 4]).requiresGrad_()).gradFn?.name).toBe('NativeBatchNormBackward');
  });

  it('gradients for input, weight and bias match the float64 formula in training and eval, affine or not, strided gradient', () => {
    const rng = makeRng(seed + 5);
    for (const shape of SHAPES) {
      for (const training of [true, false]) {
        for (const affine of [true, false]) {
          const c = shape[1];
          const x = randomTensor(rng, shape, -1, 3, true);
          const w = affine ? randomTensor(rng, [c], 0.5, 1.5, true) : null;
          const b = affine ? randomTensor(rng, [c], -0.5, 0.5, true) : null;
          const rm = randomTensor(rng, [c], -1, 1), rv = randomTensor(rng, [c], 0.5, 2);
          const g = randomTensor(rng, shape);
          const y = F.batchNorm(x.t, { training, weight: w?.t, bias: b?.t, runningMean: rm.t, runningVar: rv.t });
          // the gradient arrives as a non-contiguous view when the shape allows one
          const gt = shape.length >= 3 ? g.t.transpose(0, 2).contiguous().transpose(0, 2) : g.t;
          y.backward(gt);
          const s = training ? stats(x.ref, shape) : { mean: rm.ref, biased: rv.ref };
          const ref = backwardRef(x.ref, g.ref, shape, training, s.mean, s.biased, 1e-5, w?.ref ?? null);
          const ctx = `${JSON.stringify(shape)} training ${training} affine ${affine}`;
          expectClose(values(x.t.grad!), ref.dx, 1e-4, `dx ${ctx}`);
          if (w) expectClose(values(w.t.grad!), ref.dw, 1e-4, `dweight ${ctx}`);
          if (b) expectClose(values(b.t.grad!), ref.db, 1e-5, `dbias ${ctx}`);
        }
      }
    }
  });

  it('gradients match finite differences (train and eval, 1-d and 2-d)', () => {
    const rng = makeRng(seed + 6);
    for (const shape of [[5, 3], [3, 2, 4], [2, 3, 3, 2]]) {
      for (const training of [true, false]) {
        const c = shape[1];
        const x = randomTensor(rng, shape, -2, 2, true).t;
        const w = randomTensor(rng, [c], 0.5, 1.5, true).t, b = randomTensor(rng, [c], -0.5, 0.5, true).t;
        const rm = randomTensor(rng, [c], -1, 1).t, rv = randomTensor(rng, [c], 0.5, 2).t;
        const r = randomTensor(rng, shape).t;
        gradcheck((a, ww, bb) => F.batchNorm(a, { training, weight: ww, bias: bb, runningMean: training ? null : rm, runningVar: training ? null : rv }).mul(r).sum(),
          [x, w, b], { eps: 1e-2, tol: 2e-2, context: `${JSON.stringify(shape)} training ${training}` });
      }
    }
  });

  it('only the tensors that require grad get one (a frozen input, a frozen weight)', () => {
    const rng = makeRng(seed + 7);
    const shape = [4, 3, 5];
    const x = randomTensor(rng, shape, -1, 1).t;
    const w = randomTensor(rng, [3], 0.5, 1.5, true).t, b = randomTensor(rng, [3], -0.5, 0.5).t;
    F.batchNorm(x, { training: true, weight: w, bias: b }).sum().backward();
    expect(x.grad).toBeNull();
    expect(b.grad).toBeNull();
    // d/dw sum(xhat * w + b) = sum(xhat) = 0 per channel
    expectClose(values(w.grad!), [0, 0, 0], 1e-4);
  });

  it('under createGraph the composed backward gives the fused gradient and second derivatives match finite differences', () => {
    const rng = makeRng(seed + 8);
    for (const training of [true, false]) {
      const shape = [3, 2, 4];
      const x0 = randomTensor(rng, shape, -2, 2).t;
      const w = randomTensor(rng, [2], 0.5, 1.5, true).t;
      const rm = randomTensor(rng, [2], -1, 1).t, rv = randomTensor(rng, [2], 0.5, 2).t;
      const r = randomTensor(rng, shape).t, r2 = randomTensor(rng, shape).t;
      const opts = () => ({ training, weight: w, runningMean: training ? null : rm, runningVar: training ? null : rv });
      // the gradient of sum(bn(x) * r) for x, with or without recording it
      const gradOf = (x: Tensor, createGraph: boolean) => {
        const xs = x.detach().requiresGrad_();
        F.batchNorm(xs, opts()).mul(r).sum().backward(undefined, { createGraph });
        w.grad = null;
        return xs;
      };
      const fused = gradOf(x0, false).grad!;
      const xs = gradOf(x0, true);
      const composed = xs.grad!;
      expect(composed.requiresGrad).toBe(true);
      expectClose(values(composed), values(fused), 1e-5, `training ${training}`);
      xs.grad = null;
      composed.mul(r2).sum().backward();
      // In eval dx = g * w * invstd does not depend on x: no second derivative reaches it.
      const analytic = xs.grad ? values(xs.grad) : new Float64Array(numel(shape));
      if (training) expect(xs.grad).not.toBeNull();
      const numeric = new Float64Array(analytic.length);
      const h = 1e-2;
      const base = x0.data() as Float32Array;
      for (let i = 0; i < base.length; i++) {
        const at = (delta: number) => kd.tidy(() => {
          const xp = x0.clone();
          (xp.data() as Float32Array)[i] += delta;
          return gradOf(xp, false).grad!.mul(r2).sum().item();
        });
        numeric[i] = (at(h) - at(-h)) / (2 * h);
      }
      expectClose(analytic, numeric, 3e-2, `second derivative, training ${training}`);
    }
  });
});

interface FixtureStep { x: number[]; r: number[]; y: number[]; dx: number[]; dweight?: number[]; dbias?: number[]; running_mean?: number[]; running_var?: number[]; num_batches_tracked?: number }
interface FixtureCase {
  name: string; layer: 'BatchNorm1d' | 'BatchNorm2d'; shape: number[];
  options: { momentum?: number | null; eps?: number; affine?: boolean; track_running_stats?: boolean };
  weight: number[] | null; bias: number[] | null; train: FixtureStep[]; eval: { x: number[]; y: number[] };
}

describe('BatchNorm1d / BatchNorm2d against PyTorch (test/fixtures/batchnorm.expected.json)', () => {
  const fixture = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'batchnorm.expected.json'), 'utf8')) as { torch: string; cases: FixtureCase[] };
  for (const c of fixture.cases) {
    it(`${c.name}: outputs, gradients, running statistics and num_batches_tracked over ${c.train.length} steps, then eval (torch ${fixture.torch})`, () => {
      const o = c.options;
      const m = new kd.nn[c.layer](c.shape[1], { momentum: o.momentum, eps: o.eps, affine: o.affine, trackRunningStats: o.track_running_stats });
      const t = (v: number[], shape = c.shape) => kd.tensor(Float32Array.from(v)).reshape(shape);
      if (c.weight) kd.noGrad(() => { m.weight!.copy_(t(c.weight!, [c.shape[1]])); m.bias!.copy_(t(c.bias!, [c.shape[1]])); });
      c.train.forEach((s, step) => {
        const ctx = `${c.name} step ${step + 1}`;
        const x = t(s.x).requiresGrad_();
        const y = m.forward(x);
        expectClose(values(y), s.y, 1e-5, `${ctx} output`);
        y.mul(t(s.r)).sum().backward();
        expectClose(values(x.grad!), s.dx, 1e-4, `${ctx} input grad`);
        if (s.dweight) {
          expectClose(values(m.weight!.grad!), s.dweight, 1e-4, `${ctx} weight grad`);
          expectClose(values(m.bias!.grad!), s.dbias!, 1e-5, `${ctx} bias grad`);
          m.weight!.grad = null;
          m.bias!.grad = null;
        }
        if (s.running_mean) {
          expectClose(values(m.runningMean!), s.running_mean, 1e-6, `${ctx} running_mean`);
          expectClose(values(m.runningVar!), s.running_var!, 1e-6, `${ctx} running_var`);
          expect(m.numBatchesTracked!.item(), `${ctx} num_batches_tracked`).toBe(s.num_batches_tracked);
        }
      });
      m.eval();
      expectClose(values(m.forward(t(c.eval.x))), c.eval.y, 1e-5, `${c.name} eval`);
    });
  }
});

describe('batchNorm errors', () => {
  it('bad inputs throw the right KindlingError naming batchNorm and the shapes', () => {
    const x = kd.randn([4, 3, 5]);
    expectError(() => F.batchNorm(kd.zeros([4, 3], { dtype: 'int32' }), { training: true }), kd.DTypeError, 'batchNorm', 'int32');
    expectError(() => F.batchNorm(x, { training: true, weight: kd.ones([4]) }), kd.ShapeError, 'batchNorm', 'weight [4]', '[4,3,5]');
    expectError(() => F.batchNorm(x, { training: true, runningVar: kd.ones([3], { dtype: 'int32' }) }), kd.DTypeError, 'batchNorm', 'running_var');
    expectError(() => F.batchNorm(x, { training: false }), kd.ArgumentError, 'batchNorm', 'running statistics');
    expectError(() => F.batchNorm(kd.randn([1, 3]), { training: true }), kd.ShapeError, 'batchNorm', 'more than 1 value per channel', '[1,3]');
    expectError(() => F.batchNorm(kd.randn([3]), { training: true }), kd.ShapeError, 'batchNorm', '[3]');
    expectError(() => F.batchNorm(x, { training: true, momentum: Number.NaN }), kd.ArgumentError, 'batchNorm', 'momentum');
    expectError(() => F.batchNorm(x, { training: true, eps: -1 }), kd.ArgumentError, 'batchNorm', 'eps');
    const stat = kd.zeros([3]);
    expectError(() => F.batchNorm(x, { training: true, runningMean: stat, runningVar: stat }), kd.ArgumentError, 'batchNorm', 'running_mean and running_var');
  });
});
