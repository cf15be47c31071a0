// Reductions against float64 references: every dim, several dims, negative dims, keepdim, every
// layout; int32/bool inputs; NaN propagation and ties; zero-size inputs; float32 sum precision.
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, forEachIndex, freshSeed, makeRng, numel } from '../helpers.js';
import { LAYOUTS, expectSpecial, laid, values } from './layouts.js';

/** Reduces `ref` (row-major over shape) over `dims` with fold; returns the kept shape and values. */
function reduceRef(shape: number[], ref: Float64Array, dims: number[], fold: (xs: number[]) => number): { shape: number[]; ref: Float64Array } {
  const kept = shape.map((_, i) => i).filter((i) => !dims.includes(i));
  const outShape = kept.map((i) => shape[i]);
  const groups: number[][] = Array.from({ length: numel(outShape) }, () => []);
  const os = outShape.map((_, i) => outShape.slice(i + 1).reduce((p, q) => p * q, 1));
  forEachIndex(shape, (idx, flat) => {
    let o = 0;
    kept.forEach((d, k) => (o += idx[d] * os[k]));
    groups[o].push(ref[flat]);
  });
  return { shape: outShape, ref: Float64Array.from(groups.map(fold)) };
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const mean = (xs: number[]) => sum(xs) / xs.length;
const variance = (c: number) => (xs: number[]) => {
  const m = mean(xs);
  return xs.reduce((a, x) => a + (x - m) ** 2, 0) / Math.max(xs.length - c, 0);
};
const argOf = (better: (a: number, b: number) => boolean) => (xs: number[]) => {
  let best = 0;
  for (let i = 1; i < xs.length; i++) {
    if (Number.isNaN(xs[best])) break;
    if (Number.isNaN(xs[i]) || better(xs[i], xs[best])) best = i;
  }
  return best;
};
const argmax = argOf((a, b) => a > b), argmin = argOf((a, b) => a < b);
const maxOf = (xs: number[]) => xs[argmax(xs)], minOf = (xs: number[]) => xs[argmin(xs)];
const logsumexp = (xs: number[]) => {
  const m = Math.max(...xs);
  return m + Math.log(xs.reduce((a, x) => a + Math.exp(x - m), 0));
};

interface ReduceCase {
  name: string;
  run: (t: Tensor, dims: number[], keepdim: boolean) => Tensor;
  fold: (xs: number[]) => number;
  /** Only single dims (prod, argmax, max(dim)). */
  single?: boolean;
  tol?: number;
  /** Sums cancel: measure the error against the same fold of |x| (the sum's condition), not of x. */
  cancels?: boolean;
}

const cases: ReduceCase[] = [
  { name: 'sum', run: (t, d, k) => t.sum(d, k), fold: sum, cancels: true },
  { name: 'mean', run: (t, d, k) => t.mean(d, k), fold: mean, cancels: true },
  { name: 'prod', run: (t, d, k) => t.prod(d[0], k), fold: (xs) => xs.reduce((a, b) => a * b, 1), single: true },
  { name: 'var', run: (t, d, k) => t.var(d, { keepdim: k }), fold: variance(1), tol: 1e-4 },
  { name: 'var(correction 0)', run: (t, d, k) => t.var(d, { keepdim: k, correction: 0 }), fold: variance(0), tol: 1e-4 },
  { name: 'std', run: (t, d, k) => t.std(d, { keepdim: k }), fold: (xs) => Math.sqrt(variance(1)(xs)), tol: 1e-4 },
  { name: 'amax', run: (t, d, k) => t.amax(d, k), fold: maxOf },
  { name: 'amin', run: (t, d, k) => t.amin(d, k), fold: minOf },
  { name: 'max(dim).values', run: (t, d, k) => t.max(d[0], k).values, fold: maxOf, single: true },
  { name: 'min(dim).values', run: (t, d, k) => t.min(d[0], k).values, fold: minOf, single: true },
  { name: 'max(dim).indices', run: (t, d, k) => t.max(d[0], k).indices, fold: argmax, single: true },
  { name: 'min(dim).indices', run: (t, d, k) => t.min(d[0], k).indices, fold: argmin, single: true },
  { name: 'argmax', run: (t, d, k) => t.argmax(d[0], k), fold: argmax, single: true },
  { name: 'argmin', run: (t, d, k) => t.argmin(d[0], k), fold: argmin, single: true },
  // logsumexp of values of both signs can land near 0: its float32 error is relative to the logsumexp of |x|.
  { name: 'logsumexp', run: (t, d, k) => t.logsumexp(d, k), fold: logsumexp, cancels: true },
];

function dimSets(ndim: number, single: boolean): number[][] {
  const sets: number[][] = [];
  for (let d = 0; d < ndim; d++) sets.push([d], [d - ndim]);
  if (!single) {
    if (ndim >= 2) sets.push([0, ndim - 1], [-1, 0]);
    if (ndim >= 3) sets.push([0, 1, 2], [1, -1]);
  }
  return sets;
}

describe('reductions over dims', () => {
  for (const c of cases) {
    it(`${c.name} over each dim, several and negative dims, keepdim, every layout`, () => {
      const seed = freshSeed(), rng = makeRng(seed);
      // prod over many elements under/overflows; keep its values near 1.
      const draw = c.name === 'prod' ? () => 0.5 + rng() : () => rng() * 4 - 2;
      for (const shape of [[7], [3, 1, 5], [4, 7, 6], [2, 3, 4, 5]]) {
        for (const layout of LAYOUTS) {
          const x = laid(shape, layout, draw);
          for (const dims of dimSets(shape.length, !!c.single)) {
            for (const keepdim of [false, true]) {
              const norm = dims.map((d) => (d < 0 ? d + shape.length : d));
              const r = reduceRef(shape, x.ref, norm, c.fold);
              const want = keepdim ? shape.map((s, i) => (norm.includes(i) ? 1 : s)) : r.shape;
              const out = c.run(x.t, dims, keepdim);
              const ctx = `${c.name} ${layout}${JSON.stringify(shape)} dims ${JSON.stringify(dims)} keepdim ${keepdim} seed ${seed}`;
              expect(out.shape, ctx).toEqual(want);
              if (c.name.includes('indices') || c.name.startsWith('arg')) {
                expect(out.dtype, ctx).toBe('int32');
                // Random floats have no ties, so indices must match exactly.
                expect(Array.from(values(out)), ctx).toEqual(Array.from(r.ref));
              } else if (c.cancels) {
                // A float32 sum of terms of mixed sign is accurate relative to the sum of |terms|.
                const scale = reduceRef(shape, Float64Array.from(x.ref, Math.abs), norm, c.fold).ref;
                const got = values(out);
                let err = 0, size = 0;
                for (let i = 0; i < scale.length; i++) {
                  err += (got[i] - r.ref[i]) ** 2;
                  size += scale[i] ** 2;
                }
                expect(Math.sqrt(err / size), ctx).toBeLessThan(c.tol ?? 1e-5);
              } else {
                expectClose(values(out), r.ref, c.tol ?? 1e-5, ctx);
              }
              out.dispose();
            }
          }
          x.free();
        }
      }
    });
  }

  it('the global forms reduce everything: sum, mean, prod, var, std, max, min, amax, amin, argmax, argmin', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const x = laid([5, 6, 3], 'transposed', () => rng() * 2 - 1);
    const xs = Array.from(x.ref);
    const all = [0, 1, 2];
    const checks: [Tensor, number, number][] = [
      [x.t.sum(), sum(xs), 1e-5],
      [x.t.mean(), mean(xs), 1e-5],
      [x.t.abs().add(0.5).prod(), xs.reduce((a, v) => a * (Math.abs(v) + 0.5), 1), 1e-4],
      [x.t.var(), variance(1)(xs), 1e-4],
      [x.t.std(), Math.sqrt(variance(1)(xs)), 1e-4],
      [x.t.max(), maxOf(xs), 0],
      [x.t.min(), minOf(xs), 0],
      [x.t.amax(), maxOf(xs), 0],
      [x.t.amin(all), minOf(xs), 0],
      [x.t.argmax(), argmax(xs), 0],
      [x.t.argmin(), argmin(xs), 0],
      [x.t.logsumexp(all), logsumexp(xs), 1e-5],
    ];
    checks.forEach(([out, ref, tol], i) => {
      expect(out.shape, `check ${i} seed ${seed}`).toEqual([]);
      expectClose([out.item()], [ref], tol || 1e-12, `check ${i} seed ${seed}`);
    });
    expect(x.t.argmax(undefined, true).shape).toEqual([1, 1, 1]);
    expect(x.t.sum(undefined, true).shape).toEqual([1, 1, 1]);
    x.free();
  });

  it('repeated or out-of-range dims throw ArgumentError naming the op', () => {
    const x = kd.ones([2, 3]);
    expect(() => x.sum([0, -2])).toThrow(kd.ArgumentError);
    expect(() => x.sum(2)).toThrow(/sum: dim 2 is out of range/);
    expect(() => x.mean(-3)).toThrow(kd.ArgumentError);
    expect(() => x.argmax(5)).toThrow(kd.ArgumentError);
    expect(() => x.max(2)).toThrow(kd.ArgumentError);
    expect(() => x.logsumexp([1, 1])).toThrow(kd.ArgumentError);
  });
});

describe('dtypes', () => {
  it('int32 and bool sums are int32; bool counts trues; mean/var of int32 is a DTypeError', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const x = laid([6, 5], 'sliced', () => Math.floor(rng() * 21) - 10, 'int32');
    const s = x.t.sum(0);
    expect(s.dtype).toBe('int32');
    expect(Array.from(values(s))).toEqual(Array.from(reduceRef([6, 5], x.ref, [0], sum).ref));
    expect(x.t.sum().item()).toBe(sum(Array.from(x.ref)));
    const b = x.t.gt(0);
    expect(b.sum().dtype).toBe('int32');
    expect(b.sum().item()).toBe(Array.from(x.ref).filter((v) => v > 0).length);
    expect(Array.from(values(b.sum(1)))).toEqual(Array.from(reduceRef([6, 5], x.ref, [1], (xs) => xs.filter((v) => v > 0).length).ref));
    expect(x.t.amax().item()).toBe(Math.max(...x.ref));
    expect(x.t.amax().dtype).toBe('int32');
    expect(x.t.argmin().item()).toBe(argmin(Array.from(x.ref)));
    expect(kd.tensor([2, 3, 4]).prod().item()).toBe(24);
    expect(kd.tensor([true, true, false]).max().item()).toBe(1);
    expect(() => x.t.mean()).toThrow(kd.DTypeError);
    expect(() => x.t.var()).toThrow(kd.DTypeError);
    expect(() => x.t.logsumexp(0)).toThrow(kd.DTypeError);
    x.free();
  });
});

describe('special values', () => {
  it('max/amax/min with NaN give NaN; argmax/argmin and max(dim).indices pick the (first) NaN', () => {
    const x = kd.tensor([[1, NaN, 3, NaN], [4, 2, 9, 0]]);
    expect(Number.isNaN(x.max().item())).toBe(true);
    expect(Number.isNaN(x.min().item())).toBe(true);
    expectSpecial(values(x.amax(1)), [NaN, 9], 0, 'amax(1)');
    expectSpecial(values(x.amin(0)), [1, NaN, 3, NaN], 0, 'amin(0)');
    expect(x.argmax().item()).toBe(1);
    expect(x.argmin().item()).toBe(1);
    expect(x.argmax(1).toArray()).toEqual([1, 2]);
    const { values: v, indices } = x.max(1);
    expectSpecial(values(v), [NaN, 9], 0, 'max(1)');
    expect(indices.toArray()).toEqual([1, 2]);
    expect(Number.isNaN(x.sum().item())).toBe(true);
    expectSpecial(values(x.logsumexp(1)), [NaN, 9 + Math.log(1 + Math.exp(-5) + Math.exp(-7) + Math.exp(-9))], 1e-6, 'logsumexp');
  });

  it('ties: argmax / argmin / max(dim) return the first occurrence', () => {
    const x = kd.tensor([[1, 5, 5, 0], [0, 0, -2, -2]], { dtype: 'float32' });
    expect(x.argmax(1).toArray()).toEqual([1, 0]);
    expect(x.argmin(1).toArray()).toEqual([3, 2]);
    expect(x.max(1).indices.toArray()).toEqual([1, 0]);
    expect(x.min(1).indices.toArray()).toEqual([3, 2]);
    expect(x.argmax().item()).toBe(1);
    expect(kd.full([1000], 2.5).argmax().item()).toBe(0);
    expect(kd.tensor([3, 7, 7]).argmax().item()).toBe(1);
  });

  it('logsumexp is stable for large values and handles -inf rows', () => {
    const x = kd.tensor([[1000, 1000], [-Infinity, -Infinity], [-1000, -1001]]);
    expectSpecial(values(x.logsumexp(1)), [1000 + Math.log(2), -Infinity, -1000 + Math.log1p(Math.exp(-1))], 1e-6, 'logsumexp');
    expectSpecial(values(kd.tensor([Infinity, 0]).logsumexp(0)), [Infinity], 0, 'logsumexp inf');
  });

  it('var of one element with correction 1 is NaN; std(correction 0) of constants is 0', () => {
    expect(Number.isNaN(kd.tensor([3.5]).var().item())).toBe(true);
    expect(kd.full([5], 2.5).std(undefined, { correction: 0 }).item()).toBe(0);
  });
});

describe('zero-size inputs', () => {
  it('sum of nothing is 0, prod 1, mean NaN; over a zero-size kept dim the result is empty', () => {
    const e = kd.zeros([0]);
    expect(e.sum().item()).toBe(0);
    expect(e.prod().item()).toBe(1);
    expect(Number.isNaN(e.mean().item())).toBe(true);
    const m = kd.zeros([3, 0]);
    expect(m.sum(1).toArray()).toEqual([0, 0, 0]);
    expect(m.sum(0).shape).toEqual([0]);
    const means = m.mean(1);
    expect(Array.from(values(means)).every(Number.isNaN)).toBe(true);
    expect(m.amax(0).shape).toEqual([0]);
    expect(m.argmax(0).shape).toEqual([0]);
  });

  it('max/min/amax/argmax over a zero-size dim or of an empty tensor throw ShapeError naming op and shape', () => {
    const m = kd.zeros([3, 0]);
    for (const f of [() => m.amax(1), () => m.amin(1), () => m.max(1), () => m.min(1), () => m.argmax(1), () => m.argmin(1), () => m.max(), () => m.argmax(), () => m.amax()]) {
      expect(f).toThrow(kd.ShapeError);
      expect(f).toThrow(/\[3,0\]|no elements/);
    }
  });
});

describe('precision and threading', () => {
  it('float32 sum and mean over 1e6 elements stay within 1e-5 of float64, contiguous and strided', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const n = 1_000_000;
    const f = new Float32Array(n);
    let ref = 0;
    for (let i = 0; i < n; i++) {
      f[i] = rng() + 0.1; // all positive: no cancellation, so the error is the accumulator's
      ref += f[i];
    }
    const x = kd.tensor(f);
    expectClose([x.sum().item()], [ref], 1e-5, `sum 1e6 seed ${seed}`);
    expectClose([x.mean().item()], [ref / n], 1e-5, `mean 1e6 seed ${seed}`);
    const m = x.reshape([1000, 1000]);
    const colRef = new Float64Array(1000), rowRef = new Float64Array(1000);
    for (let i = 0; i < 1000; i++) for (let j = 0; j < 1000; j++) { rowRef[i] += f[i * 1000 + j]; colRef[j] += f[i * 1000 + j]; }
    expectClose(values(m.sum(0)), colRef, 1e-6, `column sums seed ${seed}`);
    expectClose(values(m.sum(1)), rowRef, 1e-6, `row sums seed ${seed}`);
    expectClose(values(m.T.sum(0)), rowRef, 1e-6, `transposed column sums seed ${seed}`);
    expectClose([m.T.sum().item()], [ref], 1e-5, `transposed total seed ${seed}`);
    const step = x.slice(0, 0, null, 3);
    let stepRef = 0;
    for (let i = 0; i < n; i += 3) stepRef += f[i];
    expectClose([step.sum().item()], [stepRef], 1e-5, `strided sum seed ${seed}`);
    expect(x.argmax().item()).toBe(argmax(Array.from(f)));
  });
});

describe('column sums', () => {
  it('sum over dim 0 of tall, wide and strided matrices (several row blocks and column tiles) matches float64, with the same bits on 1 and 2 threads', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const threadsAtStart = kd.getNumThreads();
    try {
      for (const [rows, cols] of [[2048, 768], [777, 1031], [257, 9], [3, 1500], [1000, 256]]) {
        const f = new Float32Array(rows * (cols + 5));
        for (let i = 0; i < f.length; i++) f[i] = rng() * 2 - 1;
        // A view of the first cols columns of each row of a [rows, cols + 5] matrix: rows cols + 5 apart.
        const wide = kd.tensor(f).reshape([rows, cols + 5]);
        for (const [name, x] of [['contiguous', wide.slice(1, 0, cols).contiguous()], ['strided rows', wide.slice(1, 0, cols)]] as const) {
          const ref = new Float64Array(cols), absRef = new Float64Array(cols);
          for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) {
            ref[j] += f[r * (cols + 5) + j];
            absRef[j] += Math.abs(f[r * (cols + 5) + j]);
          }
          const got: Float32Array[] = [];
          for (const threads of [1, 2]) {
            kd.setNumThreads(threads);
            const s = x.sum(0);
            got.push(Float32Array.from(values(s)));
            for (let j = 0; j < cols; j++) {
              expect(Math.abs(got[got.length - 1][j] - ref[j]), `${name} [${rows}, ${cols}] column ${j} threads ${threads} seed ${seed}`).toBeLessThanOrEqual(4e-6 * absRef[j] + 1e-30);
            }
            expectClose(values(x.mean(0)), ref.map((v) => v / rows), 1e-5, `${name} [${rows}, ${cols}] mean threads ${threads} seed ${seed}`);
          }
          expect(got[1], `${name} [${rows}, ${cols}] 1 vs 2 threads seed ${seed}`).toEqual(got[0]);
        }
      }
    } finally {
      kd.setNumThreads(threadsAtStart);
    }
  });
});
