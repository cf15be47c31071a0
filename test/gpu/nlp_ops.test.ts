// The NLP tensor ops on CUDA against the CPU: sort / argsort / topk / cumsum / cumprod / multinomial
// / bernoulli / oneHot read their inputs on the host and return results on the device, the rest
// (triu, any, einsum, pad, cosineSimilarity, normalize) compose device ops. Values, indices,
// devices and gradients must match the CPU. Runs only with a CUDA device.
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, freshSeed, makeRng, numel } from '../helpers.js';

const seed = freshSeed();
const rng = makeRng(seed);
const F = kd.nn.functional;
const values = (t: Tensor): Float64Array => Float64Array.from((t.device === 'cuda' ? t.to('cpu') : t).data() as ArrayLike<number>);

function random(shape: number[]): Tensor {
  return kd.tensor(Float32Array.from({ length: numel(shape) }, () => Math.round(8 * rng()) / 4 - 1)).reshape(shape);
}

describe.skipIf(!kd.cuda.isAvailable())(`NLP ops on CUDA vs the CPU (needs a CUDA device; seed ${seed})`, () => {
  it('ordering and scans give the CPU values, indices and gradients, on the device', () => {
    const x = random([5, 7, 6]);
    const ops: [string, (t: Tensor) => Tensor[]][] = [
      ['sort', (t) => { const r = t.transpose(0, 2).sort({ dim: 1, descending: true }); return [r.values, r.indices]; }],
      ['argsort', (t) => [t.argsort({ dim: 0 })]],
      ['topk', (t) => { const r = t.topk(3, { dim: 1 }); return [r.values, r.indices]; }],
      ['cumsum', (t) => [t.cumsum(1)]],
      ['cumprod', (t) => [t.cumprod(2)]],
      ['triu', (t) => [t.triu(1)]],
      ['any', (t) => [t.any(1), t.all(0)]],
      ['einsum', (t) => [kd.einsum('bij,bkj->bik', t, t)]],
      ['pad', (t) => [F.pad(t, [2, 1, 1, 2], { mode: 'reflect' }), F.pad(t, [1, 1], { mode: 'circular' })]],
      ['cosineSimilarity', (t) => [F.cosineSimilarity(t, t.flip(0), { dim: 2 }), F.normalize(t, { dim: 1 })]],
    ];
    for (const [name, f] of ops) {
      const run = (device: 'cpu' | 'cuda') => {
        const leaf = x.to(device).detach().requiresGrad_();
        const outs = f(leaf);
        for (const o of outs) expect(o.device, name).toBe(device);
        const floats = outs.filter((o) => o.dtype === 'float32');
        if (floats.length > 0) floats.reduce((acc, o) => acc.add(o.square().sum()), kd.tensor(0, { device })).backward();
        return [...outs.map(values), ...(leaf.grad ? [values(leaf.grad)] : [])];
      };
      const cpu = run('cpu'), gpu = run('cuda');
      expect(gpu.length, name).toBe(cpu.length);
      cpu.forEach((ref, i) => expectClose(gpu[i], ref, 1e-3, `${name} result ${i}`));
    }
  });

  it('multinomial, bernoulli and oneHot return on the device and repeat the CPU draws with the same seed', () => {
    const w = kd.rand([4, 9]);
    const cpu = kd.multinomial(w, 5, { seed: 7 }), gpu = kd.multinomial(w.to('cuda'), 5, { seed: 7 });
    expect(gpu.device).toBe('cuda');
    expect(Array.from(values(gpu))).toEqual(Array.from(values(cpu)));
    const b = kd.bernoulli(w.to('cuda'), { seed: 3 });
    expect(b.device).toBe('cuda');
    expect(Array.from(values(b))).toEqual(Array.from(values(kd.bernoulli(w, { seed: 3 }))));
    const h = F.oneHot(kd.tensor([2, 0, 1], { dtype: 'int32', device: 'cuda' }));
    expect(h.device).toBe('cuda');
    expect(h.to('cpu').toArray()).toEqual([[0, 0, 1], [1, 0, 0], [0, 1, 0]]);
  });
});
