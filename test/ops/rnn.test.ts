// The fused recurrent layer op (lib/ops/rnn.ts, native/cpu/rnn.cc) against PyTorch's equations in
// float64 (rnn_reference.ts): LSTM (with and without projection), GRU, RNN tanh/relu, forward and
// reverse, packed batches, with and without biases, on 1 and 2 threads; outputs, final states and
// the gradients of every input; bad input. test/run-isa.sh runs this file again per ISA.
import { afterEach, describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { rnnLayer } from '../../lib/ops/rnn.js';
import { ArgumentError, ShapeError } from '../../lib/errors.js';
import { expectClose, expectError, freshSeed, makeRng } from '../helpers.js';
import { type Mode, type RefLayer, dot, gatesOf, numericGradients, referenceLayer } from './rnn_reference.js';

const seed = freshSeed();
const threadsAtStart = kd.getNumThreads();
afterEach(() => kd.setNumThreads(threadsAtStart));

function rand(rng: () => number, n: number, scale = 1): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.fround(scale * (2 * rng() - 1));
  return a;
}

const f32 = (a: Float64Array, shape: number[], grad = true): Tensor => {
  const t = kd.tensor(Float32Array.from(a)).reshape(shape);
  t.requiresGrad = grad;
  return t;
};
const values = (t: Tensor) => Float64Array.from(t.contiguous().data() as Float32Array);

interface Case { mode: Mode; T: number; B: number; I: number; H: number; P?: number; reverse?: boolean; bias?: boolean; lengths?: number[] }

function runCase(c: Case, rng: () => number): void {
  const { mode, T, B, I, H } = c;
  const P = c.P ?? 0, Ho = P || H, G = gatesOf(mode) * H, bias = c.bias ?? true;
  const k = 1 / Math.sqrt(H);
  const l: RefLayer = {
    mode, T, B, I, H, P, wIh: rand(rng, G * I, k), wHh: rand(rng, G * Ho, k),
    bIh: bias ? rand(rng, G, k) : null, bHh: bias ? rand(rng, G, k) : null, wHr: P ? rand(rng, P * H, k) : null,
  };
  const x = rand(rng, T * B * I), h0 = rand(rng, B * Ho, 0.5), c0 = mode === 'lstm' ? rand(rng, B * H, 0.5) : null;
  const batchSizes = c.lengths ? Int32Array.from({ length: T }, (_, t) => c.lengths!.filter((len) => len > t).length) : null;
  const wOut = rand(rng, T * B * Ho), wH = rand(rng, B * Ho), wC = rand(rng, B * H);
  const context = `${JSON.stringify(c)} seed ${seed}`;

  // Rows past a sequence's end hold no data: zeros in x as packing pads them.
  if (batchSizes) for (let t = 0; t < T; t++) for (let b = batchSizes[t]; b < B; b++) x.fill(0, (t * B + b) * I, (t * B + b + 1) * I);

  const refLoss = () => {
    const r = referenceLayer(l, x, h0, c0, c.reverse, batchSizes);
    return dot(r.out, wOut) + dot(r.hN, wH) + (mode === 'lstm' ? dot(r.cN, wC) : 0);
  };
  const ref = referenceLayer(l, x, h0, c0, c.reverse, batchSizes);
  const arrays = [x, h0, ...(c0 ? [c0] : []), l.wIh, l.wHh, ...(bias ? [l.bIh!, l.bHh!] : []), ...(P ? [l.wHr!] : [])];
  const refGrads = numericGradients(refLoss, arrays);

  kd.tidy(() => {
    const tx = f32(x, [T, B, I]), th0 = f32(h0, [B, Ho]), tc0 = c0 ? f32(c0, [B, H]) : null;
    const tw = [f32(l.wIh, [G, I]), f32(l.wHh, [G, Ho])];
    const tb = bias ? [f32(l.bIh!, [G]), f32(l.bHh!, [G])] : [null, null];
    const thr = P ? f32(l.wHr!, [P, H]) : null;
    const r = rnnLayer(mode, tx, th0, tc0, tw[0], tw[1], tb[0], tb[1], thr, { reverse: c.reverse, batchSizes });
    expect(r.output.shape).toEqual([T, B, Ho]);
    expect(r.hN.shape).toEqual([B, Ho]);
    expectClose(values(r.output), ref.out, 1e-5, `${context} output`);
    expectClose(values(r.hN), ref.hN, 1e-5, `${context} hN`);
    if (mode === 'lstm') expectClose(values(r.cN!), ref.cN, 1e-5, `${context} cN`);
    else expect(r.cN).toBeNull();
    let loss = r.output.mul(f32(wOut, [T, B, Ho], false)).sum().add(r.hN.mul(f32(wH, [B, Ho], false)).sum());
    if (r.cN) loss = loss.add(r.cN.mul(f32(wC, [B, H], false)).sum());
    loss.backward();
    const tensors = [tx, th0, ...(tc0 ? [tc0] : []), ...tw, ...(bias ? [tb[0]!, tb[1]!] : []), ...(thr ? [thr] : [])];
    const names = ['x', 'h0', ...(tc0 ? ['c0'] : []), 'weight_ih', 'weight_hh', ...(bias ? ['bias_ih', 'bias_hh'] : []), ...(thr ? ['weight_hr'] : [])];
    tensors.forEach((t, i) => expectClose(values(t.grad!), refGrads[i], 1e-4, `${context} grad ${names[i]}`));
  });
}

describe('rnnLayer (fused) matches PyTorch equations in float64', () => {
  const modes: Mode[] = ['lstm', 'gru', 'rnn_tanh', 'rnn_relu'];
  for (const mode of modes) {
    for (const reverse of [false, true]) {
      it(`${mode}${reverse ? ' reverse' : ''}: outputs, final states and every gradient (odd sizes)`, () => {
        const rng = makeRng(seed);
        runCase({ mode, T: 5, B: 3, I: 7, H: 5, reverse }, rng);
      });
      it(`${mode}${reverse ? ' reverse' : ''}: a packed batch of unequal lengths advances each row to its own end`, () => {
        const rng = makeRng(seed + 1);
        runCase({ mode, T: 6, B: 4, I: 3, H: 6, reverse, lengths: [6, 4, 4, 1] }, rng);
      });
    }
    it(`${mode} without biases, on 2 threads with a wider batch`, () => {
      kd.setNumThreads(2);
      runCase({ mode, T: 4, B: 9, I: 5, H: 11, bias: false }, makeRng(seed + 2));
    });
  }
  for (const reverse of [false, true]) {
    it(`lstm with projection (projSize 3 < hidden 7)${reverse ? ', reverse' : ''}, packed`, () => {
      runCase({ mode: 'lstm', T: 5, B: 3, I: 4, H: 7, P: 3, reverse, lengths: [5, 3, 2] }, makeRng(seed + 3));
    });
  }
  it('lstm with projection, every row every step', () => {
    runCase({ mode: 'lstm', T: 4, B: 2, I: 3, H: 6, P: 4 }, makeRng(seed + 4));
  });
  it('a larger lstm and gru (hidden 16, batch 10) on 2 threads', () => {
    kd.setNumThreads(2);
    runCase({ mode: 'lstm', T: 3, B: 10, I: 3, H: 16 }, makeRng(seed + 5));
    runCase({ mode: 'gru', T: 3, B: 10, I: 3, H: 16 }, makeRng(seed + 6));
  });
});

/**
 * Sizes past the recurrent GEMMs' tiles (gate rows over several 16- and 32-wide weight panels with
 * a partial last one, k above the 256-deep block, more batch rows than one 14-row tile): outputs
 * against the float64 reference, gradients along one random direction of every input against a
 * central difference of the reference (numeric gradients of every weight would be too slow).
 */
function runWide(c: { mode: Mode; T: number; B: number; I: number; H: number; P?: number; reverse?: boolean }, rng: () => number): void {
  const { mode, T, B, I, H } = c;
  const P = c.P ?? 0, Ho = P || H, G = gatesOf(mode) * H;
  const k = 1 / Math.sqrt(H);
  const l: RefLayer = {
    mode, T, B, I, H, P, wIh: rand(rng, G * I, k), wHh: rand(rng, G * Ho, k), bIh: rand(rng, G, k), bHh: rand(rng, G, k),
    wHr: P ? rand(rng, P * H, k) : null,
  };
  const x = rand(rng, T * B * I), h0 = rand(rng, B * Ho, 0.5), c0 = mode === 'lstm' ? rand(rng, B * H, 0.5) : null;
  const wOut = rand(rng, T * B * Ho), wH = rand(rng, B * Ho);
  const arrays = [x, h0, l.wIh, l.wHh, l.bIh!, l.bHh!, ...(P ? [l.wHr!] : [])];
  const direction = arrays.map((a) => rand(rng, a.length));
  const refLoss = () => {
    const r = referenceLayer(l, x, h0, c0, c.reverse, null);
    return dot(r.out, wOut) + dot(r.hN, wH);
  };
  const shift = (eps: number) => arrays.forEach((a, i) => { for (let j = 0; j < a.length; j++) a[j] += eps * direction[i][j]; });
  const ref = referenceLayer(l, x, h0, c0, c.reverse, null);
  const inputs = arrays.map((a) => Float64Array.from(a));
  const eps = 1e-4;
  shift(eps);
  const up = refLoss();
  shift(-2 * eps);
  const down = refLoss();
  const expected = (up - down) / (2 * eps);
  const context = `${JSON.stringify(c)} seed ${seed}`;

  kd.tidy(() => {
    const [tx, th0, tIh, tHh, tbIh, tbHh] = [[T, B, I], [B, Ho], [G, I], [G, Ho], [G], [G]].map((shape, i) => f32(inputs[i], shape));
    const thr = P ? f32(inputs[6], [P, H]) : null;
    const tc0 = c0 ? f32(c0, [B, H], false) : null;
    const r = rnnLayer(mode, tx, th0, tc0, tIh, tHh, tbIh, tbHh, thr, { reverse: c.reverse });
    expectClose(values(r.output), ref.out, 1e-5, `${context} output`);
    expectClose(values(r.hN), ref.hN, 1e-5, `${context} hN`);
    r.output.mul(f32(wOut, [T, B, Ho], false)).sum().add(r.hN.mul(f32(wH, [B, Ho], false)).sum()).backward();
    const tensors = [tx, th0, tIh, tHh, tbIh, tbHh, ...(thr ? [thr] : [])];
    const got = tensors.reduce((sum, t, i) => sum + dot(values(t.grad!), direction[i]), 0);
    expect(Math.abs(got - expected), `${context} directional derivative ${got} vs ${expected}`).toBeLessThan(2e-4 * Math.max(1, Math.abs(expected)));
  });
}

describe('rnnLayer at sizes past the GEMM tiles', () => {
  for (const threads of [1, 2]) {
    it(`lstm hidden 70 batch 17, gru hidden 90 reverse, lstm with projection 40 (${threads} thread${threads > 1 ? 's' : ''})`, () => {
      kd.setNumThreads(threads);
      runWide({ mode: 'lstm', T: 3, B: 17, I: 5, H: 70 }, makeRng(seed + 10 + threads));
      runWide({ mode: 'gru', T: 3, B: 17, I: 4, H: 90, reverse: true }, makeRng(seed + 20 + threads));
      runWide({ mode: 'lstm', T: 3, B: 15, I: 3, H: 70, P: 40 }, makeRng(seed + 30 + threads));
    });
  }
});

describe('rnnLayer input checks', () => {
  const x = kd.zeros([4, 2, 3]);
  const h0 = kd.zeros([2, 5]), c0 = kd.zeros([2, 5]);
  const wIh = kd.zeros([20, 3]), wHh = kd.zeros([20, 5]);
  it('names the op and the shapes', () => {
    expectError(() => rnnLayer('lstm', kd.zeros([4, 3]), h0, c0, wIh, wHh, null, null, null), ShapeError, 'rnnLayer', '[4,3]');
    expectError(() => rnnLayer('lstm', kd.zeros([4, 2, 6]), h0, c0, wIh, wHh, null, null, null), ShapeError, 'weight_ih');
    expectError(() => rnnLayer('lstm', x, kd.zeros([3, 5]), c0, wIh, wHh, null, null, null), ShapeError, 'h0', '[3,5]');
    expectError(() => rnnLayer('lstm', x, h0, null, wIh, wHh, null, null, null), ArgumentError, 'c0');
    expectError(() => rnnLayer('gru', x, h0, null, kd.zeros([20, 3]), wHh, null, null, null), ShapeError, 'weight_ih');
    expectError(() => rnnLayer('lstm', x, h0, c0, wIh, wHh, kd.zeros([20]), null, null), ArgumentError, 'both biases');
    expectError(() => rnnLayer('lstm', x, h0, c0, wIh, wHh, null, null, null, { batchSizes: Int32Array.from([2, 3, 1, 1]) }), ShapeError, 'non-increasing');
    expectError(() => rnnLayer('gru', x, h0, null, kd.zeros([15, 3]), kd.zeros([15, 5]), null, null, kd.zeros([2, 5])), ArgumentError, 'projection');
  });
});
