// The common functionals added for PyTorch parity: binaryCrossEntropy(WithLogits), klDiv,
// hardtanh, groupNorm, interpolate, unfold, convTranspose2d, maxPool1d. Outputs and gradients
// are checked against PyTorch 2.13's (test/fixtures/make_common_ops_fixtures.py wrote them), then
// against finite differences on fresh seeded inputs, on non-contiguous views, and for the errors
// bad arguments raise.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { cpuBackend } from '../../lib/backend/cpu.js';
import { expectClose, freshSeed, gradcheck, makeRng, randomTensor } from '../helpers.js';

const F = kd.nn.functional;
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

interface Stored { shape: number[]; values: number[] }
interface Case {
  op: string;
  args: Record<string, unknown>;
  inputs: Record<string, Stored>;
  out: Stored;
  indices?: Stored;
  r?: Stored;
  grads?: Record<string, Stored>;
}
interface Fixture { torch: string; cases: Record<string, Case> }

const fixture = JSON.parse(readFileSync(join(FIXTURES, 'common_ops.expected.json'), 'utf8')) as Fixture;

type Args = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Inputs = Record<string, Tensor>;

/** Each fixture op called the kindling way, from the stored camelCase options. */
const RUN: Record<string, (i: Inputs, a: Args) => Tensor | [Tensor, Tensor]> = {
  binaryCrossEntropy: (i, a) => F.binaryCrossEntropy(i.input, i.target, { weight: i.weight, reduction: a.reduction }),
  binaryCrossEntropyWithLogits: (i, a) =>
    F.binaryCrossEntropyWithLogits(i.input, i.target, { weight: i.weight, posWeight: i.posWeight, reduction: a.reduction }),
  klDiv: (i, a) => F.klDiv(i.input, i.target, { reduction: a.reduction, logTarget: a.logTarget }),
  hardtanh: (i, a) => F.hardtanh(i.x, a.minVal, a.maxVal),
  groupNorm: (i, a) => F.groupNorm(i.x, a.numGroups, i.weight, i.bias, a.eps),
  interpolate: (i, a) => F.interpolate(i.x, a),
  unfold: (i, a) => F.unfold(i.x, a.kernelSize, a),
  convTranspose2d: (i, a) => F.convTranspose2d(i.x, i.weight, i.bias, a),
  maxPool1d: (i, a) => F.maxPool1d(i.x, a.kernelSize, a),
};

/** Relative tolerance: GEMM-based ops 1e-4, the rest 1e-5. */
const TOLERANCE: Record<string, number> = { convTranspose2d: 1e-4 };

function fromStored(s: Stored, requiresGrad = false): Tensor {
  const t = kd.tensor(s.values, { dtype: 'float32' }).reshape(s.shape);
  t.requiresGrad = requiresGrad;
  return t;
}

describe(`PyTorch ${fixture.torch} parity of the common functionals`, () => {
  for (const [name, c] of Object.entries(fixture.cases)) {
    it(`${c.op} (${name}) matches PyTorch's output and gradients`, () => {
      const tol = TOLERANCE[c.op] ?? 1e-5;
      const inputs: Inputs = {};
      for (const [k, s] of Object.entries(c.inputs)) inputs[k] = fromStored(s, Boolean(c.grads && k in c.grads));
      const result = RUN[c.op](inputs, c.args);
      const out = Array.isArray(result) ? result[0] : result;
      expect(out.shape).toEqual(c.out.shape);
      expectClose(out.data() as Float32Array, c.out.values, tol, `${name} output`);
      if (c.indices) {
        expect(Array.isArray(result)).toBe(true);
        const indices = (result as [Tensor, Tensor])[1];
        expect(indices.dtype).toBe('int32');
        expect(Array.from(indices.data())).toEqual(c.indices.values);
      }
      if (!c.grads) return;
      out.mul(fromStored(c.r!)).sum().backward();
      for (const [k, s] of Object.entries(c.grads)) {
        expect(inputs[k].grad, `${name}: ${k} has a gradient`).not.toBeNull();
        expectClose(inputs[k].grad!.data() as Float32Array, s.values, tol, `${name} gradient of ${k}`);
      }
    });
  }
});

// ---- finite differences on fresh inputs -------------------------------------------------------

/** A seeded random leaf requiring grad. */
function leaf(rng: () => number, shape: number[], lo = -1, hi = 1): Tensor {
  return randomTensor(rng, shape, lo, hi, true).t;
}

/**
 * A leaf stored with its last two dims swapped, and the view that presents it with `shape`:
 * finite differences perturb the leaf's storage, while the op sees a non-contiguous input.
 */
function transposedLeaf(rng: () => number, shape: number[], lo = -1, hi = 1): [Tensor, (t: Tensor) => Tensor] {
  const n = shape.length;
  const stored = [...shape];
  [stored[n - 1], stored[n - 2]] = [stored[n - 2], stored[n - 1]];
  const view = (t: Tensor) => {
    const v = t.transpose(n - 2, n - 1);
    expect(v.isContiguous()).toBe(false);
    return v;
  };
  return [leaf(rng, stored, lo, hi), view];
}

/** A scalar loss that weights every output element differently, so each gradient entry is tested. */
function weightedSum(rng: () => number): (y: Tensor) => Tensor {
  let r: Tensor | null = null;
  return (y) => {
    if (!r) r = kd.tensor(Array.from({ length: y.numel }, () => rng() * 2 - 1)).reshape(y.shape);
    return y.mul(r).sum();
  };
}

describe('gradients of the common functionals match finite differences', () => {
  it('binaryCrossEntropy (input and target, weighted) on a transposed view', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const [x, T] = transposedLeaf(rng, [3, 5], 0.1, 0.9), t = leaf(rng, [3, 5], 0, 1);
    const w = randomTensor(rng, [5], 0.5, 1.5).t;
    gradcheck((a, b) => F.binaryCrossEntropy(T(a), b, { weight: w }), [x, t], { eps: 1e-3, context: `seed ${seed}` });
  });

  it('binaryCrossEntropyWithLogits with weight and posWeight', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const x = leaf(rng, [4, 3], -3, 3), [t, T] = transposedLeaf(rng, [4, 3], 0, 1);
    const w = randomTensor(rng, [4, 1], 0.5, 1.5).t, pw = randomTensor(rng, [3], 0.5, 3).t;
    gradcheck((a, b) => F.binaryCrossEntropyWithLogits(a, T(b), { weight: w, posWeight: pw, reduction: 'sum' }), [x, t],
      { context: `seed ${seed}` });
  });

  for (const logTarget of [false, true]) {
    it(`klDiv (logTarget ${logTarget}, batchmean) for input and target`, () => {
      const seed = freshSeed(), rng = makeRng(seed);
      const [x, T] = transposedLeaf(rng, [3, 5], -3, -0.2);
      const t = logTarget ? leaf(rng, [3, 5], -3, -0.2) : leaf(rng, [3, 5], 0.05, 1);
      gradcheck((a, b) => F.klDiv(T(a), b, { reduction: 'batchmean', logTarget }), [x, t], { eps: 1e-3, context: `seed ${seed}` });
    });
  }

  it('hardtanh away from its corners, and zero gradient outside [minVal, maxVal]', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    // Values kept 0.05 or more from the corners at -0.5 and 1.5, so the finite differences are smooth.
    const values = Array.from({ length: 35 }, () => {
      const v = -3 + 6 * rng();
      return Math.abs(v + 0.5) < 0.05 || Math.abs(v - 1.5) < 0.05 ? v + 0.2 : v;
    });
    const x = kd.tensor(values, { requiresGrad: true });
    const loss = weightedSum(rng);
    gradcheck((a) => loss(F.hardtanh(a.reshape([7, 5]).transpose(0, 1), -0.5, 1.5)), [x], { eps: 1e-3, context: `seed ${seed}` });
    const edge = kd.tensor([-0.5, 1.5, 0, -2, 2], { requiresGrad: true });
    F.hardtanh(edge, -0.5, 1.5).sum().backward();
    expect(Array.from(edge.grad!.data())).toEqual([0, 0, 1, 0, 0]);
  });

  it('groupNorm (input, weight and bias) over a transposed 4-d input with odd sizes', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const [x, T] = transposedLeaf(rng, [2, 6, 3, 5], -2, 2);
    const w = leaf(rng, [6], 0.5, 1.5), b = leaf(rng, [6]);
    const loss = weightedSum(rng);
    gradcheck((a, ww, bb) => loss(F.groupNorm(T(a), 3, ww, bb)), [x, w, b], { eps: 1e-2, tol: 3e-2, context: `seed ${seed}` });
  });

  for (const [mode, alignCorners, opts] of [
    ['bilinear', false, { size: [5, 7] }], ['bilinear', true, { size: [4, 9] }], ['bilinear', false, { scaleFactor: [0.7, 1.6] }],
    ['nearest', null, { size: [7, 4] }],
  ] as const) {
    it(`interpolate ${mode} ${JSON.stringify(opts)}${alignCorners ? ' alignCorners' : ''} on a transposed view`, () => {
      const seed = freshSeed(), rng = makeRng(seed);
      const [x, T] = transposedLeaf(rng, [2, 2, 3, 5]);
      const loss = weightedSum(rng);
      gradcheck((a) => loss(F.interpolate(T(a), { mode, alignCorners, ...opts })), [x], { context: `seed ${seed}` });
    });
  }

  it('interpolate linear (1-d) with alignCorners, upsampling and downsampling', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const [x, T] = transposedLeaf(rng, [2, 6, 3]);
    const loss = weightedSum(rng), loss2 = weightedSum(rng);
    gradcheck((a) => loss(F.interpolate(T(a), { size: 11, mode: 'linear', alignCorners: true })), [x], { context: `seed ${seed}` });
    gradcheck((a) => loss2(F.interpolate(T(a), { scaleFactor: 0.6, mode: 'linear' })), [x], { context: `seed ${seed}` });
  });

  for (const scaleFactor of [1.1, 2.05]) {
    it(`interpolate nearest 1-d with scaleFactor ${scaleFactor}: the gradient is the forward's adjoint`, () => {
      const seed = freshSeed(), rng = makeRng(seed);
      const x = leaf(rng, [2, 3, 5]);
      const loss = weightedSum(rng);
      gradcheck((a) => loss(F.interpolate(a, { scaleFactor })), [x], { context: `seed ${seed}` });
    });
  }

  it('unfold with padding, dilation and stride on a transposed view', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const [x, T] = transposedLeaf(rng, [2, 3, 5, 4]);
    const loss = weightedSum(rng);
    gradcheck((a) => loss(F.unfold(T(a), [2, 3], { padding: [1, 1], dilation: [2, 1], stride: [1, 2] })), [x], { context: `seed ${seed}` });
  });

  const convTransposeCases: [string, kd.nn.functional.ConvTranspose2dOptions][] = [
    ['stride 2, outputPadding 1', { stride: 2, padding: 1, outputPadding: 1 }],
    ['groups 2, dilation 2, stride [1, 3]', { groups: 2, dilation: 2, stride: [1, 3], outputPadding: [0, 2] }],
  ];
  for (const [label, opts] of convTransposeCases) {
    it(`convTranspose2d (input, weight, bias) with ${label} on a transposed view`, () => {
      const seed = freshSeed(), rng = makeRng(seed);
      const [x, T] = transposedLeaf(rng, [2, 4, 3, 5]);
      const w = leaf(rng, [4, 3, 3, 2]), b = leaf(rng, [3 * (opts.groups ?? 1)]);
      const loss = weightedSum(rng);
      gradcheck((a, ww, bb) => loss(F.convTranspose2d(T(a), ww, bb, opts)), [x, w, b], { context: `seed ${seed}` });
    });
  }

  it('maxPool1d with padding, dilation and ceilMode on a transposed view', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    // A permutation of well-separated values, so no finite-difference step changes the argmax.
    const n = 2 * 3 * 11;
    const perm = Array.from({ length: n }, (_, i) => i).sort(() => rng() - 0.5);
    const x = kd.tensor(perm.map((v) => v / 10), { requiresGrad: true });
    const loss = weightedSum(rng);
    gradcheck((a) => loss(F.maxPool1d(a.reshape([2, 11, 3]).transpose(1, 2), 3, { stride: 2, padding: 1, dilation: 2, ceilMode: true })), [x],
      { eps: 1e-2, context: `seed ${seed}` });
  });
});

// ---- views and references ---------------------------------------------------------------------

describe('the common functionals against plain references', () => {
  // [n, inC, h, w, outC, kh, kw, stride, padding, outputPadding, dilation, groups]: odd sizes, batches on
  // either side of the CPU's per-image threading, output padding past the stride (dilation 3) and
  // output rows no window reaches (stride 3, padding 0).
  const geometries = [
    [2, 3, 4, 3, 5, 3, 2, 2, 1, 1, 2, 1], [5, 4, 6, 7, 6, 3, 3, 1, 1, 0, 1, 2], [1, 2, 3, 3, 3, 2, 2, 3, 0, 2, 1, 1],
    [3, 4, 5, 4, 2, 2, 3, 1, 2, 2, 3, 2], [6, 8, 9, 9, 16, 3, 3, 2, 1, 1, 1, 1],
  ];
  for (const geometry of geometries) {
    it(`convTranspose2d ${JSON.stringify(geometry)}: output, input, weight and bias gradients match float64 scatter references`, () => {
      const seed = freshSeed(), rng = makeRng(seed);
      const [n, cin, h, w, cout, kh, kw, s, p, op, dil, groups] = geometry;
      const cinG = cin / groups, coutG = cout / groups;
      const x = randomTensor(rng, [n, cin, h, w], -1, 1, true), wt = randomTensor(rng, [cin, coutG, kh, kw], -1, 1, true);
      const b = randomTensor(rng, [cout], -1, 1, true);
      const y = F.convTranspose2d(x.t, wt.t, b.t, { stride: s, padding: p, outputPadding: op, dilation: dil, groups });
      const oh = (h - 1) * s - 2 * p + dil * (kh - 1) + op + 1, ow = (w - 1) * s - 2 * p + dil * (kw - 1) + op + 1;
      expect(y.shape).toEqual([n, cout, oh, ow]);
      const gy = randomTensor(rng, [n, cout, oh, ow]);
      y.mul(gy.t).sum().backward();
      const ref = new Float64Array(n * cout * oh * ow), dx = new Float64Array(x.ref.length), dw = new Float64Array(wt.ref.length);
      const db = new Float64Array(cout);
      for (let i = 0; i < n; i++) for (let o = 0; o < cout; o++) for (let q = 0; q < oh * ow; q++) {
        ref[(i * cout + o) * oh * ow + q] = b.ref[o];
        db[o] += gy.ref[(i * cout + o) * oh * ow + q];
      }
      // Input pixel (c, yy, xx) adds x · weight[c, o', a, e] at output (yy·s − p + a·dil, xx·s − p + e·dil) of channel o in c's group.
      for (let i = 0; i < n; i++) for (let c = 0; c < cin; c++) for (let yy = 0; yy < h; yy++) for (let xx = 0; xx < w; xx++) {
        const xi = ((i * cin + c) * h + yy) * w + xx;
        for (let o2 = 0; o2 < coutG; o2++) for (let a = 0; a < kh; a++) for (let e = 0; e < kw; e++) {
          const Y = yy * s - p + a * dil, X = xx * s - p + e * dil;
          if (Y < 0 || Y >= oh || X < 0 || X >= ow) continue;
          const o = Math.floor(c / cinG) * coutG + o2, yi = ((i * cout + o) * oh + Y) * ow + X, wi = ((c * coutG + o2) * kh + a) * kw + e;
          ref[yi] += x.ref[xi] * wt.ref[wi];
          dx[xi] += gy.ref[yi] * wt.ref[wi];
          dw[wi] += gy.ref[yi] * x.ref[xi];
        }
      }
      const ctx = `seed ${seed}`;
      expectClose(y.data() as Float32Array, ref, 1e-5, `output ${ctx}`);
      expectClose(x.t.grad!.data() as Float32Array, dx, 1e-5, `input gradient ${ctx}`);
      expectClose(wt.t.grad!.data() as Float32Array, dw, 1e-5, `weight gradient ${ctx}`);
      expectClose(b.t.grad!.data() as Float32Array, db, 1e-5, `bias gradient ${ctx}`);
    });
  }

  it('unfold copies the window elements exactly, infinities included, and zeros in the padding', () => {
    const x = kd.tensor([[1, 2, 3], [4, Infinity, 6]]).reshape([1, 1, 2, 3]);
    const cols = F.unfold(x, 2, { padding: 1, stride: 2 });
    // Windows at rows -1 and 1, columns -1 and 1: 2x2 blocks, each column a window's 4 taps.
    expect(cols.shape).toEqual([1, 4, 4]);
    expect(cols.toArray()).toEqual([[[0, 0, 0, Infinity], [0, 0, 4, 6], [0, 2, 0, 0], [1, 3, 0, 0]]]);
  });

  it('every functional gives the same result on a non-contiguous view as on its contiguous copy', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const base = randomTensor(rng, [2, 4, 6, 5]).t;
    const view = base.permute(0, 1, 3, 2);
    const dense = view.contiguous();
    const w = randomTensor(rng, [5, 2, 3, 3]).t;
    const calls: [string, (t: Tensor) => Tensor][] = [
      ['hardtanh', (t) => F.hardtanh(t, -0.3, 0.4)],
      ['groupNorm', (t) => F.groupNorm(t, 2)],
      ['interpolate bilinear', (t) => F.interpolate(t, { size: [4, 9], mode: 'bilinear' })],
      ['interpolate nearest', (t) => F.interpolate(t, { scaleFactor: 1.5 })],
      ['unfold', (t) => F.unfold(t, 2, { padding: 1 })],
      ['convTranspose2d', (t) => F.convTranspose2d(t, w.slice(0, 0, 4), null, { stride: 2 })],
      ['maxPool1d', (t) => F.maxPool1d(t.reshape([8, 5, 6]).transpose(1, 2), 2)],
      ['klDiv', (t) => F.klDiv(t, t.abs(), { reduction: 'none' })],
      ['binaryCrossEntropy', (t) => F.binaryCrossEntropy(t.sigmoid(), t.abs().clamp(0, 1), { reduction: 'none' })],
    ];
    for (const [name, f] of calls) {
      const a = f(view), b = f(dense);
      expect(a.shape, name).toEqual(b.shape);
      expectClose(a.data() as Float32Array, b.data() as Float32Array, 1e-6, `${name} seed ${seed}`);
    }
  });

  it('interpolate nearest with an integer factor repeats each element; a size-preserving call is a copy', () => {
    const x = kd.tensor([[[[1, 2], [3, 4]]]], { dtype: 'float32' });
    expect(F.interpolate(x, { scaleFactor: 2 }).toArray()).toEqual([[[[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]]]);
    const same = F.interpolate(x, { size: 2, mode: 'bilinear' });
    expect(same.toArray()).toEqual(x.toArray());
    expect(same).not.toBe(x);
  });

  it('maxPool1d returns int32 positions along L when asked for indices', () => {
    const x = kd.tensor([[[3, 1, 4, 1, 5, 9, 2, 6]]], { dtype: 'float32' });
    const [values, indices] = F.maxPool1d(x, 3, { stride: 2, returnIndices: true });
    expect(values.toArray()).toEqual([[[4, 5, 9]]]);
    expect(indices.toArray()).toEqual([[[2, 4, 5]]]);
  });

  it('binaryCrossEntropy clamps log(0) at -100 as PyTorch does', () => {
    const loss = F.binaryCrossEntropy(kd.tensor([0, 1], { dtype: 'float32' }), kd.tensor([1, 0], { dtype: 'float32' }), { reduction: 'none' });
    expect(Array.from(loss.data())).toEqual([100, 100]);
    expect(F.binaryCrossEntropy).toBe(F.bceLoss);
    expect(F.binaryCrossEntropyWithLogits).toBe(F.bceWithLogitsLoss);
  });
});

// ---- memory -----------------------------------------------------------------------------------

/** The CPU blocks fn allocates and leaves allocated (counted at the backend, so nothing hides). */
function blocksLeftBy(fn: () => void): number {
  const live = new Set<unknown>();
  const { alloc, free } = cpuBackend;
  cpuBackend.alloc = (bytes) => { const h = alloc.call(cpuBackend, bytes); live.add(h); return h; };
  cpuBackend.free = (h) => { live.delete(h); free.call(cpuBackend, h); };
  try {
    fn();
  } finally {
    cpuBackend.alloc = alloc;
    cpuBackend.free = free;
  }
  return live.size;
}

describe('the common functionals free their temporaries', () => {
  const leafOf = (t: Tensor) => { t.requiresGrad = true; return t; };
  // Inputs are made by the test (leaves get gradients); the op alone runs between them and the checks.
  const calls: [string, () => Tensor[], (...xs: Tensor[]) => Tensor][] = [
    ['binaryCrossEntropy', () => [leafOf(kd.full([3, 4], 0.3)), leafOf(kd.rand([3, 4]))], (a, b) => F.binaryCrossEntropy(a, b)],
    ['binaryCrossEntropyWithLogits', () => [leafOf(kd.randn([3, 4])), leafOf(kd.rand([3, 4])), kd.ones([4])],
      (a, b, pw) => F.binaryCrossEntropyWithLogits(a, b, { posWeight: pw })],
    ['klDiv', () => [leafOf(kd.randn([3, 4])), leafOf(kd.rand([3, 4]))], (a, b) => F.klDiv(a, b, { reduction: 'batchmean' })],
    ['hardtanh', () => [leafOf(kd.randn([3, 4]))], (a) => F.hardtanh(a, -0.5, 0.5)],
    ['groupNorm', () => [leafOf(kd.randn([2, 4, 3])), leafOf(kd.randn([4])), leafOf(kd.randn([4]))], (a, w, b) => F.groupNorm(a, 2, w, b)],
    ['interpolate', () => [leafOf(kd.randn([1, 2, 3, 4]))], (a) => F.interpolate(a, { size: [5, 7], mode: 'bilinear' })],
    ['unfold', () => [leafOf(kd.randn([1, 2, 4, 4]))], (a) => F.unfold(a, 2, { padding: 1 })],
    ['convTranspose2d', () => [leafOf(kd.randn([1, 2, 3, 3])), leafOf(kd.randn([2, 3, 2, 2])), leafOf(kd.randn([3]))],
      (a, w, b) => F.convTranspose2d(a, w, b, { stride: 2, outputPadding: 1 })],
    ['maxPool1d', () => [leafOf(kd.randn([2, 3, 7]))], (a) => F.maxPool1d(a, 2)],
  ];
  for (const [name, makeInputs, f] of calls) {
    it(`${name}: forward, backward and disposing inputs, output and gradients leave no block allocated`, () => {
      const left = blocksLeftBy(() => {
        const xs = makeInputs();
        const y = f(...xs);
        const loss = y.sum();
        loss.backward();
        for (const t of [loss, y]) t.dispose();
        for (const x of xs) {
          if (x.requiresGrad) {
            expect(x.grad, name).not.toBeNull();
            x.grad!.dispose();
          }
          x.dispose();
        }
      });
      expect(left, `${name}: blocks still allocated`).toBe(0);
    });
  }
});

// ---- errors -----------------------------------------------------------------------------------

describe('bad arguments to the common functionals raise errors naming the op and the shapes', () => {
  const x4 = () => kd.zeros([2, 4, 5, 5]);
  const cases: [string, () => unknown, typeof kd.KindlingError, RegExp][] = [
    ['klDiv shape mismatch', () => F.klDiv(kd.zeros([2, 3]), kd.zeros([3, 2])), kd.ShapeError, /klDiv.*\[2,3\].*\[3,2\]/],
    ['klDiv bad reduction', () => F.klDiv(kd.zeros([2]), kd.zeros([2]), { reduction: 'avg' as 'sum' }), kd.ArgumentError, /klDiv.*batchmean/],
    ['hardtanh min > max', () => F.hardtanh(kd.zeros([2]), 1, -1), kd.ArgumentError, /hardtanh.*minVal 1.*maxVal -1/],
    ['hardtanh int input', () => F.hardtanh(kd.zeros([2], { dtype: 'int32' })), kd.DTypeError, /hardtanh.*int32/],
    ['groupNorm groups', () => F.groupNorm(x4(), 3), kd.ShapeError, /groupNorm.*\[2,4,5,5\].*numGroups=3/],
    ['groupNorm weight', () => F.groupNorm(x4(), 2, kd.ones([3])), kd.ShapeError, /groupNorm.*weight \[3\].*\[2,4,5,5\]/],
    ['groupNorm 1-d', () => F.groupNorm(kd.zeros([4]), 2), kd.ShapeError, /groupNorm.*\[4\]/],
    ['interpolate size and scale', () => F.interpolate(x4(), { size: 3, scaleFactor: 2 }), kd.ArgumentError, /interpolate.*only one/],
    ['interpolate neither', () => F.interpolate(x4(), {}), kd.ArgumentError, /interpolate.*either/],
    ['interpolate bilinear 3-d', () => F.interpolate(kd.zeros([1, 2, 5]), { size: 7, mode: 'bilinear' }), kd.ShapeError, /interpolate.*bilinear.*\[1,2,5\]/],
    ['interpolate linear 4-d', () => F.interpolate(x4(), { size: 7, mode: 'linear' }), kd.ShapeError, /interpolate.*linear.*\[2,4,5,5\]/],
    ['interpolate alignCorners nearest', () => F.interpolate(x4(), { size: 3, alignCorners: true }), kd.ArgumentError, /interpolate.*alignCorners/],
    ['interpolate size rank', () => F.interpolate(x4(), { size: [3, 4, 5] }), kd.ShapeError, /interpolate.*\[2,4,5,5\].*2 spatial dims/],
    ['interpolate mode', () => F.interpolate(x4(), { size: 3, mode: 'bicubic' as 'nearest' }), kd.ArgumentError, /interpolate.*bicubic/],
    ['interpolate empty output', () => F.interpolate(x4(), { scaleFactor: 0.1 }), kd.ShapeError, /interpolate.*\[2,4,5,5\].*empty/],
    ['unfold too small', () => F.unfold(x4(), 7), kd.ShapeError, /unfold.*\[2,4,5,5\].*kernel \[7,7\]/],
    ['unfold 2-d', () => F.unfold(kd.zeros([5, 5]), 2), kd.ShapeError, /unfold.*\[5,5\]/],
    ['unfold stride 0', () => F.unfold(x4(), 2, { stride: 0 }), kd.ArgumentError, /unfold.*stride/],
    ['convTranspose2d channels', () => F.convTranspose2d(x4(), kd.zeros([3, 2, 3, 3])), kd.ShapeError, /convTranspose2d.*\[2,4,5,5\].*\[3,2,3,3\]/],
    ['convTranspose2d groups', () => F.convTranspose2d(x4(), kd.zeros([4, 2, 3, 3]), null, { groups: 3 }), kd.ShapeError, /convTranspose2d.*groups=3/],
    ['convTranspose2d bias', () => F.convTranspose2d(x4(), kd.zeros([4, 2, 3, 3]), kd.zeros([3])), kd.ShapeError, /convTranspose2d.*bias \[3\]/],
    ['convTranspose2d outputPadding', () => F.convTranspose2d(x4(), kd.zeros([4, 2, 3, 3]), null, { stride: 2, outputPadding: 2 }), kd.ArgumentError, /convTranspose2d.*outputPadding/],
    ['convTranspose2d negative size', () => F.convTranspose2d(kd.zeros([1, 4, 1, 1]), kd.zeros([4, 2, 1, 1]), null, { padding: 1 }), kd.ShapeError, /convTranspose2d.*\[1,4,1,1\].*non-positive/],
    ['convTranspose2d 2-d weight', () => F.convTranspose2d(x4(), kd.zeros([4, 2])), kd.ShapeError, /convTranspose2d.*\[4,2\]/],
    ['maxPool1d 4-d', () => F.maxPool1d(x4(), 2), kd.ShapeError, /maxPool1d.*\[2,4,5,5\]/],
    ['maxPool1d padding', () => F.maxPool1d(kd.zeros([1, 2, 8]), 2, { padding: 2 }), kd.ArgumentError, /maxPool1d.*padding 2/],
    ['maxPool1d too small', () => F.maxPool1d(kd.zeros([1, 2, 3]), 2, { dilation: 4 }), kd.ShapeError, /maxPool1d.*\[1,2,3\]/],
    ['binaryCrossEntropy range', () => F.binaryCrossEntropy(kd.tensor([1.5]), kd.tensor([1], { dtype: 'float32' })), kd.ArgumentError, /bceLoss.*\[1.5, 1.5\]/],
  ];
  for (const [name, call, errorClass, message] of cases) {
    it(name, () => {
      expect(call).toThrow(errorClass);
      expect(call).toThrow(message);
    });
  }
});
