// LayerNorm, RMSNorm, BatchNorm1d/2d against float64 references and PyTorch's semantics:
// batch statistics (biased variance) in training, running statistics updated with the unbiased
// variance and momentum (or a cumulative average), eval on the running statistics, gradients.
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, freshSeed, gradcheck, makeRng, numel, randomTensor } from '../helpers.js';

const { nn } = kd;
const f64 = (t: Tensor) => Float64Array.from(t.data() as Float32Array);

function setValues(t: Tensor, v: ArrayLike<number>): void {
  kd.noGrad(() => {
    const src = kd.tensor(Float32Array.from(v)).reshape(t.shape);
    t.copy_(src);
    src.dispose();
  });
}

/** Normalises each row of `groups` contiguous blocks of `size` values: (x - mean) * scale(var, meanSq). */
function rowNormRef(x: Float64Array, size: number, f: (row: Float64Array) => Float64Array): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / size; r++) out.set(f(x.subarray(r * size, (r + 1) * size)), r * size);
  return out;
}

function layerNormRow(eps: number, w: ArrayLike<number> | null, b: ArrayLike<number> | null) {
  return (row: Float64Array) => {
    const m = row.reduce((a, v) => a + v, 0) / row.length;
    const v = row.reduce((a, x) => a + (x - m) ** 2, 0) / row.length;
    return row.map((x, i) => ((x - m) / Math.sqrt(v + eps)) * (w ? w[i] : 1) + (b ? b[i] : 0));
  };
}

describe('LayerNorm', () => {
  for (const [name, shape, normalized] of [
    ['the last dim', [3, 4, 10], [10]],
    ['the last two dims', [2, 3, 4, 5], [4, 5]],
    ['a 1-d input', [7], [7]],
    ['size-1 leading dims', [1, 1, 6], [6]],
  ] as [string, number[], number[]][]) {
    it(`over ${name} of ${JSON.stringify(shape)} matches float64 (affine weights, eps 1e-5 and 1e-2)`, () => {
      const seed = freshSeed();
      const rng = makeRng(seed);
      const size = numel(normalized);
      for (const eps of [1e-5, 1e-2]) {
        const ln = new nn.LayerNorm(normalized.length === 1 ? normalized[0] : normalized, { eps });
        const { ref: w } = randomTensor(rng, normalized, 0.5, 1.5);
        const { ref: b } = randomTensor(rng, normalized, -0.5, 0.5);
        setValues(ln.weight!, w);
        setValues(ln.bias!, b);
        const { t: x, ref } = randomTensor(rng, shape, -2, 3);
        const y = ln.forward(x);
        expect(y.shape).toEqual(shape);
        expectClose(f64(y), rowNormRef(ref, size, layerNormRow(eps, w, b)), 1e-5, `seed ${seed} eps ${eps}`);
      }
    });
  }

  it('without elementwise affine has no parameters and normalises only', () => {
    const seed = freshSeed();
    const ln = new nn.LayerNorm([3, 4], { elementwiseAffine: false });
    expect(ln.parameters()).toEqual([]);
    expect(Object.keys(ln.stateDict())).toEqual([]);
    const { t: x, ref } = randomTensor(makeRng(seed), [5, 3, 4], -1, 1);
    expectClose(f64(ln.forward(x)), rowNormRef(ref, 12, layerNormRow(1e-5, null, null)), 1e-5, `seed ${seed}`);
    const noBias = new nn.LayerNorm(4, { bias: false });
    expect(Object.keys(noBias.stateDict())).toEqual(['weight']);
  });

  it('on a non-contiguous (transposed) input matches float64', () => {
    const seed = freshSeed();
    const { t: xt } = randomTensor(makeRng(seed), [6, 4], -1, 1);
    const x = xt.transpose(0, 1);
    const ref = f64(x.contiguous());
    expectClose(f64(new nn.LayerNorm(6).forward(x)), rowNormRef(ref, 6, layerNormRow(1e-5, null, null)), 1e-5, `seed ${seed}`);
  });

  it('gradients for input, weight and bias match finite differences (1 and 2 normalised dims)', () => {
    const seed = freshSeed();
    const rng = makeRng(seed);
    for (const [shape, normalized] of [[[3, 5], [5]], [[2, 2, 3], [2, 3]]] as [number[], number[]][]) {
      const ln = new nn.LayerNorm(normalized);
      setValues(ln.weight!, randomTensor(rng, normalized, 0.5, 1.5).ref);
      setValues(ln.bias!, randomTensor(rng, normalized, -0.5, 0.5).ref);
      const { t: x } = randomTensor(rng, shape, -2, 2, true);
      const { t: r } = randomTensor(rng, shape);
      gradcheck((a, w, b) => kd.nn.functional.layerNorm(a, normalized, w, b, 1e-5).mul(r).sum(), [x, ln.weight!, ln.bias!], {
        eps: 1e-2, tol: 2e-2, context: `seed ${seed} ${JSON.stringify(shape)}`,
      });
    }
  });

  it('a shape that does not end in normalized_shape is a ShapeError naming layerNorm and the shapes', () => {
    const ln = new nn.LayerNorm([4, 5]);
    expect(() => ln.forward(kd.zeros([2, 5, 4]))).toThrowError(kd.ShapeError);
    expect(() => ln.forward(kd.zeros([2, 5, 4]))).toThrowError(/layerNorm.*\[2,5,4\].*\[4,5\]/);
    expect(() => ln.forward(kd.zeros([5]))).toThrowError(kd.ShapeError);
  });
});

describe('RMSNorm', () => {
  const rmsRow = (eps: number, w: ArrayLike<number> | null) => (row: Float64Array) => {
    const ms = row.reduce((a, x) => a + x * x, 0) / row.length;
    return row.map((x, i) => (x / Math.sqrt(ms + eps)) * (w ? w[i] : 1));
  };

  it('matches x / sqrt(mean(x^2) + eps) * w; eps defaults to float32 machine epsilon', () => {
    const seed = freshSeed();
    const rng = makeRng(seed);
    for (const eps of [null, 1e-6, 0.1]) {
      const rms = new nn.RMSNorm([3, 4], { eps });
      const { ref: w } = randomTensor(rng, [3, 4], 0.5, 1.5);
      setValues(rms.weight!, w);
      const { t: x, ref } = randomTensor(rng, [2, 5, 3, 4], -1, 1);
      const e = eps ?? 2 ** -23;
      expectClose(f64(rms.forward(x)), rowNormRef(ref, 12, rmsRow(e, w)), 1e-5, `seed ${seed} eps ${eps}`);
    }
    // The default eps shows on a row of zeros: 0 / sqrt(0 + eps) = 0, not NaN.
    expect(Array.from(f64(new nn.RMSNorm(3).forward(kd.zeros([3]))))).toEqual([0, 0, 0]);
  });

  it('gradients match finite differences; no affine means no parameters; bad shapes are ShapeErrors', () => {
    const seed = freshSeed();
    const rng = makeRng(seed);
    const rms = new nn.RMSNorm(5, { eps: 1e-5 });
    setValues(rms.weight!, randomTensor(rng, [5], 0.5, 1.5).ref);
    const { t: x } = randomTensor(rng, [3, 5], -2, 2, true);
    const { t: r } = randomTensor(rng, [3, 5]);
    gradcheck((a, w) => kd.nn.functional.rmsNorm(a, [5], w, 1e-5).mul(r).sum(), [x, rms.weight!], { context: `seed ${seed}` });
    expect(new nn.RMSNorm(5, { elementwiseAffine: false }).parameters()).toEqual([]);
    expect(() => rms.forward(kd.zeros([5, 3]))).toThrowError(/rmsNorm.*\[5,3\].*\[5\]/);
  });
});

/** Per-channel batch statistics of [N, C, ...]: mean, biased and unbiased variance. */
function channelStats(x: Float64Array, shape: number[]) {
  const [n, c] = shape;
  const inner = numel(shape.slice(2));
  const count = n * inner;
  const mean = new Float64Array(c), biased = new Float64Array(c), unbiased = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) {
    let s = 0;
    for (let i = 0; i < n; i++) for (let k = 0; k < inner; k++) s += x[(i * c + ch) * inner + k];
    mean[ch] = s / count;
    let q = 0;
    for (let i = 0; i < n; i++) for (let k = 0; k < inner; k++) q += (x[(i * c + ch) * inner + k] - mean[ch]) ** 2;
    biased[ch] = q / count;
    unbiased[ch] = q / (count - 1);
  }
  return { mean, biased, unbiased };
}

function batchNormRef(x: Float64Array, shape: number[], mean: ArrayLike<number>, variance: ArrayLike<number>, eps: number, w: ArrayLike<number> | null, b: ArrayLike<number> | null): Float64Array {
  const c = shape[1], inner = numel(shape.slice(2));
  return x.map((v, i) => {
    const ch = Math.floor(i / inner) % c;
    return ((v - mean[ch]) / Math.sqrt(variance[ch] + eps)) * (w ? w[ch] : 1) + (b ? b[ch] : 0);
  });
}

describe('BatchNorm', () => {
  const cases: [string, () => kd.nn.BatchNorm1d | kd.nn.BatchNorm2d, number[]][] = [
    ['BatchNorm1d on [N, C]', () => new nn.BatchNorm1d(4), [6, 4]],
    ['BatchNorm1d on [N, C, L]', () => new nn.BatchNorm1d(3), [4, 3, 5]],
    ['BatchNorm2d on [N, C, H, W]', () => new nn.BatchNorm2d(3), [2, 3, 4, 5]],
    ['BatchNorm2d with size-1 batch', () => new nn.BatchNorm2d(2), [1, 2, 3, 3]],
  ];

  for (const [name, make, shape] of cases) {
    it(`${name}: training uses batch stats and updates running stats (momentum 0.1, unbiased var); eval uses them`, () => {
      const seed = freshSeed();
      const rng = makeRng(seed);
      const bn = make();
      const c = shape[1];
      const { ref: w } = randomTensor(rng, [c], 0.5, 1.5);
      const { ref: b } = randomTensor(rng, [c], -0.5, 0.5);
      setValues(bn.weight!, w);
      setValues(bn.bias!, b);
      const rm = new Float64Array(c), rv = new Float64Array(c).fill(1);
      for (let step = 1; step <= 3; step++) {
        const { t: x, ref } = randomTensor(rng, shape, -1 + step, 2 + 2 * step);
        const s = channelStats(ref, shape);
        expectClose(f64(bn.forward(x) as Tensor), batchNormRef(ref, shape, s.mean, s.biased, 1e-5, w, b), 1e-5, `seed ${seed} step ${step}`);
        for (let ch = 0; ch < c; ch++) {
          rm[ch] = 0.9 * rm[ch] + 0.1 * s.mean[ch];
          rv[ch] = 0.9 * rv[ch] + 0.1 * s.unbiased[ch];
        }
        expectClose(f64(bn.runningMean!), rm, 1e-6, `running_mean seed ${seed} step ${step}`);
        expectClose(f64(bn.runningVar!), rv, 1e-6, `running_var seed ${seed} step ${step}`);
        expect(bn.numBatchesTracked!.item()).toBe(step);
      }
      bn.eval();
      const { t: x, ref } = randomTensor(rng, shape, -1, 1);
      expectClose(f64(bn.forward(x) as Tensor), batchNormRef(ref, shape, rm, rv, 1e-5, w, b), 1e-5, `eval seed ${seed}`);
      expect(bn.numBatchesTracked!.item(), 'eval does not count batches').toBe(3);
      expectClose(f64(bn.runningMean!), rm, 1e-6, 'eval leaves running_mean alone');
    });
  }

  it('momentum null keeps a cumulative average of the batch statistics', () => {
    const seed = freshSeed();
    const rng = makeRng(seed);
    const bn = new nn.BatchNorm1d(3, { momentum: null });
    const means: Float64Array[] = [], vars: Float64Array[] = [];
    for (let step = 1; step <= 4; step++) {
      const { t: x, ref } = randomTensor(rng, [5, 3], -step, 2 * step);
      bn.forward(x);
      const s = channelStats(ref, [5, 3]);
      means.push(s.mean);
      vars.push(s.unbiased);
      const avg = (list: Float64Array[]) => Float64Array.from({ length: 3 }, (_, ch) => list.reduce((a, m) => a + m[ch], 0) / list.length);
      expectClose(f64(bn.runningMean!), avg(means), 1e-6, `seed ${seed} step ${step}`);
      expectClose(f64(bn.runningVar!), avg(vars), 1e-6, `seed ${seed} step ${step}`);
    }
  });

  it('a custom momentum and eps are used', () => {
    const seed = freshSeed();
    const rng = makeRng(seed);
    const bn = new nn.BatchNorm1d(2, { momentum: 0.3, eps: 0.5, affine: false });
    const { t: x, ref } = randomTensor(rng, [4, 2], -1, 1);
    const s = channelStats(ref, [4, 2]);
    expectClose(f64(bn.forward(x)), batchNormRef(ref, [4, 2], s.mean, s.biased, 0.5, null, null), 1e-5, `seed ${seed}`);
    expectClose(f64(bn.runningMean!), s.mean.map((m) => 0.3 * m), 1e-6);
    expectClose(f64(bn.runningVar!), s.unbiased.map((v) => 0.7 + 0.3 * v), 1e-6);
  });

  it('trackRunningStats=false uses batch statistics in eval too and keeps no buffers', () => {
    const seed = freshSeed();
    const rng = makeRng(seed);
    const bn = new nn.BatchNorm2d(2, { trackRunningStats: false });
    expect(bn.buffers()).toEqual([]);
    bn.eval();
    const { t: x, ref } = randomTensor(rng, [3, 2, 2, 2], -1, 1);
    const s = channelStats(ref, [3, 2, 2, 2]);
    expectClose(f64(bn.forward(x)), batchNormRef(ref, [3, 2, 2, 2], s.mean, s.biased, 1e-5, [1, 1], [0, 0]), 1e-5, `seed ${seed}`);
  });

  it('affine=false has no parameters and still tracks running stats', () => {
    const bn = new nn.BatchNorm1d(3, { affine: false });
    expect(bn.parameters()).toEqual([]);
    bn.forward(kd.randn([4, 3]));
    expect(bn.numBatchesTracked!.item()).toBe(1);
  });

  it('training-mode gradients for input, weight and bias match finite differences (2-d, 3-d, 4-d)', () => {
    const seed = freshSeed();
    const rng = makeRng(seed);
    for (const shape of [[4, 3], [3, 2, 3], [2, 2, 2, 2]]) {
      const c = shape[1];
      const bn = shape.length === 4 ? new nn.BatchNorm2d(c) : new nn.BatchNorm1d(c);
      setValues(bn.weight!, randomTensor(rng, [c], 0.5, 1.5).ref);
      setValues(bn.bias!, randomTensor(rng, [c], -0.5, 0.5).ref);
      const { t: x } = randomTensor(rng, shape, -2, 2, true);
      const { t: r } = randomTensor(rng, shape);
      gradcheck((a) => (bn.forward(a) as Tensor).mul(r).sum(), [x, bn.weight!, bn.bias!], { eps: 1e-2, tol: 2e-2, context: `seed ${seed} ${JSON.stringify(shape)}` });
    }
  });

  it('eval-mode gradients are those of the affine map with the running statistics', () => {
    const seed = freshSeed();
    const rng = makeRng(seed);
    const bn = new nn.BatchNorm1d(3);
    setValues(bn.runningMean!, [0.5, -1, 2]);
    setValues(bn.runningVar!, [0.25, 4, 1]);
    setValues(bn.weight!, [2, 3, -1]);
    bn.eval();
    const { t: x } = randomTensor(rng, [4, 3], -1, 1, true);
    (bn.forward(x) as Tensor).sum().backward();
    const per = [2 / Math.sqrt(0.25 + 1e-5), 3 / Math.sqrt(4 + 1e-5), -1 / Math.sqrt(1 + 1e-5)];
    expectClose(f64(x.grad!), Array.from({ length: 12 }, (_, i) => per[i % 3]), 1e-6, `seed ${seed}`);
    expect(bn.runningMean!.grad).toBeNull();
  });

  it('wrong dims, wrong channel counts and one value per channel are ShapeErrors', () => {
    expect(() => new nn.BatchNorm1d(3).forward(kd.zeros([2, 3, 4, 5]))).toThrowError(kd.ShapeError);
    expect(() => new nn.BatchNorm1d(3).forward(kd.zeros([3]))).toThrowError(kd.ShapeError);
    expect(() => new nn.BatchNorm2d(3).forward(kd.zeros([2, 3, 4]))).toThrowError(kd.ShapeError);
    expect(() => new nn.BatchNorm1d(3).forward(kd.zeros([2, 4]))).toThrowError(/\[2,4\]/);
    expect(() => new nn.BatchNorm2d(3, { affine: false }).forward(kd.zeros([2, 4, 2, 2]))).toThrowError(kd.ShapeError);
    expect(() => new nn.BatchNorm1d(3).forward(kd.zeros([1, 3]))).toThrowError(/more than 1 value per channel/);
    // Eval needs no batch: one sample is fine.
    expect(new nn.BatchNorm1d(3).eval().forward(kd.zeros([1, 3])).shape).toEqual([1, 3]);
    expect(() => new nn.BatchNorm1d(0)).toThrowError(kd.ArgumentError);
  });
});
