// Datasets and batching: Dataset (index -> example), TensorDataset (rows of tensors),
// DataLoader (shuffled, batched, collated), randomSplit, and small preprocessing helpers.
import { noGrad } from '../autograd/grad_mode.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { fromTypedArray } from '../ops/creation.js';
import * as ew from '../ops/elementwise.js';
import { indexSelect } from '../ops/indexing.js';
import { stack } from '../ops/shape.js';
import { keep } from '../scope.js';
import { Tensor } from '../tensor.js';

/** A map-style dataset: get(i) returns the i-th example (a tensor or an array of tensors). */
export abstract class Dataset<T = Tensor[]> {
  abstract get length(): number;
  abstract get(index: number): T;
}

/** Rows of equally long tensors: get(i) returns [t0[i], t1[i], ...]. */
export class TensorDataset extends Dataset<Tensor[]> {
  readonly tensors: Tensor[];

  constructor(...tensors: Tensor[]) {
    super();
    if (tensors.length === 0) throw new ArgumentError('TensorDataset: expected at least one tensor');
    const n = tensors[0].shape[0];
    for (const t of tensors) {
      if (!(t instanceof Tensor) || t.ndim === 0) throw new ShapeError('TensorDataset: every argument must be a tensor with a leading dim');
      if (t.shape[0] !== n) throw new ShapeError(`TensorDataset: size mismatch between tensors: ${tensors.map((x) => fmtShape(x.shape)).join(', ')}`);
      keep(t);
    }
    this.tensors = tensors;
  }

  get length(): number {
    return this.tensors[0].shape[0];
  }

  get(index: number): Tensor[] {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) throw new ArgumentError(`TensorDataset: index ${index} is out of range for ${this.length} rows`);
    return this.tensors.map((t) => t.select(0, index));
  }

  /** Rows `indices` of every tensor in one gather each (what DataLoader uses). */
  getBatch(indices: Int32Array): Tensor[] {
    return noGrad(() => {
      const idx = fromTypedArray(indices, [indices.length], 'int32', this.tensors[0].device);
      const out = this.tensors.map((t) => indexSelect(t, 0, idx));
      idx.dispose();
      return out;
    });
  }
}

/** A view of some rows of another dataset. */
export class Subset<T> extends Dataset<T> {
  constructor(readonly dataset: Dataset<T>, readonly indices: number[]) {
    super();
  }
  get length(): number {
    return this.indices.length;
  }
  get(index: number): T {
    return this.dataset.get(this.indices[index]);
  }
}

/** A seeded permutation of 0..n-1 (Fisher-Yates over a mulberry32 stream). */
export function permutation(n: number, seed: number): number[] {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/** Splits a dataset into random parts of the given lengths (or fractions summing to 1). */
export function randomSplit<T>(dataset: Dataset<T>, lengths: number[], seed = 0): Subset<T>[] {
  const n = dataset.length;
  let sizes = lengths;
  if (lengths.every((l) => l > 0 && l < 1) && Math.abs(lengths.reduce((a, b) => a + b, 0) - 1) < 1e-9) {
    sizes = lengths.map((f) => Math.floor(f * n));
    for (let i = 0; sizes.reduce((a, b) => a + b, 0) < n; i++) sizes[i % sizes.length]++;
  }
  if (sizes.reduce((a, b) => a + b, 0) !== n) throw new ArgumentError(`randomSplit: lengths ${fmtShape(lengths)} do not add up to the dataset's ${n} items`);
  const order = permutation(n, seed);
  const out: Subset<T>[] = [];
  let start = 0;
  for (const s of sizes) {
    out.push(new Subset(dataset, order.slice(start, start + s)));
    start += s;
  }
  return out;
}

export type Batch = Tensor[];

/** Stacks examples (each an array of tensors) field by field. */
export function defaultCollate(examples: Tensor[][]): Batch {
  if (examples.length === 0) throw new ArgumentError('collate: empty batch');
  return examples[0].map((_, field) => stack(examples.map((e) => e[field]), 0));
}

export interface DataLoaderOptions {
  batchSize?: number;
  shuffle?: boolean;
  /** Seed of the first epoch's shuffle; epoch k uses seed + k. */
  seed?: number;
  dropLast?: boolean;
  collate?: (examples: Tensor[][]) => Batch;
}

/**
 * Iterates a dataset in batches. With a TensorDataset and the default collate, each batch is
 * one gather per tensor. Batches are new tensors: dispose them (or iterate inside kd.tidy).
 */
export class DataLoader implements Iterable<Batch> {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  private epoch = 0;
  private readonly seed: number;
  private readonly collate: ((examples: Tensor[][]) => Batch) | null;

  constructor(readonly dataset: Dataset<Tensor[]>, options: DataLoaderOptions = {}) {
    this.batchSize = options.batchSize ?? 1;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) throw new ArgumentError(`DataLoader: batchSize must be a positive integer, got ${this.batchSize}`);
    this.shuffle = options.shuffle ?? false;
    this.dropLast = options.dropLast ?? false;
    this.seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
    this.collate = options.collate ?? null;
  }

  /** Number of batches per epoch. */
  get length(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  *[Symbol.iterator](): Iterator<Batch> {
    const n = this.dataset.length;
    const order = this.shuffle ? permutation(n, this.seed + this.epoch) : Array.from({ length: n }, (_, i) => i);
    this.epoch++;
    for (let b = 0; b < this.length; b++) {
      const idx = order.slice(b * this.batchSize, Math.min(n, (b + 1) * this.batchSize));
      if (!this.collate && this.dataset instanceof TensorDataset) {
        yield this.dataset.getBatch(Int32Array.from(idx));
      } else {
        const examples = idx.map((i) => this.dataset.get(i));
        const batch = (this.collate ?? defaultCollate)(examples);
        for (const e of examples) for (const t of e) t.dispose();
        yield batch;
      }
    }
  }
}

/** One-hot encoding of int32 class indices: [...shape] -> [...shape, numClasses] float32. */
export function oneHot(labels: Tensor, numClasses: number): Tensor {
  if (labels.dtype !== 'int32') throw new ArgumentError(`oneHot: labels must be int32, got ${labels.dtype}`);
  const values = labels.data() as Int32Array;
  const out = new Float32Array(values.length * numClasses);
  values.forEach((v, i) => {
    if (v < 0 || v >= numClasses) throw new ArgumentError(`oneHot: class ${v} is out of range for ${numClasses} classes`);
    out[i * numClasses + v] = 1;
  });
  return fromTypedArray(out, [...labels.shape, numClasses], 'float32', labels.device);
}

/** Per-feature mean and std over dim 0, and (x - mean) / std using them. */
export function standardize(x: Tensor, stats?: { mean: Tensor; std: Tensor }): { normalized: Tensor; mean: Tensor; std: Tensor } {
  return noGrad(() => {
    const mean = stats?.mean ?? x.mean(0, true);
    const std = stats?.std ?? x.std(0, { correction: 0, keepdim: true }).clamp(1e-8);
    const centered = ew.sub(x, mean);
    const normalized = ew.div(centered, std);
    centered.dispose();
    return { normalized, mean, std };
  });
}

