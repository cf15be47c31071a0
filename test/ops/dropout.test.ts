// F.dropout's fused kernel (lib/ops/dropout.ts, native/common/dropout.h) against the float64
// reference with the same counter-based mask, on every ISA build and 1 and 2 threads: sizes across
// the 65536-element key blocks, strided inputs, the backward (the same mask on the gradient),
// double backward, the keep rate, repeatability under kd.manualSeed, and bad input.
import { afterEach, describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import { native } from '../../lib/native.js';
import { getRngState, setRngState } from '../../lib/random.js';
import { dropoutSeed } from '../../lib/ops/attention.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, expectError, freshSeed, makeRng, randomTensor } from '../helpers.js';

const seed = freshSeed();
const F = kd.nn.functional;
const isaAtStart = kd.cpuIsa();
const threadsAtStart = kd.getNumThreads();
afterEach(() => {
  kd.setCpuIsa(isaAtStart);
  kd.setNumThreads(threadsAtStart);
});

const values = (t: Tensor) => Float64Array.from(t.contiguous().data() as Float32Array);

/** The float64 reference of x under the mask the next dropout call will draw (the generator is left as it was). */
function nextMaskRef(x: Float64Array, p: number): Float64Array {
  const state = getRngState();
  const s = dropoutSeed();
  setRngState(state);
  const out = new Float64Array(x.length);
  native.dropoutRef(p, s, x, out);
  return out;
}

function underEachBuild(fn: (context: string) => void): void {
  for (const isa of ['scalar', 'avx2', 'avx512'] as const) {
    if (!kd.setCpuIsa(isa)) continue;
    for (const threads of [1, 2]) {
      kd.setNumThreads(threads);
      fn(`${isa}, ${threads} thread(s)`);
    }
  }
}

describe(`dropout kernel (seed ${seed})`, () => {
  const cases: [number[], number][] = [[[1], 0.5], [[17], 0.1], [[3, 5, 7], 0.3], [[65536 + 37], 0.1], [[2, 70001], 0.9]];
  for (const [shape, p] of cases) {
    it(`${JSON.stringify(shape)} with p ${p}: output and gradient match float64 with the same mask`, () => {
      const rng = makeRng(seed + shape.length * 100 + shape[0]!);
      const { t: x, ref: xr } = randomTensor(rng, shape, -2, 2);
      const { t: w, ref: wr } = randomTensor(rng, shape);
      underEachBuild((build) => {
        kd.manualSeed(seed);
        const want = nextMaskRef(xr, p), wantGrad = nextMaskRef(wr, p);
        const xs = x.detach().requiresGrad_();
        const out = F.dropout(xs, p, true);
        expectClose(values(out), want, 1e-7, `${build} out`);
        out.mul(w).sum().backward();
        expectClose(values(xs.grad!), wantGrad, 1e-7, `${build} grad`);
        // Zeros exactly where the reference drops.
        const got = values(out);
        expect(want.every((v, i) => (v === 0) === (got[i] === 0) || xr[i] === 0)).toBe(true);
      });
    });
  }

  it('reads a transposed view and keeps its shape', () => {
    const rng = makeRng(seed + 1);
    const { t: base } = randomTensor(rng, [37, 29]);
    const x = base.transpose(0, 1);
    kd.manualSeed(seed);
    const want = nextMaskRef(values(x), 0.25);
    const out = F.dropout(x, 0.25, true);
    expect(out.shape).toEqual([29, 37]);
    expectClose(values(out), want, 1e-7, 'transposed');
  });

  it('keeps about 1 - p of the elements, scaled so the mean is kept; a new mask per call, the same under manualSeed', () => {
    const n = 1 << 18;
    const ones = kd.ones([n]);
    for (const p of [0.1, 0.5]) {
      kd.manualSeed(seed);
      const a = values(F.dropout(ones, p, true));
      const kept = a.filter((v) => v !== 0).length / n;
      expect(Math.abs(kept - (1 - p))).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n));
      const scale = Math.fround(1 / (1 - p));
      expect(a.every((v) => v === 0 || v === scale)).toBe(true);
      const b = values(F.dropout(ones, p, true));
      expect(b.some((v, i) => v !== a[i])).toBe(true);
      kd.manualSeed(seed);
      const again = values(F.dropout(ones, p, true));
      expect(again.every((v, i) => v === a[i])).toBe(true);
    }
  });

  it('double backward: the gradient is itself the same dropout, so it differentiates again', () => {
    const rng = makeRng(seed + 2);
    const { t: x, ref: xr } = randomTensor(rng, [5, 9], 0.5, 1, true);
    const { t: w, ref: wr } = randomTensor(rng, [5, 9], -1, 1, true);
    const out = F.dropout(x, 0.4, true);
    const mask = values(out).map((v, i) => v / xr[i]!);  // 0 or the scale
    out.mul(w).sum().backward(undefined, { createGraph: true });
    expect(x.grad!.requiresGrad).toBe(true);
    expectClose(values(x.grad!), mask.map((m, i) => m * wr[i]!), 1e-6, 'x.grad = mask · w');
    w.grad = null;
    x.grad!.sum().backward();
    expectClose(values(w.grad!), mask, 1e-6, 'd sum(x.grad) / dw = mask');
  });

  it('p 0 and eval mode are the identity, p 1 zeroes; bad p and bad binding calls throw', () => {
    const x = kd.randn([4, 6]);
    expect(values(F.dropout(x, 0, true))).toEqual(values(x));
    expect(values(F.dropout(x, 0.5, false))).toEqual(values(x));
    expect(values(F.dropout(x, 1, true)).every((v) => v === 0)).toBe(true);
    expectError(() => F.dropout(x, 1.5, true), kd.ArgumentError, 'dropout', 'between 0 and 1');
    const out = kd.zeros([4]);
    expect(() => native.dropout(0.5, 1, 4, out.handle, 0, [2], x.handle, 0, [1])).toThrow(/contiguous|outside/);
    expect(() => native.dropout(0.5, -1, 4, out.handle, 0, [1], x.handle, 0, [1])).toThrow(/seed/);
    expect(() => native.dropout(2, 1, 4, out.handle, 0, [1], x.handle, 0, [1])).toThrow(/p must/);
    expect(() => native.dropout(0.5, 1, 5, out.handle, 0, [1], x.handle, 0, [1])).toThrow();
  });
});
