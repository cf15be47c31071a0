// The conv-pool node (lib/ops/conv.ts conv2dMaxPool2d) on CUDA against the CPU: the CUDA side
// composes its convolution and pooling kernels natively (cuda/conv_pooled.cu), the CPU picks
// between image-by-image pooling, a composed pass and the sparse or dense backward itself
// (native/cpu/conv_pooled.cc). Strided inputs, groups, bias or none. Runs only with a CUDA device.
import { describe, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { conv2dMaxPool2d } from '../../lib/ops/conv.js';
import { expectClose, freshSeed, makeRng, numel } from '../helpers.js';
import { describeCuda } from './require_cuda.js';

const seed = freshSeed();
const rng = makeRng(seed);
const values = (t: Tensor): Float64Array => Float64Array.from((t.device === 'cuda' ? t.to('cpu') : t).data() as ArrayLike<number>);

function random(shape: number[]): Tensor {
  return kd.tensor(Float32Array.from({ length: numel(shape) }, () => 2 * rng() - 1)).reshape(shape);
}

describeCuda(`conv2dMaxPool2d on CUDA vs the CPU (needs a CUDA device; seed ${seed})`, () => {
  it('forward, indices and every gradient follow the CPU within TF32', () => {
    const cases = [
      { x: [3, 4, 13, 11], w: [6, 4, 3, 3], bias: true, conv: { padding: 1 }, pool: { k: 2, stride: 2 } },
      { x: [2, 4, 12, 12], w: [6, 2, 3, 3], bias: false, conv: { groups: 2, dilation: 2, padding: 1 }, pool: { k: 3, stride: 2 } },
      { x: [8, 1, 28, 28], w: [8, 1, 5, 5], bias: true, conv: {}, pool: { k: 2, stride: 2 } },
    ];
    for (const c of cases) {
      const x = random(c.x), w = random(c.w), b = random([c.w[0]]);
      const run = (device: 'cpu' | 'cuda') => {
        // A strided input: stored [n, c, w, h], seen as [n, c, h, w].
        const xs = x.transpose(2, 3).contiguous().to(device).transpose(2, 3).detach().requiresGrad_();
        const ws = w.to(device).detach().requiresGrad_();
        const bs = c.bias ? b.to(device).detach().requiresGrad_() : null;
        const y = conv2dMaxPool2d(xs, ws, bs, c.conv, c.pool.k, { stride: c.pool.stride });
        y.mul(y).sum().backward();
        return [values(y), values(xs.grad!), values(ws.grad!), ...(bs ? [values(bs.grad!)] : [])];
      };
      const cpu = run('cpu'), gpu = run('cuda');
      cpu.forEach((ref, i) => expectClose(gpu[i], ref, 5e-3, `${JSON.stringify(c)} ${['output', 'input grad', 'weight grad', 'bias grad'][i]}`));
    }
  });
});
