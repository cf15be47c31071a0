// The fused batch-norm node on CUDA (cuda/batchnorm.cu: one block per channel) against the CPU
// kernels (native/cpu/batchnorm.cc): outputs, running statistics, saved-statistics gradients,
// training and eval, affine or not, strided inputs and strided running statistics. Runs only
// with a CUDA device.
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, freshSeed, makeRng, numel } from '../helpers.js';

const seed = freshSeed();
const rng = makeRng(seed);
const F = kd.nn.functional;
const values = (t: Tensor): Float64Array => Float64Array.from((t.device === 'cuda' ? t.to('cpu') : t).data() as ArrayLike<number>);

function random(shape: number[], lo = -1, hi = 1): Tensor {
  return kd.tensor(Float32Array.from({ length: numel(shape) }, () => lo + (hi - lo) * rng())).reshape(shape);
}

describe.skipIf(!kd.cuda.isAvailable())(`batchNorm on CUDA vs the CPU (needs a CUDA device; seed ${seed})`, () => {
  it('forward, running statistics and every gradient follow the CPU (train and eval, affine or not, strided)', () => {
    const cases = [
      { shape: [64, 16, 28, 28], affine: true, strided: false },
      { shape: [7, 5, 9, 11], affine: false, strided: true },
      { shape: [33, 6], affine: true, strided: false },
      { shape: [5, 3, 2050], affine: true, strided: true },
    ];
    for (const c of cases) {
      const ch = c.shape[1];
      const x = random(c.shape, -1, 3), g = random(c.shape), w = random([ch], 0.5, 1.5), b = random([ch], -0.5, 0.5);
      for (const training of [true, false]) {
        const run = (device: 'cpu' | 'cuda') => {
          // A strided input: the last two dims stored swapped, or the channels stored last.
          const xd = c.strided
            ? (c.shape.length === 4 ? x.transpose(2, 3).contiguous().to(device).transpose(2, 3) : x.transpose(1, 2).contiguous().to(device).transpose(1, 2))
            : x.to(device);
          const xs = xd.detach().requiresGrad_();
          const ws = c.affine ? w.to(device).detach().requiresGrad_() : null;
          const bs = c.affine ? b.to(device).detach().requiresGrad_() : null;
          const stats = kd.ones([ch, 2]).to(device);
          const rm = stats.narrow(1, 0, 1).squeeze(1), rv = stats.narrow(1, 1, 1).squeeze(1);
          const y = F.batchNorm(xs, { training, weight: ws, bias: bs, runningMean: rm, runningVar: rv, momentum: 0.3 });
          y.backward(g.to(device));
          return [values(y), values(xs.grad!), values(stats), ...(ws ? [values(ws.grad!), values(bs!.grad!)] : [])];
        };
        const cpu = run('cpu'), gpu = run('cuda');
        expect(gpu.length).toBe(cpu.length);
        cpu.forEach((ref, i) => expectClose(gpu[i], ref, 1e-5, `${JSON.stringify(c)} training ${training} ${['output', 'input grad', 'running stats', 'weight grad', 'bias grad'][i]}`));
      }
    }
  });
});
