// kd.nn layers against float64 references and PyTorch's documented semantics: default
// initialisation, Linear, Embedding, Dropout, Flatten/Unflatten, activations, shape errors.
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, freshSeed, gradcheck, makeRng, numel, randomTensor } from '../helpers.js';
import { erf } from '../ops/layouts.js';

const { nn } = kd;

const f64 = (t: Tensor) => Float64Array.from(t.data() as Float32Array);

function moments(v: ArrayLike<number>): { mean: number; variance: number; min: number; max: number } {
  let s = 0, min = Infinity, max = -Infinity;
  for (let i = 0; i < v.length; i++) { s += v[i]; min = Math.min(min, v[i]); max = Math.max(max, v[i]); }
  const mean = s / v.length;
  let q = 0;
  for (let i = 0; i < v.length; i++) q += (v[i] - mean) ** 2;
  return { mean, variance: q / v.length, min, max };
}

/** y[..., o] = Σ_i x[..., i] W[o, i] + b[o] in float64. */
function linearRef(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number> | null, rows: number, inF: number, outF: number): Float64Array {
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let acc = b ? b[o] : 0;
      for (let i = 0; i < inF; i++) acc += x[r * inF + i] * w[o * inF + i];
      y[r * outF + o] = acc;
    }
  }
  return y;
}

describe('default initialisation matches PyTorch\'s distributions', () => {
  it('Linear: weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)), variance bound^2/3', () => {
    const seed = freshSeed();
    kd.manualSeed(seed);
    const lin = new nn.Linear(400, 500);
    // float32 rounding may land a draw exactly on the float32 bound, a hair past the float64 one.
    const bound = Math.fround(1 / Math.sqrt(400));
    const w = moments(f64(lin.weight));
    expect(w.min, `seed ${seed}`).toBeGreaterThanOrEqual(-bound);
    expect(w.max, `seed ${seed}`).toBeLessThanOrEqual(bound);
    expect(w.max, `seed ${seed}: the whole range is used`).toBeGreaterThan(0.99 * bound);
    expect(Math.abs(w.mean), `seed ${seed}`).toBeLessThan(0.01 * bound);
    expect(w.variance / (bound * bound / 3), `seed ${seed}`).toBeCloseTo(1, 1);
    const b = moments(f64(lin.bias!));
    expect(b.min).toBeGreaterThanOrEqual(-bound);
    expect(b.max).toBeLessThanOrEqual(bound);
    expect(b.max - b.min, `seed ${seed}: bias spread like U(±1/sqrt(400))`).toBeGreaterThan(1.5 * bound);
    expect(lin.weight.requiresGrad && lin.bias!.requiresGrad).toBe(true);
    expect(lin.weight.shape).toEqual([500, 400]);
  });

  it('Conv2d: U(±1/sqrt(fan_in)) with fan_in = in/groups * kh * kw', () => {
    const seed = freshSeed();
    kd.manualSeed(seed);
    const conv = new nn.Conv2d(8, 256, [5, 3], { groups: 2 });
    expect(conv.weight.shape).toEqual([256, 4, 5, 3]);
    const bound = Math.fround(1 / Math.sqrt(4 * 5 * 3));
    const w = moments(f64(conv.weight));
    expect(w.min).toBeGreaterThanOrEqual(-bound);
    expect(w.max).toBeLessThanOrEqual(bound);
    expect(w.max).toBeGreaterThan(0.99 * bound);
    expect(w.variance / (bound * bound / 3), `seed ${seed}`).toBeCloseTo(1, 1);
    const b = moments(f64(conv.bias!));
    expect(b.min).toBeGreaterThanOrEqual(-bound);
    expect(b.max).toBeLessThanOrEqual(bound);
    expect(b.max - b.min, `seed ${seed}`).toBeGreaterThan(1.5 * bound);
  });

  it('Embedding: N(0, 1) with the padding row zero (negative padding_idx counts from the end)', () => {
    const seed = freshSeed();
    kd.manualSeed(seed);
    const emb = new nn.Embedding(2000, 64, { paddingIdx: -3 });
    expect(emb.paddingIdx).toBe(1997);
    const v = f64(emb.weight);
    const others = v.filter((_, i) => Math.floor(i / 64) !== 1997);
    const m = moments(others);
    expect(Math.abs(m.mean), `seed ${seed}`).toBeLessThan(0.02);
    expect(m.variance, `seed ${seed}`).toBeCloseTo(1, 1);
    expect(Array.from(v.subarray(1997 * 64, 1998 * 64))).toEqual(new Array(64).fill(0));
    expect(emb.weight.requiresGrad).toBe(true);
    expect(() => new nn.Embedding(5, 2, { paddingIdx: 5 })).toThrowError(kd.ArgumentError);
  });

  it('LayerNorm and BatchNorm start at weight 1, bias 0, running_mean 0, running_var 1, num_batches_tracked 0', () => {
    const ln = new nn.LayerNorm([2, 3]);
    expect(Array.from(ln.weight!.data())).toEqual(new Array(6).fill(1));
    expect(Array.from(ln.bias!.data())).toEqual(new Array(6).fill(0));
    expect(ln.weight!.shape).toEqual([2, 3]);
    const bn = new nn.BatchNorm2d(4);
    expect(Array.from(bn.weight!.data())).toEqual([1, 1, 1, 1]);
    expect(Array.from(bn.bias!.data())).toEqual([0, 0, 0, 0]);
    expect(Array.from(bn.runningMean!.data())).toEqual([0, 0, 0, 0]);
    expect(Array.from(bn.runningVar!.data())).toEqual([1, 1, 1, 1]);
    expect(bn.numBatchesTracked!.shape).toEqual([]);
    expect(bn.numBatchesTracked!.item()).toBe(0);
    expect(bn.runningMean!.requiresGrad).toBe(false);
    const rms = new nn.RMSNorm(5);
    expect(Array.from(rms.weight!.data())).toEqual([1, 1, 1, 1, 1]);
  });
});

describe('Linear', () => {
  const cases: [string, number[]][] = [['1-d', [7]], ['2-d', [5, 7]], ['3-d', [2, 3, 7]], ['size-1 batch', [1, 1, 7]]];
  for (const [name, shape] of cases) {
    for (const bias of [true, false]) {
      it(`on a ${name} input ${JSON.stringify(shape)} (bias=${bias}) matches float64`, () => {
        const seed = freshSeed();
        kd.manualSeed(seed);
        const rng = makeRng(seed);
        const lin = new nn.Linear(7, 9, { bias });
        const { t: x, ref } = randomTensor(rng, shape);
        const y = lin.forward(x);
        expect(y.shape).toEqual([...shape.slice(0, -1), 9]);
        const want = linearRef(ref, f64(lin.weight), bias ? f64(lin.bias!) : null, numel(shape) / 7, 7, 9);
        expectClose(f64(y), want, 1e-5, `seed ${seed}`);
      });
    }
  }

  it('on a transposed (non-contiguous) input matches float64, and its gradients match finite differences', () => {
    const seed = freshSeed();
    kd.manualSeed(seed);
    const rng = makeRng(seed);
    const lin = new nn.Linear(4, 3);
    const { t: xt } = randomTensor(rng, [4, 5]);
    const x = xt.transpose(0, 1);
    const xc = f64(x.contiguous());
    expectClose(f64(lin.forward(x)), linearRef(xc, f64(lin.weight), f64(lin.bias!), 5, 4, 3), 1e-5, `seed ${seed}`);
    const { t: xs } = randomTensor(rng, [2, 4], -1, 1, true);
    const r = randomTensor(rng, [2, 3]).t;
    gradcheck((a, w, b) => kd.nn.functional.linear(a, w, b).mul(r).sum(), [xs, lin.weight, lin.bias!], { context: `seed ${seed}` });
  });

  it('wrong in_features is a ShapeError naming linear and both shapes', () => {
    const lin = new nn.Linear(4, 3);
    expect(() => lin.forward(kd.zeros([2, 5]))).toThrowError(kd.ShapeError);
    expect(() => lin.forward(kd.zeros([2, 5]))).toThrowError(/linear.*\[2,5\].*\[3,4\]/i);
    expect(() => lin.forward(kd.zeros([]))).toThrowError(kd.ShapeError);
    expect(() => lin.forward(kd.zeros([2, 4], { dtype: 'int32' }))).toThrowError(kd.KindlingError);
    expect(() => new nn.Linear(0, 3)).toThrowError(kd.ArgumentError);
    expect(() => new nn.Linear(2.5, 3)).toThrowError(kd.ArgumentError);
  });
});

describe('Embedding', () => {
  for (const shape of [[], [5], [2, 3], [2, 1, 4]]) {
    it(`looks up rows for indices of shape ${JSON.stringify(shape)}`, () => {
      const seed = freshSeed();
      kd.manualSeed(seed);
      const rng = makeRng(seed);
      const emb = new nn.Embedding(10, 3);
      const idx = Array.from({ length: numel(shape) }, () => Math.floor(rng() * 10));
      const ids = kd.tensor(idx, { dtype: 'int32' }).reshape(shape);
      const out = emb.forward(ids);
      expect(out.shape).toEqual([...shape, 3]);
      const w = f64(emb.weight);
      const want = idx.flatMap((i) => [w[3 * i], w[3 * i + 1], w[3 * i + 2]]);
      expect(Array.from(f64(out)), `seed ${seed}`).toEqual(want);
    });
  }

  it('accumulates gradients of repeated indices and gives the padding row none', () => {
    const seed = freshSeed();
    kd.manualSeed(seed);
    const rng = makeRng(seed);
    const emb = new nn.Embedding(6, 2, { paddingIdx: 2 });
    const idx = [2, 0, 2, 4, 0, 0, 5, 2];
    const ids = kd.tensor(idx, { dtype: 'int32' }).reshape([2, 4]);
    const { t: r, ref: rr } = randomTensor(rng, [2, 4, 2]);
    const out = emb.forward(ids);
    expect(Array.from(f64(out).subarray(0, 2))).toEqual([0, 0]);
    out.mul(r).sum().backward();
    const want = new Float64Array(12);
    idx.forEach((i, k) => {
      if (i === 2) return;
      want[2 * i] += rr[2 * k];
      want[2 * i + 1] += rr[2 * k + 1];
    });
    expectClose(f64(emb.weight.grad!), want, 1e-6, `seed ${seed}`);
    expect(Array.from(f64(emb.weight.grad!).subarray(4, 6))).toEqual([0, 0]);
  });

  it('refuses out-of-range and negative indices and float indices', () => {
    const emb = new nn.Embedding(10, 3);
    expect(() => emb.forward(kd.tensor([1, 10], { dtype: 'int32' }))).toThrowError(kd.KindlingError);
    expect(() => emb.forward(kd.tensor([1, 10], { dtype: 'int32' }))).toThrowError(/embedding.*10/);
    expect(() => emb.forward(kd.tensor([-1], { dtype: 'int32' }))).toThrowError(kd.KindlingError);
    expect(() => emb.forward(kd.tensor([1.5, 2]))).toThrowError(kd.DTypeError);
  });
});

describe('Dropout', () => {
  it('in training zeroes a fraction p of 1e5 elements and scales survivors by 1/(1-p); eval is the identity', () => {
    const seed = freshSeed();
    kd.manualSeed(seed);
    for (const p of [0.1, 0.5, 0.8]) {
      const drop = new nn.Dropout(p);
      const x = kd.full([100, 1000], 3);
      const y = f64(drop.forward(x));
      let zeros = 0, wrong = 0;
      for (const v of y) {
        if (v === 0) zeros++;
        else if (Math.abs(v - 3 / (1 - p)) > 1e-5) wrong++;
      }
      expect(wrong, `survivors not scaled to 3/(1-p), seed ${seed} p ${p}`).toBe(0);
      // ±5 standard deviations of a binomial fraction over 1e5 draws.
      expect(Math.abs(zeros / 1e5 - p), `seed ${seed} p ${p}`).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / 1e5));
      drop.eval();
      const z = drop.forward(x);
      expect(z).not.toBe(x);
      expect(f64(z).every((v) => v === 3)).toBe(true);
    }
  });

  it('passes the same mask back in the gradient; p=0 and p=1 are exact', () => {
    const seed = freshSeed();
    kd.manualSeed(seed);
    const x = kd.ones([50, 40], { requiresGrad: true });
    const y = new nn.Dropout(0.3).forward(x);
    y.sum().backward();
    expect(Array.from(f64(x.grad!))).toEqual(Array.from(f64(y)));
    expect(f64(new nn.Dropout(0).forward(x)).every((v) => v === 1)).toBe(true);
    expect(f64(new nn.Dropout(1).forward(x)).every((v) => v === 0)).toBe(true);
    expect(() => new nn.Dropout(1.5)).toThrowError(kd.ArgumentError);
    expect(() => new nn.Dropout(-0.1)).toThrowError(kd.ArgumentError);
  });
});

describe('Flatten, Unflatten, Identity', () => {
  it('reshape without changing values, as PyTorch', () => {
    const seed = freshSeed();
    const { t: x, ref } = randomTensor(makeRng(seed), [2, 3, 4, 5]);
    const a = new nn.Flatten().forward(x);
    expect(a.shape).toEqual([2, 60]);
    expect(Array.from(f64(a))).toEqual(Array.from(ref));
    expect(new nn.Flatten(0, 2).forward(x).shape).toEqual([24, 5]);
    expect(new nn.Flatten(-2).forward(x).shape).toEqual([2, 3, 20]);
    const u = new nn.Unflatten(1, [3, 4]).forward(kd.zeros([2, 12, 5]));
    expect(u.shape).toEqual([2, 3, 4, 5]);
    const v = new nn.Unflatten(-1, [2, -1]).forward(kd.zeros([3, 8]));
    expect(v.shape).toEqual([3, 2, 4]);
    expect(() => new nn.Unflatten(1, [5, 3]).forward(kd.zeros([2, 12]))).toThrowError(kd.KindlingError);
    const xt = x.transpose(1, 3);
    const ft = new nn.Flatten().forward(xt);
    expect(ft.shape).toEqual([2, 60]);
    expect(Array.from(f64(ft))).toEqual(Array.from(f64(xt.contiguous())));
    const id = new nn.Identity().forward(x);
    expect(Array.from(f64(id))).toEqual(Array.from(ref));
  });
});

describe('activation modules match float64', () => {
  const gelu = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));
  const geluTanh = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  const softplus = (beta: number, threshold: number) => (x: number) => (beta * x > threshold ? x : Math.log1p(Math.exp(beta * x)) / beta);
  const elementwise: [string, kd.nn.Module, (x: number) => number][] = [
    ['ReLU', new nn.ReLU(), (x) => Math.max(x, 0)],
    ['LeakyReLU(0.2)', new nn.LeakyReLU(0.2), (x) => (x > 0 ? x : 0.2 * x)],
    ['GELU', new nn.GELU(), gelu],
    ['GELU(tanh)', new nn.GELU('tanh'), geluTanh],
    ['SiLU', new nn.SiLU(), (x) => x / (1 + Math.exp(-x))],
    ['Sigmoid', new nn.Sigmoid(), (x) => 1 / (1 + Math.exp(-x))],
    ['Tanh', new nn.Tanh(), Math.tanh],
    ['ELU(0.7)', new nn.ELU(0.7), (x) => (x > 0 ? x : 0.7 * Math.expm1(x))],
    ['Softplus', new nn.Softplus(), softplus(1, 20)],
    ['Softplus(beta=2, threshold=3)', new nn.Softplus(2, 3), softplus(2, 3)],
  ];
  for (const [name, m, ref] of elementwise) {
    it(`${name} on a [3,5,7] input in [-4, 4]`, () => {
      const seed = freshSeed();
      const { t: x, ref: xr } = randomTensor(makeRng(seed), [3, 5, 7], -4, 4);
      const y = (m.forward as (t: Tensor) => Tensor)(x);
      expect(y.shape).toEqual([3, 5, 7]);
      expectClose(f64(y), xr.map(ref), 1e-5, `${name} seed ${seed}`);
    });
  }

  for (const dim of [1, -1]) {
    it(`Softmax and LogSoftmax over dim ${dim} of a [4,6,3] input`, () => {
      const seed = freshSeed();
      const shape = [4, 6, 3];
      const { t: x, ref: xr } = randomTensor(makeRng(seed), shape, -3, 3);
      const d = dim < 0 ? dim + 3 : dim;
      const stride = d === 1 ? 3 : 1, n = shape[d];
      const soft = new Float64Array(xr.length), logSoft = new Float64Array(xr.length);
      for (let i = 0; i < xr.length; i++) {
        const base = i - (Math.floor(i / stride) % n) * stride;
        let mx = -Infinity;
        for (let k = 0; k < n; k++) mx = Math.max(mx, xr[base + k * stride]);
        let s = 0;
        for (let k = 0; k < n; k++) s += Math.exp(xr[base + k * stride] - mx);
        logSoft[i] = xr[i] - mx - Math.log(s);
        soft[i] = Math.exp(logSoft[i]);
      }
      expectClose(f64(new nn.Softmax(dim).forward(x)), soft, 1e-5, `seed ${seed}`);
      expectClose(f64(new nn.LogSoftmax(dim).forward(x)), logSoft, 1e-5, `seed ${seed}`);
    });
  }

  it('GELU and SiLU backward match finite differences', () => {
    const seed = freshSeed();
    const rng = makeRng(seed);
    for (const m of [new nn.GELU(), new nn.SiLU(), new nn.ELU(), new nn.Softplus()]) {
      const { t: x } = randomTensor(rng, [9], -2, 2, true);
      const { t: r } = randomTensor(rng, [9]);
      gradcheck((a) => (m.forward as (t: Tensor) => Tensor)(a).mul(r).sum(), [x], { eps: 1e-2, tol: 1e-2, context: `${m} seed ${seed}` });
    }
  });
});

/** Direct float64 cross-correlation over [N, C, H, W] (PyTorch's conv2d), zero padding. */
function conv2dRef(x: Float64Array, xs: number[], w: Float64Array, ws: number[], b: Float64Array | null,
  stride: [number, number], pad: [number, number], dil: [number, number], groups: number): { out: Float64Array; shape: number[] } {
  const [n, c, h, wd] = xs, [k, cg, kh, kw] = ws;
  const oh = Math.floor((h + 2 * pad[0] - dil[0] * (kh - 1) - 1) / stride[0]) + 1;
  const ow = Math.floor((wd + 2 * pad[1] - dil[1] * (kw - 1) - 1) / stride[1]) + 1;
  const out = new Float64Array(n * k * oh * ow);
  const kPerGroup = k / groups;
  for (let ni = 0; ni < n; ni++) for (let ki = 0; ki < k; ki++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) {
    let acc = b ? b[ki] : 0;
    const g = Math.floor(ki / kPerGroup);
    for (let ci = 0; ci < cg; ci++) for (let a = 0; a < kh; a++) for (let bb = 0; bb < kw; bb++) {
      const y = i * stride[0] - pad[0] + a * dil[0], xx = j * stride[1] - pad[1] + bb * dil[1];
      if (y < 0 || y >= h || xx < 0 || xx >= wd) continue;
      acc += x[((ni * c + g * cg + ci) * h + y) * wd + xx] * w[((ki * cg + ci) * kh + a) * kw + bb];
    }
    out[((ni * k + ki) * oh + i) * ow + j] = acc;
  }
  return { out, shape: [n, k, oh, ow] };
}

describe('Conv and pooling layers', () => {
  it('Conv2d (stride, padding, dilation, groups, no bias) matches a direct float64 convolution', () => {
    const seed = freshSeed();
    kd.manualSeed(seed);
    const rng = makeRng(seed);
    const configs: [number, number, [number, number], { stride?: number | [number, number]; padding?: number | [number, number]; dilation?: number; groups?: number; bias?: boolean }][] = [
      [3, 5, [3, 3], {}],
      [4, 6, [3, 2], { stride: [2, 1], padding: [1, 0], groups: 2 }],
      [2, 3, [2, 2], { dilation: 2, padding: 1, bias: false }],
    ];
    for (const [cin, cout, ks, opts] of configs) {
      const conv = new nn.Conv2d(cin, cout, ks, opts);
      const xs = [2, cin, 7, 6];
      const { t: x, ref } = randomTensor(rng, xs);
      const pr = (v: number | [number, number] | undefined, d: number): [number, number] => (v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : v);
      const want = conv2dRef(ref, xs, f64(conv.weight), conv.weight.shape, conv.bias ? f64(conv.bias) : null,
        pr(opts.stride, 1), pr(opts.padding, 0), pr(opts.dilation, 1), opts.groups ?? 1);
      const y = conv.forward(x);
      expect(y.shape).toEqual(want.shape);
      expectClose(f64(y), want.out, 1e-4, `seed ${seed} ${conv}`);
    }
  });

  it('Conv1d matches Conv2d on a height-1 input', () => {
    const seed = freshSeed();
    kd.manualSeed(seed);
    const rng = makeRng(seed);
    const c1 = new nn.Conv1d(3, 4, 3, { padding: 1, stride: 2 });
    const { t: x, ref } = randomTensor(rng, [2, 3, 9]);
    const want = conv2dRef(ref, [2, 3, 1, 9], f64(c1.weight), [4, 3, 1, 3], f64(c1.bias!), [1, 2], [0, 1], [1, 1], 1);
    const y = c1.forward(x);
    expect(y.shape).toEqual([2, 4, 5]);
    expectClose(f64(y), want.out, 1e-4, `seed ${seed}`);
  });

  it('the Keras MNIST CNN maps [2,1,28,28] to [2,10] and trains (every parameter gets a gradient)', () => {
    const seed = freshSeed();
    kd.manualSeed(seed);
    const cnn = new nn.Sequential(
      new nn.Conv2d(1, 32, 3), new nn.ReLU(), new nn.MaxPool2d(2),
      new nn.Conv2d(32, 64, 3), new nn.ReLU(), new nn.MaxPool2d(2),
      new nn.Conv2d(64, 64, 3), new nn.ReLU(),
      new nn.Flatten(), new nn.Linear(576, 64), new nn.ReLU(), new nn.Linear(64, 10),
    );
    const y = cnn.forward(kd.randn([2, 1, 28, 28])) as Tensor;
    expect(y.shape).toEqual([2, 10]);
    y.sum().backward();
    for (const [k, p] of cnn.namedParameters()) {
      expect(p.grad, k).not.toBeNull();
      expect(f64(p.grad!).some((v) => v !== 0), k).toBe(true);
    }
  });

  it('Sequential(ReLU, MaxPool2d) (run as pool then ReLU) gives the values and gradient of relu then pool, ties and all-negative windows included', () => {
    const seed = freshSeed();
    const rng = makeRng(seed);
    // Small integers: many zeros, ties and windows with no positive element.
    const data = Float32Array.from({ length: 2 * 3 * 7 * 9 }, () => Math.floor(rng() * 7) - 4);
    const upstream = Float32Array.from({ length: 2 * 3 * 4 * 5 }, () => rng() - 0.5);
    for (const [k, options] of [[2, {}], [3, { stride: 2, padding: 1 }], [2, { ceilMode: true }]] as const) {
      const a = kd.tensor(data).reshape([2, 3, 7, 9]).requiresGrad_();
      const b = kd.tensor(data).reshape([2, 3, 7, 9]).requiresGrad_();
      const seq = new nn.Sequential(new nn.ReLU(), new nn.MaxPool2d(k, options)).forward(a) as Tensor;
      const ref = kd.nn.functional.maxPool2d(kd.nn.functional.relu(b), k, { ...options, stride: options.stride ?? k });
      expect(seq.shape).toEqual(ref.shape);
      expect(f64(seq)).toEqual(f64(ref));
      const g = kd.tensor(upstream.subarray(0, ref.numel)).reshape(ref.shape);
      seq.backward(g);
      ref.backward(g);
      expect(f64(a.grad!), `k ${k} ${JSON.stringify(options)} seed ${seed}`).toEqual(f64(b.grad!));
    }
  });

  it('Sequential(Conv2d, ReLU, MaxPool2d) (one conv-pool node: pooled image by image, sparse backward) matches the layers run one by one', () => {
    const seed = freshSeed();
    const cases: { x: number[]; conv: [number, number, number, Record<string, unknown>]; pool: [number, Record<string, unknown>]; xGrad: boolean }[] = [
      { x: [3, 1, 12, 12], conv: [1, 5, 3, {}], pool: [2, {}], xGrad: false },
      { x: [4, 32, 13, 13], conv: [32, 16, 3, {}], pool: [2, {}], xGrad: true },
      { x: [2, 3, 9, 11], conv: [3, 7, 3, { stride: 2, padding: 1 }], pool: [3, { stride: 2, padding: 1, ceilMode: true }], xGrad: true },
      { x: [2, 4, 8, 8], conv: [4, 6, 3, { groups: 2, padding: 1, dilation: 2 }], pool: [2, { stride: 1 }], xGrad: true },
      { x: [3, 10, 10], conv: [3, 4, 3, { bias: false }], pool: [2, {}], xGrad: true },
      { x: [2, 5, 11, 10], conv: [5, 9, 3, { dilation: 2, padding: 2 }], pool: [2, {}], xGrad: true },
      { x: [2, 1, 9, 9], conv: [1, 3, 3, { padding: 1 }], pool: [2, {}], xGrad: true },
      { x: [2, 40, 7, 7], conv: [40, 3, 5, { padding: 2 }], pool: [3, { stride: 2 }], xGrad: true },
      // 64 KiB floats of conv output an image: the image-by-image forward takes one image a chunk.
      { x: [5, 2, 66, 66], conv: [2, 16, 3, {}], pool: [2, {}], xGrad: true },
    ];
    // The default ISA on 1 and 2 threads, and the portable (scalar-ISA) kernels on 1.
    const settings = [{ threads: 1, isa: kd.cpuIsa() }, { threads: 2, isa: kd.cpuIsa() }, { threads: 1, isa: 'scalar' as const }];
    const originalIsa = kd.cpuIsa();
    try {
      for (const { threads, isa } of settings) {
        kd.setNumThreads(threads);
        kd.setCpuIsa(isa);
        for (const [ci, cs] of cases.entries()) {
          const context = `case ${ci} threads ${threads} isa ${isa} seed ${seed}`;
          const rng = makeRng(seed + ci);
          kd.manualSeed(seed + ci);
          const [cin, cout, k, opts] = cs.conv;
          const conv = new nn.Conv2d(cin, cout, k, opts);
          const pool = new nn.MaxPool2d(cs.pool[0], cs.pool[1]);
          const fused = new nn.Sequential(conv, new nn.ReLU(), pool);
          const data = Float32Array.from({ length: numel(cs.x) }, () => 2 * rng() - 1);
          // Batched inputs reach the fused node as a strided view: stored [n, h, c, w], seen as [n, c, h, w].
          const asView = cs.x.length === 4 && ci % 2 === 1;
          const xa = asView
            ? kd.tensor(data).reshape([cs.x[0], cs.x[2], cs.x[1], cs.x[3]]).requiresGrad_(cs.xGrad)
            : kd.tensor(data).reshape(cs.x).requiresGrad_(cs.xGrad);
          const xb = kd.tensor(data).reshape(cs.x).requiresGrad_(cs.xGrad);
          const xin = asView ? xa.permute(0, 2, 1, 3) : xa;
          if (asView) expect(xin.isContiguous()).toBe(false);
          const ya = fused.forward(xin) as Tensor;
          const yb = pool.forward(kd.nn.functional.relu(conv.forward(asView ? xb.reshape([cs.x[0], cs.x[2], cs.x[1], cs.x[3]]).permute(0, 2, 1, 3) : xb)));
          expect(ya.shape, context).toEqual(yb.shape);
          expect(f64(ya), context).toEqual(f64(yb));
          const g = kd.tensor(Float32Array.from({ length: ya.numel }, () => rng() - 0.5)).reshape(ya.shape);
          ya.backward(g);
          const fusedGrads = [conv.weight.grad!, conv.bias?.grad].map((t) => (t ? f64(t) : null));
          conv.zeroGrad();
          yb.backward(g);
          expectClose(fusedGrads[0]!, f64(conv.weight.grad!), 1e-5, `weight grad ${context}`);
          if (conv.bias) expectClose(fusedGrads[1]!, f64(conv.bias.grad!), 1e-5, `bias grad ${context}`);
          if (cs.xGrad) expectClose(f64(xa.grad!), f64(xb.grad!), 1e-5, `input grad ${context}`);
          else expect(xa.grad).toBeNull();
          conv.zeroGrad();
        }
      }
    } finally {
      kd.setCpuIsa(originalIsa);
    }
  });

  it('MaxPool2d / AvgPool2d / AdaptiveAvgPool2d layers match float64 windows', () => {
    const seed = freshSeed();
    const { t: x, ref } = randomTensor(makeRng(seed), [1, 2, 4, 6]);
    const at = (c: number, i: number, j: number) => ref[(c * 4 + i) * 6 + j];
    const maxWant: number[] = [], avgWant: number[] = [];
    for (let c = 0; c < 2; c++) for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) {
      const win = [at(c, 2 * i, 2 * j), at(c, 2 * i, 2 * j + 1), at(c, 2 * i + 1, 2 * j), at(c, 2 * i + 1, 2 * j + 1)];
      maxWant.push(Math.max(...win));
      avgWant.push(win.reduce((a, v) => a + v, 0) / 4);
    }
    expectClose(f64(new nn.MaxPool2d(2).forward(x)), maxWant, 1e-6, `seed ${seed}`);
    expectClose(f64(new nn.AvgPool2d(2).forward(x)), avgWant, 1e-6, `seed ${seed}`);
    const gap = new nn.AdaptiveAvgPool2d(1).forward(x);
    expect(gap.shape).toEqual([1, 2, 1, 1]);
    expectClose(f64(gap), [0, 1].map((c) => ref.slice(c * 24, (c + 1) * 24).reduce((a, v) => a + v, 0) / 24), 1e-6);
  });

  it('wrong channel counts and bad arguments are KindlingErrors naming conv2d', () => {
    const conv = new nn.Conv2d(3, 4, 3);
    expect(() => conv.forward(kd.zeros([1, 2, 5, 5]))).toThrowError(kd.ShapeError);
    expect(() => conv.forward(kd.zeros([1, 2, 5, 5]))).toThrowError(/conv2d/);
    expect(() => conv.forward(kd.zeros([1, 3, 2, 2]))).toThrowError(kd.ShapeError);
    expect(() => new nn.Conv2d(3, 4, 3, { groups: 2 })).toThrowError(kd.ArgumentError);
    expect(() => new nn.Conv2d(0, 4, 3)).toThrowError(kd.ArgumentError);
  });
});
