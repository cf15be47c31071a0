// maskedSelect, nonzero, unique, median and scatter against plain JavaScript references on random
// inputs (odd sizes, broadcast masks, transposed and sliced views), their backwards, and
// PyTorch's shape, dtype and index errors.
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import { forEachIndex, freshSeed, gradcheck, makeRng, numel, stridesOf } from '../helpers.js';
import { LAYOUTS, laid, values } from './layouts.js';

function randomLeaf(rng: () => number, shape: number[]) {
  return kd.tensor(Array.from({ length: numel(shape) }, () => rng() * 2 - 1), { dtype: 'float32' }).reshape(shape).requiresGrad_();
}

describe('maskedSelect', () => {
  it('selects in row-major order from every layout with a broadcast mask', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    for (const layout of LAYOUTS) {
      const x = laid([4, 5], layout, () => rng());
      const maskValues = Array.from({ length: 5 }, () => rng() < 0.5);
      const out = x.t.maskedSelect(kd.tensor(maskValues));
      const ref: number[] = [];
      forEachIndex([4, 5], ([, j], flat) => { if (maskValues[j]) ref.push(x.ref[flat]); });
      expect(Array.from(values(out)), `seed ${seed} ${layout}`).toEqual(ref);
      out.dispose(); x.free();
    }
    // The input broadcasts too.
    expect(kd.maskedSelect(kd.tensor([1, 2]), kd.tensor([[true], [false]])).toArray()).toEqual([1, 2]);
    expect(() => kd.maskedSelect(kd.ones([2]), kd.ones([2]))).toThrow(kd.DTypeError);
    expect(() => kd.maskedSelect(kd.ones([2]), kd.tensor([true, false, true]))).toThrow(kd.ShapeError);
  });

  it('maskedSelect backward scatters the gradient back to the selected places', () => {
    const rng = makeRng(freshSeed());
    const mask = kd.tensor([[true, false, true], [false, false, true]]);
    gradcheck((a) => a.maskedSelect(mask).square().sum(), [randomLeaf(rng, [2, 3])]);
    gradcheck((a) => a.maskedSelect(mask).square().sum(), [randomLeaf(rng, [3])]);
  });
});

describe('nonzero', () => {
  it('lists the indices of non-zero elements (NaN counts) of a transposed view', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const shape = [3, 4, 2];
    const x = laid(shape, 'transposed', () => (rng() < 0.4 ? 0 : rng() < 0.1 ? NaN : rng()));
    const out = x.t.nonzero();
    const ref: number[][] = [];
    forEachIndex(shape, (idx, flat) => { if (x.ref[flat] !== 0) ref.push([...idx]); });
    expect(out.dtype).toBe('int32');
    expect(out.shape).toEqual([ref.length, 3]);
    expect(out.toArray(), `seed ${seed}`).toEqual(ref);
    const tuple = kd.nonzero(x.t, { asTuple: true });
    expect(tuple.length).toBe(3);
    tuple.forEach((t, d) => expect(t.toArray()).toEqual(ref.map((r) => r[d])));
    x.free();
  });

  it('handles 0-d and empty inputs as PyTorch', () => {
    expect(kd.nonzero(kd.tensor(5)).shape).toEqual([1, 0]);
    expect(kd.nonzero(kd.tensor(0)).shape).toEqual([0, 0]);
    expect(kd.nonzero(kd.tensor(5), { asTuple: true }).map((t) => t.toArray())).toEqual([[0]]);
    expect(kd.nonzero(kd.zeros([2, 0])).shape).toEqual([0, 2]);
    expect(kd.tensor([[0, 1], [2, 0]]).nonzero().toArray()).toEqual([[0, 1], [1, 0]]);
  });
});

describe('unique', () => {
  it('sorted distinct values with inverse and counts from random ints of a sliced view', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const x = laid([6, 7], 'sliced', () => Math.floor(rng() * 9) - 4, 'int32');
    const [u, inverse, counts] = x.t.unique({ returnInverse: true, returnCounts: true });
    const distinct = [...new Set(Array.from(x.ref))].sort((a, b) => a - b);
    expect(u.dtype).toBe('int32');
    expect(Array.from(values(u)), `seed ${seed}`).toEqual(distinct);
    expect(inverse.shape).toEqual([6, 7]);
    expect(Array.from(values(inverse))).toEqual(Array.from(x.ref).map((v) => distinct.indexOf(v)));
    expect(Array.from(values(counts))).toEqual(distinct.map((v) => Array.from(x.ref).filter((w) => w === v).length));
    expect(kd.unique(x.t).toArray()).toEqual(distinct);
    x.free();
  });

  it('floats, NaN (each distinct), bools, and the returnCounts-only pair', () => {
    expect(values(kd.unique(kd.tensor([NaN, 1, NaN])))).toEqual(Float64Array.from([1, NaN, NaN]));
    expect(kd.unique(kd.tensor([true, false, true])).toArray()).toEqual([false, true]);
    const [u, counts] = kd.unique(kd.tensor([3.5, 1, 3.5]), { returnCounts: true });
    expect(u.toArray()).toEqual([1, 3.5]);
    expect(counts.toArray()).toEqual([1, 2]);
    const [v, inverse] = kd.unique(kd.tensor([3, 1, 2, 1, 3]), { sorted: false, returnInverse: true });
    expect(v.toArray()).toEqual([1, 2, 3]);
    expect(inverse.toArray()).toEqual([2, 0, 1, 0, 2]);
  });

  it('unique slices along a dim, sorted lexicographically', () => {
    const x = kd.tensor([[1, 2], [1, 2], [0, 5]]);
    const [u, inverse, counts] = x.unique({ dim: 0, returnInverse: true, returnCounts: true });
    expect(u.toArray()).toEqual([[0, 5], [1, 2]]);
    expect(inverse.toArray()).toEqual([1, 1, 0]);
    expect(counts.toArray()).toEqual([1, 2]);
    expect(x.unique({ dim: 1 }).toArray()).toEqual([[1, 2], [1, 2], [0, 5]]);
    const seed = freshSeed(), rng = makeRng(seed);
    const y = laid([5, 3], 'transposed', () => Math.floor(rng() * 2), 'int32');
    const cols = [0, 1, 2].map((j) => [0, 1, 2, 3, 4].map((i) => y.ref[i * 3 + j]));
    const distinct = [...new Map(cols.map((c) => [c.join(','), c])).values()].sort((a, b) => {
      for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return a[k] - b[k];
      return 0;
    });
    const uy = y.t.unique({ dim: 1 });
    expect(uy.shape).toEqual([5, distinct.length]);
    expect(uy.T.toArray(), `seed ${seed}`).toEqual(distinct);
    y.free();
  });

  it('unique results do not require grad', () => {
    const x = kd.tensor([1.5, 1.5, 2]).requiresGrad_();
    expect(x.unique().requiresGrad).toBe(false);
  });
});

describe('median', () => {
  const lowerMedian = (v: number[]) => {
    if (v.some(Number.isNaN)) return NaN;
    const s = [...v].sort((a, b) => a - b);
    return s[Math.floor((s.length - 1) / 2)];
  };

  it('global lower median of random floats and ints (even and odd counts)', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    for (const shape of [[7], [4, 6], [3, 1, 5]]) {
      const x = laid(shape, 'transposed', () => rng() * 10 - 5);
      expect(x.t.median().item(), `seed ${seed} ${shape}`).toBe(lowerMedian(Array.from(x.ref)));
      x.free();
    }
    expect(kd.median(kd.tensor([1, 2, 3, 4])).item()).toBe(2);
    expect(kd.median(kd.tensor([1, 2, 3, 4])).dtype).toBe('int32');
    expect(Number.isNaN(kd.median(kd.tensor([1, NaN, 3, 4])).item())).toBe(true);
    expect(Number.isNaN(kd.median(kd.zeros([0])).item())).toBe(true);
    expect(() => kd.median(kd.tensor([true]))).toThrow(kd.DTypeError);
  });

  it('median along a dim returns values and indices of the lower median (NaN first)', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const shape = [4, 5, 3];
    for (const layout of ['contiguous', 'transposed', 'sliced'] as const) {
      const x = laid(shape, layout, () => Math.floor(rng() * 7), 'int32');
      for (const dim of [0, 1, -1]) {
        const d = (dim + 3) % 3;
        const { values: v, indices } = x.t.median(dim, true);
        const outShape = shape.map((s, i) => (i === d ? 1 : s));
        expect(v.shape).toEqual(outShape);
        const vals = values(v), idx = values(indices);
        const st = stridesOf(shape);
        forEachIndex(outShape, (pos, flat) => {
          const line = Array.from({ length: shape[d] }, (_, k) => x.ref[pos.reduce((o, p, i) => o + (i === d ? k : p) * st[i], 0)]);
          expect(vals[flat], `seed ${seed} ${layout} dim ${dim}`).toBe(lowerMedian(line));
          expect(line[idx[flat]]).toBe(vals[flat]);
        });
        const squeezed = x.t.median(dim);
        expect(squeezed.values.shape).toEqual(shape.filter((_, i) => i !== d));
      }
      x.free();
    }
    const m = kd.tensor([[1, NaN, 3, 4], [NaN, 1, 2, NaN]]).median(1);
    expect(Array.from(values(m.indices))).toEqual([1, 0]);
    expect(kd.tensor([[2, 2, 1, 2, 2]]).median(1).indices.toArray()).toEqual([1]);
    expect(kd.median(kd.tensor(5.5), 0).values.item()).toBe(5.5);
    expect(() => kd.median(kd.zeros([2, 0]), 1)).toThrow(kd.ShapeError);
  });

  it('median backward: shared among ties globally, to the index along a dim', () => {
    const x = kd.tensor([2, 2, 1, 3], { dtype: 'float32' }).requiresGrad_();
    x.median().backward();
    expect(Array.from(x.grad!.data())).toEqual([0.5, 0.5, 0, 0]);
    const seed = freshSeed(), rng = makeRng(seed);
    // Distinct values at least 0.05 apart, shuffled: a finite-difference step never swaps which
    // element is the median (random values closer than eps did).
    const spaced = (shape: number[]) => {
      const v = Array.from({ length: numel(shape) }, (_, i) => -1 + 0.05 * i + 0.01 * rng());
      for (let i = v.length - 1; i > 0; i--) {
        const j = Math.floor(rng() * (i + 1));
        [v[i], v[j]] = [v[j], v[i]];
      }
      return kd.tensor(v, { dtype: 'float32' }).reshape(shape).requiresGrad_();
    };
    gradcheck((a) => a.median(1).values.square().sum(), [spaced([3, 5])], { eps: 1e-4, context: `seed ${seed}` });
    gradcheck((a) => a.median().mul(3), [spaced([2, 3])], { eps: 1e-4, context: `seed ${seed}` });
  });
});

describe('scatter', () => {
  it('writes src at index along dim of a transposed input; the last write wins', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const shape = [4, 6];
    for (const dim of [0, 1]) {
      const x = laid(shape, 'transposed', () => rng());
      const src = laid([3, 5], 'sliced', () => rng() + 10);
      const idxShape = [2, 4];
      const index = kd.tensor(Array.from({ length: 8 }, () => Math.floor(rng() * shape[dim]))).reshape(idxShape);
      const out = x.t.scatter(dim, index, src.t);
      const ref = Float64Array.from(x.ref);
      const iv = values(index);
      forEachIndex(idxShape, ([i, j], flat) => {
        const target = dim === 0 ? [iv[flat], j] : [i, iv[flat]];
        ref[target[0] * shape[1] + target[1]] = src.ref[i * 5 + j];
      });
      expect(Array.from(values(out)), `seed ${seed} dim ${dim}`).toEqual(Array.from(ref).map(Math.fround));
      out.dispose(); x.free(); src.free();
    }
  });

  it('scatters a value, adds or multiplies with reduce, and works in place', () => {
    const index = kd.tensor([[0, 0], [2, 1]]);
    const x = kd.zeros([3, 2]);
    expect(x.scatter(0, index, 5).toArray()).toEqual([[5, 5], [0, 5], [5, 0]]);
    const src = kd.tensor([[1, 2], [3, 4]], { dtype: 'float32' });
    expect(x.scatter(0, kd.tensor([[0, 0], [0, 0]]), src, { reduce: 'add' }).toArray()).toEqual([[4, 6], [0, 0], [0, 0]]);
    expect(kd.ones([3]).scatter(0, kd.tensor([0, 0]), 2, { reduce: 'multiply' }).toArray()).toEqual([4, 1, 1]);
    expect(kd.ones([3]).scatter(0, kd.tensor([0, 0]), 2, { reduce: 'add' }).toArray()).toEqual([5, 1, 1]);
    expect(kd.scatter(kd.ones([2], { dtype: 'int32' }), 0, kd.tensor([1, 1]), kd.tensor([3, 5]), { reduce: 'multiply' }).toArray()).toEqual([1, 15]);
    expect(kd.scatter(kd.zeros([3], { dtype: 'int32' }), 0, kd.tensor([0]), 2.5).toArray()).toEqual([2, 0, 0]);
    const y = kd.zeros([2, 3]);
    expect(y.scatter_(1, kd.tensor([[2], [0]]), kd.tensor([[7], [8]], { dtype: 'float32' }))).toBe(y);
    expect(y.toArray()).toEqual([[0, 0, 7], [8, 0, 0]]);
  });

  it('rejects bad indices, shapes and dtypes as PyTorch', () => {
    const x = kd.zeros([3, 2]);
    expect(() => x.scatter(0, kd.tensor([[3, 0]]), 1)).toThrow(/scatter: index 3 is out of bounds for dim 0 with size 3/);
    expect(() => x.scatter(0, kd.tensor([[-1, 0]]), 1)).toThrow(kd.ArgumentError);
    expect(() => x.scatter(0, kd.tensor([0, 1]), 1)).toThrow(kd.ShapeError);
    expect(() => x.scatter(0, kd.tensor([[0, 1]]), kd.tensor([[1, 2]]))).toThrow(kd.DTypeError);
    expect(() => x.scatter(0, kd.tensor([[0.5, 1]]), 1)).toThrow(kd.DTypeError);
    expect(() => x.scatter(0, kd.tensor([[0, 1, 0]]), 1)).toThrow(kd.ShapeError);
    expect(() => x.scatter(0, kd.tensor([[0, 1]]), kd.zeros([1, 1]))).toThrow(kd.ShapeError);
    expect(() => x.scatter(0, kd.tensor([[0, 1]]), 1, { reduce: 'max' as 'add' })).toThrow(kd.ArgumentError);
    const leaf = kd.zeros([3]).requiresGrad_();
    expect(() => leaf.scatter_(0, kd.tensor([0]), 1)).toThrow(/scatter_/);
  });

  it('scatter backward: g off the written places for input, g gathered at index for src', () => {
    const x = kd.zeros([4]).requiresGrad_(), s = kd.tensor([1, 2, 3], { dtype: 'float32' }).requiresGrad_();
    const y = kd.scatter(x, 0, kd.tensor([1, 1]), s);
    y.backward(kd.tensor([1, 2, 3, 4], { dtype: 'float32' }));
    expect(x.grad!.toArray()).toEqual([1, 0, 3, 4]);
    expect(s.grad!.toArray()).toEqual([2, 2, 0]);
    const rng = makeRng(freshSeed());
    const index = kd.tensor([[0, 2, 1], [1, 0, 2]]);
    const w = kd.tensor(Array.from({ length: 9 }, () => rng())).reshape([3, 3]);
    gradcheck((a, b) => a.scatter(0, index, b).mul(w).sum(), [randomLeaf(rng, [3, 3]), randomLeaf(rng, [2, 4])]);
  });
});

describe.skipIf(!kd.cuda.isAvailable())('on a CUDA device (skipped without one)', () => {
  it('maskedSelect, nonzero, unique, median and scatter give the CPU results for CUDA tensors', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const x = kd.tensor(Array.from({ length: 24 }, () => Math.floor(rng() * 5))).reshape([4, 6]);
    const g = x.to('cuda');
    const same = (a: kd.Tensor, b: kd.Tensor) => {
      expect(b.device).toBe('cuda');
      expect(b.to('cpu').toArray(), `seed ${seed}`).toEqual(a.toArray());
    };
    const mask = x.gt(2);
    same(x.maskedSelect(mask), g.maskedSelect(mask.to('cuda')));
    same(x.T.nonzero(), g.T.nonzero());
    const [u, inv, counts] = x.unique({ returnInverse: true, returnCounts: true });
    const [gu, ginv, gcounts] = g.unique({ returnInverse: true, returnCounts: true });
    same(u, gu); same(inv, ginv); same(counts, gcounts);
    same(x.median(1).values, g.median(1).values);
    same(x.median(), g.median());
    const index = kd.tensor([[0, 3, 1, 2, 3, 0]]);
    same(x.scatter(0, index, 9), g.scatter(0, index.to('cuda'), 9));
    same(x.scatter(0, index, x.add(10)), g.scatter(0, index.to('cuda'), g.add(10)));
  });
});
