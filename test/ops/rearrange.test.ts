// t, broadcastTo, tile, repeatInterleave, roll, diag and diagonal against index-by-index
// references on random inputs (odd sizes, transposed and sliced views), backwards against
// finite differences, and PyTorch's shape errors.
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import { forEachIndex, freshSeed, gradcheck, makeRng, numel, stridesOf } from '../helpers.js';
import { LAYOUTS, laid, values } from './layouts.js';

/** The reference value of `ref` (row-major over shape) at a multi-index. */
function at(ref: Float64Array, shape: number[], idx: number[]): number {
  const st = stridesOf(shape);
  return ref[idx.reduce((o, v, d) => o + v * st[d], 0)];
}

function randomLeaf(rng: () => number, shape: number[]) {
  return kd.tensor(Array.from({ length: numel(shape) }, () => rng() * 2 - 1), { dtype: 'float32' }).reshape(shape).requiresGrad_();
}

describe('t and broadcastTo', () => {
  it('t transposes a matrix view and returns vectors and scalars as they are', () => {
    const seed = freshSeed(), rng = makeRng(seed), draw = () => rng();
    const x = laid([3, 5], 'sliced', draw);
    const y = x.t.t();
    expect(y.shape).toEqual([5, 3]);
    const ref = new Float64Array(15);
    forEachIndex([5, 3], ([i, j], flat) => { ref[flat] = at(x.ref, [3, 5], [j, i]); });
    expect(Array.from(values(y))).toEqual(Array.from(ref));
    expect(kd.t(kd.tensor([1, 2, 3])).toArray()).toEqual([1, 2, 3]);
    expect(kd.t(kd.tensor(4)).item()).toBe(4);
    expect(() => kd.t(kd.ones([2, 3, 4]))).toThrow(kd.ShapeError);
    x.free();
  });

  it('broadcastTo is a view with stride 0 on new dims and accepts -1', () => {
    const x = kd.tensor([[1], [2]]);
    const y = x.broadcastTo([3, 2, 4]);
    expect(y.shape).toEqual([3, 2, 4]);
    expect(y.strides[0]).toBe(0);
    expect(y.toArray()).toEqual(Array(3).fill([[1, 1, 1, 1], [2, 2, 2, 2]]));
    expect(kd.broadcastTo(x, [-1, 3]).shape).toEqual([2, 3]);
    expect(() => kd.broadcastTo(kd.ones([2, 3]), [3, 3])).toThrow(/broadcastTo.*\[2, ?3\].*\[3, ?3\]/);
    expect(() => kd.broadcastTo(kd.ones([2, 3]), [3])).toThrow(kd.ShapeError);
    const leaf = randomLeaf(makeRng(freshSeed()), [2, 1]);
    gradcheck((a) => a.broadcastTo([3, 2, 4]).square().sum(), [leaf]);
  });
});

describe('tile', () => {
  it('tile repeats every layout along each dim, fewer dims padded with leading 1s', () => {
    const seed = freshSeed(), rng = makeRng(seed), draw = () => rng();
    for (const layout of LAYOUTS) {
      const x = laid([3, 2], layout, draw);
      for (const reps of [[2], [2, 3], [2, 1, 2]]) {
        const out = x.t.tile(reps);
        const padded = [...Array(Math.max(2 - reps.length, 0)).fill(1), ...reps];
        const shape = [...Array(padded.length - 2).fill(1), 3, 2].map((s, i) => s * padded[i]);
        expect(out.shape, `${layout} ${reps}`).toEqual(shape);
        const ref = new Float64Array(numel(shape));
        forEachIndex(shape, (idx, flat) => { ref[flat] = at(x.ref, [3, 2], [idx[idx.length - 2] % 3, idx[idx.length - 1] % 2]); });
        expect(Array.from(values(out)), `seed ${seed} ${layout} ${reps}`).toEqual(Array.from(ref));
        out.dispose();
      }
      x.free();
    }
    expect(kd.tile(kd.tensor([1, 2]), [2, 2]).toArray()).toEqual([[1, 2, 1, 2], [1, 2, 1, 2]]);
    gradcheck((a) => kd.tile(a, [2, 3]).square().sum(), [randomLeaf(makeRng(seed), [2, 3])]);
  });
});

describe('repeatInterleave', () => {
  it('an int repeat without dim flattens; with dim it repeats slices of a transposed view', () => {
    expect(kd.repeatInterleave(kd.tensor([[1, 2], [3, 4]]), 2).toArray()).toEqual([1, 1, 2, 2, 3, 3, 4, 4]);
    const seed = freshSeed(), rng = makeRng(seed);
    const x = laid([4, 5], 'transposed', () => rng());
    const out = x.t.repeatInterleave(3, 1);
    expect(out.shape).toEqual([4, 15]);
    const ref = new Float64Array(60);
    forEachIndex([4, 15], ([i, j], flat) => { ref[flat] = at(x.ref, [4, 5], [i, Math.floor(j / 3)]); });
    expect(Array.from(values(out)), `seed ${seed}`).toEqual(Array.from(ref));
    x.free();
  });

  it('tensor repeats along a dim, a one-element repeats tensor, and the repeats-only form', () => {
    const x = kd.tensor([[1, 2], [3, 4]]);
    expect(x.repeatInterleave(kd.tensor([1, 2]), 0).toArray()).toEqual([[1, 2], [3, 4], [3, 4]]);
    expect(x.repeatInterleave(kd.tensor([0, 3]), 1).toArray()).toEqual([[2, 2, 2], [4, 4, 4]]);
    expect(x.repeatInterleave(kd.tensor([3]), 0).shape).toEqual([6, 2]);
    expect(kd.repeatInterleave(kd.tensor([2, 0, 1])).toArray()).toEqual([0, 0, 2]);
    expect(() => x.repeatInterleave(kd.tensor([1, 2, 3]), 0)).toThrow(kd.ShapeError);
    expect(() => x.repeatInterleave(-1)).toThrow(kd.ArgumentError);
    expect(() => x.repeatInterleave(kd.tensor([1.5, 2]), 0)).toThrow(kd.DTypeError);
  });

  it('repeatInterleave backward sums the copies', () => {
    const rng = makeRng(freshSeed());
    gradcheck((a) => a.repeatInterleave(kd.tensor([2, 0, 3]), 1).square().sum(), [randomLeaf(rng, [2, 3])]);
    gradcheck((a) => a.repeatInterleave(2).square().sum(), [randomLeaf(rng, [2, 2])]);
  });
});

describe('roll', () => {
  it('roll along dims with positive, negative and oversized shifts on every layout', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const shape = [3, 4, 5];
    for (const layout of LAYOUTS) {
      const x = laid(shape, layout, () => rng());
      for (const [shifts, dims] of [[[1], [0]], [[-2, 7], [2, 1]], [[13, -1, 2], [0, 1, 2]]] as [number[], number[]][]) {
        const out = x.t.roll(shifts, dims);
        const ref = new Float64Array(60);
        forEachIndex(shape, (idx, flat) => {
          const src = [...idx];
          dims.forEach((d, k) => { src[d] = (((idx[d] - shifts[k]) % shape[d]) + shape[d]) % shape[d]; });
          ref[flat] = at(x.ref, shape, src);
        });
        expect(Array.from(values(out)), `seed ${seed} ${layout} ${shifts} ${dims}`).toEqual(Array.from(ref));
        out.dispose();
      }
      x.free();
    }
  });

  it('roll without dims rolls the flattened tensor; mismatched shifts and dims throw', () => {
    const x = kd.arange(6).reshape([2, 3]);
    expect(kd.roll(x, 1).toArray()).toEqual([[5, 0, 1], [2, 3, 4]]);
    expect(x.roll([1, -1], [0, 1]).toArray()).toEqual([[4, 5, 3], [1, 2, 0]]);
    expect(() => x.roll([1, -1], [0])).toThrow(kd.ArgumentError);
    expect(() => x.roll(1, 2)).toThrow(kd.ArgumentError);
    expect(kd.roll(kd.zeros([0, 3]), 2, 0).shape).toEqual([0, 3]);
  });

  it('roll backward rolls the gradient back', () => {
    const rng = makeRng(freshSeed());
    const w = kd.tensor(Array.from({ length: 12 }, () => rng())).reshape([3, 4]);
    gradcheck((a) => a.roll([1, -3], [0, 1]).mul(w).sum(), [randomLeaf(rng, [3, 4])]);
  });
});

describe('diag and diagonal', () => {
  it('diagonal is a view of the offset diagonal of any two dims of a random (transposed) tensor', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const shape = [4, 3, 5];
    for (const layout of ['contiguous', 'transposed', 'sliced'] as const) {
      const x = laid(shape, layout, () => rng());
      for (const [offset, d1, d2] of [[0, 0, 1], [1, 0, 2], [-2, 2, 0], [2, -1, 1], [9, 0, 1], [-1, 1, 2]]) {
        const out = x.t.diagonal(offset, d1, d2);
        const a = (d1 + 3) % 3, b = (d2 + 3) % 3, other = [0, 1, 2].find((d) => d !== a && d !== b)!;
        const len = Math.max(0, offset >= 0 ? Math.min(shape[a], shape[b] - offset) : Math.min(shape[a] + offset, shape[b]));
        expect(out.shape, `${offset} ${d1} ${d2}`).toEqual([shape[other], len]);
        const ref = new Float64Array(shape[other] * len);
        forEachIndex([shape[other], len], ([o, k], flat) => {
          const idx = [0, 0, 0];
          idx[other] = o;
          idx[a] = offset >= 0 ? k : k - offset;
          idx[b] = offset >= 0 ? k + offset : k;
          ref[flat] = at(x.ref, shape, idx);
        });
        expect(Array.from(values(out)), `seed ${seed} ${layout} diagonal(${offset}, ${d1}, ${d2})`).toEqual(Array.from(ref));
        out.dispose();
      }
      x.free();
    }
    const base = kd.zeros([3, 3]);
    const view = base.diagonal();
    kd.noGrad(() => view.fill_(7));
    expect(base.toArray()).toEqual([[7, 0, 0], [0, 7, 0], [0, 0, 7]]);
    expect(() => kd.diagonal(kd.ones([3]))).toThrow(kd.ShapeError);
    expect(() => kd.diagonal(kd.ones([3, 3]), 0, 1, -1)).toThrow(kd.ArgumentError);
  });

  it('diag makes a matrix from a vector and takes a copy of a matrix diagonal', () => {
    expect(kd.diag(kd.tensor([1, 2]), -1).toArray()).toEqual([[0, 0, 0], [1, 0, 0], [0, 2, 0]]);
    expect(kd.diag(kd.tensor([1, 2]), 1).toArray()).toEqual([[0, 1, 0], [0, 0, 2], [0, 0, 0]]);
    expect(kd.diag(kd.tensor([true]), 0).toArray()).toEqual([[true]]);
    const m = kd.arange(6).reshape([2, 3]);
    expect(m.diag(1).toArray()).toEqual([1, 5]);
    expect(m.T.diag().toArray()).toEqual([0, 4]);
    expect(m.diag(5).shape).toEqual([0]);
    const copy = m.diag();
    expect(copy.isContiguous()).toBe(true);
    expect(() => kd.diag(kd.ones([2, 2, 2]))).toThrow(kd.ShapeError);
  });

  it('diag and diagonal backward put the gradient on the diagonal', () => {
    const rng = makeRng(freshSeed());
    const w = kd.tensor(Array.from({ length: 16 }, () => rng())).reshape([4, 4]);
    gradcheck((a) => kd.diag(a, 1).mul(w).sum(), [randomLeaf(rng, [3])]);
    gradcheck((a) => a.diag(-1).square().sum(), [randomLeaf(rng, [3, 4])]);
    gradcheck((a) => a.diagonal(1, 2, 0).square().sum(), [randomLeaf(rng, [3, 2, 4])]);
  });
});
