// Variable-length batches for the recurrent modules, as torch.nn.utils.rnn: a PackedSequence holds
// the real steps of a batch of sequences time-major and without padding (step 0 of every
// sequence, then step 1 of those still running, ...), sequences ordered by decreasing length.
// Packing and unpacking are each one indexSelect over the rows of a flattened tensor (plus one
// padding row where padding is written), so autograd routes the gradient back through them.
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../../errors.js';
import { full, tensor } from '../../ops/creation.js';
import { indexSelect } from '../../ops/indexing.js';
import { assertTensor, sameDevice } from '../../ops/record.js';
import { cat, reshape } from '../../ops/shape.js';
import { scoped } from '../../scope.js';
import { Tensor } from '../../tensor.js';

/**
 * A batch of sequences packed time-major: `data` is [sum(lengths), *], `batchSizes[t]` the number
 * of sequences longer than t (non-increasing), `sortedIndices` the batch order by decreasing length
 * (null when the batch came in already sorted with enforceSorted) and `unsortedIndices` its
 * inverse, both int32 on data's device.
 */
export class PackedSequence {
  readonly data: Tensor;
  readonly batchSizes: Int32Array;
  readonly sortedIndices: Tensor | null;
  readonly unsortedIndices: Tensor | null;

  /** unsortedIndices, when not given, is computed as the inverse permutation of sortedIndices. */
  constructor(data: Tensor, batchSizes: Int32Array | readonly number[], sortedIndices: Tensor | null = null, unsortedIndices: Tensor | null = null) {
    const op = 'PackedSequence';
    assertTensor(data, op, 'data');
    const sizes = Int32Array.from(batchSizes);
    if (data.ndim < 1) throw new ShapeError(`${op}: data must have at least 1 dim, got shape ${fmtShape(data.shape)}`);
    if (sizes.length === 0) throw new ArgumentError(`${op}: batchSizes must not be empty`);
    let total = 0;
    for (let t = 0; t < sizes.length; t++) {
      if (sizes[t] <= 0 || (t > 0 && sizes[t] > sizes[t - 1])) {
        throw new ArgumentError(`${op}: batchSizes must be positive and non-increasing, got [${[...sizes].join(', ')}]`);
      }
      total += sizes[t];
    }
    if (total !== data.shape[0]) {
      throw new ShapeError(`${op}: batchSizes sum to ${total} but data ${fmtShape(data.shape)} has ${data.shape[0]} rows`);
    }
    for (const [name, ix] of [['sortedIndices', sortedIndices], ['unsortedIndices', unsortedIndices]] as const) {
      if (ix === null) continue;
      assertTensor(ix, op, name);
      if (ix.dtype !== 'int32') throw new DTypeError(`${op}: ${name} must be int32, got ${ix.dtype}`);
      if (ix.ndim !== 1 || ix.shape[0] !== sizes[0]) {
        throw new ShapeError(`${op}: ${name} ${fmtShape(ix.shape)} must be 1-d with one entry per sequence (${sizes[0]})`);
      }
    }
    this.data = data;
    this.batchSizes = sizes;
    this.sortedIndices = sortedIndices;
    this.unsortedIndices = unsortedIndices ?? (sortedIndices === null ? null : invertPermutation(sortedIndices));
  }
}

export interface PackPaddedOptions {
  /** input is [B, T, *] instead of [T, B, *] (default false). */
  batchFirst?: boolean;
  /** lengths must already be in decreasing order (default true); false sorts them here. */
  enforceSorted?: boolean;
}

export interface PadPackedOptions {
  /** output [B, T, *] instead of [T, B, *] (default false). */
  batchFirst?: boolean;
  /** the value written past each sequence's end (default 0). */
  paddingValue?: number;
  /** pad to this many steps instead of the longest length (at least the longest length). */
  totalLength?: number;
}

export interface PadSequenceOptions {
  batchFirst?: boolean;
  paddingValue?: number;
  /** pad after each sequence ('right', the default) or before it ('left'). */
  paddingSide?: 'left' | 'right';
}

function permutationTensor(order: ArrayLike<number>, like: Tensor): Tensor {
  return tensor(Int32Array.from(order), { dtype: 'int32', device: like.device });
}

function invertPermutation(sorted: Tensor): Tensor {
  const order = sorted.cpu().data() as Int32Array;
  const inverse = new Int32Array(order.length);
  for (let j = 0; j < order.length; j++) inverse[order[j]] = j;
  return permutationTensor(inverse, sorted);
}

function readLengths(lengths: number[] | Tensor, op: string): number[] {
  if (lengths instanceof Tensor) {
    if (lengths.ndim !== 1) throw new ShapeError(`${op}: lengths must be 1-d, got shape ${fmtShape(lengths.shape)}`);
    if (lengths.dtype === 'bool') throw new DTypeError(`${op}: lengths must be int32 or float32, got bool`);
    return Array.from(lengths.cpu().data() as ArrayLike<number>);
  }
  if (!Array.isArray(lengths)) throw new ArgumentError(`${op}: lengths must be an array of numbers or a 1-d tensor`);
  return lengths.map((v) => Number(v));
}

/**
 * The packed layout of sequences of these lengths: batchSizes, the batch order by decreasing length
 * (stable among equal lengths) and whether the caller's order was kept (enforceSorted).
 */
function packedLayout(lengths: number[], enforceSorted: boolean, op: string): { batchSizes: Int32Array; order: number[] } {
  lengths.forEach((len, b) => {
    if (!Number.isInteger(len) || len <= 0) {
      throw new ArgumentError(`${op}: every length must be a positive integer, but lengths[${b}] is ${len}`);
    }
  });
  let order = lengths.map((_, b) => b);
  if (enforceSorted) {
    for (let b = 1; b < lengths.length; b++) {
      if (lengths[b] > lengths[b - 1]) {
        throw new ArgumentError(`${op}: lengths [${lengths.join(', ')}] must be sorted in decreasing order when enforceSorted is true; pass { enforceSorted: false } to sort them here`);
      }
    }
  } else {
    order = order.sort((a, b) => lengths[b] - lengths[a] || a - b);
  }
  const maxLen = lengths[order[0]];
  const batchSizes = new Int32Array(maxLen);
  for (const len of lengths) for (let t = 0; t < len; t++) batchSizes[t]++;
  return { batchSizes, order };
}

function packWith(data: Tensor, batchSizes: Int32Array, order: number[], enforceSorted: boolean): PackedSequence {
  if (enforceSorted) return new PackedSequence(data, batchSizes);
  const sorted = permutationTensor(order, data);
  return new PackedSequence(data, batchSizes, sorted);
}

/**
 * Packs a padded batch: input [T, B, *] ([B, T, *] with batchFirst), lengths one per sequence,
 * each in 1..T. Differentiable in input.
 */
export function packPaddedSequence(input: Tensor, lengths: number[] | Tensor, options: PackPaddedOptions = {}): PackedSequence {
  const op = 'packPaddedSequence';
  assertTensor(input, op, 'input');
  const { batchFirst = false, enforceSorted = true } = options;
  if (input.ndim < 2) throw new ShapeError(`${op}: input must be [T, B, *] or [B, T, *], got shape ${fmtShape(input.shape)}`);
  const lens = readLengths(lengths, op);
  const steps = input.shape[batchFirst ? 1 : 0];
  const batch = input.shape[batchFirst ? 0 : 1];
  if (lens.length !== batch) {
    throw new ShapeError(`${op}: got ${lens.length} lengths for a batch of ${batch} (input ${fmtShape(input.shape)}, batchFirst ${batchFirst})`);
  }
  if (batch === 0) throw new ShapeError(`${op}: input ${fmtShape(input.shape)} holds no sequences`);
  const { batchSizes, order } = packedLayout(lens, enforceSorted, op);
  const longest = lens[order[0]];
  if (longest > steps) {
    throw new ArgumentError(`${op}: a length of ${longest} exceeds the ${steps} steps of input ${fmtShape(input.shape)} (batchFirst ${batchFirst})`);
  }
  // Row of (step t, sequence b) in input flattened over its first two dims.
  const rowOf = batchFirst ? (t: number, b: number) => b * steps + t : (t: number, b: number) => t * batch + b;
  const rows: number[] = [];
  for (let t = 0; t < batchSizes.length; t++) for (let j = 0; j < batchSizes[t]; j++) rows.push(rowOf(t, order[j]));
  const data = scoped(() => {
    const flat = reshape(input, [steps * batch, ...input.shape.slice(2)]);
    return indexSelect(flat, 0, permutationTensor(rows, input));
  });
  return packWith(data, batchSizes, order, enforceSorted);
}

/**
 * Unpacks to [T, B, *] ([B, T, *] with batchFirst), sequences in their original order, padded with
 * paddingValue; returns [padded, lengths] with lengths int32 on the CPU. Differentiable in data.
 */
export function padPackedSequence(sequence: PackedSequence, options: PadPackedOptions = {}): [Tensor, Tensor] {
  const op = 'padPackedSequence';
  if (!(sequence instanceof PackedSequence)) throw new ArgumentError(`${op}: expected a PackedSequence`);
  const { batchFirst = false, paddingValue = 0 } = options;
  const { data, batchSizes } = sequence;
  const maxLen = batchSizes.length;
  const batch = batchSizes[0];
  const steps = options.totalLength ?? maxLen;
  if (!Number.isInteger(steps) || steps < maxLen) {
    throw new ArgumentError(`${op}: totalLength must be at least the longest sequence's length ${maxLen}, got ${options.totalLength}`);
  }
  // Sorted position j runs for sortedLengths[j] steps; its step t sits at packed row starts[t] + j.
  const starts = new Int32Array(maxLen);
  for (let t = 1; t < maxLen; t++) starts[t] = starts[t - 1] + batchSizes[t - 1];
  const sortedLengths = new Int32Array(batch);
  for (let t = 0; t < maxLen; t++) for (let j = 0; j < batchSizes[t]; j++) sortedLengths[j]++;
  const positionOf = sequence.unsortedIndices ? (sequence.unsortedIndices.cpu().data() as Int32Array) : null;
  const paddingRow = data.shape[0];
  const rows = new Int32Array(steps * batch);
  const lengths = new Int32Array(batch);
  for (let b = 0; b < batch; b++) {
    const j = positionOf ? positionOf[b] : b;
    lengths[b] = sortedLengths[j];
    for (let t = 0; t < steps; t++) {
      rows[batchFirst ? b * steps + t : t * batch + b] = t < sortedLengths[j] ? starts[t] + j : paddingRow;
    }
  }
  const rest = data.shape.slice(1);
  const padded = scoped(() => {
    const withPadding = cat([data, full([1, ...rest], paddingValue, { dtype: data.dtype, device: data.device })], 0);
    const picked = indexSelect(withPadding, 0, permutationTensor(rows, data));
    return reshape(picked, batchFirst ? [batch, steps, ...rest] : [steps, batch, ...rest]);
  });
  return [padded, tensor(lengths, { dtype: 'int32' })];
}

function checkSequences(sequences: Tensor[], op: string): void {
  if (!Array.isArray(sequences) || sequences.length === 0) throw new ArgumentError(`${op}: expected a non-empty array of tensors`);
  sequences.forEach((s, i) => assertTensor(s, op, `sequences[${i}]`));
  const first = sequences[0];
  sequences.forEach((s, i) => {
    if (s.ndim < 1) throw new ShapeError(`${op}: sequences[${i}] must have at least 1 dim, got shape ${fmtShape(s.shape)}`);
    if (s.ndim !== first.ndim || s.shape.some((d, k) => k > 0 && d !== first.shape[k])) {
      throw new ShapeError(`${op}: sequences must agree in every dim but the first, got ${sequences.map((q) => fmtShape(q.shape)).join(', ')}`);
    }
    if (s.dtype !== first.dtype) throw new DTypeError(`${op}: sequences mix dtypes ${first.dtype} and ${s.dtype}`);
  });
  sameDevice(op, ...sequences);
}

/** Row offsets of each sequence in cat(sequences). */
function sequenceStarts(sequences: Tensor[]): number[] {
  const starts: number[] = [];
  let at = 0;
  for (const s of sequences) {
    starts.push(at);
    at += s.shape[0];
  }
  return starts;
}

/**
 * Stacks sequences [L_i, *] into [T, B, *] ([B, T, *] with batchFirst), T the longest L_i, each
 * padded with paddingValue after its end ('right') or before its start ('left').
 */
export function padSequence(sequences: Tensor[], options: PadSequenceOptions = {}): Tensor {
  const op = 'padSequence';
  checkSequences(sequences, op);
  const { batchFirst = false, paddingValue = 0, paddingSide = 'right' } = options;
  if (paddingSide !== 'left' && paddingSide !== 'right') {
    throw new ArgumentError(`${op}: paddingSide must be 'left' or 'right', got ${String(paddingSide)}`);
  }
  const batch = sequences.length;
  const steps = Math.max(...sequences.map((s) => s.shape[0]));
  const starts = sequenceStarts(sequences);
  const paddingRow = starts[batch - 1] + sequences[batch - 1].shape[0];
  const rows = new Int32Array(steps * batch);
  sequences.forEach((s, b) => {
    const len = s.shape[0];
    const lead = paddingSide === 'left' ? steps - len : 0;
    for (let t = 0; t < steps; t++) {
      const k = t - lead;
      rows[batchFirst ? b * steps + t : t * batch + b] = k >= 0 && k < len ? starts[b] + k : paddingRow;
    }
  });
  const rest = sequences[0].shape.slice(1);
  return scoped(() => {
    const first = sequences[0];
    const all = cat([...sequences, full([1, ...rest], paddingValue, { dtype: first.dtype, device: first.device })], 0);
    const picked = indexSelect(all, 0, permutationTensor(rows, first));
    return reshape(picked, batchFirst ? [batch, steps, ...rest] : [steps, batch, ...rest]);
  });
}

/** Packs a list of sequences [L_i, *] (every L_i >= 1); as packPaddedSequence(padSequence(...)). */
export function packSequence(sequences: Tensor[], options: { enforceSorted?: boolean } = {}): PackedSequence {
  const op = 'packSequence';
  checkSequences(sequences, op);
  const { enforceSorted = true } = options;
  const { batchSizes, order } = packedLayout(sequences.map((s) => s.shape[0]), enforceSorted, op);
  const starts = sequenceStarts(sequences);
  const rows: number[] = [];
  for (let t = 0; t < batchSizes.length; t++) for (let j = 0; j < batchSizes[t]; j++) rows.push(starts[order[j]] + t);
  const data = scoped(() => indexSelect(cat(sequences, 0), 0, permutationTensor(rows, sequences[0])));
  return packWith(data, batchSizes, order, enforceSorted);
}
