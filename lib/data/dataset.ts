// Datasets and batching: Dataset (index -> example), TensorDataset (rows of tensors, with
// optional per-sample transforms), DataLoader (shuffled, batched, collated, each sample's
// randomness seeded by (seed, epoch, index)), randomSplit, and small preprocessing helpers.
import { noGrad } from '../autograd/grad_mode.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { fromTypedArray } from '../ops/creation.js';
import * as ew from '../ops/elementwise.js';
import { indexSelect } from '../ops/indexing.js';
import { stack } from '../ops/shape.js';
import { Generator, defaultGenerator } from '../random.js';
import { keep, tidy } from '../scope.js';
import { Tensor } from '../tensor.js';
import { Lambda, toTransform } from './transforms.js';
import type { Transform, TransformLike } from './transforms.js';

/**
 * A map-style dataset: get(i) returns the i-th example (a tensor or an array of tensors).
 * The DataLoader passes each sample a generator of its own (seeded by seed, epoch and index);
 * a dataset that draws random numbers (augmentation) should draw them from it.
 */
export abstract class Dataset<T = Tensor[]> {
  abstract get length(): number;
  abstract get(index: number, generator?: Generator): T;
}

export interface TensorDatasetOptions {
  /** Applied to each sample of the first tensor (the input), e.g. a kd.data.transforms.Compose. */
  transform?: TransformLike;
  /** Applied to each sample of the second tensor (the target). */
  targetTransform?: TransformLike;
}

function isTensorDatasetOptions(v: unknown): v is TensorDatasetOptions {
  return v !== null && typeof v === 'object' && !(v instanceof Tensor) && Object.getPrototypeOf(v) === Object.prototype;
}

/**
 * Rows of equally long tensors: get(i) returns [t0[i], t1[i], ...]. A last argument
 * `{ transform, targetTransform }` transforms t0[i] and t1[i] per sample:
 * `new TensorDataset(images, labels, { transform: new RandomHorizontalFlip() })`.
 */
export class TensorDataset extends Dataset<Tensor[]> {
  readonly tensors: Tensor[];
  readonly transform: Transform | null;
  readonly targetTransform: Transform | null;

  constructor(...args: [...Tensor[], TensorDatasetOptions] | Tensor[]) {
    super();
    const last = args[args.length - 1];
    const options = isTensorDatasetOptions(last) ? last : {};
    const tensors = (isTensorDatasetOptions(last) ? args.slice(0, -1) : args) as Tensor[];
    if (tensors.length === 0) throw new ArgumentError('TensorDataset: expected at least one tensor');
    for (const key of Object.keys(options)) {
      if (key !== 'transform' && key !== 'targetTransform') throw new ArgumentError(`TensorDataset: unknown option '${key}' (known: transform, targetTransform)`);
    }
    this.transform = options.transform === undefined ? null : toTransform('TensorDataset: transform', options.transform);
    this.targetTransform = options.targetTransform === undefined ? null : toTransform('TensorDataset: targetTransform', options.targetTransform);
    if (this.targetTransform && tensors.length < 2) throw new ArgumentError('TensorDataset: targetTransform needs a second tensor (the targets)');
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

  /** Row `index` of every tensor, transformed with `generator` (default: the one kd.manualSeed seeds). */
  get(index: number, generator: Generator = defaultGenerator): Tensor[] {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) throw new ArgumentError(`TensorDataset: index ${index} is out of range for ${this.length} rows`);
    if (!this.transform && !this.targetTransform) return this.tensors.map((t) => t.select(0, index));
    return this.getBatch(Int32Array.of(index), () => generator).map((t) => {
      const row = t.squeeze(0);
      t.dispose();
      return row;
    });
  }

  /**
   * Rows `indices` of every tensor in one gather each (what DataLoader uses), with the transforms
   * run over each row's elements in place of a tensor per sample. `generatorOf(i)` gives the
   * generator of dataset row i (default: the one kd.manualSeed seeds, for every row).
   */
  getBatch(indices: Int32Array, generatorOf: (index: number) => Generator = () => defaultGenerator): Tensor[] {
    return noGrad(() => {
      const idx = fromTypedArray(indices, [indices.length], 'int32', this.tensors[0].device);
      const out = this.tensors.map((t) => indexSelect(t, 0, idx));
      idx.dispose();
      const transforms = [this.transform, this.targetTransform];
      for (let field = 0; field < transforms.length; field++) {
        const transform = transforms[field];
        if (!transform) continue;
        const transformed = transformRows(field === 0 ? 'transform' : 'targetTransform', transform, out[field], indices, generatorOf);
        out[field].dispose();
        out[field] = transformed;
      }
      return out;
    });
  }
}

/**
 * Runs `transform` on each row of `batch` (rows[r] is its dataset index, which picks its generator)
 * and stacks the results; every row must come out with the same shape.
 */
function transformRows(name: string, transform: Transform, batch: Tensor, rows: Int32Array, generatorOf: (index: number) => Generator): Tensor {
  if (transform instanceof Lambda) {
    // A plain function gets each row as a tensor of its own dtype (labels stay int32).
    const results = Array.from(rows, (index, r) => tidy(() => transform.fn(batch.select(0, r), generatorOf(index))));
    try {
      results.forEach((t, r) => {
        if (!(t instanceof Tensor)) throw new ArgumentError(`TensorDataset: ${name} must return a Tensor, got ${t === null ? 'null' : typeof t} for row ${rows[r]}`);
        if (fmtShape(t.shape) !== fmtShape(results[0].shape)) throw new ShapeError(`TensorDataset: ${name} gave row ${rows[r]} the shape ${fmtShape(t.shape)} but row ${rows[0]} ${fmtShape(results[0].shape)}; rows of a batch must match`);
      });
      return stack(results, 0);
    } finally {
      for (const t of results) if (t instanceof Tensor) t.dispose();
    }
  }
  if (batch.dtype !== 'float32') throw new DTypeError(`TensorDataset: ${name} ${transform.constructor.name} needs float32 samples (a plain function takes any dtype), got ${batch.dtype} ${fmtShape(batch.shape)}`);
  const n = batch.shape[0], rowShape = batch.shape.slice(1);
  const src = batch.data() as Float32Array, rowElems = n === 0 ? 0 : src.length / n;
  let out = new Float32Array(0), outShape: readonly number[] = rowShape;
  for (let r = 0; r < n; r++) {
    // The gathered batch is ours, so a transform may work in place on its row.
    const result = transform.apply({ data: src.subarray(r * rowElems, (r + 1) * rowElems), shape: rowShape }, generatorOf(rows[r]));
    if (r === 0) {
      outShape = result.shape;
      out = new Float32Array(n * result.data.length);
    } else if (result.shape.length !== outShape.length || result.shape.some((d, k) => d !== outShape[k])) {
      throw new ShapeError(`TensorDataset: ${name} gave row ${rows[r]} the shape ${fmtShape(result.shape)} but row ${rows[0]} ${fmtShape(outShape)}; rows of a batch must match`);
    }
    out.set(result.data, r * result.data.length);
  }
  return fromTypedArray(out, [n, ...outShape], 'float32', batch.device);
}

/** A view of some rows of another dataset. */
export class Subset<T> extends Dataset<T> {
  constructor(readonly dataset: Dataset<T>, readonly indices: number[]) {
    super();
  }
  get length(): number {
    return this.indices.length;
  }
  get(index: number, generator?: Generator): T {
    return this.dataset.get(this.indices[index], generator);
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

/** A DataLoader's position: its seed and the number of epochs it has started. */
export interface DataLoaderState {
  seed: number;
  epoch: number;
}

export interface DataLoaderOptions {
  batchSize?: number;
  shuffle?: boolean;
  /**
   * Seed of the first epoch; epoch k uses seed + k for its shuffle and gives sample i the generator
   * `new Generator(seed + k, i)` for its transforms, whatever batch it lands in.
   */
  seed?: number;
  dropLast?: boolean;
  collate?: (examples: Tensor[][]) => Batch;
}

/**
 * Iterates a dataset in batches. With a TensorDataset and the default collate, each batch is
 * one gather per tensor, its transforms run over the gathered rows. Sample i of epoch k gets the
 * generator (seed + k, stream i), so augmentation repeats run to run whatever the batch size.
 * Batches are new tensors: dispose them (or iterate inside kd.tidy).
 */
export class DataLoader implements Iterable<Batch> {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  private epoch = 0;
  private seed: number;
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

  /** Where the loader stands, for an exact resume: its seed and the epochs it has started. */
  state(): DataLoaderState {
    return { seed: this.seed, epoch: this.epoch };
  }

  /** Puts the loader back where state() found it: the next epoch is shuffled as it was then. */
  loadState(state: DataLoaderState): void {
    if (!state || typeof state !== 'object' || !Number.isFinite(state.seed) || !Number.isInteger(state.epoch) || state.epoch < 0) {
      throw new ArgumentError(`DataLoader.loadState: expected { seed: number, epoch: integer >= 0 }, got ${JSON.stringify(state)}`);
    }
    this.seed = state.seed;
    this.epoch = state.epoch;
  }

  *[Symbol.iterator](): Iterator<Batch> {
    yield* this.batchesFrom(0);
  }

  /**
   * The next epoch's batches from batch `start` on (those before it are skipped without being
   * loaded): a resumed run continues mid-epoch with the same order and the same samples.
   */
  *batchesFrom(start: number): IterableIterator<Batch> {
    if (!Number.isInteger(start) || start < 0) throw new ArgumentError(`DataLoader.batchesFrom: start must be an integer >= 0, got ${start}`);
    const n = this.dataset.length;
    const epochSeed = this.seed + this.epoch;
    const order = this.shuffle ? permutation(n, epochSeed) : Array.from({ length: n }, (_, i) => i);
    this.epoch++;
    // One generator, re-seeded per sample: sample i's randomness depends on (seed, epoch, i) only.
    const generator = new Generator(epochSeed);
    const generatorOf = (i: number) => generator.manualSeed(epochSeed, i);
    for (let b = start; b < this.length; b++) {
      const idx = order.slice(b * this.batchSize, Math.min(n, (b + 1) * this.batchSize));
      if (!this.collate && this.dataset instanceof TensorDataset) {
        yield this.dataset.getBatch(Int32Array.from(idx), generatorOf);
      } else {
        const examples = idx.map((i) => this.dataset.get(i, generatorOf(i)));
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

