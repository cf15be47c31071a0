// nn.init: fans and gains exactly as PyTorch computes them, and the sample statistics (mean,
// std, bounds over 1e5 draws) of every distribution.
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import * as init from '../../lib/nn/init.js';
import { freshSeed } from '../helpers.js';

function stats(t: Tensor): { mean: number; std: number; min: number; max: number } {
  const v = t.data();
  let s = 0, min = Infinity, max = -Infinity;
  for (const x of v) {
    s += x;
    min = Math.min(min, x);
    max = Math.max(max, x);
  }
  const mean = s / v.length;
  let q = 0;
  for (const x of v) q += (x - mean) ** 2;
  return { mean, std: Math.sqrt(q / (v.length - 1)), min, max };
}

/** |a - b| within k standard errors of a mean of n draws with standard deviation sd. */
function expectMean(actual: number, expected: number, sd: number, n: number, context: string): void {
  expect(Math.abs(actual - expected), `${context}: mean ${actual} vs ${expected}`).toBeLessThan(5 * (sd / Math.sqrt(n)) + 1e-7);
}

function expectStd(actual: number, expected: number, context: string): void {
  // With 1e5 draws the sample std is within about 1% of the true one.
  expect(Math.abs(actual / expected - 1), `${context}: std ${actual} vs ${expected}`).toBeLessThan(0.015);
}

const N = 100_000;

describe('fans and gains', () => {
  it('calculateGain matches torch.nn.init.calculate_gain', () => {
    expect(init.calculateGain('linear')).toBe(1);
    expect(init.calculateGain('conv2d')).toBe(1);
    expect(init.calculateGain('sigmoid')).toBe(1);
    expect(init.calculateGain('tanh')).toBe(5 / 3);
    expect(init.calculateGain('relu')).toBe(Math.sqrt(2));
    expect(init.calculateGain('selu')).toBe(0.75);
    expect(init.calculateGain('leaky_relu')).toBe(Math.sqrt(2 / (1 + 0.01 ** 2)));
    expect(init.calculateGain('leaky_relu', Math.sqrt(5))).toBeCloseTo(Math.sqrt(1 / 3), 15);
    expect(() => init.calculateGain('swish' as never)).toThrow(/unsupported nonlinearity 'swish'/);
  });

  it('fans of Linear and conv weights follow _calculate_fan_in_and_fan_out', () => {
    expect(init.calculateFanInAndFanOut(kd.zeros([7, 3]))).toEqual({ fanIn: 3, fanOut: 7 });
    expect(init.calculateFanInAndFanOut(kd.zeros([16, 4, 3, 5]))).toEqual({ fanIn: 60, fanOut: 240 });
    expect(init.calculateFanInAndFanOut(kd.zeros([8, 2, 9]))).toEqual({ fanIn: 18, fanOut: 72 });
    expect(() => init.calculateFanInAndFanOut(kd.zeros([5]))).toThrow(kd.ShapeError);
  });
});

describe('distributions (1e5 samples)', () => {
  const seed = freshSeed();

  it(`uniform_ and normal_ (seed ${seed})`, () => {
    kd.manualSeed(seed);
    const u = init.uniform_(kd.empty([N]), -2, 3);
    const su = stats(u);
    expect(su.min).toBeGreaterThanOrEqual(-2);
    expect(su.max).toBeLessThan(3);
    expectMean(su.mean, 0.5, 5 / Math.sqrt(12), N, 'uniform');
    expectStd(su.std, 5 / Math.sqrt(12), 'uniform');
    const n = init.normal_(kd.empty([N]), 1.5, 0.3);
    const sn = stats(n);
    expectMean(sn.mean, 1.5, 0.3, N, 'normal');
    expectStd(sn.std, 0.3, 'normal');
  });

  it(`xavier and kaiming bounds and standard deviations on a conv weight (seed ${seed})`, () => {
    kd.manualSeed(seed + 1);
    const shape = [250, 20, 5, 4]; // fanIn 400, fanOut 5000
    const fanIn = 400, fanOut = 5000;
    const xu = stats(init.xavierUniform_(kd.empty(shape), 2));
    const xuBound = 2 * Math.sqrt(6 / (fanIn + fanOut));
    expect(Math.max(-xu.min, xu.max)).toBeLessThanOrEqual(xuBound);
    expect(Math.max(-xu.min, xu.max)).toBeGreaterThan(0.999 * xuBound);
    expectStd(xu.std, xuBound / Math.sqrt(3), 'xavierUniform');
    const xn = stats(init.xavierNormal_(kd.empty(shape)));
    expectStd(xn.std, Math.sqrt(2 / (fanIn + fanOut)), 'xavierNormal');
    expectMean(xn.mean, 0, Math.sqrt(2 / (fanIn + fanOut)), N, 'xavierNormal');

    // Linear's default: kaiming uniform with a = sqrt(5) gives bound 1/sqrt(fanIn).
    const ku = stats(init.kaimingUniform_(kd.empty(shape), { a: Math.sqrt(5) }));
    expect(Math.max(-ku.min, ku.max)).toBeLessThanOrEqual(1 / Math.sqrt(fanIn) + 1e-7);
    expectStd(ku.std, 1 / Math.sqrt(fanIn) / Math.sqrt(3), 'kaimingUniform a=sqrt(5)');
    const kn = stats(init.kaimingNormal_(kd.empty(shape), { mode: 'fanOut', nonlinearity: 'relu' }));
    expectStd(kn.std, Math.sqrt(2) / Math.sqrt(fanOut), 'kaimingNormal fanOut relu');
    const kl = stats(init.kaimingNormal_(kd.empty(shape), { a: 0.2 }));
    expectStd(kl.std, Math.sqrt(2 / (1 + 0.04)) / Math.sqrt(fanIn), 'kaimingNormal leaky_relu a=0.2');
  });

  it(`truncNormal_ stays in [a, b] with the truncated normal's moments, even deep in a tail (seed ${seed})`, () => {
    kd.manualSeed(seed + 2);
    // Standard normal truncated to [-1, 2]: mean = (φ(-1) − φ(2)) / Z, var = 1 − (2φ(2) + φ(-1)) / Z − mean².
    const phi = (x: number) => Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI);
    const Z = 0.9772498680518208 - 0.15865525393145707;
    const mean = (phi(-1) - phi(2)) / Z;
    const variance = 1 + (-1 * phi(-1) - 2 * phi(2)) / Z - mean * mean;
    const t = stats(init.truncNormal_(kd.empty([N]), { mean: 3, std: 2, a: 1, b: 7 }));
    expect(t.min).toBeGreaterThanOrEqual(1);
    expect(t.max).toBeLessThanOrEqual(7);
    expectMean(t.mean, 3 + 2 * mean, 2 * Math.sqrt(variance), N, 'truncNormal');
    expectStd(t.std, 2 * Math.sqrt(variance), 'truncNormal');
    // [8, 9] is 8 standard deviations out; a rejection sampler would never finish.
    const tail = stats(init.truncNormal_(kd.empty([1000]), { a: 8, b: 9 }));
    expect(tail.min).toBeGreaterThanOrEqual(8);
    expect(tail.max).toBeLessThanOrEqual(9);
    // The density falls like exp(-8x) past 8, so the mean sits about 1/8 above the cut-off.
    expect(tail.mean).toBeGreaterThan(8.09);
    expect(tail.mean).toBeLessThan(8.16);
  });
});

describe('in-place semantics', () => {
  it('constant_, zeros_ and ones_ fill a parameter that requires grad, keeping it a leaf', () => {
    const w = kd.empty([3, 2], { requiresGrad: true });
    expect(init.constant_(w, 0.25)).toBe(w);
    expect(Array.from(w.data())).toEqual(new Array(6).fill(0.25));
    init.ones_(w);
    expect(Array.from(w.data())).toEqual(new Array(6).fill(1));
    init.zeros_(w);
    expect(Array.from(w.data())).toEqual(new Array(6).fill(0));
    expect(w.isLeaf && w.requiresGrad).toBe(true);
  });

  it('fills a non-contiguous view in place and leaves the rest alone', () => {
    const base = kd.zeros([4, 6]);
    const view = base.transpose(0, 1).slice(0, 1, 4); // [3, 4], strided
    init.uniform_(view, 1, 2);
    const data = base.toArray() as number[][];
    for (let r = 0; r < 4; r++) {
      for (let c = 0; c < 6; c++) {
        if (c >= 1 && c < 4) expect(data[r][c]).toBeGreaterThanOrEqual(1);
        else expect(data[r][c]).toBe(0);
      }
    }
  });

  it('manualSeed makes initialisation repeatable', () => {
    kd.manualSeed(42);
    const a = Array.from(init.kaimingUniform_(kd.empty([5, 7])).data());
    kd.manualSeed(42);
    const b = Array.from(init.kaimingUniform_(kd.empty([5, 7])).data());
    expect(a).toEqual(b);
  });

  it('orthogonal_ gives orthonormal rows (wide) or columns (tall), scaled by gain', () => {
    for (const [rows, cols, gain] of [[6, 4, 1], [3, 8, 2], [5, 5, 1]] as const) {
      const w = init.orthogonal_(kd.empty([rows, cols]), gain);
      const m = w.toArray() as number[][];
      const tall = rows >= cols;
      const k = Math.min(rows, cols), n = Math.max(rows, cols);
      const vec = (i: number) => Array.from({ length: n }, (_, j) => (tall ? m[j][i] : m[i][j]));
      for (let i = 0; i < k; i++) {
        for (let j = 0; j < k; j++) {
          const dot = vec(i).reduce((s, v, x) => s + v * vec(j)[x], 0);
          expect(Math.abs(dot - (i === j ? gain * gain : 0)), `[${rows},${cols}] (${i},${j})`).toBeLessThan(1e-5);
        }
      }
    }
  });

  it('rejects int tensors, 1-d fans, bad modes and bad ranges', () => {
    expect(() => init.uniform_(kd.zeros([3], { dtype: 'int32' }))).toThrow(kd.DTypeError);
    expect(() => init.xavierUniform_(kd.zeros([3]))).toThrow(/fewer than 2 dims/);
    expect(() => init.kaimingUniform_(kd.zeros([3, 3]), { mode: 'fan_avg' as never })).toThrow(/mode/);
    expect(() => init.uniform_(kd.zeros([3]), 2, 1)).toThrow(kd.ArgumentError);
    expect(() => init.truncNormal_(kd.zeros([3]), { a: 1, b: 1 })).toThrow(kd.ArgumentError);
    expect(() => init.normal_(kd.zeros([3]), 0, -1)).toThrow(kd.ArgumentError);
  });
});
