import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, freshSeed, makeRng } from '../helpers.js';

const { DataLoader, TensorDataset, Subset, randomSplit, oneHot, standardize } = kd.data;

/** Row i of x is [i, 10·i]; the label of row i is i. */
function indexedDataset(n: number) {
  const x = kd.tensor(Array.from({ length: n }, (_, i) => [i, 10 * i]), { dtype: 'float32' });
  const y = kd.tensor(Array.from({ length: n }, (_, i) => i), { dtype: 'int32' });
  return new TensorDataset(x, y);
}

/** The label of every row the loader yields in one epoch, batch by batch; disposes the batches. */
function epochLabels(loader: Iterable<Tensor[]>): number[][] {
  const out: number[][] = [];
  for (const batch of loader) {
    const [x, y] = batch;
    const labels = Array.from(y.data() as Int32Array);
    // Features must travel with their label through the shuffle.
    expect(Array.from(x.data() as Float32Array)).toEqual(labels.flatMap((i) => [i, 10 * i]));
    out.push(labels);
    for (const t of batch) t.dispose();
  }
  return out;
}

describe('TensorDataset', () => {
  it('get(i) returns row i of every tensor', () => {
    const ds = indexedDataset(5);
    expect(ds.length).toBe(5);
    const [x, y] = ds.get(3);
    expect(x.shape).toEqual([2]);
    expect(x.toArray()).toEqual([3, 30]);
    expect(y.item()).toBe(3);
  });

  it('rejects tensors of different lengths and out-of-range indices', () => {
    expect(() => new TensorDataset(kd.zeros([4, 2]), kd.zeros([5]))).toThrow(kd.ShapeError);
    expect(() => new TensorDataset(kd.zeros([4, 2]), kd.zeros([5]))).toThrow(/\[4, ?2\].*\[5\]/);
    expect(() => new TensorDataset()).toThrow(kd.ArgumentError);
    expect(() => indexedDataset(3).get(3)).toThrow(kd.ArgumentError);
    expect(() => indexedDataset(3).get(-1)).toThrow(kd.ArgumentError);
  });
});

describe('DataLoader', () => {
  it('batches 10 rows by 3 as 3, 3, 3, 1 in order without shuffle', () => {
    const loader = new DataLoader(indexedDataset(10), { batchSize: 3 });
    expect(loader.length).toBe(4);
    expect(epochLabels(loader)).toEqual([[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]);
  });

  it('dropLast drops the short final batch', () => {
    const loader = new DataLoader(indexedDataset(10), { batchSize: 3, dropLast: true });
    expect(loader.length).toBe(3);
    expect(epochLabels(loader).map((b) => b.length)).toEqual([3, 3, 3]);
    const exact = new DataLoader(indexedDataset(9), { batchSize: 3, dropLast: true });
    expect(epochLabels(exact).map((b) => b.length)).toEqual([3, 3, 3]);
  });

  it('a batch larger than the dataset gives one batch, or none with dropLast', () => {
    expect(epochLabels(new DataLoader(indexedDataset(4), { batchSize: 10 }))).toEqual([[0, 1, 2, 3]]);
    expect(epochLabels(new DataLoader(indexedDataset(4), { batchSize: 10, dropLast: true }))).toEqual([]);
  });

  it('shuffling visits every index exactly once per epoch', () => {
    const seed = freshSeed();
    const loader = new DataLoader(indexedDataset(23), { batchSize: 5, shuffle: true, seed });
    for (let epoch = 0; epoch < 3; epoch++) {
      const batches = epochLabels(loader);
      expect(batches.map((b) => b.length), `seed ${seed}`).toEqual([5, 5, 5, 5, 3]);
      expect(batches.flat().sort((a, b) => a - b), `seed ${seed} epoch ${epoch}`).toEqual(Array.from({ length: 23 }, (_, i) => i));
    }
  });

  it('the same seed gives the same order each epoch; epochs and seeds differ', () => {
    const seed = freshSeed();
    const a = new DataLoader(indexedDataset(50), { batchSize: 7, shuffle: true, seed });
    const b = new DataLoader(indexedDataset(50), { batchSize: 7, shuffle: true, seed });
    const a0 = epochLabels(a).flat(), a1 = epochLabels(a).flat();
    const b0 = epochLabels(b).flat(), b1 = epochLabels(b).flat();
    expect(b0, `seed ${seed}`).toEqual(a0);
    expect(b1, `seed ${seed}`).toEqual(a1);
    expect(a1, `seed ${seed}: epoch 1 reshuffles`).not.toEqual(a0);
    const other = new DataLoader(indexedDataset(50), { batchSize: 7, shuffle: true, seed: seed + 1000 });
    expect(epochLabels(other).flat(), `seeds ${seed} and ${seed + 1000}`).not.toEqual(a0);
    // Epoch k of a loader uses seed + k: a loader seeded one higher starts where `a` went second.
    const shifted = new DataLoader(indexedDataset(50), { batchSize: 7, shuffle: true, seed: seed + 1 });
    expect(epochLabels(shifted).flat()).toEqual(a1);
  });

  it('a Subset goes through the per-example path and collates the same rows', () => {
    const ds = indexedDataset(8);
    const subset = new Subset(ds, [6, 1, 3, 7, 0]);
    expect(subset.length).toBe(5);
    expect(epochLabels(new DataLoader(subset, { batchSize: 2 }))).toEqual([[6, 1], [3, 7], [0]]);
  });

  it('rejects a batch size that is not a positive integer', () => {
    for (const batchSize of [0, -1, 2.5]) expect(() => new DataLoader(indexedDataset(3), { batchSize })).toThrow(kd.ArgumentError);
  });
});

describe('randomSplit', () => {
  it('splits into disjoint subsets of the given lengths covering every index, reproducibly', () => {
    const seed = freshSeed();
    const ds = indexedDataset(20);
    const parts = randomSplit(ds, [12, 5, 3], seed);
    expect(parts.map((p) => p.length)).toEqual([12, 5, 3]);
    const all = parts.flatMap((p) => p.indices);
    expect([...all].sort((a, b) => a - b), `seed ${seed}`).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(randomSplit(ds, [12, 5, 3], seed).map((p) => p.indices), `seed ${seed}`).toEqual(parts.map((p) => p.indices));
    // A subset's rows are its parent's rows.
    const [, y] = parts[1].get(2);
    expect(y.item()).toBe(parts[1].indices[2]);
  });

  it('accepts fractions and gives the remainder to the first parts', () => {
    const parts = randomSplit(indexedDataset(11), [0.5, 0.3, 0.2], 3);
    expect(parts.map((p) => p.length)).toEqual([6, 3, 2]);
  });

  it('rejects lengths that do not add up', () => {
    expect(() => randomSplit(indexedDataset(10), [5, 4], 0)).toThrow(kd.ArgumentError);
    expect(() => randomSplit(indexedDataset(10), [5, 4], 0)).toThrow(/10/);
  });
});

describe('oneHot', () => {
  it('encodes int32 labels of any shape as float32 rows', () => {
    const labels = kd.tensor([[2, 0], [1, 2]], { dtype: 'int32' });
    const out = oneHot(labels, 3);
    expect(out.shape).toEqual([2, 2, 3]);
    expect(out.dtype).toBe('float32');
    expect(out.toArray()).toEqual([[[0, 0, 1], [1, 0, 0]], [[0, 1, 0], [0, 0, 1]]]);
  });

  it('rejects out-of-range classes and non-integer labels', () => {
    expect(() => oneHot(kd.tensor([0, 3], { dtype: 'int32' }), 3)).toThrow(kd.ArgumentError);
    expect(() => oneHot(kd.tensor([0, -1], { dtype: 'int32' }), 3)).toThrow(/-1/);
    expect(() => oneHot(kd.tensor([0, 1], { dtype: 'float32' }), 3)).toThrow(kd.ArgumentError);
  });
});

describe('standardize', () => {
  it('centres and scales each feature to mean 0, population std 1 (float64 reference)', () => {
    const seed = freshSeed();
    const rng = makeRng(seed);
    const rows = 37, cols = 5;
    const values = Array.from({ length: rows }, () => Array.from({ length: cols }, (_, c) => (c + 1) * 10 * rng() - c * 3));
    const { normalized, mean, std } = standardize(kd.tensor(values));
    const refMean = Array.from({ length: cols }, (_, c) => values.reduce((s, r) => s + r[c], 0) / rows);
    const refStd = refMean.map((m, c) => Math.sqrt(values.reduce((s, r) => s + (r[c] - m) ** 2, 0) / rows));
    expect(mean.shape).toEqual([1, cols]);
    expectClose(mean.data() as Float32Array, refMean, 1e-5, `mean, seed ${seed}`);
    expectClose(std.data() as Float32Array, refStd, 1e-5, `std, seed ${seed}`);
    const ref = values.flatMap((r) => r.map((v, c) => (v - refMean[c]) / refStd[c]));
    expectClose(normalized.data() as Float32Array, ref, 1e-5, `normalized, seed ${seed}`);
  });

  it('reuses given statistics (the training set\'s) for other data', () => {
    const train = standardize(kd.tensor([[0, 10], [2, 30]], { dtype: 'float32' }));
    const test = standardize(kd.tensor([[1, 50]], { dtype: 'float32' }), { mean: train.mean, std: train.std });
    expect(test.normalized.toArray()).toEqual([[0, 3]]);
  });

  it('leaves a constant feature finite', () => {
    const { normalized } = standardize(kd.tensor([[1, 2], [1, 4]], { dtype: 'float32' }));
    expect((normalized.data() as Float32Array).every(Number.isFinite)).toBe(true);
  });
});
