// The thread pool: every op whose thread count the pool now chooses from its cost gives on 2 threads
// what it gives on 1 (bit for bit where each output element is computed by one thread; within
// 1e-6 where threads' partial sums are added, as in conv weight gradients), also after the pool
// has been resized; and the measured FMA peak is positive for every ISA the processor has.
import { afterAll, describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { native } from '../../lib/native.js';
import { conv2dMaxPool2d } from '../../lib/ops/conv.js';
import { freshSeed, makeRng, relError } from '../helpers.js';

const originalThreads = kd.getNumThreads();
afterAll(() => kd.setNumThreads(originalThreads));

interface Output {
  name: string;
  data: Float32Array;
  exact: boolean; // false where threads' partial sums are combined
}

// Each case is sized so its cost asks for two threads (see native/common/parallel.h).
type Case = { name: string; run: (rng: () => number) => Output[] };

function rand(rng: () => number, shape: number[], requiresGrad = false): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = rng() * 2 - 1;
  return kd.tensor(data).reshape(shape).detach().requiresGrad_(requiresGrad);
}

function out(name: string, t: Tensor, exact = true): Output {
  return { name, data: Float32Array.from(t.contiguous().data() as Float32Array), exact };
}

const CASES: Case[] = [
  {
    name: 'matmul 97x203 @ 203x151, a transposed view, and a batch of 8',
    run: (rng) => {
      const a = rand(rng, [97, 203]), b = rand(rng, [203, 151]), at = rand(rng, [203, 97]).transpose(0, 1);
      const x = rand(rng, [8, 65, 81]), y = rand(rng, [8, 81, 73]);
      return [out('a@b', a.matmul(b)), out('at@b', at.matmul(b)), out('bmm', x.matmul(y))];
    },
  },
  {
    name: 'elementwise relu, gelu, broadcast add and exp of a transposed view on 601x703',
    run: (rng) => {
      const x = rand(rng, [601, 703]), row = rand(rng, [703]);
      return [out('relu', x.relu()), out('gelu', x.gelu()), out('add', x.add(row)),
        out('exp of transpose', x.transpose(0, 1).exp())];
    },
  },
  {
    name: 'sum, mean and max over either dim of 601x703',
    run: (rng) => {
      const x = rand(rng, [601, 703]);
      return [out('sum 1', x.sum(1)), out('sum 0', x.sum(0)), out('mean 1', x.mean(1)), out('max 0', x.max(0).values), out('argmax 1', x.argmax(1).float())];
    },
  },
  {
    name: 'softmax and logSoftmax over rows and over columns of 601x703',
    run: (rng) => {
      const x = rand(rng, [601, 703]);
      return [out('softmax 1', x.softmax(1)), out('softmax 0', x.softmax(0)), out('logSoftmax 1', x.logSoftmax(1))];
    },
  },
  {
    name: 'gather and indexSelect on 601x703',
    run: (rng) => {
      const x = rand(rng, [601, 703]);
      const idx = new Int32Array(601 * 703);
      for (let i = 0; i < idx.length; i++) idx[i] = Math.floor(rng() * 703);
      const rows = new Int32Array(400);
      for (let i = 0; i < rows.length; i++) rows[i] = Math.floor(rng() * 601);
      const index = kd.tensor(idx, { dtype: 'int32' }).reshape([601, 703]);
      return [out('gather', x.gather(1, index)), out('indexSelect', x.indexSelect(0, kd.tensor(rows, { dtype: 'int32' })))];
    },
  },
  {
    name: 'conv2d forward and backward, 16x8x20x20 with 12 3x3 filters (padding 1, and a strided input)',
    run: (rng) => {
      const x = rand(rng, [16, 8, 20, 20], true), w = rand(rng, [12, 8, 3, 3], true), b = rand(rng, [12], true);
      const y = kd.nn.functional.conv2d(x, w, b, { padding: 1 });
      const xt = rand(rng, [8, 16, 20, 20]).permute([1, 0, 2, 3]);
      const yt = kd.nn.functional.conv2d(xt, w);
      y.mul(y).sum().backward();
      return [out('y', y), out('strided y', yt), out('dx', x.grad!), out('dw', w.grad!, false), out('db', b.grad!, false)];
    },
  },
  {
    name: 'max and average pooling forward and backward on 16x16x48x48',
    run: (rng) => {
      const x = rand(rng, [16, 16, 48, 48], true);
      const m = kd.nn.functional.maxPool2d(x, 2), a = kd.nn.functional.avgPool2d(x, 3, { stride: 2, padding: 1 });
      m.sum().add(a.mul(a).sum()).backward();
      return [out('max', m), out('avg', a), out('dx', x.grad!)];
    },
  },
  {
    name: 'the fused conv-maxpool node forward and backward, 16x4x26x26 with 8 3x3 filters',
    run: (rng) => {
      const x = rand(rng, [16, 4, 26, 26], true), w = rand(rng, [8, 4, 3, 3], true), b = rand(rng, [8], true);
      const y = conv2dMaxPool2d(x, w, b, {}, 2);
      y.mul(y).sum().backward();
      return [out('y', y), out('dx', x.grad!, false), out('dw', w.grad!, false), out('db', b.grad!, false)];
    },
  },
  {
    name: 'an Adam step on 200000 parameters',
    run: (rng) => {
      const p = rand(rng, [200000], true);
      const opt = new kd.optim.Adam([p], { lr: 0.01, weightDecay: 0.1 });
      p.mul(p).sum().backward();
      opt.step();
      return [out('p', p.detach())];
    },
  },
];

function runOn(threads: number, c: Case, seed: number): Output[] {
  kd.setNumThreads(threads);
  return kd.tidy(() => c.run(makeRng(seed)));
}

function expectSame(one: Output[], two: Output[], context: string): void {
  expect(two.map((o) => o.name)).toEqual(one.map((o) => o.name));
  for (let i = 0; i < one.length; i++) {
    const where = `${context}: ${one[i].name}`;
    expect(two[i].data.length, where).toBe(one[i].data.length);
    if (one[i].exact) {
      const firstDiff = one[i].data.findIndex((v, j) => !Object.is(v, two[i].data[j]));
      expect(firstDiff, `${where}: first differing element`).toBe(-1);
    } else {
      expect(relError(two[i].data, one[i].data), where).toBeLessThan(1e-6);
    }
  }
}

describe('ops on 2 threads give their 1-thread results', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const seed = freshSeed();
      const one = runOn(1, c, seed);
      const two = runOn(2, c, seed);
      expectSame(one, two, `seed ${seed}, 2 threads`);
      // The pool after resizing up and back down still runs every part.
      kd.setNumThreads(3);
      kd.setNumThreads(2);
      expectSame(one, runOn(2, c, seed), `seed ${seed}, 2 threads after resizing to 3 and back`);
      expectSame(one, runOn(3, c, seed), `seed ${seed}, 3 threads`);
    });
  }
});

describe('measurePeakGflops', () => {
  const isas = ['avx512', 'avx2', 'scalar'];
  const available = isas.slice(isas.indexOf(native.cpuIsaDetected() as string));
  for (const isa of available) {
    it(`${isa}: a positive, finite GFLOP/s on 1 and 2 threads`, () => {
      for (const threads of [1, 2]) {
        const gflops: number = native.measurePeakGflops(isa, threads);
        expect(Number.isFinite(gflops) && gflops > 0, `${isa} on ${threads} thread(s): ${gflops}`).toBe(true);
      }
    });
  }
  it('rejects an unknown ISA, an ISA the processor lacks, and a bad thread count', () => {
    expect(() => native.measurePeakGflops('sse9', 1)).toThrow(/expected avx512 \| avx2 \| scalar/);
    expect(() => native.measurePeakGflops('scalar', 0)).toThrow(/threads must be an integer/);
    expect(() => native.measurePeakGflops('scalar', 1.5)).toThrow(/threads must be an integer/);
    const missing = isas.slice(0, isas.indexOf(native.cpuIsaDetected() as string));
    for (const isa of missing) expect(() => native.measurePeakGflops(isa, 1)).toThrow(/lacks/);
  });
});
