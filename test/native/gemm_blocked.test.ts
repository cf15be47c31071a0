// The packed (blocked) GEMM path, which sgemm takes past each ISA's small-path limit (32M
// multiply-adds at AVX-512, 4M at AVX2; always at scalar): several k blocks (kc 256 at AVX-512),
// several A blocks (mc) and column blocks (nc), partial row and column panels, transposed and
// sliced operands, the few-rows loop order (all of m in one A block), alpha and beta, and the
// bias epilogue (added by the last k block's store, or by mergeTile for edge tiles). Checked
// against the addon's float64 gemmRef for every ISA this processor offers, on 1 and 2 threads;
// C arrives poisoned with NaN (test/setup.ts).
import { describe } from 'vitest';
import { type Case, itMatchesOnEveryIsa } from './gemm_operands.js';

const CASES: Case[] = [
  { name: '345x301x700: two k blocks, partial row and column panels', m: 345, n: 301, k: 700 },
  { name: '700x100x1100 with A transposed: three A blocks, three k blocks', m: 700, n: 100, k: 1100,
    a: { transposed: true } },
  { name: '300x290x400 with B transposed on sliced views, alpha 0.5, beta -1.5', m: 300, n: 290, k: 400,
    a: { pad: 7, offset: 3 }, b: { transposed: true, pad: 5, offset: 1 }, c: { pad: 9, offset: 2 }, alpha: 0.5,
    beta: -1.5 },
  { name: '40x4200x200 with B transposed: two column blocks', m: 40, n: 4200, k: 200, b: { transposed: true } },
  { name: '700x1100x300 with B transposed: three A blocks, two column blocks at AVX-512 (nc 1024), two k blocks',
    m: 700, n: 1100, k: 300, b: { transposed: true }, biasOffset: 1 },
  { name: '256x512x260 with A transposed (whole panels, one k block)', m: 256, n: 512, k: 260,
    a: { transposed: true } },
  { name: '345x301x700 with a bias', m: 345, n: 301, k: 700, biasOffset: 3 },
  { name: '200x333x1100 with beta 1 and a bias (three k blocks)', m: 200, n: 333, k: 1100, beta: 1, biasOffset: 0 },
  { name: '300x290x400 into a transposed C with a bias', m: 300, n: 290, k: 400, c: { transposed: true },
    biasOffset: 2 },
  { name: '40x4200x200 with B transposed and a bias: two column blocks', m: 40, n: 4200, k: 200,
    b: { transposed: true }, biasOffset: 1 },
  { name: 'batch 2 of 150x230x600 with B broadcast and a bias', m: 150, n: 230, k: 600, batch: 2,
    b: { broadcast: true }, biasOffset: 5 },
  // All of m in one mc block (336 rows at AVX-512, 120 at AVX2, 128 scalar): the k loop outside,
  // B packed a strip of 8 panels at a time, the last partial row panel computed by the small
  // path's tiles from the packed panels (gemmFewRows); on 2 threads split by columns (so the
  // second part's bias and B start mid-row).
  { name: '250x700x1100 with A transposed (weight-gradient layout): strips, three k blocks', m: 250, n: 700,
    k: 1100, a: { transposed: true } },
  { name: '250x700x1100 with A transposed, sliced C, alpha -0.75, beta 0.5 and a bias', m: 250, n: 700, k: 1100,
    a: { transposed: true }, c: { pad: 5, offset: 3 }, alpha: -0.75, beta: 0.5, biasOffset: 2 },
  { name: '300x301x400 with B transposed: a partial last strip and panel', m: 300, n: 301, k: 400,
    b: { transposed: true } },
  { name: '100x301x600 (AVX2 and scalar: few rows; AVX-512: the small path)', m: 100, n: 301, k: 600 },
  { name: '200x200x900 with beta 1: one strip, 4 rows past the last whole panel at AVX-512', m: 200, n: 200,
    k: 900, beta: 1, biasOffset: 4 },
  { name: '118x290x530 into a transposed C with a bias (every tile merged)', m: 118, n: 290, k: 530,
    c: { transposed: true }, biasOffset: 1 },
  // A's row sums taken from the packed panels: once per k block in gemmFewRows, from the first
  // column block's A blocks in gemmBlocked, by the threads owning the first columns.
  { name: '250x700x1100 with A transposed, a bias and A\'s row sums (weight and bias gradients)', m: 250, n: 700,
    k: 1100, a: { transposed: true }, biasOffset: 2, rowSums: true },
  { name: '700x100x1100 with A transposed and A\'s row sums: three A blocks, three k blocks', m: 700, n: 100,
    k: 1100, a: { transposed: true }, rowSums: true },
  { name: '700x1100x300 with B transposed and A\'s row sums: two column blocks at AVX-512', m: 700, n: 1100, k: 300,
    b: { transposed: true }, rowSums: true },
  { name: '300x290x400 on sliced views into a transposed C with A\'s row sums', m: 300, n: 290, k: 400,
    a: { pad: 7, offset: 3 }, c: { transposed: true }, rowSums: true },
  // beta scaling an addend Cin in place of C: the first k block reads it (micro-kernel, edge-tile
  // merge, few-rows edge tiles), later ones accumulate into C.
  { name: '345x301x700 with beta 1 on Cin and a bias: two k blocks, partial panels', m: 345, n: 301, k: 700, beta: 1,
    addend: true, biasOffset: 3 },
  { name: '250x700x1100 with A transposed and beta 1 on Cin (few rows, three k blocks)', m: 250, n: 700, k: 1100,
    a: { transposed: true }, beta: 1, addend: true },
  { name: '700x1100x300 with B transposed and beta 0.5 on Cin: two column blocks', m: 700, n: 1100, k: 300,
    b: { transposed: true }, beta: 0.5, addend: true },
  { name: '118x290x530 into a transposed C with beta 1 on Cin and a bias (every tile merged)', m: 118, n: 290, k: 530,
    c: { transposed: true }, beta: 1, addend: true, biasOffset: 1 },
  { name: '200x200x900 with beta 1 on Cin: 4 rows past the last whole panel at AVX-512', m: 200, n: 200, k: 900,
    beta: 1, addend: true, biasOffset: 4 },
];

describe('native gemm on the packed path matches the float64 reference', () => {
  itMatchesOnEveryIsa(CASES, 5000, 'native');
});
