// The native CPU GEMM (native.gemm) against a float64 JavaScript reference, for every ISA this
// processor offers, on odd shapes, transposed / sliced / broadcast operands, alpha and beta, k = 0,
// and 1 and 2 threads. Outputs arrive poisoned with NaN (test/setup.ts), so an unwritten element
// fails; padding between rows of C must stay NaN, so a stray write fails too.
import { describe, expect, it } from 'vitest';
import { native } from '../../lib/native.js';
import { makeRng } from '../helpers.js';
import { type Case, TOLERANCE, callGemm, fill, itMatchesOnEveryIsa, operand } from './gemm_operands.js';

const CASES: Case[] = [
  { name: '1x1x1', m: 1, n: 1, k: 1 },
  { name: '5x7x3', m: 5, n: 7, k: 3 },
  { name: '37x41x53', m: 37, n: 41, k: 53 },
  { name: '100x3x257', m: 100, n: 3, k: 257 },
  { name: '130x260x70', m: 130, n: 260, k: 70 },
  { name: '130x260x70 with A transposed', m: 130, n: 260, k: 70, a: { transposed: true } },
  { name: '130x260x70 with B transposed', m: 130, n: 260, k: 70, b: { transposed: true } },
  { name: '37x41x53 with A and B transposed', m: 37, n: 41, k: 53, a: { transposed: true }, b: { transposed: true } },
  { name: '37x41x53 into a transposed C', m: 37, n: 41, k: 53, c: { transposed: true } },
  {
    name: '130x260x70 on sliced views (offsets, row stride > width)', m: 130, n: 260, k: 70,
    a: { offset: 7, pad: 9 }, b: { offset: 3, pad: 13 }, c: { offset: 11, pad: 6 },
  },
  { name: '61x75x300 with alpha 0.5, beta -1.5', m: 61, n: 75, k: 300, alpha: 0.5, beta: -1.5 },
  { name: '61x75x30 with beta 1 (accumulate)', m: 61, n: 75, k: 30, beta: 1 },
  { name: 'k = 0 with beta 0 gives zeros', m: 9, n: 13, k: 0 },
  { name: 'k = 0 with beta 2 scales C', m: 9, n: 13, k: 0, beta: 2 },
  { name: 'batch 3 of 37x41x53', m: 37, n: 41, k: 53, batch: 3 },
  { name: 'batch 4 of 37x41x53 with B broadcast', m: 37, n: 41, k: 53, batch: 4, b: { broadcast: true } },
  {
    name: 'batch 3 of 29x66x40 with A broadcast and transposed, alpha 2, beta 0.5', m: 29, n: 66, k: 40, batch: 3,
    a: { broadcast: true, transposed: true }, alpha: 2, beta: 0.5,
  },
  { name: 'batch 2 of 150x170x90 with B transposed and broadcast', m: 150, n: 170, k: 90, batch: 2,
    b: { broadcast: true, transposed: true } },
  { name: '200x300x150 (split across threads)', m: 200, n: 300, k: 150 },
  // The small path (gemm_small.h: A and B read in place, masked edge tiles): sizes below each ISA's
  // limit, with edge tiles of every kind (m not a multiple of 14 or 6, n of 32 or 16, n < 16, < 8).
  { name: 'small 64x128x64 (the MLP fc2 gradient shape)', m: 64, n: 128, k: 64 },
  { name: 'small 64x128x64 with A transposed', m: 64, n: 128, k: 64, a: { transposed: true } },
  { name: 'small 64x64x128 with B transposed (packed panels)', m: 64, n: 64, k: 128, b: { transposed: true } },
  { name: 'small 69x47x33 with A transposed and sliced', m: 69, n: 47, k: 33, a: { transposed: true, pad: 5, offset: 2 } },
  { name: 'small 13x70x1 (k = 1)', m: 13, n: 70, k: 1 },
  { name: 'small 70x1x70 (one column)', m: 70, n: 1, k: 70 },
  { name: 'small 1x70x19 (one row)', m: 1, n: 70, k: 19 },
  { name: 'small 15x7x9 with alpha 0.75', m: 15, n: 7, k: 9, alpha: 0.75 },
  { name: 'small 29x33x61 with beta 1', m: 29, n: 33, k: 61, beta: 1 },
  { name: 'small 41x17x27 with A and B transposed, alpha -2, beta 0.5', m: 41, n: 17, k: 27,
    a: { transposed: true }, b: { transposed: true }, alpha: -2, beta: 0.5 },
  { name: 'small 57x45x23 on sliced views with beta -1', m: 57, n: 45, k: 23,
    a: { offset: 3, pad: 4 }, b: { offset: 9, pad: 11 }, c: { offset: 1, pad: 7 }, beta: -1 },
  { name: 'small 33x31x300 (k blocked in two)', m: 33, n: 31, k: 300, beta: 1 },
  { name: 'small 31x9x260 with B rows 1024 floats apart (panels packed)', m: 31, n: 9, k: 260,
    b: { pad: 1024 - 9 } },
  { name: 'small 17x37x11 into a transposed C', m: 17, n: 37, k: 11, c: { transposed: true } },
  { name: 'small batch 5 of 11x19x7 with B broadcast', m: 11, n: 19, k: 7, batch: 5, b: { broadcast: true } },
  { name: 'small batch 3 of 23x21x25 with A broadcast and transposed, beta 2', m: 23, n: 21, k: 25, batch: 3,
    a: { broadcast: true, transposed: true }, beta: 2 },
  { name: 'small batch 4 of 13x35x9 with B transposed and broadcast', m: 13, n: 35, k: 9, batch: 4,
    b: { broadcast: true, transposed: true } },
  // A bias added to every row of C (Linear's forward), on each path: after the last k block.
  { name: '37x41x53 with a bias', m: 37, n: 41, k: 53, biasOffset: 3 },
  { name: '61x75x300 with alpha 0.5, beta -1.5 and a bias (k blocked in two)', m: 61, n: 75, k: 300, alpha: 0.5,
    beta: -1.5, biasOffset: 0 },
  { name: 'small 69x47x33 with A transposed and sliced and a bias', m: 69, n: 47, k: 33,
    a: { transposed: true, pad: 5, offset: 2 }, biasOffset: 1 },
  { name: 'small 70x1x70 (one column) with a bias', m: 70, n: 1, k: 70, biasOffset: 2 },
  { name: '37x41x53 into a transposed C with a bias', m: 37, n: 41, k: 53, c: { transposed: true }, biasOffset: 4 },
  { name: 'k = 0 with beta 2 and a bias', m: 9, n: 13, k: 0, beta: 2, biasOffset: 0 },
  { name: 'batch 4 of 37x41x53 with B broadcast and a bias', m: 37, n: 41, k: 53, batch: 4, b: { broadcast: true },
    biasOffset: 5 },
  { name: 'batch 3 of 29x66x40 with A broadcast and transposed, beta 0.5 and a bias', m: 29, n: 66, k: 40, batch: 3,
    a: { broadcast: true, transposed: true }, beta: 0.5, biasOffset: 6 },
  // A's row sums (a Linear's bias gradient beside its weight gradient): read from A where the
  // small path packs nothing, from the packed panels elsewhere.
  { name: 'small 69x47x33 with A transposed and sliced, its row sums', m: 69, n: 47, k: 33,
    a: { transposed: true, pad: 5, offset: 2 }, rowSums: true },
  { name: 'small 37x41x53 with a bias and A\'s row sums', m: 37, n: 41, k: 53, biasOffset: 3, rowSums: true },
  { name: '200x300x150 (split across threads) with A\'s row sums', m: 200, n: 300, k: 150, rowSums: true },
  { name: '61x75x300 with alpha 0.5, beta -1.5 and A\'s row sums (k blocked in two)', m: 61, n: 75, k: 300,
    alpha: 0.5, beta: -1.5, rowSums: true },
  { name: '37x41x53 into a transposed C with A\'s row sums', m: 37, n: 41, k: 53, c: { transposed: true }, rowSums: true },
  { name: 'k = 0 with A\'s row sums (zeros)', m: 9, n: 13, k: 0, rowSums: true },
  { name: '15x7x9 with alpha 0 and A\'s row sums', m: 15, n: 7, k: 9, alpha: 0, rowSums: true },
  // beta scaling an addend Cin in place of C (a residual block's x + Linear(y)): read by the first
  // k block only, later ones accumulate into C.
  { name: 'small 37x41x53 with beta 1 on Cin and a bias', m: 37, n: 41, k: 53, beta: 1, addend: true, biasOffset: 3 },
  { name: 'small 57x45x23 on sliced views with beta -1 on Cin', m: 57, n: 45, k: 23, beta: -1, addend: true,
    a: { pad: 3, offset: 1 }, b: { pad: 2, offset: 5 }, c: { pad: 4, offset: 7 } },
  { name: '61x75x300 with alpha 0.5, beta 1.5 on Cin (k blocked in two)', m: 61, n: 75, k: 300, alpha: 0.5, beta: 1.5,
    addend: true },
  { name: '37x41x53 into a transposed C with beta 1 on Cin', m: 37, n: 41, k: 53, c: { transposed: true }, beta: 1,
    addend: true },
  { name: 'k = 0 with beta 2 on Cin and a bias', m: 9, n: 13, k: 0, beta: 2, addend: true, biasOffset: 1 },
  { name: 'batch 3 of 29x66x40 with beta 0.5 on Cin', m: 29, n: 66, k: 40, batch: 3, beta: 0.5, addend: true },
  { name: '200x300x150 (split across threads) with beta 1 on Cin and A\'s row sums', m: 200, n: 300, k: 150, beta: 1,
    addend: true, rowSums: true },
];

describe('native gemm matches a float64 reference', () => {
  itMatchesOnEveryIsa(CASES, 1000, 'js');

  it('gemmRef agrees with gemm on a transposed, batched case', () => {
    const m = 23, n = 19, k = 31, batch = 2;
    const next = makeRng(7);
    const a = operand(batch, m, k, { transposed: true });
    const b = operand(batch, k, n, { broadcast: true });
    const c1 = operand(batch, m, n, {}), c2 = operand(batch, m, n, {});
    fill(a, batch, m, k, next);
    fill(b, batch, k, n, next);
    callGemm('gemm', m, n, k, batch, a, b, c1, 1.5, 0);
    callGemm('gemmRef', m, n, k, batch, a, b, c2, 1.5, 0);
    let diff = 0, norm = 0;
    for (let e = 0; e < c1.data.length; e++) {
      diff += (c1.data[e] - c2.data[e]) ** 2;
      norm += c2.data[e] ** 2;
    }
    expect(Math.sqrt(diff / norm)).toBeLessThan(TOLERANCE);
  });
});

describe('native gemm rejects bad arguments instead of touching memory', () => {
  const m = 4, n = 5, k = 6;
  const a = operand(1, m, k, {}), b = operand(1, k, n, {}), c = operand(1, m, n, {});
  const call = (over: Partial<Record<string, number>>) => () => {
    const v = {
      m, n, k, batch: 1, aOffset: 0, aRow: k, aCol: 1, aBatch: 0, bOffset: 0, bRow: n, bCol: 1, bBatch: 0,
      cOffset: 0, cRow: n, cCol: 1, cBatch: 0, ...over,
    };
    native.gemm(v.m, v.n, v.k, v.batch, a.buf, v.aOffset, v.aRow, v.aCol, v.aBatch,
      b.buf, v.bOffset, v.bRow, v.bCol, v.bBatch, c.buf, v.cOffset, v.cRow, v.cCol, v.cBatch, 1, 0);
  };

  it('accepts the in-bounds call', () => {
    expect(call({})).not.toThrow();
  });
  it("throws when C's row stride reaches past its end", () => {
    expect(call({ cRow: 100 })).toThrow(/gemm.*operand C.*outside its storage/);
  });
  it('throws when an offset pushes A past its end', () => {
    expect(call({ aOffset: 1000 })).toThrow(/gemm.*A.*outside/);
  });
  it('throws when a negative stride reaches before the start of B', () => {
    expect(call({ bRow: -n })).toThrow(/gemm.*B.*outside/);
  });
  it('throws when a batch stride walks past the end of C', () => {
    expect(call({ batch: 3, cBatch: 1000 })).toThrow(/gemm.*C.*outside/);
  });
  it('throws on negative or fractional sizes', () => {
    expect(call({ m: -1 })).toThrow(/gemm: m/);
    expect(call({ k: 2.5 })).toThrow(/gemm: k must be an integer/);
  });
  it('throws when the bias reaches past the end of its storage', () => {
    const bias = native.alloc(n * 4);
    const withBias = (offset: number) => () => native.gemm(m, n, k, 1, a.buf, 0, k, 1, 0, b.buf, 0, n, 1, 0,
      c.buf, 0, n, 1, 0, 1, 0, bias, offset);
    expect(withBias(0)).not.toThrow();
    expect(withBias(1)).toThrow(/gemm.*bias of 5 at offset 1 reaches outside/);
    native.dispose(bias);
  });
  it("throws when A's row sums reach past their storage or the call is batched", () => {
    const sums = native.alloc(m * 4);
    const withSums = (offset: number, batch = 1) => () => native.gemm(m, n, k, batch, a.buf, 0, k, 1, 0, b.buf, 0, n, 1, 0,
      c.buf, 0, n, 1, 0, 1, 0, null, 0, sums, offset);
    expect(withSums(0)).not.toThrow();
    expect(withSums(1)).toThrow(/gemm.*row sums of 4 at offset 1 reach outside/);
    expect(withSums(0, 2)).toThrow(/gemm.*row sums need batch 1/);
    native.dispose(sums);
  });
  it('throws on a disposed storage', () => {
    const d = operand(1, m, n, {});
    native.dispose(d.buf);
    expect(() => native.gemm(m, n, k, 1, a.buf, 0, k, 1, 0, b.buf, 0, n, 1, 0, d.buf, 0, n, 1, 0, 1, 0))
      .toThrow(/gemm.*disposed/);
  });
});
