// Each optimizer is stepped on a small problem and compared with a float64 transcription of
// torch.optim's update rule, for the option combinations that change the arithmetic.
import { afterEach, describe, expect, it, vi } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { Storage } from '../../lib/backend/storage.js';
import { Adagrad, Adam, AdamW, RMSprop, SGD, clipGradNorm, clipGradValue } from '../../lib/optim/index.js';
import type { Optimizer } from '../../lib/optim/index.js';
import { expectClose, freshSeed, makeRng } from '../helpers.js';

type Vec = Float64Array;
type RefGroup = Record<string, unknown> & { lr: number };

/** A float64 reference optimizer: updates params[i] in place given grads[i] and its group. */
interface RefOptimizer {
  step(params: Vec[], grads: Vec[], groups: RefGroup[]): void;
}

const SHAPES = [[3, 4], [5], [1]];
// Gradient magnitudes change from step to step so AMSGrad's running maximum matters.
const STEP_SCALE = [1, 3, 0.2, 2, 0.5, 1.5, 0.7];

/** A deterministic nonlinear gradient of the parameters, rounded to float32 (both sides get the same). */
function gradientOf(p: Vec, which: number, step: number): Vec {
  const g = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) {
    const c = Math.sin(1.3 * i + which);
    g[i] = Math.fround(STEP_SCALE[step] * ((p[i] - c) * (1 + 0.5 * Math.cos(i)) + 0.1 * p[i] * p[i]));
  }
  return g;
}

interface Problem {
  params: Tensor[];
  ref: Vec[];
}

function makeProblem(seed: number): Problem {
  const rng = makeRng(seed);
  const ref = SHAPES.map((s) => Float64Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => Math.fround(2 * rng() - 1)));
  const params = ref.map((r, i) => kd.tensor(Float32Array.from(r)).reshape(SHAPES[i]).requiresGrad_());
  return { params, ref };
}

function setGrads(params: Tensor[], grads: Vec[]): void {
  params.forEach((p, i) => {
    p.grad?.dispose();
    p.grad = kd.keep(kd.tensor(Float32Array.from(grads[i])).reshape(p.shape));
  });
}

// ---- float64 references of torch.optim's single-tensor update rules ------------------------------

function sgdRef(): RefOptimizer {
  const bufs = new Map<number, Vec>();
  return {
    step(params, grads, groups) {
      params.forEach((p, k) => {
        const o = groups[k] as RefGroup & { momentum: number; dampening: number; weightDecay: number; nesterov: boolean; maximize: boolean };
        const g = grads[k].map((v, i) => (o.maximize ? -v : v) + o.weightDecay * p[i]);
        let d: Vec = g;
        if (o.momentum !== 0) {
          let buf = bufs.get(k);
          if (!buf) buf = Float64Array.from(g);
          else for (let i = 0; i < g.length; i++) buf[i] = o.momentum * buf[i] + (1 - o.dampening) * g[i];
          bufs.set(k, buf);
          d = o.nesterov ? g.map((v, i) => v + o.momentum * buf![i]) : buf;
        }
        for (let i = 0; i < p.length; i++) p[i] -= o.lr * d[i];
      });
    },
  };
}

function adamRef(decoupled: boolean): RefOptimizer {
  const st = new Map<number, { step: number; m: Vec; v: Vec; vmax: Vec }>();
  return {
    step(params, grads, groups) {
      params.forEach((p, k) => {
        const o = groups[k] as RefGroup & { betas: [number, number]; eps: number; weightDecay: number; amsgrad: boolean; maximize: boolean };
        const [b1, b2] = o.betas;
        let s = st.get(k);
        if (!s) s = { step: 0, m: new Float64Array(p.length), v: new Float64Array(p.length), vmax: new Float64Array(p.length) };
        st.set(k, s);
        s.step++;
        for (let i = 0; i < p.length; i++) {
          let g = o.maximize ? -grads[k][i] : grads[k][i];
          if (decoupled) p[i] *= 1 - o.lr * o.weightDecay;
          else g += o.weightDecay * p[i];
          s.m[i] += (1 - b1) * (g - s.m[i]);
          s.v[i] = b2 * s.v[i] + (1 - b2) * g * g;
          const bc1 = 1 - b1 ** s.step, bc2 = 1 - b2 ** s.step;
          s.vmax[i] = Math.max(s.vmax[i], s.v[i]);
          const second = o.amsgrad ? s.vmax[i] : s.v[i];
          const denom = Math.sqrt(second) / Math.sqrt(bc2) + o.eps;
          p[i] -= (o.lr / bc1) * (s.m[i] / denom);
        }
      });
    },
  };
}

function rmspropRef(): RefOptimizer {
  const st = new Map<number, { sq: Vec; avg: Vec; buf: Vec }>();
  return {
    step(params, grads, groups) {
      params.forEach((p, k) => {
        const o = groups[k] as RefGroup & { alpha: number; eps: number; weightDecay: number; momentum: number; centered: boolean; maximize: boolean };
        let s = st.get(k);
        if (!s) s = { sq: new Float64Array(p.length), avg: new Float64Array(p.length), buf: new Float64Array(p.length) };
        st.set(k, s);
        for (let i = 0; i < p.length; i++) {
          const g = (o.maximize ? -grads[k][i] : grads[k][i]) + o.weightDecay * p[i];
          s.sq[i] = o.alpha * s.sq[i] + (1 - o.alpha) * g * g;
          let avg: number;
          if (o.centered) {
            s.avg[i] += (1 - o.alpha) * (g - s.avg[i]);
            avg = Math.sqrt(s.sq[i] - s.avg[i] * s.avg[i]);
          } else {
            avg = Math.sqrt(s.sq[i]);
          }
          avg += o.eps;
          if (o.momentum > 0) {
            s.buf[i] = o.momentum * s.buf[i] + g / avg;
            p[i] -= o.lr * s.buf[i];
          } else {
            p[i] -= (o.lr * g) / avg;
          }
        }
      });
    },
  };
}

function adagradRef(): RefOptimizer {
  const st = new Map<number, { step: number; sum: Vec }>();
  return {
    step(params, grads, groups) {
      params.forEach((p, k) => {
        const o = groups[k] as RefGroup & { lrDecay: number; weightDecay: number; initialAccumulatorValue: number; eps: number; maximize: boolean };
        let s = st.get(k);
        if (!s) s = { step: 0, sum: new Float64Array(p.length).fill(o.initialAccumulatorValue) };
        st.set(k, s);
        s.step++;
        const clr = o.lr / (1 + (s.step - 1) * o.lrDecay);
        for (let i = 0; i < p.length; i++) {
          const g = (o.maximize ? -grads[k][i] : grads[k][i]) + o.weightDecay * p[i];
          s.sum[i] += g * g;
          p[i] -= (clr * g) / (Math.sqrt(s.sum[i]) + o.eps);
        }
      });
    },
  };
}

// ---- the cases ------------------------------------------------------------------------------

type Options = Record<string, unknown>;
interface Kind {
  name: string;
  make: (params: Tensor[] | { params: Tensor[] }[], options: Options) => Optimizer;
  defaults: Options;
  ref: () => RefOptimizer;
  cases: Options[];
  /** Relative tolerance against float64 after the steps (default 1e-5). */
  tol?: number;
}

const SGD_DEFAULTS = { lr: 1e-3, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false };
const ADAM_DEFAULTS = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false };

const KINDS: Kind[] = [
  {
    name: 'SGD', make: (p, o) => new SGD(p as Tensor[], o), defaults: SGD_DEFAULTS, ref: sgdRef,
    cases: [
      { lr: 0.1 },
      { lr: 0.1, momentum: 0.9 },
      { lr: 0.05, momentum: 0.9, dampening: 0.3 },
      { lr: 0.05, momentum: 0.8, nesterov: true },
      { lr: 0.05, momentum: 0.5, weightDecay: 0.1, nesterov: true },
      { lr: 0.05, momentum: 0.5, weightDecay: 0.2, dampening: 0.1, maximize: true },
    ],
  },
  {
    name: 'Adam', make: (p, o) => new Adam(p as Tensor[], o), defaults: ADAM_DEFAULTS, ref: () => adamRef(false),
    cases: [
      {},
      { lr: 0.05 },
      { lr: 0.05, weightDecay: 0.1 },
      { lr: 0.05, amsgrad: true },
      { lr: 0.02, betas: [0.8, 0.95], eps: 1e-3, weightDecay: 0.05, amsgrad: true, maximize: true },
    ],
  },
  {
    name: 'AdamW', make: (p, o) => new AdamW(p as Tensor[], o), defaults: { ...ADAM_DEFAULTS, weightDecay: 1e-2 }, ref: () => adamRef(true),
    cases: [{}, { lr: 0.05, weightDecay: 0.3 }, { lr: 0.05, weightDecay: 0.1, amsgrad: true }],
  },
  {
    name: 'RMSprop', make: (p, o) => new RMSprop(p as Tensor[], o),
    defaults: { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, maximize: false }, ref: rmspropRef,
    cases: [{}, { momentum: 0.9 }, { centered: true }, { lr: 0.005, alpha: 0.9, centered: true, momentum: 0.5, weightDecay: 0.1 }],
    // centered: sqrt(v - mean(g)^2) cancels in float32 when the gradient barely varies (seen: 4.6e-5).
    tol: 1e-4,
  },
  {
    name: 'Adagrad', make: (p, o) => new Adagrad(p as Tensor[], o),
    defaults: { lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10, maximize: false }, ref: adagradRef,
    cases: [{}, { lr: 0.1, lrDecay: 0.1, weightDecay: 0.1, initialAccumulatorValue: 0.5 }, { lr: 0.1, maximize: true }],
  },
];

/** Steps kd's optimizer and the reference together `steps` times and compares the parameters. */
function runAgainstRef(kind: Kind, opt: Optimizer, problem: Problem, groupOf: RefGroup[], ref: RefOptimizer, steps: number, from = 0, context = ''): void {
  for (let s = from; s < from + steps; s++) {
    const grads = problem.ref.map((p, i) => gradientOf(p, i, s));
    setGrads(problem.params, grads);
    opt.step();
    ref.step(problem.ref, grads, groupOf);
  }
  // 1e-5: five float32 Adam steps (a sqrt and a division each) drift a few 1e-6 from float64 on
  // small tensors; a wrong rule is off by 1e-3 or more.
  // Measured against at least 0.1 per element: a one-element parameter that lands near zero would
  // otherwise turn float32 rounding into a large relative error (seen: 1.3e-4 at 3e-3).
  problem.params.forEach((p, i) => {
    const out = p.data(), ref = problem.ref[i];
    let err = 0, size = 0;
    for (let j = 0; j < ref.length; j++) {
      err += (out[j] - ref[j]) ** 2;
      size += ref[j] ** 2;
    }
    const rel = Math.sqrt(err) / Math.max(Math.sqrt(size), 0.1 * Math.sqrt(ref.length));
    expect(rel, `${kind.name} ${context} param ${i} relative error`).toBeLessThan(kind.tol ?? 1e-5);
  });
}

afterEach(() => vi.restoreAllMocks());

describe('optimizers match float64 transcriptions of torch.optim', () => {
  for (const kind of KINDS) {
    for (const options of kind.cases) {
      const seed = freshSeed();
      it(`${kind.name} ${JSON.stringify(options)}: 5 steps (seed ${seed})`, () => {
        const problem = makeProblem(seed);
        const opt = kind.make(problem.params, options);
        const group = { ...kind.defaults, ...options } as RefGroup;
        runAgainstRef(kind, opt, problem, SHAPES.map(() => group), kind.ref(), 5, 0, `seed ${seed}`);
      });
    }

    const seed = freshSeed();
    it(`${kind.name}: parameter groups with their own lr and options (seed ${seed})`, () => {
      const problem = makeProblem(seed);
      const special = { ...kind.cases[kind.cases.length - 1], lr: 0.03 };
      const opt = kind.make([{ params: problem.params.slice(0, 2), lr: 0.2 } as never, { params: [problem.params[2]], ...special } as never], kind.cases[1]);
      expect(opt.paramGroups.map((g) => g.lr)).toEqual([0.2, 0.03]);
      const g0 = { ...kind.defaults, ...kind.cases[1], lr: 0.2 } as RefGroup;
      // The constructor's options are the defaults of every group.
      const g1 = { ...kind.defaults, ...kind.cases[1], ...special } as RefGroup;
      runAgainstRef(kind, opt, problem, [g0, g0, g1], kind.ref(), 5, 0, `groups seed ${seed}`);
    });

    it(`${kind.name}: a state dict round trip continues identically (seed ${seed})`, () => {
      const options = kind.cases[kind.cases.length - 1];
      const a = makeProblem(seed), b = makeProblem(seed);
      const optA = kind.make(a.params, options);
      const group = { ...kind.defaults, ...options } as RefGroup;
      runAgainstRef(kind, optA, a, SHAPES.map(() => group), kind.ref(), 3);
      const sd = optA.stateDict();
      expect(sd.param_groups[0].params).toEqual([0, 1, 2]);
      expect(Object.keys(sd.param_groups[0])).not.toContain('weightDecay');
      expect(sd.param_groups[0].weight_decay).toBe(group.weightDecay);
      // b starts where a is now, with a fresh optimizer loaded from a's state (and other options).
      kd.noGrad(() => b.params.forEach((p, i) => p.copy_(a.params[i])));
      const optB = kind.make(b.params, { lr: 0.5 });
      optB.loadStateDict(sd);
      expect(optB.paramGroups[0].lr).toBe(optA.paramGroups[0].lr);
      for (let s = 3; s < 6; s++) {
        const grads = a.ref.map((p, i) => gradientOf(p, i, s));
        setGrads(a.params, grads);
        setGrads(b.params, grads);
        optA.step();
        optB.step();
      }
      a.params.forEach((p, i) => expect(Array.from(b.params[i].data()), `param ${i}`).toEqual(Array.from(p.data())));
    });
  }
});

describe('optimizer state dicts', () => {
  it('Adam names its buffers as PyTorch does and counts steps', () => {
    const { params } = makeProblem(1);
    const opt = new Adam(params, { amsgrad: true });
    setGrads(params.slice(0, 2), [new Float64Array(12).fill(1), new Float64Array(5).fill(1)]);
    opt.step();
    opt.step();
    const sd = opt.stateDict();
    // The third parameter never had a gradient, so it has no state.
    expect(Object.keys(sd.state)).toEqual(['0', '1']);
    expect(Object.keys(sd.state[0]).sort()).toEqual(['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq', 'step']);
    expect(sd.state[0].step).toBe(2);
    expect((sd.state[1].exp_avg as Tensor).shape).toEqual([5]);
    expect(sd.param_groups[0]).toMatchObject({ lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0, amsgrad: true });
  });

  it('SGD writes momentum_buffer; Adagrad has its sums from construction', () => {
    const { params } = makeProblem(2);
    const sgd = new SGD(params, { lr: 0.1, momentum: 0.9 });
    setGrads(params, SHAPES.map((s) => new Float64Array(s.reduce((a, b) => a * b, 1)).fill(0.5)));
    sgd.step();
    expect(Object.keys(sgd.stateDict().state[2])).toEqual(['momentum_buffer']);
    const ada = new Adagrad(params, { initialAccumulatorValue: 0.25 });
    const sd = ada.stateDict();
    expect(Object.keys(sd.state)).toEqual(['0', '1', '2']);
    expect(sd.state[0].step).toBe(0);
    expect(Array.from((sd.state[1].sum as Tensor).data())).toEqual([0.25, 0.25, 0.25, 0.25, 0.25]);
  });

  it('loadStateDict accepts a 0-d step tensor, copies the buffers, and rejects mismatches', () => {
    const { params } = makeProblem(3);
    const opt = new Adam(params, { lr: 0.1 });
    setGrads(params, SHAPES.map((s) => new Float64Array(s.reduce((a, b) => a * b, 1)).fill(0.5)));
    opt.step();
    const sd = opt.stateDict();
    const copy = { param_groups: sd.param_groups, state: { ...sd.state, 0: { ...sd.state[0], step: kd.tensor(1, { dtype: 'float32' }) } } };
    const other = new Adam(makeProblem(3).params);
    other.loadStateDict(copy);
    expect(other.state.size).toBe(3);
    const loaded = [...other.state.values()][0];
    expect(loaded.step).toBe(1);
    expect(loaded.expAvg).not.toBe(sd.state[0].exp_avg);
    expect(Array.from((loaded.expAvg as Tensor).data())).toEqual(Array.from((sd.state[0].exp_avg as Tensor).data()));

    const wrongShape = { param_groups: sd.param_groups, state: { 0: { ...sd.state[0], exp_avg: kd.zeros([2]) } } };
    expect(() => other.loadStateDict(wrongShape)).toThrow(/exp_avg.*shape \[2\]/);
    expect(() => other.loadStateDict({ param_groups: [], state: {} })).toThrow(kd.ArgumentError);
    // Loading its own state dict (the same tensors) must not free what it copies.
    const before = (opt.stateDict().state[0].exp_avg as Tensor).toArray();
    opt.loadStateDict(opt.stateDict());
    expect((opt.stateDict().state[0].exp_avg as Tensor).toArray()).toEqual(before);
    opt.step();
    const twoGroups = new Adam([{ params: [params[0]] }, { params: [params[1], params[2]] }]);
    expect(() => twoGroups.loadStateDict(sd)).toThrow(/1 parameter groups/);
  });
});

describe('optimizer behaviour', () => {
  it('zeroGrad disposes the gradients and sets them to null; step skips parameters without one', () => {
    const { params } = makeProblem(4);
    const opt = new SGD(params, { lr: 0.1, momentum: 0.9 });
    setGrads(params, SHAPES.map((s) => new Float64Array(s.reduce((a, b) => a * b, 1)).fill(1)));
    const g0 = params[0].grad!;
    opt.zeroGrad();
    expect(params.every((p) => p.grad === null)).toBe(true);
    expect(g0.isDisposed).toBe(true);
    const before = Array.from(params[1].data());
    setGrads([params[0]], [new Float64Array(12).fill(1)]);
    opt.step();
    expect(Array.from(params[1].data())).toEqual(before);
    expect(opt.state.has(params[1])).toBe(false);
    opt.zeroGrad(false);
    expect(Array.from(params[0].grad!.data())).toEqual(new Array(12).fill(0));
  });

  it('trains a linear model through real backward passes (Adam reaches a small loss)', () => {
    kd.manualSeed(11);
    const w = kd.zeros([3, 1], { requiresGrad: true });
    const b = kd.zeros([1], { requiresGrad: true });
    const x = kd.randn([64, 3]);
    const y = kd.tidy(() => x.matmul(kd.tensor([[1.5], [-2], [0.5]])).add(0.3));
    const opt = new Adam([w, b], { lr: 0.1 });
    let loss = Infinity;
    for (let i = 0; i < 200; i++) {
      loss = kd.tidy(() => {
        opt.zeroGrad();
        const l = x.matmul(w).add(b).sub(y).square().mean();
        l.backward();
        opt.step();
        return l.item();
      });
    }
    expect(loss).toBeLessThan(1e-4);
    expectClose(w.data(), [1.5, -2, 0.5], 1e-3, 'learned weights');
  });

  it('keeps its state alive through an enclosing tidy, and a later step leaves no temporaries behind', () => {
    const { params } = makeProblem(5);
    for (const opt of [new Adam(params, { amsgrad: true }), new RMSprop(params, { centered: true, momentum: 0.9 }), new SGD(params, { momentum: 0.9, weightDecay: 0.1, nesterov: true }), new Adagrad(params)]) {
      setGrads(params, SHAPES.map((s) => new Float64Array(s.reduce((a, b) => a * b, 1)).fill(0.3)));
      kd.tidy(() => opt.step());
      for (const s of opt.state.values()) for (const v of Object.values(s)) if (typeof v !== 'number') expect(v.isDisposed).toBe(false);
      const made: Storage[] = [];
      const allocate = Storage.allocate.bind(Storage);
      vi.spyOn(Storage, 'allocate').mockImplementation((device, bytes) => {
        const s = allocate(device, bytes);
        made.push(s);
        return s;
      });
      opt.step();
      vi.restoreAllMocks();
      // Adam's fused kernel updates in place and allocates nothing; the others run op by op.
      if (opt instanceof Adam) expect(made.length).toBe(0);
      else expect(made.length).toBeGreaterThan(0);
      expect(made.filter((s) => !s.freed).length, `${opt.constructor.name} storages left after a step`).toBe(0);
      opt.dispose();
    }
  });

  it('Adam and AdamW take the same steps through the fused kernel and op by op (a transposed gradient)', () => {
    for (const [Kind, options] of [[Adam, { weightDecay: 0.1, amsgrad: true }], [AdamW, { maximize: true }]] as const) {
      const fused = kd.tensor([[0.5, -1, 2], [0.25, 3, -0.75]]).requiresGrad_();
      const viaOps = kd.tensor([[0.5, -1, 2], [0.25, 3, -0.75]]).requiresGrad_();
      const a = new Kind([fused], { lr: 0.1, ...options }), b = new Kind([viaOps], { lr: 0.1, ...options });
      for (let step = 1; step <= 3; step++) {
        const g = [[0.3, -0.2 * step, 1], [2, 0.1, -0.5 / step]];
        fused.grad = kd.tensor(g);
        viaOps.grad = kd.tensor([[g[0][0], g[1][0]], [g[0][1], g[1][1]], [g[0][2], g[1][2]]]).transpose(0, 1);
        expect(viaOps.grad.isContiguous()).toBe(false);
        a.step();
        b.step();
        expectClose(fused.data(), viaOps.data(), 1e-6, `${Kind.name} step ${step}`);
      }
    }
  });

  it('the fused AdamW step over many tensors of mixed sizes and step counts (one pass over all their elements) matches float64 and gives the same bits on 1 and 2 threads', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const threadsAtStart = kd.getNumThreads();
    // Large tensors so that 2 threads split the pass inside and across tensors; empty and tiny ones between.
    const sizes = [70001, 3, 0, 1, 65536, 257, 130000, 5];
    const init = sizes.map((n) => Float32Array.from({ length: n }, () => rng() * 2 - 1));
    const grads = [1, 2, 3].map(() => sizes.map((n) => Float32Array.from({ length: n }, () => rng() * 2 - 1)));
    const options = { lr: 0.01, weightDecay: 0.1 };
    const results: Float32Array[][] = [];
    try {
      for (const threads of [1, 2]) {
        kd.setNumThreads(threads);
        const params = init.map((f) => kd.tensor(f).requiresGrad_());
        const opt = new AdamW(params, options);
        const refs = sizes.map(() => adamRef(true));
        const refParams = init.map((f) => Float64Array.from(f));
        for (let step = 0; step < 3; step++) {
          // Every other tensor gets no gradient on the first step, so one call mixes step counts.
          const active = sizes.map((_, k) => step > 0 || k % 2 === 0);
          params.forEach((p, k) => { p.grad = active[k] ? kd.tensor(grads[step][k]) : null; });
          opt.step();
          sizes.forEach((_, k) => {
            if (active[k]) refs[k].step([refParams[k]], [Float64Array.from(grads[step][k])], [{ ...ADAM_DEFAULTS, ...options }]);
          });
        }
        params.forEach((p, k) => expectClose(p.data(), refParams[k], 1e-5, `tensor ${k} (${sizes[k]}) threads ${threads} seed ${seed}`));
        results.push(params.map((p) => Float32Array.from(p.data() as Float32Array)));
        opt.dispose();
      }
    } finally {
      kd.setNumThreads(threadsAtStart);
    }
    expect(results[1], `1 vs 2 threads seed ${seed}`).toEqual(results[0]);
  });

  it('rejects bad hyperparameters and parameters with ArgumentError', () => {
    const { params } = makeProblem(6);
    expect(() => new SGD(params, { lr: -1 })).toThrow(/SGD: lr must be/);
    expect(() => new SGD(params, { nesterov: true })).toThrow(/Nesterov/);
    expect(() => new Adam(params, { betas: [1, 0.9] })).toThrow(/betas\[0\]/);
    expect(() => new Adam([])).toThrow(/empty parameter list/);
    expect(() => new Adam(params[0] as never)).toThrow(/single Tensor/);
    expect(() => new Adam([params[0], params[0]])).toThrow(/more than one/);
    expect(() => new Adam([kd.tensor([1, 2])])).toThrow(/float32/);
    const nonLeaf = kd.tidy(() => params[0].mul(2));
    expect(() => new SGD([nonLeaf])).toThrow(/non-leaf/);
    expect(() => new RMSprop(params, { alpha: -0.5 })).toThrow(kd.ArgumentError);
    expect(() => new Adagrad(params, { lrDecay: -1 })).toThrow(kd.ArgumentError);
  });
});

describe('gradient clipping', () => {
  function withGrads(seed: number): { params: Tensor[]; grads: Vec[] } {
    const rng = makeRng(seed);
    const params = SHAPES.map((s) => kd.zeros(s, { requiresGrad: true }));
    const grads = SHAPES.map((s) => Float64Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => Math.fround(4 * rng() - 2)));
    setGrads(params, grads);
    return { params, grads };
  }

  for (const normType of [2, 1, 3, Infinity]) {
    const seed = freshSeed();
    it(`clipGradNorm with normType ${normType} returns the total norm and scales by maxNorm / (norm + 1e-6) (seed ${seed})`, () => {
      const { params, grads } = withGrads(seed);
      const flat = grads.flatMap((g) => Array.from(g));
      const norm = normType === Infinity ? Math.max(...flat.map(Math.abs)) : flat.reduce((s, v) => s + Math.abs(v) ** normType, 0) ** (1 / normType);
      const maxNorm = norm / 3;
      const total = clipGradNorm(params, maxNorm, normType);
      expect(total.shape).toEqual([]);
      expect(Math.abs(total.item() - norm) / norm).toBeLessThan(1e-5);
      const coef = maxNorm / (norm + 1e-6);
      params.forEach((p, i) => expectClose(p.grad!.data(), grads[i].map((v) => v * coef), 1e-5, `grad ${i}`));
      // Under the limit nothing changes.
      const again = clipGradNorm(params, maxNorm * 2, normType);
      params.forEach((p, i) => expectClose(p.grad!.data(), grads[i].map((v) => v * coef), 1e-5, `grad ${i} unclipped`));
      total.dispose();
      again.dispose();
    });
  }

  it('clipGradNorm skips missing gradients, errors on non-finite norms when asked, and validates', () => {
    const p = kd.zeros([2], { requiresGrad: true });
    expect(clipGradNorm([p], 1).item()).toBe(0);
    p.grad = kd.keep(kd.tensor([Infinity, 1]));
    expect(() => clipGradNorm([p], 1, 2, true)).toThrow(/non-finite/);
    expect(() => clipGradNorm([p], 1, 0)).toThrow(kd.ArgumentError);
    expect(() => clipGradNorm(42 as never, 1)).toThrow(kd.ArgumentError);
  });

  it('clipGradValue clamps every gradient element', () => {
    const { params, grads } = withGrads(9);
    clipGradValue(params, 0.5);
    params.forEach((p, i) => expectClose(p.grad!.data(), grads[i].map((v) => Math.min(0.5, Math.max(-0.5, v))), 1e-7, `grad ${i}`));
    expect(() => clipGradValue(params, -1)).toThrow(kd.ArgumentError);
  });
});
