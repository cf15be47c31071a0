// F.scaledDotProductAttention on CUDA (cuda/attention.cu, FP32 SIMT) against the CPU's fused
// kernels: every mask kind, cross-attention, GQA, head dims 16..256, transposed [B, L, H, E]
// views, and dropout, which draws the same mask on both devices for the same kd.manualSeed.
// Runs only with a CUDA device.
import { describe, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, freshSeed, makeRng, numel } from '../helpers.js';

const seed = freshSeed();
const rng = makeRng(seed);
const values = (t: Tensor): Float64Array => Float64Array.from((t.device === 'cuda' ? t.to('cpu') : t).data() as ArrayLike<number>);

function random(shape: number[]): Tensor {
  return kd.tensor(Float32Array.from({ length: numel(shape) }, () => 2 * rng() - 1)).reshape(shape);
}

describe.skipIf(!kd.cuda.isAvailable())(`scaledDotProductAttention on CUDA vs the CPU (needs a CUDA device; seed ${seed})`, () => {
  it('forward and the gradients of q, k and v follow the CPU over every mask kind, GQA and dropout', () => {
    const B = 2;
    const cases = [
      { H: 3, Hkv: 3, L: 37, S: 37, E: 64, mask: 'none' },
      { H: 2, Hkv: 2, L: 45, S: 29, E: 16, mask: 'causal' },
      { H: 4, Hkv: 2, L: 70, S: 70, E: 128, mask: 'causal' },
      { H: 2, Hkv: 2, L: 33, S: 50, E: 32, mask: 'bool' },
      { H: 3, Hkv: 3, L: 19, S: 41, E: 40, mask: 'float' },
      { H: 2, Hkv: 2, L: 21, S: 40, E: 64, mask: 'padding' },
      { H: 6, Hkv: 2, L: 17, S: 33, E: 256, mask: 'none' },
      { H: 4, Hkv: 1, L: 34, S: 34, E: 24, mask: 'causal', dropoutP: 0.3 },
    ] as const;
    for (const c of cases) {
      kd.tidy(() => {
        // q, k, v stored [B, len, H, E] and seen as [B, H, len, E], as MultiheadAttention makes them.
        const q = random([B, c.L, c.H, c.E]), k = random([B, c.S, c.Hkv, c.E]), v = random([B, c.S, c.Hkv, c.E]);
        const g = random([B, c.H, c.L, c.E]);
        let mask: Tensor | null = null;
        if (c.mask === 'bool') mask = random([c.L, c.S]).gt(-0.4);
        if (c.mask === 'float') mask = random([B, 1, c.L, c.S]).maskedFill(random([B, 1, c.L, c.S]).gt(0.7), -Infinity);
        if (c.mask === 'padding') mask = kd.arange(0, c.S).lt(kd.tensor([[c.S], [c.S - 7]])).reshape([B, 1, 1, c.S]);
        const run = (device: 'cpu' | 'cuda') => {
          const [qs, ks, vs] = [q, k, v].map((t) => t.to(device).transpose(1, 2).detach().requiresGrad_());
          kd.manualSeed(seed);
          const out = kd.nn.functional.scaledDotProductAttention(qs, ks, vs, {
            attnMask: mask && mask.to(device), isCausal: c.mask === 'causal', dropoutP: 'dropoutP' in c ? c.dropoutP : 0,
            enableGqa: c.Hkv !== c.H,
          });
          out.mul(g.to(device)).sum().backward();
          return [values(out), values(qs.grad!), values(ks.grad!), values(vs.grad!)];
        };
        const cpu = run('cpu'), gpu = run('cuda');
        cpu.forEach((ref, i) => expectClose(gpu[i], ref, 1e-4, `${JSON.stringify(c)} ${['output', 'grad q', 'grad k', 'grad v'][i]}`));
      });
    }
  });
});
