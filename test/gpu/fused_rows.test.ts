// The row-wise fused nodes on CUDA (cuda/fused_rows.cu) against the CPU kernels
// (native/cpu/fused_rows.cc): F.layerNorm, F.rmsNorm, F.biasGelu and F.crossEntropy with class
// targets, values and every gradient, on odd sizes, strided inputs, ignored rows, class weights,
// label smoothing, logits of magnitude 1e4 and a 50257-class vocabulary. Runs only with a CUDA
// device.
import { expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, freshSeed, makeRng, numel } from '../helpers.js';
import { describeCuda } from './require_cuda.js';

const seed = freshSeed();
const rng = makeRng(seed);
const F = kd.nn.functional;
const values = (t: Tensor): Float64Array => Float64Array.from((t.device === 'cuda' ? t.to('cpu') : t).data() as ArrayLike<number>);

function random(shape: number[], lo = -1, hi = 1): Tensor {
  return kd.tensor(Float32Array.from({ length: numel(shape) }, () => lo + (hi - lo) * rng())).reshape(shape);
}

describeCuda(`fused row ops on CUDA vs the CPU (needs a CUDA device; seed ${seed})`, () => {
  it('layerNorm and rmsNorm: output, dx, dweight, dbias (cols 1, 7, 33, 1000, 4096; strided input)', () => {
    for (const [rows, cols, strided] of [[5, 1, false], [9, 7, true], [300, 33, false], [6, 1000, true], [3, 4096, false]] as const) {
      const x = random([rows, cols], -2, 3), g = random([rows, cols]), w = random([cols], 0.5, 1.5), b = random([cols]);
      for (const rms of [false, true]) {
        const run = (device: 'cpu' | 'cuda') => {
          const xd = strided ? x.transpose(0, 1).contiguous().to(device).transpose(0, 1) : x.to(device);
          const xs = xd.detach().requiresGrad_(), ws = w.to(device).requiresGrad_(), bs = b.to(device).requiresGrad_();
          const y = rms ? F.rmsNorm(xs, [cols], ws) : F.layerNorm(xs, [cols], ws, bs);
          y.backward(g.to(device));
          return [values(y), values(xs.grad!), values(ws.grad!), ...(rms ? [] : [values(bs.grad!)])];
        };
        const cpu = run('cpu'), gpu = run('cuda');
        cpu.forEach((ref, i) => expectClose(gpu[i], ref, cols === 1 ? 1e-3 : 1e-5, `${rms ? 'rms' : 'layer'}Norm [${rows}, ${cols}] ${['y', 'dx', 'dweight', 'dbias'][i]}`));
      }
    }
  });

  it('biasGelu (erf and tanh): output, dx and dbias', () => {
    for (const [rows, cols] of [[3, 1], [70, 33], [4, 1000]]) {
      const x = random([rows, cols], -6, 6), b = random([cols]), g = random([rows, cols]);
      for (const approximate of ['none', 'tanh'] as const) {
        const run = (device: 'cpu' | 'cuda') => {
          const xs = x.to(device).requiresGrad_(), bs = b.to(device).requiresGrad_();
          const y = F.biasGelu(xs, bs, { approximate });
          y.backward(g.to(device));
          return [values(y), values(xs.grad!), values(bs.grad!)];
        };
        const cpu = run('cpu'), gpu = run('cuda');
        cpu.forEach((ref, i) => expectClose(gpu[i], ref, 1e-5, `biasGelu ${approximate} [${rows}, ${cols}] ${['y', 'dx', 'dbias'][i]}`));
      }
    }
  });

  it('crossEntropy: loss and dx with ignored rows, weights, label smoothing, 1e4 logits and 50257 classes', () => {
    const cases = [
      { rows: 9, c: 7, scale: 3, options: { ignoreIndex: 2 } },
      { rows: 64, c: 33, scale: 3, options: { weight: true, labelSmoothing: 0.2, reduction: 'sum' as const } },
      { rows: 5, c: 1000, scale: 1e4, options: { reduction: 'none' as const } },
      { rows: 4, c: 50257, scale: 4, options: { labelSmoothing: 0.1 } },
    ];
    for (const cs of cases) {
      const x = random([cs.rows, cs.c], -cs.scale, cs.scale);
      const target = kd.tensor(Int32Array.from({ length: cs.rows }, (_, i) => (i === 1 && 'ignoreIndex' in cs.options ? 2 : Math.floor(rng() * cs.c))));
      const w = random([cs.c], 0.25, 1.25);
      const run = (device: 'cpu' | 'cuda') => {
        const xs = x.to(device).requiresGrad_();
        const { weight, ...rest } = cs.options as { weight?: boolean };
        const loss = F.crossEntropy(xs, target.to(device), { ...rest, weight: weight ? w.to(device) : null });
        loss.sum().backward();
        return [values(loss), values(xs.grad!)];
      };
      const cpu = run('cpu'), gpu = run('cuda');
      expect(gpu[0].every(Number.isFinite)).toBe(true);
      cpu.forEach((ref, i) => expectClose(gpu[i], ref, 1e-5, `crossEntropy [${cs.rows}, ${cs.c}] ${['loss', 'dx'][i]}`));
    }
  });
});
