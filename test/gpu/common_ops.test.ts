// The common functionals on CUDA against the CPU (checked against PyTorch in
// test/nn/common_ops.test.ts): outputs and gradients of the same seeded inputs on both devices.
// convTranspose2d runs the conv kernels with geometries conv2d never produces (output padding:
// input rows no window covers), so it is the case to watch. Runs only where a CUDA device is.
import { describe, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, freshSeed, makeRng, randomTensor } from '../helpers.js';
import { describeCuda } from './require_cuda.js';

const F = kd.nn.functional;
const seed = freshSeed();

const host = (t: Tensor) => (t.device === 'cuda' ? t.to('cpu') : t).data() as Float32Array;

/** Runs f on copies of inputs on each device; compares outputs and the gradients of sum(out · r). */
function sameOnBothDevices(name: string, f: (...xs: Tensor[]) => Tensor, shapes: number[][], tol: number): void {
  const rng = makeRng(seed);
  const base = shapes.map((s) => randomTensor(rng, s).t);
  const results = (['cpu', 'cuda'] as const).map((device) => {
    const xs = base.map((b) => {
      const t = b.to(device).detach();
      t.requiresGrad = true;
      return t;
    });
    const y = f(...xs);
    const r = kd.tensor(Array.from({ length: y.numel }, (_, i) => Math.sin(i + 1))).reshape(y.shape).to(device);
    y.mul(r).sum().backward();
    return { y: host(y), grads: xs.map((x) => host(x.grad!)) };
  });
  expectClose(results[1].y, results[0].y, tol, `${name} output, seed ${seed}`);
  results[0].grads.forEach((g, i) => expectClose(results[1].grads[i], g, tol, `${name} gradient ${i}, seed ${seed}`));
}

describeCuda(`common functionals on CUDA vs the CPU (seed ${seed})`, () => {
  it('convTranspose2d with stride, padding and output padding', () => {
    sameOnBothDevices('convTranspose2d', (x, w, b) => F.convTranspose2d(x, w, b, { stride: 2, padding: 1, outputPadding: 1 }),
      [[2, 4, 5, 6], [4, 3, 3, 3], [3]], 1e-3);
  });

  it('convTranspose2d with groups, dilation and rows no window covers', () => {
    sameOnBothDevices('convTranspose2d', (x, w) => F.convTranspose2d(x, w, null, { stride: 3, outputPadding: 2, groups: 2, dilation: [1, 2] }),
      [[2, 4, 3, 4], [4, 2, 2, 2]], 1e-3);
  });

  it('unfold, interpolate, groupNorm, maxPool1d and hardtanh', () => {
    sameOnBothDevices('unfold', (x) => F.unfold(x, [3, 2], { padding: 1, stride: [2, 1], dilation: [1, 2] }), [[2, 3, 7, 6]], 1e-5);
    sameOnBothDevices('interpolate', (x) => F.interpolate(x, { size: [7, 9], mode: 'bilinear' }), [[2, 3, 5, 6]], 1e-5);
    sameOnBothDevices('interpolate', (x) => F.interpolate(x, { scaleFactor: 1.7 }), [[2, 3, 5, 6]], 1e-5);
    sameOnBothDevices('groupNorm', (x, w, b) => F.groupNorm(x, 3, w, b), [[2, 6, 5, 4], [6], [6]], 1e-4);
    sameOnBothDevices('maxPool1d', (x) => F.maxPool1d(x, 3, { stride: 2, padding: 1, ceilMode: true }), [[2, 3, 11]], 1e-6);
    sameOnBothDevices('hardtanh', (x) => F.hardtanh(x, -0.5, 0.5), [[4, 5]], 1e-6);
  });
});
