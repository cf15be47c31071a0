// matmulAddLowRank on CUDA against the CPU (checked against float64 in
// test/ops/matmul_low_rank.test.ts): the second product accumulates into the first's output with
// beta = 1 on the device's GEMM, and the bias is the CUDA backend's broadcast add. Outputs and
// every operand's gradient, with TF32 off so the tolerance is float32's. Runs only where a CUDA device is.
import { it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { matmulAddLowRank } from '../../lib/ops/matmul.js';
import { expectClose, freshSeed, makeRng, randomTensor } from '../helpers.js';
import { describeCuda, useTf32 } from './require_cuda.js';

const host = (t: Tensor) => (t.device === 'cuda' ? t.to('cpu') : t).contiguous().data() as Float32Array;

describeCuda('matmulAddLowRank on CUDA', () => {
  useTf32(false);

  it('gives the CPU output and gradients, with and without a bias', () => {
    const seed = freshSeed();
    for (const [m, k, n, r] of [[7, 13, 5, 3], [300, 96, 170, 8]]) {
      for (const withBias of [true, false]) {
        const rng = makeRng(seed + m);
        const base = [[m, k], [n, k], [n], [m, r], [n, r]].map((s) => randomTensor(rng, s).t);
        const g = randomTensor(rng, [m, n]).t;
        const [cpu, cuda] = (['cpu', 'cuda'] as const).map((device) => {
          const [a, w, bias, u, bw] = base.map((t) => { const d = t.to(device).detach(); d.requiresGrad = true; return d; });
          const y = matmulAddLowRank(a, w.T, withBias ? bias : null, u, bw.T, 1.5);
          y.backward(g.to(device));
          return [y, a.grad!, w.grad!, ...(withBias ? [bias.grad!] : []), u.grad!, bw.grad!].map(host);
        });
        cpu.forEach((want, i) => expectClose(cuda[i]!, want, 1e-5, `${m}x${k}x${n} r${r} bias ${withBias} output/grad ${i} seed ${seed}`));
      }
    }
  });
});
