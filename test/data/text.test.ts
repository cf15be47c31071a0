import { existsSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as kd from '../../lib/index.js';

describe('TokenWindows', () => {
  const ids = Int32Array.from({ length: 11 }, (_, i) => 100 + i);

  it('cuts non-overlapping windows with the target shifted by one', () => {
    const ds = new kd.data.TokenWindows(ids, 4);
    expect(ds.length).toBe(2); // floor((11 - 4 - 1) / 4) + 1
    const [x, y] = ds.get(1);
    expect(x.dtype).toBe('int32');
    expect(Array.from(x.data())).toEqual([104, 105, 106, 107]);
    expect(Array.from(y.data())).toEqual([105, 106, 107, 108]);
  });

  it('overlaps windows with a smaller stride and batches them as [n, blockSize]', () => {
    const ds = new kd.data.TokenWindows(Array.from(ids), 4, { stride: 2 });
    expect(ds.length).toBe(4);
    const [x, y] = ds.getBatch(Int32Array.of(3, 0));
    expect(x.shape).toEqual([2, 4]);
    expect(Array.from(x.data())).toEqual([106, 107, 108, 109, 100, 101, 102, 103]);
    expect(Array.from(y.data())).toEqual([107, 108, 109, 110, 101, 102, 103, 104]);
    expect(new kd.data.TokenWindows(ids, 10).length).toBe(1);
    expect(new kd.data.TokenWindows(ids, 11).length).toBe(0);
  });

  it('feeds a DataLoader', () => {
    const loader = new kd.data.DataLoader(new kd.data.TokenWindows(ids, 2, { stride: 1 }), { batchSize: 3, shuffle: false });
    const batches = [...loader];
    expect(batches.length).toBe(3);
    expect(batches[0][0].shape).toEqual([3, 2]);
    expect(Array.from(batches[0][1].data())).toEqual([101, 102, 102, 103, 103, 104]);
  });

  it('rejects bad sizes, ids and indices', () => {
    expect(() => new kd.data.TokenWindows(ids, 0)).toThrow(/blockSize must be a positive integer, got 0/);
    expect(() => new kd.data.TokenWindows(ids, 4, { stride: 0 })).toThrow(/stride/);
    expect(() => new kd.data.TokenWindows([1, 2.5], 1)).toThrow(/ids\[1\] = 2.5 is not an int32/);
    expect(() => new kd.data.TokenWindows(ids, 4).get(2)).toThrow(/index 2 is out of range for 2 windows \(11 tokens, blockSize 4, stride 4\)/);
    expect(() => new kd.data.TokenWindows(ids, 4, { step: 2 } as never)).toThrow(kd.ArgumentError);
  });
});

describe('maskTokens', () => {
  const vocabSize = 1000, mask = 3, special = [0, 1];

  it('chooses 15% of non-special tokens; of those 80% [MASK], 10% random, 10% kept (seeded)', () => {
    const rows = 200, cols = 500;
    const batch: number[][] = Array.from({ length: rows }, (_, r) => Array.from({ length: cols }, (_, c) => (c === 0 ? 0 : c === cols - 1 ? 1 : 10 + ((r * 7 + c) % 900))));
    const { inputIds, labels } = kd.data.maskTokens(batch, { maskTokenId: mask, vocabSize, specialTokenIds: special, generator: new kd.Generator(7) });
    expect(inputIds.shape).toEqual([rows, cols]);
    const x = inputIds.data() as Int32Array, y = labels.data() as Int32Array, orig = batch.flat();
    let chosen = 0, masked = 0, kept = 0, random = 0;
    for (let i = 0; i < orig.length; i++) {
      if (special.includes(orig[i])) {
        expect(y[i]).toBe(-100);
        expect(x[i]).toBe(orig[i]);
        continue;
      }
      if (y[i] === -100) {
        expect(x[i]).toBe(orig[i]);
        continue;
      }
      expect(y[i]).toBe(orig[i]);
      chosen++;
      if (x[i] === mask) masked++;
      else if (x[i] === orig[i]) kept++;
      else random++;
    }
    const eligible = rows * (cols - 2);
    // Binomial standard deviations: chosen ~ 0.15 * 99,600 ± 113; the split ± ~0.5% of chosen.
    expect(Math.abs(chosen / eligible - 0.15)).toBeLessThan(0.005);
    expect(Math.abs(masked / chosen - 0.8)).toBeLessThan(0.015);
    expect(Math.abs(random / chosen - 0.1)).toBeLessThan(0.012);
    expect(Math.abs(kept / chosen - 0.1)).toBeLessThan(0.012);
  });

  it('is reproducible with a seed and takes an int32 tensor', () => {
    const ids = kd.tensor([[5, 6, 7, 8], [9, 10, 11, 12]], { dtype: 'int32' });
    const opts = (seed: number) => ({ maskTokenId: mask, vocabSize, probability: 0.5, generator: new kd.Generator(seed) });
    const a = kd.data.maskTokens(ids, opts(1)), b = kd.data.maskTokens(ids, opts(1));
    expect(Array.from(a.inputIds.data())).toEqual(Array.from(b.inputIds.data()));
    expect(Array.from(a.labels.data())).toEqual(Array.from(b.labels.data()));
    expect(a.labels.dtype).toBe('int32');
    expect(Array.from(ids.data())).toEqual([5, 6, 7, 8, 9, 10, 11, 12]);
    const none = kd.data.maskTokens(ids, { ...opts(1), probability: 0 });
    expect(Array.from(none.labels.data())).toEqual(new Array(8).fill(-100));
  });

  it('rejects bad input', () => {
    expect(() => kd.data.maskTokens([[1, 2], [3]], { maskTokenId: mask, vocabSize })).toThrow(/row 1 has 1 ids but row 0 has 2/);
    expect(() => kd.data.maskTokens([[1, 2]], { maskTokenId: vocabSize, vocabSize })).toThrow(/maskTokenId must be an integer in \[0, 1000\)/);
    expect(() => kd.data.maskTokens([[1, 2]], { maskTokenId: mask, vocabSize, probability: 1.5 })).toThrow(/probability/);
    expect(() => kd.data.maskTokens(kd.tensor([1.5]), { maskTokenId: mask, vocabSize })).toThrow(kd.DTypeError);
    expect(() => kd.data.maskTokens([[1, 2]], { maskTokenId: mask, vocabSize, seed: 1 } as never)).toThrow(/unknown option 'seed'/);
  });
});

describe('shipped text', () => {
  it('reads the King James Bible from data/kjv.txt.gz (under 5 MB on disk, 4.3 MB of text)', () => {
    const path = kd.data.textPath();
    expect(existsSync(path)).toBe(true);
    expect(statSync(path).size).toBeLessThan(5 * 2 ** 20);
    const s = kd.data.datasets.text('kjv');
    expect(s.length).toBe(4298239);
    expect(s).toContain('In the beginning God created the heaven and the earth.');
    expect(s.trimEnd().endsWith('The grace of our Lord Jesus Christ be with you all. Amen.')).toBe(true);
    expect(() => kd.data.datasets.text('shakespeare')).toThrow(/no shipped text 'shakespeare' \(known: kjv\)/);
  });

  it('trains a byte-level BPE whose encoding round-trips the whole text', () => {
    const s = kd.data.datasets.text();
    const tok = kd.text.BpeTokenizer.train(s.slice(0, 200_000), { vocabSize: 1256 });
    const ids = tok.encode(s);
    expect(tok.decode(ids)).toBe(s);
    expect(ids.length).toBeLessThan(s.length / 3);
  });
});
