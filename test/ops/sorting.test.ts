// sort, argsort and topk against float64 host references on random inputs (odd sizes, every
// dim, transposed / sliced / expanded views, int32, NaN), their gradients against finite
// differences, a 50257-wide topk against a full sort, and PyTorch's errors.
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import { expectError, freshSeed, gradcheck, makeRng, numel } from '../helpers.js';
import { LAYOUTS, laid, values } from './layouts.js';

/** Reference: for each line along dim of a row-major `ref` of `shape`, fn(values, positions). */
function eachLine(shape: number[], dim: number, fn: (positions: number[]) => void): void {
  const n = shape[dim];
  const inner = numel(shape.slice(dim + 1)), outer = numel(shape.slice(0, dim));
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) fn(Array.from({ length: n }, (_, k) => (o * n + k) * inner + i));
  }
}

/** Stable order of a line's values, NaN last (ascending) or first (descending). */
function refOrder(vals: number[], descending: boolean): number[] {
  const key = (v: number) => (Number.isNaN(v) ? Infinity : v);
  const rank = (a: number, b: number) => {
    const na = Number.isNaN(vals[a]), nb = Number.isNaN(vals[b]);
    if (na || nb) return na === nb ? 0 : na ? 1 : -1;
    return key(vals[a]) - key(vals[b]);
  };
  return vals.map((_, i) => i).sort((a, b) => (descending ? -rank(a, b) : rank(a, b)) || a - b);
}

describe('sort and argsort', () => {
  it('sort along every dim of every layout matches a stable float64 sort, both directions', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    // Few distinct values, so ties are common and the stable order is tested.
    const draw = () => Math.floor(rng() * 7) - 3 + (rng() < 0.1 ? 0.5 : 0);
    for (const layout of LAYOUTS) {
      const shape = [5, 3, 7];
      const x = laid(shape, layout, draw);
      for (let dim = 0; dim < 3; dim++) {
        for (const descending of [false, true]) {
          const { values: v, indices } = x.t.sort({ dim, descending });
          expect(indices.dtype).toBe('int32');
          expect(v.shape).toEqual(shape);
          const got = values(v), idx = values(indices);
          eachLine(shape, dim, (pos) => {
            const line = pos.map((p) => x.ref[p]);
            refOrder(line, descending).forEach((src, k) => {
              expect(idx[pos[k]], `seed ${seed} ${layout} dim ${dim} desc ${descending}`).toBe(src);
              expect(got[pos[k]]).toBe(line[src]);
            });
          });
          const a = x.t.argsort({ dim, descending });
          expect(Array.from(a.data())).toEqual(Array.from(indices.data()));
        }
      }
      x.free();
    }
  });

  it('sorts int32 tensors and places NaN last ascending, first descending', () => {
    const x = kd.tensor([3, -1, 7, 0, 2], { dtype: 'int32' });
    expect(x.sort().values.toArray()).toEqual([-1, 0, 2, 3, 7]);
    expect(x.sort().values.dtype).toBe('int32');
    const y = kd.tensor([2, NaN, -1, 5, NaN, 0]);
    expect(y.sort().values.toArray()).toEqual([-1, 0, 2, 5, NaN, NaN]);
    expect(y.sort().indices.toArray()).toEqual([2, 5, 0, 3, 1, 4]);
    expect(y.sort({ descending: true }).values.toArray()).toEqual([NaN, NaN, 5, 2, 0, -1]);
    expect(kd.argsort(y, { descending: true }).toArray()).toEqual([1, 4, 3, 0, 5, 2]);
    // -0 ties with 0 (original order kept); negative floats order by magnitude reversed.
    expect(kd.tensor([0, -0, -1.5, -0.25, 2]).sort().indices.toArray()).toEqual([2, 3, 0, 1, 4]);
    expect(kd.tensor([5, -7, 0, -7, 2147483647, -2147483648], { dtype: 'int32' }).sort({ descending: true }).indices.toArray()).toEqual([4, 0, 2, 1, 3, 5]);
    // A 0-d tensor sorts to itself, index 0.
    const s = kd.sort(kd.tensor(4));
    expect([s.values.item(), s.indices.item(), s.indices.ndim]).toEqual([4, 0, 0]);
  });

  it('the gradient of sorted values goes back to where each value came from', () => {
    const rng = makeRng(freshSeed());
    // Values at least 0.1 apart: a finite difference across a near-tie would swap them (a kink).
    const spaced = Array.from({ length: 15 }, (_, i) => -1 + i * (2 / 14) + 0.02 * rng()).sort(() => rng() - 0.5);
    const x = kd.tensor(spaced).reshape([3, 5]).requiresGrad_();
    const w = kd.tensor(Array.from({ length: 15 }, () => rng())).reshape([3, 5]);
    gradcheck((a) => a.sort({ dim: 0, descending: true }).values.mul(w).sum(), [x]);
    gradcheck((a) => a.t().sort({ dim: 1 }).values.mul(w.t()).sum(), [x]);
  });

  it('rejects a bad dim with ArgumentError naming sort', () => {
    expectError(() => kd.ones([2, 3]).sort({ dim: 2 }), kd.KindlingError, /sort/);
  });
});

describe('topk', () => {
  it('topk along every dim of every layout matches a stable float64 ranking, largest and smallest', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const draw = () => Math.floor(rng() * 9) - 4 + (rng() < 0.5 ? rng() : 0);
    for (const layout of LAYOUTS) {
      const shape = [4, 9, 5];
      const x = laid(shape, layout, draw);
      for (let dim = 0; dim < 3; dim++) {
        for (const largest of [true, false]) {
          for (const k of [0, 1, 3, shape[dim]]) {
            const { values: v, indices } = x.t.topk(k, { dim, largest });
            const outShape = shape.map((s, i) => (i === dim ? k : s));
            expect(v.shape).toEqual(outShape);
            const got = values(v), idx = values(indices);
            eachLine(outShape, dim, (pos) => {
              if (pos.length === 0) return;
              const outer = Math.floor(pos[0] / (k * numel(shape.slice(dim + 1))));
              const inner = pos[0] % numel(shape.slice(dim + 1));
              const inPos = Array.from({ length: shape[dim] }, (_, j) => (outer * shape[dim] + j) * numel(shape.slice(dim + 1)) + inner);
              const line = inPos.map((p) => x.ref[p]);
              const order = refOrder(line, largest);
              pos.forEach((p, j) => {
                expect(got[p], `seed ${seed} ${layout} dim ${dim} k ${k} largest ${largest}`).toBe(line[order[j]]);
                expect(line[idx[p]]).toBe(got[p]);
              });
              expect(new Set(pos.map((p) => idx[p])).size).toBe(k);
            });
          }
        }
      }
      x.free();
    }
  });

  it('topk over a 50257-word vocabulary picks what a full sort picks', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const rows = 4, vocab = 50257, k = 50;
    const logits = new Float32Array(rows * vocab);
    for (let i = 0; i < logits.length; i++) logits[i] = (rng() - 0.5) * 20;
    const x = kd.tensor(logits).reshape([rows, vocab]);
    const { values: v, indices } = x.topk(k);
    const got = v.data(), idx = indices.data();
    for (let r = 0; r < rows; r++) {
      const line = Array.from(logits.subarray(r * vocab, (r + 1) * vocab));
      const order = refOrder(line, true).slice(0, k);
      expect(Array.from(idx.subarray(r * k, (r + 1) * k)), `seed ${seed} row ${r}`).toEqual(order);
      expect(Array.from(got.subarray(r * k, (r + 1) * k))).toEqual(order.map((i) => line[i]));
    }
  });

  it('NaN counts as the largest value', () => {
    const x = kd.tensor([1, NaN, 3, 2]);
    expect(x.topk(2).values.toArray()).toEqual([NaN, 3]);
    expect(x.topk(2).indices.toArray()).toEqual([1, 2]);
    expect(x.topk(2, { largest: false }).indices.toArray()).toEqual([0, 3]);
  });

  it('the gradient flows to the selected elements only', () => {
    const rng = makeRng(freshSeed());
    // Values at least 0.09 apart, so no finite difference moves one across the selection boundary.
    const spaced = Array.from({ length: 21 }, (_, i) => -1 + i * (2 / 20) + 0.01 * rng()).sort(() => rng() - 0.5);
    const x = kd.tensor(spaced).reshape([3, 7]).requiresGrad_();
    gradcheck((a) => a.topk(3).values.square().sum(), [x]);
    gradcheck((a) => a.topk(2, { dim: 0, largest: false }).values.exp().sum(), [x]);
  });

  it('rejects k out of range and bad dtypes with errors naming topk and the shape', () => {
    expectError(() => kd.ones([2, 5]).topk(6), kd.ArgumentError, /topk/, /\[2,5\]/);
    expectError(() => kd.ones([2, 5]).topk(-1), kd.ArgumentError, /topk/);
    expectError(() => kd.ones([2, 5]).topk(1.5), kd.ArgumentError, /topk/);
    expectError(() => kd.ones([2, 5]).topk(1, { dim: 3 }), kd.KindlingError, /topk/);
  });
});
