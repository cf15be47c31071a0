// Sampling from tensors of probabilities: multinomial (categories drawn per row of weights) and
// bernoulli (one coin per element). Draws come from kd.manualSeed's generator, or from the
// kd.Generator (or a fresh one from the `seed`) the options name, so a sampling loop can be
// repeated without touching the global stream. Weights are read on the host (for CUDA tensors too: the draw is sequential per row and
// tiny next to the model that made the weights); the results go back to the tensor's device.
import { noGrad } from '../autograd/grad_mode.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { Generator, defaultGenerator } from '../random.js';
import { tidy } from '../scope.js';
import type { Tensor } from '../tensor.js';
import { fromTypedArray } from './creation.js';
import { assertTensor } from './record.js';

export interface MultinomialOptions {
  /** Draw with replacement (default false: each category at most once per row, as PyTorch). */
  replacement?: boolean;
  /** The stream to draw from (default: the one kd.manualSeed seeds), as torch's generator argument. */
  generator?: Generator;
  /** Shorthand for `generator: new kd.Generator(seed)`: a repeatable draw that leaves the global stream alone. */
  seed?: number;
}

export interface BernoulliOptions {
  /** The stream to draw from (default: the one kd.manualSeed seeds). */
  generator?: Generator;
  /** Shorthand for `generator: new kd.Generator(seed)`. */
  seed?: number;
}

/** Uniform doubles in [0, 1) with 53 random bits from the generator the options name. */
function uniformSource(options: { generator?: Generator; seed?: number }, op: string): () => number {
  const { generator, seed } = options;
  if (generator !== undefined && seed !== undefined) throw new ArgumentError(`${op}: pass a generator or a seed, not both`);
  let g = defaultGenerator;
  if (generator !== undefined) {
    if (!(generator instanceof Generator)) throw new ArgumentError(`${op}: generator must be a kd.Generator, got ${typeof generator}`);
    g = generator;
  } else if (seed !== undefined) {
    if (typeof seed !== 'number' || !Number.isFinite(seed)) throw new ArgumentError(`${op}: seed must be a finite number, got ${String(seed)}`);
    g = new Generator(seed);
  }
  return () => ((g.nextUint32() >>> 5) * 67108864 + (g.nextUint32() >>> 6)) / 9007199254740992;
}

/**
 * numSamples category indices (int32; PyTorch: int64) per row of a 1-d [n] or 2-d [rows, n]
 * tensor of non-negative weights (they need not sum to 1). Without replacement each row is an
 * exponential race: category i finishes at E_i / w_i (E_i standard exponential), and the first
 * numSamples to finish are, in that order, distributed exactly as drawing one at a time and
 * removing it: O(n log numSamples) per row.
 */
export function multinomial(probs: Tensor, numSamples: number, options: MultinomialOptions = {}): Tensor {
  const op = 'multinomial';
  assertTensor(probs, op, 'input');
  const { replacement = false } = options;
  if (probs.dtype !== 'float32') throw new DTypeError(`${op}: expected a float32 tensor of weights, got ${probs.dtype}`);
  if (probs.ndim !== 1 && probs.ndim !== 2) throw new ShapeError(`${op}: probability distributions must be 1-d or 2-d, got shape ${fmtShape(probs.shape)}`);
  if (!Number.isInteger(numSamples) || numSamples <= 0) throw new ArgumentError(`${op}: numSamples must be a positive integer, got ${numSamples}`);
  const n = probs.shape[probs.ndim - 1];
  const rows = probs.ndim === 1 ? 1 : probs.shape[0];
  if (n === 0) throw new ShapeError(`${op}: cannot sample from ${fmtShape(probs.shape)}: no categories`);
  if (!replacement && numSamples > n) {
    throw new ArgumentError(`${op}: cannot sample numSamples=${numSamples} > ${n} categories of ${fmtShape(probs.shape)} without replacement`);
  }
  const w = noGrad(() => tidy(() => probs.data()));
  for (let r = 0; r < rows; r++) {
    let total = 0, positive = 0;
    for (let i = r * n; i < (r + 1) * n; i++) {
      const v = w[i];
      if (!(v >= 0) || v === Infinity) throw new ArgumentError(`${op}: weights of ${fmtShape(probs.shape)} must be finite and >= 0, got ${v} in row ${r}`);
      total += v;
      if (v > 0) positive++;
    }
    if (!(total > 0)) throw new ArgumentError(`${op}: row ${r} of ${fmtShape(probs.shape)} has weights summing to 0`);
    if (!replacement && positive < numSamples) {
      throw new ArgumentError(`${op}: row ${r} of ${fmtShape(probs.shape)} has ${positive} non-zero weights, too few to draw ${numSamples} without replacement`);
    }
  }
  const uniform = uniformSource(options, op);
  const out = new Int32Array(rows * numSamples);
  for (let r = 0; r < rows; r++) {
    const row = out.subarray(r * numSamples, (r + 1) * numSamples);
    if (replacement) drawWithReplacement(w, r * n, n, uniform, row);
    else drawWithoutReplacement(w, r * n, n, uniform, row);
  }
  return fromTypedArray(out, probs.ndim === 1 ? [numSamples] : [rows, numSamples], 'int32', probs.device);
}

/** Inverse CDF by binary search over the running sums (float64): the first category whose sum exceeds u * total. */
function drawWithReplacement(w: ArrayLike<number>, base: number, n: number, uniform: () => number, into: Int32Array): void {
  const cdf = new Float64Array(n);
  let acc = 0;
  for (let i = 0; i < n; i++) cdf[i] = acc += w[base + i];
  for (let s = 0; s < into.length; s++) {
    const target = uniform() * acc;
    let lo = 0, hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] > target) hi = mid;
      else lo = mid + 1;
    }
    into[s] = lo;
  }
}

/** The exponential race: keeps the k earliest finishers in a max-heap on finishing time. */
function drawWithoutReplacement(w: ArrayLike<number>, base: number, n: number, uniform: () => number, into: Int32Array): void {
  const k = into.length;
  const heapKey = new Float64Array(k), heapIdx = new Int32Array(k);
  let size = 0;
  const swap = (a: number, b: number) => {
    const tk = heapKey[a]; heapKey[a] = heapKey[b]; heapKey[b] = tk;
    const ti = heapIdx[a]; heapIdx[a] = heapIdx[b]; heapIdx[b] = ti;
  };
  for (let i = 0; i < n; i++) {
    const weight = w[base + i];
    if (!(weight > 0)) continue;
    const key = -Math.log(1 - uniform()) / weight;
    if (size < k) {
      heapKey[size] = key; heapIdx[size] = i;
      for (let c = size++; c > 0;) {
        const p = (c - 1) >> 1;
        if (heapKey[p] >= heapKey[c]) break;
        swap(p, c);
        c = p;
      }
    } else if (key < heapKey[0]) {
      heapKey[0] = key; heapIdx[0] = i;
      for (let p = 0; ;) {
        const l = 2 * p + 1, r = l + 1;
        let top = p;
        if (l < k && heapKey[l] > heapKey[top]) top = l;
        if (r < k && heapKey[r] > heapKey[top]) top = r;
        if (top === p) break;
        swap(p, top);
        p = top;
      }
    }
  }
  const order = Array.from({ length: k }, (_, j) => j).sort((a, b) => heapKey[a] - heapKey[b]);
  order.forEach((j, s) => { into[s] = heapIdx[j]; });
}

/**
 * 1 with probability p, else 0, for each element of a float32 tensor of probabilities in [0, 1];
 * the result is float32 like p and carries no gradient (PyTorch's is zero).
 */
export function bernoulli(p: Tensor, options: BernoulliOptions = {}): Tensor {
  const op = 'bernoulli';
  assertTensor(p, op, 'input');
  if (p.dtype !== 'float32') throw new DTypeError(`${op}: expected a float32 tensor of probabilities, got ${p.dtype}`);
  const probs = noGrad(() => tidy(() => p.data()));
  const uniform = uniformSource(options, op);
  const out = new Float32Array(probs.length);
  for (let i = 0; i < probs.length; i++) {
    const v = probs[i];
    if (!(v >= 0 && v <= 1)) throw new ArgumentError(`${op}: probabilities of ${fmtShape(p.shape)} must be in [0, 1], got ${v}`);
    out[i] = uniform() < v ? 1 : 0;
  }
  return fromTypedArray(out, [...p.shape], 'float32', p.device);
}
