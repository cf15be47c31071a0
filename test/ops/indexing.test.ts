// gather / indexSelect / scatterAdd against float64 references on fresh random inputs (odd sizes,
// every dim, size-1 dims, transposed and sliced views of x, index and src), their backwards
// against an analytic reference and finite differences, bad input, and thread-count invariance.
import { afterEach, describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import { native } from '../../lib/native.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, expectError as expectThrowsKind, forEachIndex, freshSeed, gradcheck, makeRng, numel, randomTensor, stridesOf } from '../helpers.js';

const seed = freshSeed();
const threadsAtStart = kd.getNumThreads();
afterEach(() => kd.setNumThreads(threadsAtStart));

/** The logical values of t in row-major order, as float64. */
function values(t: Tensor): Float64Array {
  const c = t.contiguous();
  const v = Float64Array.from(c.data() as ArrayLike<number>);
  c.dispose();
  return v;
}

function randomIndex(rng: () => number, shape: number[], size: number): Tensor {
  const n = numel(shape);
  const v = new Int32Array(n);
  for (let i = 0; i < n; i++) v[i] = Math.floor(rng() * size);
  return kd.tensor(v, { dtype: 'int32' }).reshape(shape);
}

/** Flat row-major position of a multi-index in a tensor of `shape`. */
function flatOf(idx: number[], shape: number[]): number {
  const s = stridesOf(shape);
  return idx.reduce((acc, v, d) => acc + v * s[d], 0);
}

function gatherRef(x: Float64Array, xShape: number[], dim: number, index: Float64Array, indexShape: number[]): Float64Array {
  const out = new Float64Array(numel(indexShape));
  forEachIndex(indexShape, (idx, flat) => {
    const src = [...idx];
    src[dim] = index[flat];
    out[flat] = x[flatOf(src, xShape)];
  });
  return out;
}

function scatterAddRef(x: Float64Array, xShape: number[], dim: number, index: Float64Array, indexShape: number[], src: Float64Array, srcShape: number[]): Float64Array {
  const out = Float64Array.from(x);
  forEachIndex(indexShape, (idx, flat) => {
    const dst = [...idx];
    dst[dim] = index[flat];
    out[flatOf(dst, xShape)] += src[flatOf(idx, srcShape)];
  });
  return out;
}

function indexSelectRef(x: Float64Array, xShape: number[], dim: number, index: Float64Array): { out: Float64Array; shape: number[] } {
  const shape = xShape.map((s, d) => (d === dim ? index.length : s));
  const out = new Float64Array(numel(shape));
  forEachIndex(shape, (idx, flat) => {
    const src = [...idx];
    src[dim] = index[idx[dim]];
    out[flat] = x[flatOf(src, xShape)];
  });
  return { out, shape };
}

/** A view of a fresh random tensor of `shape` laid out as its transpose (dims a, b swapped). */
function transposedView(rng: () => number, shape: number[], a: number, b: number): Tensor {
  const swapped = [...shape];
  [swapped[a], swapped[b]] = [swapped[b], swapped[a]];
  const { t } = randomTensor(rng, swapped);
  const v = t.transpose(a, b);
  t.dispose();
  return v;
}

describe(`gather (seed ${seed})`, () => {
  const cases: { x: number[]; index: number[]; dim: number }[] = [
    { x: [5, 7], index: [9, 7], dim: 0 },
    { x: [5, 7], index: [5, 11], dim: 1 },
    { x: [3, 4, 5], index: [2, 4, 3], dim: 0 },
    { x: [3, 4, 5], index: [3, 6, 5], dim: 1 },
    { x: [3, 4, 5], index: [3, 2, 7], dim: 2 },
    { x: [3, 4, 5], index: [3, 2, 7], dim: -1 },
    { x: [1, 6, 1], index: [1, 3, 1], dim: 1 },
    { x: [4, 1], index: [4, 3], dim: 1 },
    { x: [37], index: [101], dim: 0 },
  ];
  for (const c of cases) {
    it(`x ${JSON.stringify(c.x)} index ${JSON.stringify(c.index)} dim ${c.dim} matches float64`, () => {
      const rng = makeRng(seed);
      const d = c.dim < 0 ? c.dim + c.x.length : c.dim;
      const { t: x, ref } = randomTensor(rng, c.x);
      const index = randomIndex(rng, c.index, c.x[d]);
      const out = x.gather(c.dim, index);
      expect(out.shape).toEqual(c.index);
      expectClose(out.data(), gatherRef(ref, c.x, d, values(index), c.index), 1e-7, `seed ${seed}`);
      kd.tidy(() => [x, index, out].forEach((t) => t.dispose()));
    });
  }

  it('reads transposed x and sliced or transposed indices', () => {
    const rng = makeRng(seed + 1);
    const x = transposedView(rng, [6, 9, 5], 0, 2);
    const xs = x.slice(2, 0, 4);  // [6, 9, 4]
    const base = randomIndex(rng, [6, 9, 8], 9);
    const sliced = base.slice(2, 0, null, 2);  // [6, 9, 4], strided along the last dim
    const out = xs.gather(1, sliced);
    expectClose(out.data(), gatherRef(values(xs), xs.shape, 1, values(sliced), sliced.shape), 1e-7, `seed ${seed}`);
    const baseT = randomIndex(rng, [5, 9, 6], 6);
    const idxT = baseT.transpose(0, 2);  // [6, 9, 5]
    const out2 = x.gather(0, idxT);
    expectClose(out2.data(), gatherRef(values(x), x.shape, 0, values(idxT), idxT.shape), 1e-7, `seed ${seed}`);
    for (const t of [x, xs, base, sliced, out, baseT, idxT, out2]) t.dispose();
  });

  it('gathers int32 and bool inputs', () => {
    const xi = kd.tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'int32' });
    const index = kd.tensor([[2, 0], [1, 1]], { dtype: 'int32' });
    expect(xi.gather(1, index).toArray()).toEqual([[3, 1], [5, 5]]);
    const xb = kd.tensor([[true, false], [false, true]]);
    expect(xb.gather(0, kd.tensor([[1, 0]], { dtype: 'int32' })).toArray()).toEqual([[false, false]]);
  });

  it('backward scatters into zeros, accumulating duplicates (analytic and finite differences)', () => {
    const rng = makeRng(seed + 2);
    const xShape = [4, 6, 3], indexShape = [4, 9, 2], dim = 1;
    const { t: x } = randomTensor(rng, xShape, -1, 1, true);
    const index = randomIndex(rng, indexShape, xShape[dim]);  // 9 draws from 6 rows: duplicates
    const { t: w, ref: wr } = randomTensor(rng, indexShape);
    const loss = x.gather(dim, index).mul(w).sum();
    loss.backward();
    const want = new Float64Array(numel(xShape));
    const iv = values(index);
    forEachIndex(indexShape, (idx, flat) => {
      const dst = [...idx];
      dst[dim] = iv[flat];
      want[flatOf(dst, xShape)] += wr[flat];
    });
    expectClose(x.grad!.data(), want, 1e-6, `seed ${seed}`);
    const { t: small } = randomTensor(rng, [3, 4], -1, 1, true);
    const si = randomIndex(rng, [5, 4], 3);
    const { t: sw } = randomTensor(rng, [5, 4]);
    gradcheck((a) => a.gather(0, si).mul(sw).sum(), [small], { context: `seed ${seed}` });
  });

  it('gives the same result on 1 and 2 threads', () => {
    const rng = makeRng(seed + 3);
    const { t: x } = randomTensor(rng, [64, 300]);
    const index = randomIndex(rng, [64, 1000], 300);
    kd.setNumThreads(1);
    const a = values(x.gather(1, index));
    kd.setNumThreads(2);
    const b = values(x.gather(1, index));
    expect(b).toEqual(a);
  });

  it('rejects bad input with the right error', () => {
    const x = kd.zeros(3, 4);
    const index = kd.tensor([[0, 1], [2, 3]], { dtype: 'int32' });
    expectThrowsKind(() => x.gather(2, index), kd.ArgumentError, 'gather', 'dim 2');
    expectThrowsKind(() => x.gather(0, kd.tensor([[0.0, 1.5]])), kd.DTypeError, 'gather', 'int32');
    expectThrowsKind(() => x.gather(0, kd.tensor([0, 1], { dtype: 'int32' })), kd.ShapeError, 'gather');
    expectThrowsKind(() => x.gather(1, kd.zeros([4, 2], { dtype: 'int32' })), kd.ShapeError, 'gather', '[4,2]', '[3,4]');
    expectThrowsKind(() => x.gather(0, index), kd.ArgumentError, 'gather', 'index 3', 'size 3');
    expectThrowsKind(() => x.gather(1, kd.tensor([[0, 5, -1]], { dtype: 'int32' })), kd.ArgumentError, 'gather', 'index 5', 'size 4');
    expectThrowsKind(() => x.gather(1, kd.tensor([[0, -1, 7]], { dtype: 'int32' })), kd.ArgumentError, 'gather', 'index -1', 'size 4');
  });

  it('reports the first bad index of a large index split across threads', () => {
    kd.setNumThreads(2);
    const x = kd.zeros(10, 50);
    const v = new Int32Array(10 * 4000).fill(3);
    v[10 * 4000 - 1] = -7;
    v[1234] = 50;
    v[20000] = 99;
    expectThrowsKind(() => x.gather(1, kd.tensor(v, { dtype: 'int32' }).reshape([10, 4000])), kd.ArgumentError, 'index 50', 'size 50');
  });
});

describe(`scatterAdd (seed ${seed})`, () => {
  const cases: { x: number[]; index: number[]; src: number[]; dim: number }[] = [
    { x: [5, 7], index: [9, 7], src: [9, 7], dim: 0 },
    { x: [5, 7], index: [4, 11], src: [6, 13], dim: 1 },
    { x: [3, 4, 5], index: [2, 9, 3], src: [2, 9, 4], dim: 1 },
    { x: [3, 4, 5], index: [3, 4, 8], src: [3, 4, 8], dim: 2 },
    { x: [3, 4, 5], index: [7, 1, 5], src: [7, 2, 5], dim: 0 },
    { x: [1, 5, 1], index: [1, 12, 1], src: [1, 12, 1], dim: -2 },
    { x: [17], index: [60], src: [61], dim: 0 },
  ];
  for (const c of cases) {
    it(`x ${JSON.stringify(c.x)} index ${JSON.stringify(c.index)} src ${JSON.stringify(c.src)} dim ${c.dim} matches float64`, () => {
      const rng = makeRng(seed);
      const d = c.dim < 0 ? c.dim + c.x.length : c.dim;
      const { t: x, ref: xr } = randomTensor(rng, c.x);
      const { t: src, ref: sr } = randomTensor(rng, c.src);
      const index = randomIndex(rng, c.index, c.x[d]);
      const out = x.scatterAdd(c.dim, index, src);
      expect(out.shape).toEqual(c.x);
      expectClose(out.data(), scatterAddRef(xr, c.x, d, values(index), c.index, sr, c.src), 1e-6, `seed ${seed}`);
      expect(values(x)).toEqual(xr);  // out of place
    });
  }

  it('reads transposed x and src and a sliced index', () => {
    const rng = makeRng(seed + 4);
    const x = transposedView(rng, [6, 5], 0, 1);  // [6,5] as a view of [5,6]
    const src = transposedView(rng, [10, 5], 0, 1);
    const base = randomIndex(rng, [20, 5], 6);
    const index = base.slice(0, 1, null, 2);  // [10, 5], row stride 10
    const out = x.scatterAdd(0, index, src);
    expectClose(out.data(), scatterAddRef(values(x), x.shape, 0, values(index), index.shape, values(src), src.shape), 1e-6, `seed ${seed}`);
  });

  it('scatters int32', () => {
    const x = kd.zeros([2, 3], { dtype: 'int32' });
    const out = x.scatterAdd(1, kd.tensor([[0, 0, 2], [1, 1, 1]], { dtype: 'int32' }), kd.tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'int32' }));
    expect(out.toArray()).toEqual([[3, 0, 3], [0, 15, 0]]);
  });

  it('backward: grad x = g, grad src = gather(g) (zero outside the index), finite differences', () => {
    const rng = makeRng(seed + 5);
    const { t: x } = randomTensor(rng, [4, 5], -1, 1, true);
    const { t: src } = randomTensor(rng, [7, 6], -1, 1, true);
    const index = randomIndex(rng, [6, 5], 4);
    const { t: w, ref: wr } = randomTensor(rng, [4, 5]);
    x.scatterAdd(0, index, src).mul(w).sum().backward();
    expectClose(x.grad!.data(), wr, 1e-7, `seed ${seed}`);
    const iv = values(index);
    const want = new Float64Array(7 * 6);
    forEachIndex([6, 5], ([i, j], flat) => { want[i * 6 + j] = wr[iv[flat] * 5 + j]; });
    expectClose(src.grad!.data(), want, 1e-7, `seed ${seed}`);
    gradcheck((a, b) => a.scatterAdd(1, index.slice(0, 0, 4).slice(1, 0, 3), b).mul(w).sum(), [x, src], { context: `seed ${seed}` });
  });

  it('accumulates duplicate indices', () => {
    const out = kd.zeros(3).scatterAdd(0, kd.tensor([1, 1, 1, 0], { dtype: 'int32' }), kd.tensor(Float32Array.from([1, 2, 4, 8])));
    expect(out.toArray()).toEqual([8, 7, 0]);
  });

  it('gives the same result on 1 and 2 threads', () => {
    const rng = makeRng(seed + 6);
    const { t: x } = randomTensor(rng, [200, 64]);
    const { t: src } = randomTensor(rng, [3000, 64]);
    const index = randomIndex(rng, [3000, 64], 200);
    kd.setNumThreads(1);
    const a = values(x.scatterAdd(0, index, src));
    kd.setNumThreads(2);
    const b = values(x.scatterAdd(0, index, src));
    expect(b).toEqual(a);
    expectClose(b, scatterAddRef(values(x), [200, 64], 0, values(index), [3000, 64], values(src), [3000, 64]), 1e-6, `seed ${seed}`);
  });

  it('rejects bad input with the right error', () => {
    const x = kd.zeros(3, 4);
    const index = kd.tensor([[0, 1], [2, 1]], { dtype: 'int32' });
    const src = kd.ones(2, 2);
    expectThrowsKind(() => x.scatterAdd(-3, index, src), kd.ArgumentError, 'scatterAdd', 'dim -3');
    expectThrowsKind(() => x.scatterAdd(0, index.float(), src), kd.DTypeError, 'scatterAdd', 'int32');
    expectThrowsKind(() => x.scatterAdd(0, index, src.int()), kd.DTypeError, 'scatterAdd', 'src');
    expectThrowsKind(() => x.scatterAdd(0, index, kd.ones(1, 2)), kd.ShapeError, 'scatterAdd', 'src');
    expectThrowsKind(() => x.scatterAdd(0, index, kd.ones(2)), kd.ShapeError, 'scatterAdd');
    expectThrowsKind(() => x.scatterAdd(0, kd.zeros([2, 5], { dtype: 'int32' }), kd.ones(2, 5)), kd.ShapeError, 'scatterAdd', '[2,5]');
    expectThrowsKind(() => x.scatterAdd(0, kd.tensor([[0, 3]], { dtype: 'int32' }), src), kd.ArgumentError, 'scatterAdd', 'index 3', 'size 3');
    expectThrowsKind(() => x.scatterAdd(1, kd.tensor([[-2, 9]], { dtype: 'int32' }), src), kd.ArgumentError, 'scatterAdd', 'index -2', 'size 4');
  });
});

describe(`indexSelect (seed ${seed})`, () => {
  const cases: { x: number[]; n: number; dim: number }[] = [
    { x: [11, 6], n: 17, dim: 0 },
    { x: [11, 6], n: 4, dim: 1 },
    { x: [3, 5, 7], n: 9, dim: 1 },
    { x: [3, 5, 7], n: 2, dim: -1 },
    { x: [1, 5, 1], n: 3, dim: 1 },
    { x: [9], n: 13, dim: 0 },
  ];
  for (const c of cases) {
    it(`x ${JSON.stringify(c.x)} with ${c.n} indices along dim ${c.dim} matches float64`, () => {
      const rng = makeRng(seed);
      const d = c.dim < 0 ? c.dim + c.x.length : c.dim;
      const { t: x, ref } = randomTensor(rng, c.x);
      const index = randomIndex(rng, [c.n], c.x[d]);
      const out = x.indexSelect(c.dim, index);
      const want = indexSelectRef(ref, c.x, d, values(index));
      expect(out.shape).toEqual(want.shape);
      expectClose(out.data(), want.out, 1e-7, `seed ${seed}`);
    });
  }

  it('reads a transposed x and a strided index', () => {
    const rng = makeRng(seed + 7);
    const x = transposedView(rng, [8, 5], 0, 1);
    const base = randomIndex(rng, [21], 8);
    const index = base.slice(0, 0, null, 3);
    const out = x.indexSelect(0, index);
    const want = indexSelectRef(values(x), x.shape, 0, values(index));
    expectClose(out.data(), want.out, 1e-7, `seed ${seed}`);
    const out1 = x.indexSelect(1, base.slice(0, 1, null, 4).remainder(5));
    expectClose(out1.data(), indexSelectRef(values(x), x.shape, 1, values(base.slice(0, 1, null, 4).remainder(5))).out, 1e-7, `seed ${seed}`);
  });

  it('backward adds rows back, accumulating repeated indices (analytic and finite differences)', () => {
    const rng = makeRng(seed + 8);
    const { t: table } = randomTensor(rng, [10, 7], -1, 1, true);
    const ids = randomIndex(rng, [40], 10);
    const { t: w, ref: wr } = randomTensor(rng, [40, 7]);
    table.indexSelect(0, ids).mul(w).sum().backward();
    const want = new Float64Array(70);
    values(ids).forEach((v, j) => { for (let k = 0; k < 7; k++) want[v * 7 + k] += wr[j * 7 + k]; });
    expectClose(table.grad!.data(), want, 1e-6, `seed ${seed}`);
    const { t: x } = randomTensor(rng, [3, 4, 2], -1, 1, true);
    const i2 = kd.tensor([3, 0, 3, 1, 3], { dtype: 'int32' });
    const { t: w2 } = randomTensor(rng, [3, 5, 2]);
    gradcheck((a) => a.indexSelect(1, i2).mul(w2).sum(), [x], { context: `seed ${seed}` });
  });

  it('a tied table (lookup and matmul) adds the lookup rows into the gradient the matmul gave first, as a dense add would', () => {
    const rng = makeRng(seed + 10);
    const { t: table } = randomTensor(rng, [13, 5], -1, 1, true);
    const ids = randomIndex(rng, [9], 13);
    const { t: w, ref: wr } = randomTensor(rng, [9, 5]);
    const { t: h, ref: hr } = randomTensor(rng, [4, 5]);
    // loss = sum(table[ids] * w) + sum(h @ table^T): the lookup's node runs after the product's.
    const want = new Float64Array(65);
    for (let v = 0; v < 13; v++) for (let k = 0; k < 5; k++) for (let i = 0; i < 4; i++) want[v * 5 + k] += hr[i * 5 + k];
    values(ids).forEach((v, j) => { for (let k = 0; k < 5; k++) want[v * 5 + k] += wr[j * 5 + k]; });
    const loss = () => table.indexSelect(0, ids).mul(w).sum().add(h.matmul(table.transpose(0, 1)).sum());
    for (const threads of [1, 2]) {
      kd.setNumThreads(threads);
      table.grad = null;
      loss().backward();
      expectClose(table.grad!.data(), want, 1e-6, `seed ${seed}, ${threads} thread(s)`);
      // A second backward accumulates on top: twice the gradient.
      const first = table.grad!;
      loss().backward();
      expect(table.grad).toBe(first);
      expectClose(table.grad!.data(), want.map((x) => 2 * x), 1e-6, `seed ${seed}, accumulated`);
    }
    // With createGraph the gradient stays in the graph (out of place) and has the same value.
    table.grad = null;
    loss().backward(undefined, { createGraph: true });
    expectClose(table.grad!.data(), want, 1e-6, `seed ${seed}, createGraph`);
  });

  it('embedding-sized lookup and backward agree on 1 and 2 threads', () => {
    const rng = makeRng(seed + 9);
    const { t: table } = randomTensor(rng, [500, 48], -1, 1, true);
    const ids = randomIndex(rng, [3000], 500);
    const { t: w } = randomTensor(rng, [3000, 48]);
    const run = (threads: number) => {
      kd.setNumThreads(threads);
      table.grad?.dispose();
      table.grad = null;
      const out = table.indexSelect(0, ids);
      out.mul(w).sum().backward();
      return { out: values(out), grad: values(table.grad!) };
    };
    const a = run(1), b = run(2);
    expect(b.out).toEqual(a.out);
    expect(b.grad).toEqual(a.grad);
  });

  it('rejects bad input with the right error', () => {
    const x = kd.zeros(4, 3);
    expectThrowsKind(() => x.indexSelect(2, kd.tensor([0], { dtype: 'int32' })), kd.ArgumentError, 'indexSelect', 'dim 2');
    expectThrowsKind(() => x.indexSelect(0, kd.tensor(Float32Array.from([0, 1]))), kd.DTypeError, 'indexSelect', 'int32');
    expectThrowsKind(() => x.indexSelect(0, kd.zeros([2, 2], { dtype: 'int32' })), kd.ShapeError, 'indexSelect', '[2,2]');
    expectThrowsKind(() => x.indexSelect(0, kd.tensor([1, 4, 2], { dtype: 'int32' })), kd.ArgumentError, 'indexSelect', 'index 4', 'size 4');
    expectThrowsKind(() => x.indexSelect(1, kd.tensor([0, -1, 9], { dtype: 'int32' })), kd.ArgumentError, 'indexSelect', 'index -1', 'size 3');
  });
});

describe('index bindings', () => {
  it('refuse operands and indices that reach outside their storage, whatever JavaScript passes', () => {
    const x = kd.zeros(3), out = kd.zeros(2), idx = kd.tensor([0, 1], { dtype: 'int32' });
    // x's view [3] with stride 5 reaches element 10 of a 3-element buffer.
    expect(() => native.gather(0, 0, [2], out.handle, 0, [1], idx.handle, 0, [1], [3], x.handle, 0, [5])).toThrow(/outside/);
    // The index shape may not exceed x off the gathered dim.
    expect(() => native.gather(0, 1, [2, 2], kd.zeros(2, 2).handle, 0, [2, 1], kd.zeros([2, 2], { dtype: 'int32' }).handle, 0, [2, 1],
      [1, 3], x.handle, 0, [3, 1])).toThrow(/larger/);
    // A 1-d index claiming more elements than its buffer holds.
    expect(() => native.indexSelect(0, 0, [3], x.handle, 0, [1], idx.handle, 0, 1, 9, kd.zeros(9).handle, 0, [1])).toThrow(/outside/);
    // Values are checked by the kernel: a bad one is skipped and comes back as [position, value].
    const bad = kd.tensor([1, 7], { dtype: 'int32' });
    expect(native.scatterAdd(0, 0, [3], x.handle, 0, [1], [2], bad.handle, 0, [1], kd.ones(2).handle, 0, [1])).toEqual([1, 7]);
    expect(native.indexAdd(0, 0, [3], x.handle, 0, [1], bad.handle, 0, 1, 2, kd.ones(2).handle, 0, [1])).toEqual([1, 7]);
  });
});
