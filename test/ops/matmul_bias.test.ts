// matmulBias (a @ b + bias in one GEMM whose store adds the bias) and F.linear, which runs it when
// it has a bias: forward against a float64 product plus bias, and against matmul followed by add
// (the unfused route it replaced, whose rounding it keeps), on odd sizes, a transposed right
// operand (linear's weight.T), a sliced left operand, products on the small and the packed GEMM
// paths, every ISA this processor offers, 1 and 2 threads; gradients of every operand equal those
// of the unfused route; on a backend whose GEMM takes no bias (CUDA) the bias is a separate
// broadcast add; bad shapes and dtypes throw.
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import { matmulBias, matmulBiasResidual } from '../../lib/ops/matmul.js';
import { DTypeError, ShapeError } from '../../lib/errors.js';
import { native } from '../../lib/native.js';
import { nativeBackend } from '../../lib/backend/native_backend.js';
import { expectClose, expectCloseToTerms, expectError, freshSeed, itOnEveryIsa, makeRng, randomTensor } from '../helpers.js';


// [m, k, n]: a small-path product, odd sizes, and one past the AVX-512 small-path limit (32M
// multiply-adds) with two k blocks.
const SHAPES: [number, number, number][] = [[1, 1, 1], [7, 13, 5], [45, 70, 33], [300, 700, 170]];

describe('matmulBias vs float64 and vs matmul + add', () => {
  itOnEveryIsa('plain, weight.T and sliced operands', (isa, threads) => {
    const seed = freshSeed();
      for (const [m, k, n] of SHAPES) {
        const rng = makeRng(seed + m);
        const { t: a, ref: ar } = randomTensor(rng, [m, k + 3]);
        const { t: w, ref: wr } = randomTensor(rng, [n, k]);
        const { t: bias, ref: br } = randomTensor(rng, [n]);
        const aView = a.slice(1, 1, k + 1); // rows k + 3 apart
        const want = new Float64Array(m * n), terms = new Float64Array(m * n);
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) {
            let s = br[j], size = Math.abs(br[j]);
            for (let p = 0; p < k; p++) {
              const t = ar[i * (k + 3) + 1 + p] * wr[j * k + p];
              s += t;
              size += Math.abs(t);
            }
            want[i * n + j] = s;
            terms[i * n + j] = size;
          }
        const context = `${isa} ${threads}T ${m}x${k}x${n} seed ${seed}`;
        const fused = matmulBias(aView, w.T, bias);
        expectCloseToTerms(fused.data() as Float32Array, want, terms, 1e-6, context);
        const unfused = aView.matmul(w.T).add(bias);
        expectClose(fused.data() as Float32Array, unfused.data() as Float32Array, 1e-6, `${context} vs unfused`);
        // B stored k x n (not transposed) too.
        const plain = matmulBias(aView, w.T.contiguous(), bias);
        expectCloseToTerms(plain.data() as Float32Array, want, terms, 1e-6, `${context} plain B`);
      }
  });
});

/**
 * The CPU table under the CUDA backend's device name, which takes the path the CUDA backend does;
 * each native call is logged into `calls` as name/argument count.
 */
function loggedAsCuda(calls: string[]): ReturnType<typeof nativeBackend> {
  const table = Object.fromEntries(Object.entries(native).map(([name, fn]) => [name,
    typeof fn === 'function' ? (...args: unknown[]) => { calls.push(`${name}/${args.length}`); return fn(...args); } : fn]));
  return nativeBackend('cuda', table);
}

/** A row-major [rows, cols] tensor as a GEMM operand. */
function dense(t: kd.Tensor, cols: number) {
  return { handle: t.handle, offset: 0, rowStride: cols, colStride: 1, batchStride: 0 };
}

/** The float64 product of row-major ar [m, k] and br [k, n], and the sums of its terms' sizes. */
function product(ar: Float64Array, br: Float64Array, m: number, k: number, n: number): { want: Float64Array; terms: Float64Array } {
  const want = new Float64Array(m * n), terms = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++)
      for (let p = 0; p < k; p++) {
        want[i * n + j] += ar[i * k + p] * br[p * n + j];
        terms[i * n + j] += Math.abs(ar[i * k + p] * br[p * n + j]);
      }
  return { want, terms };
}

describe('the bias on a backend whose GEMM takes none (CUDA)', () => {
  it('is added after the product as a broadcast add over C', () => {
    const calls: string[] = [];
    const asCuda = loggedAsCuda(calls);
    const seed = freshSeed(), rng = makeRng(seed);
    const [m, k, n] = [5, 7, 3];
    const { t: a, ref: ar } = randomTensor(rng, [m, k]);
    const { t: b, ref: br } = randomTensor(rng, [k, n]);
    const { t: bias, ref: biasRef } = randomTensor(rng, [n]);
    const c = kd.zeros([m, n]);
    asCuda.gemm({ m, n, k, batch: 1, a: dense(a, k), b: dense(b, n), c: dense(c, n), alpha: 1, beta: 0, bias: { handle: bias.handle, offset: 0 } });
    const { want, terms } = product(ar, br, m, k, n);
    for (let i = 0; i < m * n; i++) {
      want[i] += biasRef[i % n];
      terms[i] += Math.abs(biasRef[i % n]);
    }
    expectCloseToTerms(c.data() as Float32Array, want, terms, 1e-6, `seed ${seed}`);
    expect(calls).toEqual(['gemm/21', 'binary/12']);
  });

  it("takes A's row sums as a reduction of A after the product", () => {
    const calls: string[] = [];
    const asCuda = loggedAsCuda(calls);
    const seed = freshSeed(), rng = makeRng(seed);
    const [m, k, n] = [6, 9, 4];
    // A transposed in its storage ([k, m] row-major), as a Linear's gᵀ.
    const { t: a, ref: ar } = randomTensor(rng, [k, m]);
    const { t: b } = randomTensor(rng, [k, n]);
    const c = kd.zeros([m, n]), sums = kd.zeros([m]);
    asCuda.gemm({
      m, n, k, batch: 1,
      a: { handle: a.handle, offset: 0, rowStride: 1, colStride: m, batchStride: 0 },
      b: dense(b, n), c: dense(c, n),
      alpha: 1, beta: 0, aRowSums: { handle: sums.handle, offset: 0 },
    });
    const want = new Float64Array(m), terms = new Float64Array(m);
    for (let i = 0; i < m; i++)
      for (let p = 0; p < k; p++) {
        want[i] += ar[p * m + i];
        terms[i] += Math.abs(ar[p * m + i]);
      }
    expectCloseToTerms(sums.data() as Float32Array, want, terms, 1e-6, `seed ${seed}`);
    expect(calls).toEqual(['gemm/21', 'reduce/11']);
  });
});

describe('F.linear with a bias', () => {
  it('matches matmul + add on a 3-d input, with the same gradients for input, weight and bias', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    // The second and fourth give the weight gradient GEMMs on the small and the packed paths, which
    // return the bias gradient beside it (the row sums of gᵀ).
    for (const [shape, out] of [[[2, 5, 9], 7], [[3, 40, 64], 96], [[9], 4], [[4, 600, 64], 256]] as [number[], number][]) {
      const inFeatures = shape[shape.length - 1];
      const x = randomTensor(rng, shape, -1, 1, true).t;
      const w = randomTensor(rng, [out, inFeatures], -1, 1, true).t;
      const b = randomTensor(rng, [out], -1, 1, true).t;
      const x2 = x.detach(), w2 = w.detach(), b2 = b.detach();
      x2.requiresGrad = true; w2.requiresGrad = true; b2.requiresGrad = true;
      const y = kd.nn.functional.linear(x, w, b);
      const yRef = x2.matmul(w2.T).add(b2);
      const context = `linear ${shape} -> ${out} seed ${seed}`;
      expect(y.shape).toEqual(yRef.shape);
      expectClose(y.data() as Float32Array, yRef.data() as Float32Array, 1e-6, context);
      const g = randomTensor(rng, yRef.shape as number[]).t;
      y.mul(g).sum().backward();
      yRef.mul(g).sum().backward();
      expectClose(x.grad!.data() as Float32Array, x2.grad!.data() as Float32Array, 1e-6, `${context} dx`);
      expectClose(w.grad!.data() as Float32Array, w2.grad!.data() as Float32Array, 1e-6, `${context} dw`);
      expectClose(b.grad!.data() as Float32Array, b2.grad!.data() as Float32Array, 1e-6, `${context} db`);
      expect(w.grad!.isContiguous()).toBe(true);
    }
  });

  it('throws on a bias of the wrong size or dtype', () => {
    const a = kd.randn([3, 4]), w = kd.randn([5, 4]);
    expectError(() => matmulBias(a, w.T, kd.randn([4])), ShapeError, 'matmulBias', '[4,5] + [4]');
    expectError(() => matmulBias(a, w.T, kd.zeros([5], { dtype: 'int32' })), DTypeError, 'matmulBias', 'int32');
    expectError(() => kd.nn.functional.linear(a, w, kd.randn([6])), ShapeError, 'linear', 'out_features=5');
  });
});

describe('matmulBiasResidual: residual + a @ b + bias in one GEMM', () => {
  itOnEveryIsa('against float64 and against matmul + add + add, with and without a bias', (isa, threads) => {
    const seed = freshSeed();
    for (const [m, k, n] of SHAPES) {
      for (const withBias of [true, false]) {
        const rng = makeRng(seed + m + (withBias ? 1 : 0));
        const { t: a, ref: ar } = randomTensor(rng, [m, k]);
        const { t: w, ref: wr } = randomTensor(rng, [n, k]);
        const { t: bias, ref: br } = randomTensor(rng, [n]);
        const { t: res, ref: rr } = randomTensor(rng, [m, n + 2]);
        const residual = res.slice(1, 2, n + 2); // a strided residual: copied to rows once
        const want = new Float64Array(m * n), terms = new Float64Array(m * n);
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) {
            const r = rr[i * (n + 2) + 2 + j];
            let s = r + (withBias ? br[j] : 0), size = Math.abs(r) + (withBias ? Math.abs(br[j]) : 0);
            for (let p = 0; p < k; p++) {
              const t = ar[i * k + p] * wr[j * k + p];
              s += t;
              size += Math.abs(t);
            }
            want[i * n + j] = s;
            terms[i * n + j] = size;
          }
        const context = `${isa} ${threads}T ${m}x${k}x${n}${withBias ? ' bias' : ''} seed ${seed}`;
        const fused = matmulBiasResidual(a, w.T, withBias ? bias : null, residual);
        expectCloseToTerms(fused.data() as Float32Array, want, terms, 1e-6, context);
        // The unfused route rounds (a @ b + bias) + residual, this one (a @ b + residual) + bias: the
        // two differ by a rounding of the terms, not of the (possibly cancelled) sum.
        const unfused = withBias ? a.matmul(w.T).add(bias).add(residual) : a.matmul(w.T).add(residual);
        expectCloseToTerms(fused.data() as Float32Array, unfused.data() as Float32Array, terms, 1e-6, `${context} vs unfused`);
      }
    }
  });

  it('gives the gradients of the unfused route, the residual getting the output gradient', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    for (const [m, k, n] of [[7, 13, 5], [300, 700, 170]] as [number, number, number][]) {
      const mk = (shape: number[]) => randomTensor(rng, shape, -1, 1, true).t;
      const a = mk([m, k]), w = mk([n, k]), b = mk([n]), r = mk([m, n]);
      const [a2, w2, b2, r2] = [a, w, b, r].map((t) => { const d = t.detach(); d.requiresGrad = true; return d; });
      const g = randomTensor(rng, [m, n]).t;
      matmulBiasResidual(a, w.T, b, r).mul(g).sum().backward();
      a2.matmul(w2.T).add(b2).add(r2).mul(g).sum().backward();
      const context = `${m}x${k}x${n} seed ${seed}`;
      for (const [x, y, name] of [[a, a2, 'da'], [w, w2, 'dw'], [b, b2, 'db'], [r, r2, 'dresidual']] as [kd.Tensor, kd.Tensor, string][])
        expectClose(x.grad!.data() as Float32Array, y.grad!.data() as Float32Array, 1e-6, `${context} ${name}`);
    }
  });

  it('copies the residual into C first on a backend whose GEMM reads no Cin (CUDA)', () => {
    const calls: string[] = [];
    const asCuda = loggedAsCuda(calls);
    const seed = freshSeed(), rng = makeRng(seed);
    const [m, k, n] = [4, 6, 3];
    const { t: a, ref: ar } = randomTensor(rng, [m, k]);
    const { t: b, ref: br } = randomTensor(rng, [k, n]);
    const { t: r, ref: rr } = randomTensor(rng, [m, n]);
    const c = kd.full([m, n], NaN);
    asCuda.gemm({ m, n, k, batch: 1, a: dense(a, k), b: dense(b, n), c: dense(c, n), alpha: 1, beta: 1, cIn: { handle: r.handle, offset: 0 } });
    const { want, terms } = product(ar, br, m, k, n);
    for (let i = 0; i < m * n; i++) {
      want[i] += rr[i];
      terms[i] += Math.abs(rr[i]);
    }
    expectCloseToTerms(c.data() as Float32Array, want, terms, 1e-6, `seed ${seed}`);
    expect(calls).toEqual(['cast/9', 'gemm/21']);
  });

  it('throws on mismatched shapes or dtypes, naming the op', () => {
    const a = kd.zeros([3, 4]), b = kd.zeros([4, 5]);
    expectError(() => matmulBiasResidual(a, b, null, kd.zeros([3, 4])), ShapeError, 'matmulBiasResidual');
    expectError(() => matmulBiasResidual(a, b, kd.zeros([4]), kd.zeros([3, 5])), ShapeError, 'matmulBiasResidual');
    expectError(() => matmulBiasResidual(a, b, null, kd.zeros([3, 5], { dtype: 'int32' })), DTypeError, 'matmulBiasResidual');
  });
});
