// F.dropout on CUDA (cuda/dropout.cu) against the CPU kernel: the mask is a hash of (seed, element
// index) on both devices, so the same kd.manualSeed drops the same elements, across the
// 65536-element key blocks; the backward applies the same mask to the gradient. Runs only with a
// CUDA device.
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, freshSeed, makeRng, numel } from '../helpers.js';

const seed = freshSeed();
const rng = makeRng(seed);
const values = (t: Tensor): Float64Array => Float64Array.from((t.device === 'cuda' ? t.to('cpu') : t).data() as ArrayLike<number>);

describe.skipIf(!kd.cuda.isAvailable())(`dropout on CUDA vs the CPU (needs a CUDA device; seed ${seed})`, () => {
  it('the same seed drops the same elements on both devices, forward and backward', () => {
    for (const [shape, p] of [[[3, 7], 0.5], [[2, 70001], 0.1], [[4, 256, 768], 0.9]] as [number[], number][]) {
      kd.tidy(() => {
        const x = kd.tensor(Float32Array.from({ length: numel(shape) }, () => 2 * rng() - 1)).reshape(shape);
        const g = kd.tensor(Float32Array.from({ length: numel(shape) }, () => 2 * rng() - 1)).reshape(shape);
        const run = (device: 'cpu' | 'cuda') => {
          kd.manualSeed(seed);
          const xs = x.to(device).detach().requiresGrad_();
          const out = kd.nn.functional.dropout(xs, p, true);
          out.mul(g.to(device)).sum().backward();
          return { out: values(out), grad: values(xs.grad!) };
        };
        const cpu = run('cpu'), gpu = run('cuda');
        expect(gpu.out.every((v, i) => (v === 0) === (cpu.out[i] === 0))).toBe(true);
        expectClose(gpu.out, cpu.out, 1e-7, `${JSON.stringify(shape)} out`);
        expectClose(gpu.grad, cpu.grad, 1e-7, `${JSON.stringify(shape)} grad`);
      });
    }
  });
});
