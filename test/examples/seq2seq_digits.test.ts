// examples/seq2seq_digits.ts with tiny settings: it trains, decodes greedily and reports accuracy
// (reaching 99% takes the default settings; see the example's header).
import { describe, expect, it } from 'vitest';

import { trainSeq2seqDigits } from '../../examples/seq2seq_digits.js';

describe('examples/seq2seq_digits', () => {
  it('trains a tiny encoder-decoder Transformer and reports held-out exact-match accuracy', async () => {
    const r = await trainSeq2seqDigits({ length: 4, steps: 3, batchSize: 8, dModel: 16, nhead: 2, numLayers: 1, dimFeedforward: 32, testSize: 10, seed: 3 });
    expect(r.steps).toBe(3);
    expect(Number.isFinite(r.finalLoss)).toBe(true);
    expect(r.finalLoss).toBeGreaterThan(0);
    expect(r.accuracy).toBeGreaterThanOrEqual(0);
    expect(r.accuracy).toBeLessThanOrEqual(1);
    expect(r.digitAccuracy).toBeGreaterThanOrEqual(r.accuracy);
    expect(Math.round(r.accuracy * 10)).toBeCloseTo(r.accuracy * 10, 9); // a count out of 10 strings
    expect(r.examples).toHaveLength(3);
    for (const e of r.examples) {
      expect(e.input).toMatch(/^\d{4}$/);
      expect(e.output).toMatch(/^\d{4}$/);
    }
  });

  it('is deterministic for a seed', async () => {
    const o = { length: 3, steps: 2, batchSize: 4, dModel: 8, nhead: 2, numLayers: 1, dimFeedforward: 16, testSize: 5, seed: 7 };
    const a = await trainSeq2seqDigits(o), b = await trainSeq2seqDigits(o);
    expect(b.finalLoss).toBe(a.finalLoss);
    expect(b.examples).toEqual(a.examples);
  });
});
