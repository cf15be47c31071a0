// Views and shape ops: each result against indices computed in JavaScript, on contiguous and
// non-contiguous inputs; views must share storage, copies must not.
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { forEachIndex, freshSeed, makeRng, numel, stridesOf } from '../helpers.js';
import { LAYOUTS, laid, values } from './layouts.js';

/** The values of `ref` (row-major over `shape`) gathered by a map from output index to input index. */
function gatherRef(outShape: number[], inShape: number[], ref: Float64Array, src: (idx: number[]) => number[]): Float64Array {
  const s = stridesOf(inShape);
  const out = new Float64Array(numel(outShape));
  forEachIndex(outShape, (idx, flat) => {
    const i = src(idx);
    out[flat] = ref[i.reduce((a, v, d) => a + v * s[d], 0)];
  });
  return out;
}

function expectValues(t: Tensor, shape: number[], ref: Float64Array, ctx: string): void {
  expect(t.shape, ctx).toEqual(shape);
  expect(Array.from(values(t)), ctx).toEqual(Array.from(ref));
}

describe('reshape and view', () => {
  it('reshape keeps row-major order on every layout, with -1 inferred', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    for (const layout of LAYOUTS) {
      const x = laid([4, 3, 6], layout, () => rng());
      for (const target of [[72], [12, 6], [-1, 8], [2, -1, 3, 2], [4, 3, 6, 1], [1, 72]]) {
        const r = x.t.reshape(target);
        const want = target.includes(-1) ? target.map((s) => (s === -1 ? 72 / -target.reduce((a, b) => a * b, 1) : s)) : target;
        expectValues(r, want, x.ref, `reshape ${layout} -> ${JSON.stringify(target)} seed ${seed}`);
        r.dispose();
      }
      x.free();
    }
  });

  it('view on a contiguous tensor shares storage; writing the base shows in the view', () => {
    const base = kd.arange(12, { dtype: 'float32' });
    const v = base.view(3, 4);
    (base.data() as Float32Array)[5] = 100;
    expect(v.toArray()).toEqual([[0, 1, 2, 3], [4, 100, 6, 7], [8, 9, 10, 11]]);
    const v2 = v.view([-1]);
    (v2.data() as Float32Array)[0] = -1;
    expect((base.data() as Float32Array)[0]).toBe(-1);
  });

  it('view of a non-contiguous tensor fails with a ShapeError when no strides exist; reshape copies instead', () => {
    const t = kd.arange(12, { dtype: 'float32' }).view(3, 4).T; // [4,3], strides [1,4]
    expect(() => t.view(12)).toThrow(kd.ShapeError);
    expect(() => t.view(12)).toThrow(/view: .*\[4,3\].*reshape/);
    const r = t.reshape(12);
    expect(r.toArray()).toEqual([0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
    (r.data() as Float32Array)[0] = 50; // a copy: the base is untouched
    expect(t.toArray()).toEqual([[0, 4, 8], [1, 5, 9], [2, 6, 10], [3, 7, 11]]);
    // Splitting a dim of a transposed tensor is a legal view.
    const split = t.view(2, 2, 3);
    expect(split.strides).toEqual([2, 1, 4]);
    expect(split.toArray()).toEqual([[[0, 4, 8], [1, 5, 9]], [[2, 6, 10], [3, 7, 11]]]);
    // A step-2 slice can be viewed with its own stride.
    const s = kd.arange(8, { dtype: 'float32' }).slice(0, 0, null, 2).view(2, 2);
    expect(s.toArray()).toEqual([[0, 2], [4, 6]]);
  });

  it('bad shapes throw ShapeError: wrong element count, two -1s, negative sizes', () => {
    const t = kd.ones([2, 3]);
    expect(() => t.reshape(4)).toThrow(kd.ShapeError);
    expect(() => t.reshape(4)).toThrow(/\[4\].*6/);
    expect(() => t.reshape(-1, -1)).toThrow(kd.ShapeError);
    expect(() => t.view(-2, -3)).toThrow(kd.ShapeError);
    expect(() => t.reshape(-1, 4)).toThrow(kd.ShapeError);
    expect(kd.zeros([0, 3]).reshape(3, 0, 5).shape).toEqual([3, 0, 5]);
    expect(() => kd.zeros([0, 3]).reshape(-1, 0)).toThrow(kd.ShapeError); // -1 could be anything
  });

  it('flatten and unflatten', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const x = laid([2, 3, 4, 5], 'transposed', () => rng());
    expectValues(x.t.flatten(), [120], x.ref, `flatten seed ${seed}`);
    expectValues(x.t.flatten(1, 2), [2, 12, 5], x.ref, `flatten(1,2) seed ${seed}`);
    expectValues(x.t.flatten(-2), [2, 3, 20], x.ref, `flatten(-2) seed ${seed}`);
    expectValues(x.t.unflatten(2, [2, 2]), [2, 3, 2, 2, 5], x.ref, `unflatten seed ${seed}`);
    expect(kd.tensor(3).flatten().shape).toEqual([1]);
    expect(() => x.t.flatten(2, 1)).toThrow(kd.ArgumentError);
    expect(() => x.t.unflatten(1, [2, 2])).toThrow(kd.ShapeError);
    x.free();
  });
});

describe('dim permutations', () => {
  it('transpose, T, mT and permute (negative dims) are views with the right element order', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const x = laid([2, 3, 4], 'sliced', () => rng());
    expectValues(x.t.transpose(0, 2), [4, 3, 2], gatherRef([4, 3, 2], [2, 3, 4], x.ref, ([a, b, c]) => [c, b, a]), `transpose seed ${seed}`);
    expectValues(x.t.transpose(-1, -2), [2, 4, 3], gatherRef([2, 4, 3], [2, 3, 4], x.ref, ([a, b, c]) => [a, c, b]), `transpose(-1,-2) seed ${seed}`);
    expectValues(x.t.mT, [2, 4, 3], gatherRef([2, 4, 3], [2, 3, 4], x.ref, ([a, b, c]) => [a, c, b]), `mT seed ${seed}`);
    expectValues(x.t.permute(2, 0, 1), [4, 2, 3], gatherRef([4, 2, 3], [2, 3, 4], x.ref, ([c, a, b]) => [a, b, c]), `permute seed ${seed}`);
    expectValues(x.t.permute([-1, -3, -2]), [4, 2, 3], gatherRef([4, 2, 3], [2, 3, 4], x.ref, ([c, a, b]) => [a, b, c]), `permute negative seed ${seed}`);
    const m = kd.arange(6, { dtype: 'float32' }).view(2, 3);
    expect(m.T.toArray()).toEqual([[0, 3], [1, 4], [2, 5]]);
    expect(m.T.isContiguous()).toBe(false);
    (m.data() as Float32Array)[1] = 42;
    expect(m.T.toArray()).toEqual([[0, 3], [42, 4], [2, 5]]);
    expect(() => x.t.permute(0, 1)).toThrow(kd.ShapeError);
    expect(() => x.t.permute(0, 1, 1)).toThrow(kd.ArgumentError);
    expect(() => x.t.transpose(0, 3)).toThrow(kd.ArgumentError);
    x.free();
  });

  it('unsqueeze and squeeze (one dim, a list, all size-1 dims, a non-1 dim is left alone)', () => {
    const t = kd.arange(6, { dtype: 'float32' }).view(2, 1, 3);
    expect(t.unsqueeze(0).shape).toEqual([1, 2, 1, 3]);
    expect(t.unsqueeze(-1).shape).toEqual([2, 1, 3, 1]);
    expect(t.unsqueeze(3).shape).toEqual([2, 1, 3, 1]);
    expect(t.squeeze().shape).toEqual([2, 3]);
    expect(t.squeeze(1).shape).toEqual([2, 3]);
    expect(t.squeeze(0).shape).toEqual([2, 1, 3]);
    expect(t.unsqueeze(0).unsqueeze(-1).squeeze([0, -1]).shape).toEqual([2, 1, 3]);
    expect(t.squeeze().toArray()).toEqual([[0, 1, 2], [3, 4, 5]]);
    expect(kd.tensor([5]).squeeze().shape).toEqual([]);
    expect(() => t.unsqueeze(5)).toThrow(kd.ArgumentError);
    // unsqueeze of a transposed view keeps the values
    const tt = kd.arange(6, { dtype: 'float32' }).view(2, 3).T.unsqueeze(1);
    expect(tt.toArray()).toEqual([[[0, 3]], [[1, 4]], [[2, 5]]]);
  });

  it('expand broadcasts with stride 0 (and -1 keeps a size); expanded views read the shared element', () => {
    const c = kd.tensor([[1], [2], [3]], { dtype: 'float32' });
    const e = c.expand(2, 3, 4);
    expect(e.shape).toEqual([2, 3, 4]);
    expect(e.strides.slice(0, 1)).toEqual([0]);
    expect(e.strides[2]).toBe(0);
    expect(c.expand(-1, 2).toArray()).toEqual([[1, 1], [2, 2], [3, 3]]);
    (c.data() as Float32Array)[1] = 9;
    expect(e.select(1, 1).toArray()).toEqual([[9, 9, 9, 9], [9, 9, 9, 9]]);
    expect(c.expandAs(kd.zeros([3, 2])).shape).toEqual([3, 2]);
    expect(() => c.expand(4, 4)).toThrow(kd.ShapeError);
    expect(() => c.expand(4)).toThrow(kd.ShapeError);
    expect(() => c.expand(-1, 3, 2)).toThrow(kd.ShapeError);
  });

  it('contiguous copies a non-contiguous view and returns a view of a contiguous one', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    for (const layout of LAYOUTS) {
      const x = laid([3, 5, 2], layout, () => rng());
      const c = x.t.contiguous();
      expect(c.isContiguous()).toBe(true);
      expectValues(c, [3, 5, 2], x.ref, `contiguous ${layout} seed ${seed}`);
      if (layout === 'contiguous') {
        (c.data() as Float32Array)[0] = 123;
        expect((x.t.data() as Float32Array)[0]).toBe(123);
      }
      x.free();
    }
  });
});

describe('slicing', () => {
  it('slice with negative bounds, steps, clamped and empty ranges matches Python slicing', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const x = laid([5, 9], 'transposed', () => rng());
    const pySlice = (n: number, s: number | null, e: number | null, step: number) => {
      let a = s ?? 0, b = e ?? n;
      if (a < 0) a += n;
      if (b < 0) b += n;
      a = Math.min(Math.max(a, 0), n);
      b = Math.min(Math.max(b, 0), n);
      const idx: number[] = [];
      for (let i = a; i < b; i += step) idx.push(i);
      return idx;
    };
    const cases: [number, number | null, number | null, number][] = [
      [1, 2, 7, 1], [1, -3, null, 1], [1, null, -2, 2], [1, 1, null, 3], [0, -10, 10, 2], [1, 7, 2, 1], [0, 4, 5, 1], [-1, -100, -5, 1],
    ];
    for (const [dim, s, e, step] of cases) {
      const d = dim < 0 ? dim + 2 : dim;
      const idx = pySlice(x.t.shape[d], s, e, step);
      const outShape = [...x.t.shape];
      outShape[d] = idx.length;
      const ref = gatherRef(outShape, [5, 9], x.ref, (i) => i.map((v, k) => (k === d ? idx[v] : v)));
      expectValues(x.t.slice(dim, s, e, step), outShape, ref, `slice(${dim}, ${s}, ${e}, ${step}) seed ${seed}`);
    }
    expect(() => x.t.slice(0, 0, 2, 0)).toThrow(kd.ArgumentError);
    expect(() => x.t.slice(0, 0, 2, -1)).toThrow(kd.ArgumentError);
    expect(() => kd.tensor(1).slice(0, 0, 1)).toThrow(kd.ShapeError);
    x.free();
  });

  it('slices and selects share storage with their base, both ways', () => {
    const base = kd.zeros([4, 6]);
    const s = base.slice(1, 1, 5, 2); // columns 1 and 3
    s.fill_(1);
    const row = base.select(0, -1);
    row.add_(10);
    expect(base.toArray()).toEqual([
      [0, 1, 0, 1, 0, 0], [0, 1, 0, 1, 0, 0], [0, 1, 0, 1, 0, 0], [10, 11, 10, 11, 10, 10],
    ]);
    (base.data() as Float32Array)[1] = 7;
    expect(s.select(0, 0).toArray()).toEqual([7, 1]);
  });

  it('narrow and select (negative index); out-of-range index throws', () => {
    const t = kd.arange(24, { dtype: 'float32' }).view(2, 3, 4);
    expect(t.narrow(2, 1, 2).toArray()).toEqual([[[1, 2], [5, 6], [9, 10]], [[13, 14], [17, 18], [21, 22]]]);
    expect(t.select(1, -1).toArray()).toEqual([[8, 9, 10, 11], [20, 21, 22, 23]]);
    expect(t.select(0, 1).select(0, 2).select(0, 3).item()).toBe(23);
    expect(() => t.select(1, 3)).toThrow(kd.ArgumentError);
    expect(() => t.select(1, -4)).toThrow(kd.ArgumentError);
    expect(() => t.select(3, 0)).toThrow(kd.ArgumentError);
  });

  it('split (size and sizes), chunk (uneven) along each dim', () => {
    const t = kd.arange(30, { dtype: 'float32' }).view(5, 6);
    const parts = t.split(2);
    expect(parts.map((p) => p.shape)).toEqual([[2, 6], [2, 6], [1, 6]]);
    expect(parts[2].toArray()).toEqual([[24, 25, 26, 27, 28, 29]]);
    const cols = t.split([1, 3, 2], 1);
    expect(cols.map((p) => p.shape)).toEqual([[5, 1], [5, 3], [5, 2]]);
    expect(cols[1].select(0, 1).toArray()).toEqual([7, 8, 9]);
    expect(t.chunk(4, 1).map((p) => p.shape)).toEqual([[5, 2], [5, 2], [5, 2]]);
    expect(t.chunk(2).map((p) => p.shape)).toEqual([[3, 6], [2, 6]]);
    expect(t.chunk(10, -2).length).toBe(5);
    expect(() => t.split([1, 2], 0)).toThrow(kd.ShapeError);
    expect(() => t.split(0)).toThrow(kd.ArgumentError);
    expect(() => t.chunk(0)).toThrow(kd.ArgumentError);
  });

  it('split backward gathers the pieces\' gradients into one tensor (unused pieces zero, strided input, twice with retainGraph)', () => {
    const base = kd.arange(60, { dtype: 'float32' }).view(6, 10).mul(0.1).requiresGrad_();
    const x = base.transpose(0, 1); // [10, 6], strided
    const [a, b, c] = x.split([2, 5, 3], 0);
    // Weights that differ per element so a misplaced slab shows; b gets no gradient.
    const wa = kd.arange(12, { dtype: 'float32' }).view(2, 6), wc = kd.arange(18, { dtype: 'float32' }).view(3, 6).mul(-1);
    const loss = a.mul(wa).sum().add(c.transpose(0, 1).mul(wc.transpose(0, 1)).sum()).add(a.sum());
    loss.backward(undefined, { retainGraph: true });
    const expected = new Float64Array(60); // base [6, 10]: base[i][j] = x[j][i]
    for (let j = 0; j < 10; j++) {
      for (let i = 0; i < 6; i++) {
        expected[i * 10 + j] = j < 2 ? j * 6 + i + 1 : j >= 7 ? -((j - 7) * 6 + i) : 0;
      }
    }
    expect(Array.from(base.grad!.data() as Float32Array)).toEqual(Array.from(expected));
    loss.backward();
    expect(Array.from(base.grad!.data() as Float32Array)).toEqual(Array.from(expected, (v) => 2 * v));
    // Pieces used twice, and one piece feeding another split.
    const y = kd.arange(8, { dtype: 'float32' }).requiresGrad_();
    const [p, q] = y.chunk(2);
    const [q1, q2] = q.split(2);
    p.mul(p).sum().add(q1.mul(3).sum()).add(q2.sum()).add(q2.mul(2).sum()).backward();
    expect(Array.from(y.grad!.data() as Float32Array)).toEqual([0, 2, 4, 6, 3, 3, 3, 3]);
    // createGraph takes the scatter-and-add path and gives the same gradient.
    const z = kd.tensor([1, 2, 3, 4], { dtype: 'float32' }).requiresGrad_();
    const [z1, z2] = z.split(2);
    z1.pow(3).sum().add(z2.pow(2).sum()).backward(undefined, { createGraph: true });
    expect(Array.from(z.grad!.data() as Float32Array)).toEqual([3, 12, 6, 8]);
  });

  it('flip over one and several dims of a non-contiguous input; repeated dims throw', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const x = laid([3, 4, 5], 'transposed', () => rng());
    expectValues(x.t.flip(0), [3, 4, 5], gatherRef([3, 4, 5], [3, 4, 5], x.ref, ([a, b, c]) => [2 - a, b, c]), `flip(0) seed ${seed}`);
    expectValues(x.t.flip([-1, 1]), [3, 4, 5], gatherRef([3, 4, 5], [3, 4, 5], x.ref, ([a, b, c]) => [a, 3 - b, 4 - c]), `flip(-1,1) seed ${seed}`);
    const f = x.t.flip(2);
    expect(f.isContiguous()).toBe(true);
    expect(() => x.t.flip([0, 0])).toThrow(kd.ArgumentError);
    expect(() => x.t.flip([0, -3])).toThrow(kd.ArgumentError);
    expect(kd.tensor(3.5).flip([]).item()).toBe(3.5);
    expect(kd.zeros([0, 2]).flip(0).shape).toEqual([0, 2]);
    x.free();
  });

  it('repeat tiles like PyTorch, including extra leading dims', () => {
    const t = kd.tensor([[1, 2], [3, 4]]);
    expect(t.repeat(2, 1).toArray()).toEqual([[1, 2], [3, 4], [1, 2], [3, 4]]);
    expect(t.repeat(1, 3).toArray()).toEqual([[1, 2, 1, 2, 1, 2], [3, 4, 3, 4, 3, 4]]);
    expect(t.repeat(2, 1, 1).shape).toEqual([2, 2, 2]);
    expect(t.T.repeat([1, 2]).toArray()).toEqual([[1, 3, 1, 3], [2, 4, 2, 4]]);
    expect(t.repeat(0, 1).shape).toEqual([0, 2]);
    expect(() => t.repeat(2)).toThrow(kd.ShapeError);
  });
});

describe('cat and stack', () => {
  it('cat along each dim (and negative dims) of mixed non-contiguous inputs', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    for (let dim = -3; dim < 3; dim++) {
      const d = dim < 0 ? dim + 3 : dim;
      const shapes = [[2, 3, 4], [2, 3, 4], [2, 3, 4]].map((s, i) => s.map((v, k) => (k === d ? i + 1 : v)));
      const xs = shapes.map((s, i) => laid(s, LAYOUTS[i], () => rng()));
      const out = kd.cat(xs.map((x) => x.t), dim);
      const outShape = [2, 3, 4].map((v, k) => (k === d ? 6 : v));
      const ref = new Float64Array(numel(outShape));
      forEachIndex(outShape, (idx, flat) => {
        let k = 0, i = idx[d];
        while (i >= shapes[k][d]) i -= shapes[k++][d];
        const src = [...idx];
        src[d] = i;
        const st = stridesOf(shapes[k]);
        ref[flat] = xs[k].ref[src.reduce((a, v, q) => a + v * st[q], 0)];
      });
      expectValues(out, outShape, ref, `cat dim ${dim} seed ${seed}`);
      xs.forEach((x) => x.free());
    }
  });

  it('cat skips 1-d empty tensors, promotes dtypes, and rejects mismatched shapes', () => {
    const a = kd.tensor([[1, 2]]), b = kd.tensor([[0.5, 1.5]]);
    const c = kd.cat([a, kd.zeros([0]), b]);
    expect(c.dtype).toBe('float32');
    expect(c.toArray()).toEqual([[1, 2], [0.5, 1.5]]);
    expect(kd.cat([kd.tensor([true]), kd.tensor([2])]).toArray()).toEqual([1, 2]);
    expect(() => kd.cat([a, kd.ones([1, 3])])).toThrow(kd.ShapeError);
    expect(() => kd.cat([a, kd.ones([1, 3])])).toThrow(/cat: .*\[1,2\].*\[1,3\]/);
    expect(() => kd.cat([])).toThrow(kd.ArgumentError);
    expect(() => kd.cat([a, kd.ones([2])])).toThrow(kd.ShapeError);
    expect(() => kd.cat([a], 2)).toThrow(kd.ArgumentError);
  });

  it('stack at every position, including the new last dim, from transposed inputs', () => {
    const a = kd.arange(6, { dtype: 'float32' }).view(2, 3).T, b = a.add(10);
    expect(kd.stack([a, b]).shape).toEqual([2, 3, 2]);
    expect(kd.stack([a, b], 1).toArray()).toEqual([[[0, 3], [10, 13]], [[1, 4], [11, 14]], [[2, 5], [12, 15]]]);
    expect(kd.stack([a, b], -1).toArray()).toEqual([[[0, 10], [3, 13]], [[1, 11], [4, 14]], [[2, 12], [5, 15]]]);
    expect(kd.stack([kd.tensor(1), kd.tensor(2)]).toArray()).toEqual([1, 2]);
    expect(() => kd.stack([a, kd.ones([2, 3])])).toThrow(kd.ShapeError);
    expect(() => kd.stack([a, b], 4)).toThrow(kd.ArgumentError);
  });

  it('cat result does not share storage with its inputs', () => {
    const a = kd.ones([2]), c = kd.cat([a, a]);
    a.fill_(5);
    expect(c.toArray()).toEqual([1, 1, 1, 1]);
  });
});

describe('narrow', () => {
  it('takes length elements from start, counting a negative start from the end, as a view', () => {
    const x = kd.arange(10).reshape([2, 5]);
    expect(x.narrow(1, 1, 3).toArray()).toEqual([[1, 2, 3], [6, 7, 8]]);
    expect(x.narrow(1, -2, 2).toArray()).toEqual([[3, 4], [8, 9]]);
    expect(x.narrow(0, 2, 0).shape).toEqual([0, 5]);
    expect(x.narrow(-1, 5, 0).shape).toEqual([2, 0]);
  });

  it('start + length past the end is a ShapeError, as in PyTorch (not a shorter result)', () => {
    const x = kd.arange(4);
    expect(() => x.narrow(0, 3, 5)).toThrow(kd.ShapeError);
    expect(() => x.narrow(0, 3, 5)).toThrow(/start \(3\) \+ length \(5\) exceeds dimension size \(4\)/);
    expect(() => x.narrow(0, 1, 4)).toThrow(kd.ShapeError);
    expect(() => x.narrow(0, 5, 0)).toThrow(kd.ShapeError);
    expect(() => x.narrow(0, -5, 1)).toThrow(kd.ShapeError);
    expect(() => x.narrow(0, 0, -1)).toThrow(kd.ArgumentError);
    expect(() => x.narrow(0, 0.5, 1)).toThrow(kd.ArgumentError);
  });
});

describe('copy_ between views of one storage', () => {
  it('partially overlapping contiguous views are refused, as PyTorch does', () => {
    const x = kd.arange(6, { dtype: 'float32' });
    expect(() => x.narrow(0, 1, 4).copy_(x.narrow(0, 0, 4))).toThrow(kd.ArgumentError);
    expect(() => x.narrow(0, 1, 4).copy_(x.narrow(0, 0, 4))).toThrow(/some elements of the input tensor and the written-to tensor refer to a single memory location/);
    const m = kd.arange(9, { dtype: 'float32' }).reshape([3, 3]);
    expect(() => m.copy_(m.transpose(0, 1))).toThrow(/single memory location/);
    expect(() => m.copy_(m.narrow(0, 0, 1))).toThrow(/single memory location/);
    expect(x.toArray()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(m.toArray()).toEqual([[0, 1, 2], [3, 4, 5], [6, 7, 8]]);
  });

  it('the same view, disjoint views and interleaved strided views copy correctly', () => {
    const x = kd.arange(6, { dtype: 'float32' });
    x.copy_(x);
    expect(x.toArray()).toEqual([0, 1, 2, 3, 4, 5]);
    x.narrow(0, 3, 3).copy_(x.narrow(0, 0, 3));
    expect(x.toArray()).toEqual([0, 1, 2, 0, 1, 2]);
    const m = kd.arange(6, { dtype: 'float32' }).reshape([3, 2]);
    m.select(1, 0).copy_(m.select(1, 1)); // columns share no element
    expect(m.toArray()).toEqual([[1, 1], [3, 3], [5, 5]]);
    const y = kd.arange(8, { dtype: 'float32' });
    y.slice(0, 1, 8, 2).copy_(y.slice(0, 0, 7, 2));
    expect(y.toArray()).toEqual([0, 0, 2, 2, 4, 4, 6, 6]);
    const z = kd.arange(8, { dtype: 'float32' });
    const evens = z.slice(0, 0, 8, 2), shifted = z.slice(0, 2, 8, 2);
    evens.slice(0, 0, 3).copy_(shifted); // overlapping strided views: copied as if from a clone
    expect(z.toArray()).toEqual([2, 1, 4, 3, 6, 5, 6, 7]);
  });
});
