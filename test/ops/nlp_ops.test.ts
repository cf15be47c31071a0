// triu / tril, any / all, unbind, einsum, multinomial / bernoulli, and the functionals pad,
// normalize, cosineSimilarity and oneHot: each against a float64 (or exact) reference on seeded
// random inputs with odd sizes and non-contiguous views, gradients against finite differences,
// and bad input rejected with errors naming the op and the shapes.
import { describe, expect, it } from 'vitest';

import { liveStorageCount } from '../../lib/backend/storage.js';
import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, expectError, forEachIndex, freshSeed, gradcheck, makeRng, numel, settledStorageCount, stridesOf } from '../helpers.js';
import { LAYOUTS, laid, values } from './layouts.js';

const F = kd.nn.functional;

function leaf(rng: () => number, shape: number[]): Tensor {
  return kd.tensor(Float32Array.from({ length: numel(shape) }, () => rng() * 2 - 1)).reshape(shape).requiresGrad_();
}

describe('triu and tril', () => {
  it('keep the triangle of the last two dims of every layout, for diagonals above and below', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    for (const layout of LAYOUTS) {
      const shape = [2, 5, 4];
      const x = laid(shape, layout, () => rng() * 2 - 1);
      for (const k of [-6, -2, -1, 0, 1, 3, 5]) {
        const up = values(x.t.triu(k)), low = values(kd.tril(x.t, k));
        forEachIndex(shape, ([, i, j], flat) => {
          expect(up[flat], `seed ${seed} ${layout} triu ${k}`).toBe(j - i >= k ? x.ref[flat] : 0);
          expect(low[flat], `seed ${seed} ${layout} tril ${k}`).toBe(j - i <= k ? x.ref[flat] : 0);
        });
      }
      x.free();
    }
  });

  it('keep int32 and bool dtypes, pass the gradient inside the triangle only, and reject 1-d input', () => {
    expect(kd.ones([3, 3], { dtype: 'int32' }).triu(1).toArray()).toEqual([[0, 1, 1], [0, 0, 1], [0, 0, 0]]);
    const b = kd.ones([2, 2], { dtype: 'bool' }).tril();
    expect(b.dtype).toBe('bool');
    expect(b.toArray()).toEqual([[true, false], [true, true]]);
    const x = leaf(makeRng(freshSeed()), [3, 4]);
    gradcheck((a) => a.triu(1).square().sum(), [x]);
    gradcheck((a) => a.tril(-1).exp().sum(), [x]);
    expectError(() => kd.ones([4]).triu(), kd.ShapeError, /triu/, /\[4\]/);
    expectError(() => kd.ones([2, 2]).tril(0.5), kd.ArgumentError, /tril/);
  });
});

describe('any and all', () => {
  it('reduce over a dim, several dims or everything, with keepdim, on every layout', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    for (const layout of LAYOUTS) {
      const shape = [3, 5, 4];
      const x = laid(shape, layout, () => (rng() < 0.7 ? 0 : rng() < 0.5 ? 1 : -2));
      for (const dim of [0, 1, 2, -1]) {
        const d = (dim + 3) % 3;
        const outShape = shape.filter((_, i) => i !== d);
        const anyRef = new Array(numel(outShape)).fill(false), allRef = new Array(numel(outShape)).fill(true);
        const st = stridesOf(outShape);
        forEachIndex(shape, (idx, flat) => {
          const o = idx.filter((_, i) => i !== d).reduce((acc, v, i) => acc + v * st[i], 0);
          if (x.ref[flat] !== 0) anyRef[o] = true; else allRef[o] = false;
        });
        const a = x.t.any(dim), l = kd.all(x.t, dim);
        expect(a.dtype).toBe('bool');
        expect(a.shape).toEqual(outShape);
        expect(Array.from(values(a)).map(Boolean), `seed ${seed} ${layout} any ${dim}`).toEqual(anyRef);
        expect(Array.from(values(l)).map(Boolean), `seed ${seed} ${layout} all ${dim}`).toEqual(allRef);
        expect(x.t.any(dim, true).shape).toEqual(shape.map((s, i) => (i === d ? 1 : s)));
      }
      expect(x.t.any().item()).toBe(x.ref.some((v) => v !== 0) ? 1 : 0);
      expect(x.t.all().item()).toBe(x.ref.every((v) => v !== 0) ? 1 : 0);
      x.free();
    }
  });

  it('count NaN as true, and an empty reduction gives any false and all true', () => {
    expect(kd.tensor([0, NaN]).any().item()).toBe(1);
    expect(kd.tensor([NaN, 2]).all().item()).toBe(1);
    expect(kd.zeros([0]).any().item()).toBe(0);
    expect(kd.zeros([0]).all().item()).toBe(1);
    expect(kd.tensor([[true, false], [true, true]]).all(1).toArray()).toEqual([false, true]);
    expectError(() => kd.ones([2, 3]).any(2), kd.KindlingError, /any/);
    expectError(() => kd.ones([2, 3]).all([0, -3]), kd.KindlingError, /all/);
  });
});

describe('unbind', () => {
  it('returns the slices along dim as views whose gradients flow back', () => {
    const rng = makeRng(freshSeed());
    const x = leaf(rng, [3, 4, 2]);
    const parts = x.unbind(1);
    expect(parts.length).toBe(4);
    parts.forEach((p, i) => {
      expect(p.shape).toEqual([3, 2]);
      expect(p.toArray()).toEqual(x.select(1, i).toArray());
    });
    gradcheck((a) => kd.unbind(a, -1).reduce((acc, p, i) => acc.add(p.mul(i + 1).square().sum()), kd.tensor(0)), [x]);
    expectError(() => kd.tensor(3).unbind(), kd.ShapeError, /unbind/);
  });
});

/** einsum by brute force in float64: every assignment of every letter. */
function refEinsum(equation: string, inputs: { ref: Float64Array; shape: number[] }[]): { out: Float64Array; shape: number[] } {
  const [lhs, rhs] = equation.split('->');
  const terms = lhs.split(',');
  const size = new Map<string, number>();
  terms.forEach((t, i) => [...t].forEach((c, d) => size.set(c, inputs[i].shape[d])));
  const letters = [...size.keys()];
  const outLetters = [...rhs];
  const outShape = outLetters.map((c) => size.get(c)!);
  const out = new Float64Array(numel(outShape));
  const outSt = stridesOf(outShape);
  forEachIndex(letters.map((c) => size.get(c)!), (idx) => {
    const at = new Map(letters.map((c, i) => [c, idx[i]]));
    let prod = 1;
    terms.forEach((t, i) => {
      const st = stridesOf(inputs[i].shape);
      prod *= inputs[i].ref[[...t].reduce((o, c, d) => o + at.get(c)! * st[d], 0)];
    });
    out[outLetters.reduce((o, c, d) => o + at.get(c)! * outSt[d], 0)] += prod;
  });
  return { out, shape: outShape };
}

describe('einsum', () => {
  const CASES: [string, number[][]][] = [
    ['ij,jk->ik', [[3, 5], [5, 7]]],
    ['bij,bjk->bik', [[3, 2, 5], [3, 5, 3]]],
    ['ii->i', [[5, 5]]],
    ['ij->', [[3, 7]]],
    ['ijk->kji', [[2, 3, 5]]],
    ['ij,kj->ik', [[3, 5], [4, 5]]],
    ['bhqd,bhkd->bhqk', [[2, 3, 5, 4], [2, 3, 3, 4]]],
    ['iij->ji', [[3, 3, 5]]],
    ['ij,ij,ij->j', [[3, 4], [3, 4], [3, 4]]],
    ['i,i->', [[7], [7]]],
    ['abc,cd,db->a', [[2, 3, 4], [4, 5], [5, 3]]],
  ];

  it('matches a brute-force float64 sum on transposed and sliced operands', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    for (const [eq, shapes] of CASES) {
      for (const layout of ['contiguous', 'transposed', 'sliced'] as const) {
        const xs = shapes.map((s) => laid(s, layout, () => rng() * 2 - 1));
        const got = kd.einsum(eq, ...xs.map((x) => x.t));
        const want = refEinsum(eq, xs.map((x, i) => ({ ref: x.ref, shape: shapes[i] })));
        expect(got.shape, `${eq}`).toEqual(want.shape);
        // Sums of products cancel: the error is measured against the same einsum of |operands|.
        const scale = refEinsum(eq, xs.map((x, i) => ({ ref: Float64Array.from(x.ref, Math.abs), shape: shapes[i] }))).out;
        const out = values(got);
        let err = 0, size = 0;
        for (let i = 0; i < scale.length; i++) {
          err += (out[i] - want.out[i]) ** 2;
          size += scale[i] ** 2;
        }
        expect(Math.sqrt(err / size), `seed ${seed} einsum '${eq}' ${layout} relative error`).toBeLessThan(1e-5);
        xs.forEach((x) => x.free());
      }
    }
  });

  it('gradients through contractions, diagonals and sums match finite differences', () => {
    const rng = makeRng(freshSeed());
    const a = leaf(rng, [3, 4]), b = leaf(rng, [4, 5]), c = leaf(rng, [3, 3, 2]);
    gradcheck((x, y) => kd.einsum('ij,jk->ik', x, y).square().sum(), [a, b]);
    gradcheck((x) => kd.einsum('iij->j', x).square().sum(), [c]);
    gradcheck((x, y) => kd.einsum('ij,jk', x, y).sin().sum(), [a, b]);
  });

  it('implicit output: the ellipsis dims, then the letters used once, in alphabetical order', () => {
    const rng = makeRng(freshSeed());
    const a = leaf(rng, [3, 5]), b = leaf(rng, [4, 5]);
    expect(kd.einsum('ba,ca', a, b).shape).toEqual([3, 4]);
    expect(kd.einsum('ij', kd.ones([2, 3])).shape).toEqual([2, 3]);
    expect(kd.einsum('ji', kd.ones([2, 3])).shape).toEqual([3, 2]);
    expect(kd.einsum('...ij,...jk', kd.ones([2, 1, 3, 4]), kd.ones([5, 4, 2])).shape).toEqual([2, 5, 3, 2]);
  });

  it('broadcasts ellipsis dims like matmul', () => {
    const rng = makeRng(freshSeed());
    const a = leaf(rng, [2, 1, 3, 4]), b = leaf(rng, [5, 4, 2]);
    const want = kd.matmul(a, b);
    const got = kd.einsum('...ij,...jk->...ik', a, b);
    expect(got.shape).toEqual([2, 5, 3, 2]);
    expectClose(values(got), values(want), 1e-6, 'ellipsis einsum vs matmul');
    gradcheck((x, y) => kd.einsum('...ij,...jk->...ik', x, y).square().sum(), [a, b]);
    expect(kd.einsum('...,...->...', kd.ones([3, 1]), kd.ones([4])).shape).toEqual([3, 4]);
  });

  it('rejects malformed equations and mismatched shapes with errors naming einsum', () => {
    const a = kd.ones([2, 3]), b = kd.ones([4, 5]);
    expectError(() => kd.einsum('ij,jk->ik', a, b), kd.ShapeError, /einsum/, /\[4,5\]/);
    expectError(() => kd.einsum('ij,jk->ik', a), kd.ArgumentError, /einsum/, /2 operands/);
    expectError(() => kd.einsum('ijk->i', a), kd.ShapeError, /einsum/, /\[2,3\]/);
    expectError(() => kd.einsum('ij->iz', a), kd.ArgumentError, /einsum/, /z/);
    expectError(() => kd.einsum('ij->ii', a), kd.ArgumentError, /einsum/);
    expectError(() => kd.einsum('i1->i', a), kd.ArgumentError, /einsum/);
    expectError(() => kd.einsum('ii->i', a), kd.ShapeError, /einsum/);
  });
});

describe('multinomial and bernoulli', () => {
  it('multinomial with replacement follows the weights, never draws a zero weight, and repeats with manualSeed', () => {
    const w = kd.tensor([[1, 0, 3, 4], [0, 0, 2, 0]], { dtype: 'float32' });
    kd.manualSeed(7);
    const a = kd.multinomial(w, 4000, { replacement: true });
    kd.manualSeed(7);
    const b = w.multinomial(4000, { replacement: true });
    expect(a.dtype).toBe('int32');
    expect(a.shape).toEqual([2, 4000]);
    expect(Array.from(a.data())).toEqual(Array.from(b.data()));
    const d = a.data();
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[d[i]]++;
    expect(counts[1]).toBe(0);
    [1 / 8, 0, 3 / 8, 4 / 8].forEach((p, i) => expect(Math.abs(counts[i] / 4000 - p)).toBeLessThan(5 * Math.sqrt(p * (1 - p) / 4000) + 1e-9));
    for (let i = 4000; i < 8000; i++) expect(d[i]).toBe(2);
  });

  it('multinomial without replacement draws distinct categories, seeded runs repeat', () => {
    const w = kd.tensor([0.1, 2, 0, 1, 0.5, 3, 0.2], { dtype: 'float32' });
    const a = kd.multinomial(w, 6, { seed: 42 }), b = kd.multinomial(w, 6, { seed: 42 });
    expect(a.shape).toEqual([6]);
    expect(Array.from(a.data())).toEqual(Array.from(b.data()));
    expect(new Set(a.data()).size).toBe(6);
    expect(Array.from(a.data())).not.toContain(2);
    // The first draw follows the weights: category 5 (3 / 6.8) most often.
    const first = [0, 0, 0, 0, 0, 0, 0];
    const rows = kd.multinomial(w.unsqueeze(0).expand([3000, 7]), 1, { seed: 3 }).data();
    for (const r of rows) first[r]++;
    expect(Math.abs(first[5] / 3000 - 3 / 6.8)).toBeLessThan(0.05);
  });

  it('multinomial and bernoulli draw from a kd.Generator when given one, advancing it', () => {
    const w = kd.rand([3, 40]);
    const g1 = new kd.Generator(11), g2 = new kd.Generator(11);
    const a = kd.multinomial(w, 5, { generator: g1 }), b = kd.multinomial(w, 5, { generator: g2 });
    expect(Array.from(a.data())).toEqual(Array.from(b.data()));
    expect(Array.from(kd.multinomial(w, 5, { generator: g1 }).data())).not.toEqual(Array.from(a.data()));
    expect(Array.from(kd.multinomial(w, 5, { seed: 11 }).data())).toEqual(Array.from(a.data()));
    const p = kd.full([200], 0.5);
    expect(Array.from(p.bernoulli({ generator: new kd.Generator(4) }).data())).toEqual(Array.from(kd.bernoulli(p, { seed: 4 }).data()));
    expectError(() => kd.multinomial(w, 1, { seed: 1, generator: g1 }), kd.ArgumentError, /multinomial/);
    expectError(() => kd.bernoulli(p, { generator: {} as never }), kd.ArgumentError, /bernoulli/, /Generator/);
  });

  it('multinomial rejects bad weights and sizes naming the op and shape', () => {
    expectError(() => kd.multinomial(kd.tensor([1, -1], { dtype: 'float32' }), 1), kd.ArgumentError, /multinomial/, /\[2\]/);
    expectError(() => kd.multinomial(kd.zeros([2, 3]), 1), kd.ArgumentError, /multinomial/, /sum/);
    expectError(() => kd.multinomial(kd.ones([3]), 4), kd.ArgumentError, /multinomial/);
    expectError(() => kd.multinomial(kd.tensor([1, 0, 0], { dtype: 'float32' }), 2), kd.ArgumentError, /multinomial/, /non-zero/);
    expectError(() => kd.multinomial(kd.ones([2, 2, 2]), 1), kd.ShapeError, /multinomial/, /\[2,2,2\]/);
    expectError(() => kd.multinomial(kd.ones([3], { dtype: 'int32' }), 1), kd.DTypeError, /multinomial/);
    expectError(() => kd.multinomial(kd.tensor([1, NaN]), 1), kd.ArgumentError, /multinomial/);
  });

  it('bernoulli draws ones at rate p, exactly 0 and 1 at the ends, and rejects p outside [0, 1]', () => {
    const p = kd.tensor([0, 0.25, 0.9, 1]).reshape([4, 1]).expand([4, 5000]);
    const draws = kd.bernoulli(p, { seed: 5 });
    expect(draws.shape).toEqual([4, 5000]);
    expect(draws.dtype).toBe('float32');
    const rate = draws.mean(1).data();
    expect(rate[0]).toBe(0);
    expect(rate[3]).toBe(1);
    expect(Math.abs(rate[1] - 0.25)).toBeLessThan(0.03);
    expect(Math.abs(rate[2] - 0.9)).toBeLessThan(0.02);
    expect(Array.from(draws.data()).every((v) => v === 0 || v === 1)).toBe(true);
    kd.manualSeed(9);
    const a = kd.rand([50]).bernoulli();
    kd.manualSeed(9);
    const b = kd.rand([50]).bernoulli();
    expect(Array.from(a.data())).toEqual(Array.from(b.data()));
    expectError(() => kd.bernoulli(kd.tensor([0.5, 1.5])), kd.ArgumentError, /bernoulli/, /\[2\]/);
  });
});

/** F.pad reference: the source index along one dim for a padded position, or -1 for the constant. */
function padSource(i: number, n: number, left: number, mode: string): number {
  const j = i - left;
  if (j >= 0 && j < n) return j;
  if (mode === 'constant') return -1;
  if (mode === 'replicate') return j < 0 ? 0 : n - 1;
  if (mode === 'circular') return ((j % n) + n) % n;
  return j < 0 ? -j : 2 * (n - 1) - j;
}

describe('F.pad', () => {
  it('matches an index-by-index reference in every mode on every layout', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    for (const layout of LAYOUTS) {
      const shape = [2, 3, 5];
      const x = laid(shape, layout, () => rng() * 2 - 1);
      for (const mode of ['constant', 'reflect', 'replicate', 'circular'] as const) {
        for (const padding of [[2, 1], [1, 3, 2, 0], [0, 2, 1, 2]]) {
          const out = F.pad(x.t, padding, { mode, value: 0.25 });
          const outShape = [...shape];
          for (let j = 0; j < padding.length / 2; j++) outShape[2 - j] += padding[2 * j] + padding[2 * j + 1];
          expect(out.shape).toEqual(outShape);
          const got = values(out), st = stridesOf(shape);
          forEachIndex(outShape, (idx, flat) => {
            let src = 0, constant = false;
            idx.forEach((v, d) => {
              const j = 2 - d;
              const s = j < padding.length / 2 ? padSource(v, shape[d], padding[2 * j], mode) : v;
              if (s < 0) constant = true;
              src += s * st[d];
            });
            expect(got[flat], `seed ${seed} ${layout} ${mode} ${padding}`).toBe(constant ? 0.25 : x.ref[src]);
          });
        }
      }
      x.free();
    }
  });

  it('negative constant padding crops, and gradients match finite differences in every mode', () => {
    const rng = makeRng(freshSeed());
    const x = leaf(rng, [2, 3, 4]);
    expect(F.pad(x, [-1, 1, 0, -2]).shape).toEqual([2, 1, 4]);
    const xv = x.data(), cropped = F.pad(x, [-1, 1, 0, -2]).data();
    forEachIndex([2, 1, 4], ([b, , k], flat) => expect(cropped[flat]).toBe(k < 3 ? xv[b * 12 + k + 1] : 0));
    for (const mode of ['constant', 'reflect', 'replicate', 'circular'] as const) {
      gradcheck((a) => F.pad(a, [2, 1, 1, 2], { mode }).square().sum(), [x], { context: mode });
    }
  });

  it('rejects bad padding with errors naming pad and the shape', () => {
    const x = kd.ones([2, 3, 4]);
    expectError(() => F.pad(x, [1]), kd.ArgumentError, /pad/);
    expectError(() => F.pad(x, [4, 0], { mode: 'reflect' }), kd.ShapeError, /pad/, /\[2,3,4\]/);
    expectError(() => F.pad(x, [5, 0], { mode: 'circular' }), kd.ShapeError, /pad/);
    expectError(() => F.pad(kd.ones([4]), [1, 1], { mode: 'reflect' }), kd.ShapeError, /pad/, /\[4\]/);
    expectError(() => F.pad(x, [1, 1, 1, 1, 1, 1, 1, 1]), kd.ShapeError, /pad/);
    expectError(() => F.pad(x, [1, 1], { mode: 'wrap' as never }), kd.ArgumentError, /pad/);
    expectError(() => F.pad(x, [-5, 0]), kd.ShapeError, /pad/);
  });
});

describe('F.normalize and F.cosineSimilarity', () => {
  it('normalize divides by the p-norm clamped at eps, on a transposed view, with gradients', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const x = laid([4, 5], 'transposed', () => rng() * 2 - 1);
    for (const [p, dim] of [[2, 1], [1, 0], [3, -1]]) {
      const got = values(F.normalize(x.t, { p, dim }));
      const want = new Float64Array(20);
      forEachIndex([4, 5], ([i, j], flat) => {
        let s = 0;
        for (let k = 0; k < (dim === 0 ? 4 : 5); k++) s += Math.abs(dim === 0 ? x.ref[k * 5 + j] : x.ref[i * 5 + k]) ** p;
        want[flat] = x.ref[flat] / Math.max(s ** (1 / p), 1e-12);
      });
      expectClose(got, want, 1e-5, `seed ${seed} normalize p ${p} dim ${dim}`);
    }
    x.free();
    expect(F.normalize(kd.zeros([2, 3])).toArray()).toEqual([[0, 0, 0], [0, 0, 0]]);
    gradcheck((a) => F.normalize(a).mul(kd.tensor([[1, 2, 3], [-1, 0.5, 2]])).sum(), [leaf(makeRng(seed), [2, 3])]);
  });

  it('cosineSimilarity matches float64 over broadcast inputs, stays in [-1, 1], and has gradients', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const a = leaf(rng, [3, 1, 6]), b = leaf(rng, [4, 6]);
    const got = F.cosineSimilarity(a, b, { dim: -1 });
    expect(got.shape).toEqual([3, 4]);
    const av = a.data(), bv = b.data(), want = new Float64Array(12);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 4; j++) {
        let dot = 0, na = 0, nb = 0;
        for (let k = 0; k < 6; k++) { dot += av[i * 6 + k] * bv[j * 6 + k]; na += av[i * 6 + k] ** 2; nb += bv[j * 6 + k] ** 2; }
        want[i * 4 + j] = dot / (Math.max(Math.sqrt(na), 1e-8) * Math.max(Math.sqrt(nb), 1e-8));
      }
    }
    expectClose(values(got), want, 1e-5, `seed ${seed} cosineSimilarity`);
    gradcheck((x, y) => F.cosineSimilarity(x, y, { dim: -1 }).sum(), [a, b]);
    const same = kd.tensor([[1e18, 1e18], [3, 4]], { dtype: 'float32' });
    expect(Array.from(F.cosineSimilarity(same, same).data()).every((v) => v <= 1 && v > 0.999)).toBe(true);
    expectError(() => F.cosineSimilarity(kd.ones([2, 3]), kd.ones([2, 4])), kd.ShapeError, /cosineSimilarity/, /\[2,3\]/);
    expectError(() => F.cosineSimilarity(kd.ones([2, 3]), kd.ones([2, 3], { dtype: 'int32' })), kd.DTypeError, /cosineSimilarity/);
  });
});

describe('F.oneHot', () => {
  it('makes int32 rows with a 1 at each index, inferring numClasses from the largest index', () => {
    const x = kd.tensor([[0, 3], [2, 1]], { dtype: 'int32' });
    const h = F.oneHot(x);
    expect(h.dtype).toBe('int32');
    expect(h.toArray()).toEqual([[[1, 0, 0, 0], [0, 0, 0, 1]], [[0, 0, 1, 0], [0, 1, 0, 0]]]);
    expect(F.oneHot(x.t(), 5).shape).toEqual([2, 2, 5]);
    expect(F.oneHot(x.t(), 5).toArray()).toEqual([[[1, 0, 0, 0, 0], [0, 0, 1, 0, 0]], [[0, 0, 0, 1, 0], [0, 1, 0, 0, 0]]]);
    expectError(() => F.oneHot(x, 3), kd.ArgumentError, /oneHot/, /3/);
    expectError(() => F.oneHot(kd.tensor([-1, 0], { dtype: 'int32' })), kd.ArgumentError, /oneHot/);
    expectError(() => F.oneHot(kd.tensor([0.5])), kd.DTypeError, /oneHot/);
  });
});

describe('top-level matmul, cat and stack', () => {
  it('kd.matmul, kd.cat and kd.stack equal the methods', () => {
    const rng = makeRng(freshSeed());
    const a = leaf(rng, [2, 3, 4]), b = leaf(rng, [4, 5]);
    expect(kd.matmul(a, b).toArray()).toEqual(a.matmul(b).toArray());
    expect(kd.cat([a, a], 1).shape).toEqual([2, 6, 4]);
    expect(kd.stack([b, b], 0).shape).toEqual([2, 4, 5]);
  });
});

describe('no tensor left behind', () => {
  it('every op, forward and backward inside tidy, leaves the live storage count where it was', () => {
    const rng = makeRng(freshSeed());
    const x = leaf(rng, [4, 6, 5]);
    const uses: [string, (t: Tensor) => Tensor][] = [
      ['sort', (t) => t.sort({ dim: 1 }).values.sum()],
      ['topk', (t) => t.topk(2, { dim: 0 }).values.sum()],
      ['argsort', (t) => t.argsort().float().sum().add(t.sum())],
      ['cumsum', (t) => t.cumsum(2).square().sum()],
      ['cumprod', (t) => t.cumprod(1).sum()],
      ['triu', (t) => t.triu(1).sum()],
      ['any', (t) => t.any(1).float().sum().add(t.all().float()).add(t.sum())],
      ['unbind', (t) => t.unbind(2)[3].sum()],
      ['einsum', (t) => kd.einsum('bij,bkj->ik', t, t).sum()],
      ['pad', (t) => F.pad(t, [1, 2, 2, 1], { mode: 'reflect' }).square().sum()],
      ['normalize', (t) => F.normalize(t).sum().add(F.cosineSimilarity(t, t.flip(1), { dim: 2 }).sum())],
      ['sampling', (t) => kd.multinomial(t.detach().abs().reshape([4, 30]), 3).float().sum().add(kd.bernoulli(t.detach().sigmoid()).sum()).add(t.sum())],
    ];
    const clearGrad = () => {
      (x.grad as Tensor | null)?.dispose();
      x.grad = null;
    };
    for (const [name, f] of uses) {
      kd.tidy(() => { f(x).backward(); });
      clearGrad();
      const before = settledStorageCount();
      kd.tidy(() => { f(x).backward(); });
      clearGrad();
      expect(settledStorageCount(), name).toBeLessThanOrEqual(before);
    }
  });
});
