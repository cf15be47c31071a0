// kd.nn.utils.rnn: packed variable-length batches with torch.nn.utils.rnn's layouts, worked out by
// hand here (x[t][b] = 10 t + b makes every packed row name its step and sequence), round trips on
// seeded random batches, gradients through packing and unpacking, and PyTorch's errors.
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import { ArgumentError, ShapeError } from '../../lib/errors.js';
import type { Tensor } from '../../lib/index.js';
import { expectError, makeRng, randomTensor } from '../helpers.js';

const { packPaddedSequence, padPackedSequence, padSequence, packSequence, PackedSequence } = kd.nn.utils.rnn;

/** x[t][b] = 10 t + b, time-major [T, B]. */
function stepMajor(steps: number, batch: number): Tensor {
  const v: number[][] = [];
  for (let t = 0; t < steps; t++) v.push(Array.from({ length: batch }, (_, b) => 10 * t + b));
  return kd.tensor(v, { dtype: 'float32' });
}

const values = (t: Tensor | null) => (t === null ? null : Array.from(t.data() as ArrayLike<number>));

describe('packPaddedSequence', () => {
  it('packs sorted lengths time-major with batchSizes counting the running sequences', () => {
    const p = packPaddedSequence(stepMajor(3, 3), [3, 2, 1]);
    expect(values(p.data)).toEqual([0, 1, 2, 10, 11, 20]);
    expect(Array.from(p.batchSizes)).toEqual([3, 2, 1]);
    expect(p.sortedIndices).toBeNull();
    expect(p.unsortedIndices).toBeNull();
  });

  it('sorts unsorted lengths when enforceSorted is false and records both permutations', () => {
    const p = packPaddedSequence(stepMajor(3, 3), [1, 3, 2], { enforceSorted: false });
    expect(values(p.data)).toEqual([1, 2, 0, 11, 12, 21]);
    expect(Array.from(p.batchSizes)).toEqual([3, 2, 1]);
    expect(values(p.sortedIndices)).toEqual([1, 2, 0]);
    expect(values(p.unsortedIndices)).toEqual([2, 0, 1]);
    expect(p.sortedIndices!.dtype).toBe('int32');
  });

  it('keeps equal lengths in their batch order and reads lengths from a tensor', () => {
    const p = packPaddedSequence(stepMajor(2, 3), kd.tensor([1, 2, 2], { dtype: 'int32' }), { enforceSorted: false });
    expect(values(p.sortedIndices)).toEqual([1, 2, 0]);
    expect(values(p.data)).toEqual([1, 2, 0, 11, 12]);
    expect(Array.from(p.batchSizes)).toEqual([3, 2]);
  });

  it('reads a batchFirst input [B, T, *] with trailing feature dims', () => {
    // x[b][t] = [100 b + 10 t, 100 b + 10 t + 1]
    const v = [0, 1, 2].map((b) => [0, 1, 2, 3].map((t) => [100 * b + 10 * t, 100 * b + 10 * t + 1]));
    const p = packPaddedSequence(kd.tensor(v, { dtype: 'float32' }), [2, 4, 1], { batchFirst: true, enforceSorted: false });
    expect(p.data.shape).toEqual([7, 2]);
    expect(p.data.toArray()).toEqual([[100, 101], [0, 1], [200, 201], [110, 111], [10, 11], [120, 121], [130, 131]]);
    expect(Array.from(p.batchSizes)).toEqual([3, 2, 1, 1]);
  });

  it('routes the gradient of the packed rows back to their padded positions, zero on padding', () => {
    const x = stepMajor(3, 3);
    x.requiresGrad = true;
    const p = packPaddedSequence(x, [1, 3, 2], { enforceSorted: false });
    p.data.mul(kd.tensor([1, 2, 3, 4, 5, 6], { dtype: 'float32' })).sum().backward();
    // packed rows: (0,1) (0,2) (0,0) (1,1) (1,2) (2,1)
    expect(x.grad!.toArray()).toEqual([[3, 1, 2], [0, 4, 5], [0, 6, 0]]);
  });

  it('throws PyTorch\'s errors for bad lengths', () => {
    const x = stepMajor(3, 3);
    expectError(() => packPaddedSequence(x, [1, 3, 2]), ArgumentError, /packPaddedSequence/, /decreasing/, /enforceSorted/);
    expectError(() => packPaddedSequence(x, [3, 2, 0]), ArgumentError, /packPaddedSequence/, /positive/);
    expectError(() => packPaddedSequence(x, [4, 2, 1]), ArgumentError, /packPaddedSequence/, /4/, /\[3,3\]/);
    expectError(() => packPaddedSequence(x, [3, 2]), ShapeError, /packPaddedSequence/, /2 lengths/, /\[3,3\]/);
    expectError(() => packPaddedSequence(kd.tensor([1, 2, 3]), [1, 1, 1]), ShapeError, /packPaddedSequence/, /\[3\]/);
  });
});

describe('padPackedSequence', () => {
  it('unpacks to the original batch order with padding and returns the lengths', () => {
    const p = packPaddedSequence(stepMajor(3, 3), [1, 3, 2], { enforceSorted: false });
    const [padded, lengths] = padPackedSequence(p, { paddingValue: -1 });
    expect(padded.toArray()).toEqual([[0, 1, 2], [-1, 11, 12], [-1, 21, -1]]);
    expect(lengths.dtype).toBe('int32');
    expect(values(lengths)).toEqual([1, 3, 2]);
    const [wide] = padPackedSequence(p, { batchFirst: true, totalLength: 4 });
    expect(wide.toArray()).toEqual([[0, 0, 0, 0], [1, 11, 21, 0], [2, 12, 0, 0]]);
  });

  it('round-trips random batches in both layouts, sorted and unsorted', () => {
    const rng = makeRng(1201);
    for (const batchFirst of [false, true]) {
      for (const [lengths, enforceSorted] of [[[5, 5, 3, 1], true], [[2, 5, 1, 4], false]] as const) {
        const shape = batchFirst ? [4, 5, 3] : [5, 4, 3];
        const { t: x, ref } = randomTensor(rng, shape);
        const [padded, lens] = padPackedSequence(packPaddedSequence(x, [...lengths], { batchFirst, enforceSorted }), { batchFirst });
        expect(padded.shape).toEqual(shape);
        expect(values(lens)).toEqual([...lengths]);
        const out = padded.data() as Float32Array;
        for (let b = 0; b < 4; b++) {
          for (let t = 0; t < 5; t++) {
            for (let f = 0; f < 3; f++) {
              const at = (batchFirst ? (b * 5 + t) : (t * 4 + b)) * 3 + f;
              expect(out[at]).toBeCloseTo(t < lengths[b] ? ref[at] : 0, 6);
            }
          }
        }
      }
    }
  });

  it('passes the gradient of the real steps back to the packed data', () => {
    const p = packPaddedSequence(stepMajor(3, 3), [1, 3, 2], { enforceSorted: false });
    const data = p.data.detach();
    data.requiresGrad = true;
    const [padded] = padPackedSequence(new PackedSequence(data, p.batchSizes, p.sortedIndices, p.unsortedIndices));
    padded.mul(kd.tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]], { dtype: 'float32' })).sum().backward();
    // packed rows: (0,1) (0,2) (0,0) (1,1) (1,2) (2,1)
    expect(values(data.grad)).toEqual([2, 3, 1, 5, 6, 8]);
  });

  it('rejects a totalLength shorter than the longest sequence', () => {
    const p = packPaddedSequence(stepMajor(3, 2), [3, 1]);
    expectError(() => padPackedSequence(p, { totalLength: 2 }), ArgumentError, /padPackedSequence/, /totalLength/, /3/);
  });
});

describe('padSequence and packSequence', () => {
  const seqs = () => [kd.tensor([1, 2, 3], { dtype: 'float32' }), kd.tensor([4], { dtype: 'float32' }), kd.tensor([5, 6], { dtype: 'float32' })];

  it('pads right time-major, batchFirst, and left with a padding value', () => {
    expect(padSequence(seqs()).toArray()).toEqual([[1, 4, 5], [2, 0, 6], [3, 0, 0]]);
    expect(padSequence(seqs(), { batchFirst: true }).toArray()).toEqual([[1, 2, 3], [4, 0, 0], [5, 6, 0]]);
    expect(padSequence(seqs(), { batchFirst: true, paddingValue: -1, paddingSide: 'left' }).toArray()).toEqual([[1, 2, 3], [-1, -1, 4], [-1, 5, 6]]);
  });

  it('pads sequences with feature dims and passes gradients back to each', () => {
    const a = kd.tensor([[1, 2], [3, 4]], { dtype: 'float32', requiresGrad: true });
    const b = kd.tensor([[5, 6]], { dtype: 'float32', requiresGrad: true });
    const out = padSequence([a, b], { batchFirst: true });
    expect(out.toArray()).toEqual([[[1, 2], [3, 4]], [[5, 6], [0, 0]]]);
    out.mul(kd.arange(8).reshape([2, 2, 2]).float()).sum().backward();
    expect(a.grad!.toArray()).toEqual([[0, 1], [2, 3]]);
    expect(b.grad!.toArray()).toEqual([[4, 5]]);
  });

  it('packSequence equals packPaddedSequence of the padded batch', () => {
    const p = packSequence(seqs(), { enforceSorted: false });
    expect(values(p.data)).toEqual([1, 5, 4, 2, 6, 3]);
    expect(Array.from(p.batchSizes)).toEqual([3, 2, 1]);
    expect(values(p.sortedIndices)).toEqual([0, 2, 1]);
    const q = packPaddedSequence(padSequence(seqs()), [3, 1, 2], { enforceSorted: false });
    expect(values(q.data)).toEqual(values(p.data));
    expectError(() => packSequence(seqs()), ArgumentError, /packSequence/, /decreasing/);
  });

  it('rejects empty lists and mismatched trailing dims', () => {
    expectError(() => padSequence([]), ArgumentError, /padSequence/, /non-empty/);
    expectError(() => padSequence([kd.zeros([2, 3]), kd.zeros([2, 4])]), ShapeError, /padSequence/, /\[2,3\]/, /\[2,4\]/);
  });
});

describe('PackedSequence', () => {
  it('inverts sortedIndices and checks batchSizes against the data', () => {
    const p = new PackedSequence(kd.zeros([4, 2]), [2, 1, 1], kd.tensor([1, 0], { dtype: 'int32' }));
    expect(values(p.unsortedIndices)).toEqual([1, 0]);
    expectError(() => new PackedSequence(kd.zeros([4, 2]), [2, 1]), ShapeError, /PackedSequence/, /3/, /\[4,2\]/);
    expectError(() => new PackedSequence(kd.zeros([4]), [1, 3]), ArgumentError, /PackedSequence/, /non-increasing/);
  });
});
