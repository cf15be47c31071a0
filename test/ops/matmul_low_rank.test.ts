// matmulAddLowRank (a @ b + bias + alpha · u @ v: the second GEMM accumulates into the first's
// output, beta = 1): forward against a float64 reference on odd sizes, with and without a bias,
// transposed right operands (linear's weight.T) and sliced left ones, products on the small and the
// packed GEMM paths, every ISA this processor offers, 1 and 2 threads; gradients of all five operands
// equal those of the unfused route (matmul, add, mul), the weights' contiguous; bad input throws.
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import { matmulAddLowRank } from '../../lib/ops/matmul.js';
import { ArgumentError, DTypeError, ShapeError } from '../../lib/errors.js';
import { expectClose, expectCloseToTerms, expectError, freshSeed, itOnEveryIsa, makeRng, randomTensor } from '../helpers.js';


// [m, k, n, r]: tiny, odd, and a base product past the AVX-512 small-path limit with a rank-8 term.
const SHAPES: [number, number, number, number][] = [[1, 1, 1, 1], [7, 13, 5, 3], [45, 70, 33, 8], [300, 700, 170, 8]];

describe('matmulAddLowRank vs float64', () => {
  itOnEveryIsa('weight.T and sliced operands, with and without a bias', (isa, threads) => {
    const seed = freshSeed();
      for (const [m, k, n, r] of SHAPES) {
        const rng = makeRng(seed + m);
        const { t: a, ref: ar } = randomTensor(rng, [m, k + 3]);
        const { t: w, ref: wr } = randomTensor(rng, [n, k]);
        const { t: bias, ref: br } = randomTensor(rng, [n]);
        const { t: u, ref: ur } = randomTensor(rng, [m, r + 2]);
        const { t: bw, ref: bwr } = randomTensor(rng, [n, r]);
        const aView = a.slice(1, 1, k + 1), uView = u.slice(1, 2, r + 2);
        const alpha = 2.5;
        for (const withBias of [true, false]) {
          const want = new Float64Array(m * n), terms = new Float64Array(m * n);
          for (let i = 0; i < m; i++)
            for (let j = 0; j < n; j++) {
              let s = withBias ? br[j] : 0, low = 0, size = Math.abs(s);
              for (let p = 0; p < k; p++) {
                s += ar[i * (k + 3) + 1 + p] * wr[j * k + p];
                size += Math.abs(ar[i * (k + 3) + 1 + p] * wr[j * k + p]);
              }
              for (let p = 0; p < r; p++) {
                low += ur[i * (r + 2) + 2 + p] * bwr[j * r + p];
                size += alpha * Math.abs(ur[i * (r + 2) + 2 + p] * bwr[j * r + p]);
              }
              want[i * n + j] = s + alpha * low;
              terms[i * n + j] = size;
            }
          const context = `${isa} ${threads}T ${m}x${k}x${n} r${r} bias ${withBias} seed ${seed}`;
          const out = matmulAddLowRank(aView, w.T, withBias ? bias : null, uView, bw.T, alpha);
          expect(out.shape).toEqual([m, n]);
          expectCloseToTerms(out.data() as Float32Array, want, terms, 1e-6, context);
          const plain = matmulAddLowRank(aView.contiguous(), w.T.contiguous(), withBias ? bias : null, uView.contiguous(), bw.T.contiguous(), alpha);
          expectCloseToTerms(plain.data() as Float32Array, want, terms, 1e-6, `${context} contiguous`);
        }
      }
  });
});

describe('matmulAddLowRank gradients', () => {
  it('equal those of matmul + add + mul for every operand; the weight gradients are contiguous', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    for (const [m, k, n, r, alpha] of [[5, 9, 7, 2, 0.5], [64, 48, 96, 8, 2], [3, 4, 5, 1, 1]]) {
      const leaf = (shape: number[]) => randomTensor(rng, shape, -1, 1, true).t;
      const a = leaf([m, k]), w = leaf([n, k]), bias = leaf([n]), u = leaf([m, r]), bw = leaf([n, r]);
      const copies = [a, w, bias, u, bw].map((t) => { const c = t.detach(); c.requiresGrad = true; return c; });
      const [a2, w2, bias2, u2, bw2] = copies;
      const y = matmulAddLowRank(a, w.T, bias, u, bw.T, alpha);
      const yRef = a2.matmul(w2.T).add(bias2).add(u2.matmul(bw2.T).mul(alpha));
      const context = `${m}x${k}x${n} r${r} alpha ${alpha} seed ${seed}`;
      expectClose(y.data() as Float32Array, yRef.data() as Float32Array, 1e-5, context);
      const g = randomTensor(rng, [m, n]).t;
      y.backward(g);
      yRef.backward(g);
      [a, w, bias, u, bw].forEach((t, i) => {
        expectClose(t.grad!.data() as Float32Array, copies[i]!.grad!.data() as Float32Array, 1e-5, `${context} grad ${i}`);
      });
      expect(w.grad!.isContiguous()).toBe(true);
      expect(bw.grad!.isContiguous()).toBe(true);
    }
  });

  it('gives no gradient to operands that need none (a frozen base, as LoRA trains)', () => {
    const a = kd.randn([6, 5], { requiresGrad: true }), w = kd.randn([4, 5]), u = kd.randn([6, 2]), bw = kd.randn([4, 2], { requiresGrad: true });
    matmulAddLowRank(a, w.T, kd.randn([4]), u, bw.T, 3).sum().backward();
    expect(w.grad).toBeNull();
    expect(u.grad).toBeNull();
    expect(a.grad!.shape).toEqual([6, 5]);
    expect(bw.grad!.shape).toEqual([4, 2]);
  });
});

describe('matmulAddLowRank errors', () => {
  it('throws on mismatched shapes, non-float32 operands and a bad alpha', () => {
    const a = kd.randn([3, 4]), w = kd.randn([5, 4]), u = kd.randn([3, 2]), bw = kd.randn([5, 2]);
    expectError(() => matmulAddLowRank(a, w.T, null, u, bw), ShapeError, 'matmulAddLowRank', '[3,2] @ [5,2]');
    expectError(() => matmulAddLowRank(a, w.T, kd.randn([4]), u, bw.T), ShapeError, 'matmulAddLowRank', '+ [4]');
    expectError(() => matmulAddLowRank(a, w.T, null, kd.randn([2, 2]), bw.T), ShapeError, 'matmulAddLowRank', '[2,2]');
    expectError(() => matmulAddLowRank(a, w.T, null, u, kd.zeros([2, 5], { dtype: 'int32' })), DTypeError, 'matmulAddLowRank', 'int32');
    expectError(() => matmulAddLowRank(a, w.T, null, u, bw.T, Number.NaN), ArgumentError, 'matmulAddLowRank', 'alpha');
  });
});
