// The kernels that once picked their build with GCC's target_clones (the reduce sums, the fused
// Adam loop, the conv weight gradient by dot products) now follow kd.setCpuIsa like every other
// kernel: under each ISA this processor offers they match a float64 reference, the builds they
// run are the ones the dispatch counters (native.isaDispatchCounts) report, and where the
// builds differ in arithmetic (AVX2 contracts a·b + c into one FMA, the portable build does not)
// the results show which one ran: the portable Adam matches a float32 emulation bit for bit.
import { afterAll, describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import type { CpuIsa } from '../../lib/runtime.js';
import { native } from '../../lib/native.js';
import { conv2d } from '../../lib/ops/conv.js';
import { Adam } from '../../lib/optim/index.js';
import { expectClose, freshSeed, makeRng, randomTensor } from '../helpers.js';

const isaAtStart = kd.cpuIsa();
const threadsAtStart = kd.getNumThreads();
afterAll(() => {
  kd.setCpuIsa(isaAtStart);
  kd.setNumThreads(threadsAtStart);
});

const ISAS = (['avx512', 'avx2', 'scalar'] as const).filter((isa) => {
  const ok = kd.setCpuIsa(isa);
  kd.setCpuIsa(isaAtStart);
  return ok;
});

// These kernels have portable and AVX2 builds; AVX-512 machines run the AVX2 one.
const buildOf = (isa: CpuIsa): CpuIsa => (isa === 'scalar' ? 'scalar' : 'avx2');

type Counts = Record<CpuIsa, number>;

/** Runs fn and returns what it returned and how many kernel calls ran each ISA's build meanwhile. */
function counted<T>(fn: () => T): { value: T; calls: Counts } {
  const before = native.isaDispatchCounts() as Counts;
  const value = fn();
  const after = native.isaDispatchCounts() as Counts;
  const calls = { avx512: after.avx512 - before.avx512, avx2: after.avx2 - before.avx2, scalar: after.scalar - before.scalar };
  return { value, calls };
}

/** Only `build` ran (at least once), and, unless allowed, no other build did. */
function expectOnly(calls: Counts, build: CpuIsa, alsoAllowed: CpuIsa[] = []): void {
  expect(calls[build]).toBeGreaterThan(0);
  for (const other of ['avx512', 'avx2', 'scalar'] as const)
    if (other !== build && !alsoAllowed.includes(other)) expect(calls[other], `${other} build ran`).toBe(0);
}

const values = (t: Tensor): Float32Array => Float32Array.from(t.data() as Float32Array);

describe('kernels formerly built with target_clones follow setCpuIsa', () => {
  const seed = freshSeed();

  describe.each(ISAS)('under %s', (isa) => {
    it(`sums rows and columns of a matrix as float64 does (seed ${seed})`, () => {
      const rng = makeRng(seed);
      const { t: x, ref } = randomTensor(rng, [37, 1001]);
      const rowRef = Array.from({ length: 37 }, (_, i) => ref.subarray(i * 1001, (i + 1) * 1001).reduce((a, b) => a + b, 0));
      const colRef = Array.from({ length: 1001 }, (_, j) => {
        let s = 0;
        for (let i = 0; i < 37; i++) s += ref[i * 1001 + j];
        return s;
      });
      expect(kd.setCpuIsa(isa)).toBe(true);
      const rows = counted(() => values(x.sum(1)));
      const cols = counted(() => values(x.sum(0)));
      expectClose(rows.value, rowRef, 1e-6, `seed ${seed}`);
      expectClose(cols.value, colRef, 1e-6, `seed ${seed}`);
      expectOnly(rows.calls, buildOf(isa));
      expectOnly(cols.calls, buildOf(isa));
    });

    it(`steps Adam with weight decay as float64 does (seed ${seed})`, () => {
      const rng = makeRng(seed + 1);
      const n = 4099;
      const { ref: p0 } = randomTensor(rng, [n]);
      const { ref: g } = randomTensor(rng, [n]);
      expect(kd.setCpuIsa(isa)).toBe(true);
      const { value: p1, calls } = counted(() => adamStep(p0, g, 'run'));
      expectClose(p1, adamStep(p0, g, 'float64'), 1e-6, `seed ${seed}`);
      expectOnly(calls, buildOf(isa));
      const emulated = adamStep(p0, g, 'float32');
      const differing = p1.filter((v, i) => v !== emulated[i]).length;
      // The portable build rounds every operation to float32 in source order; the AVX2 build fuses
      // multiply-adds, so it must differ somewhere among 4099 elements.
      if (buildOf(isa) === 'scalar') expect(differing).toBe(0);
      else expect(differing).toBeGreaterThan(0);
    });

    it(`takes the weight gradient of a one-channel padded conv2d as float64 does (seed ${seed})`, () => {
      // c/groups·kh·kw = 9 < 16: the gradient is one dot product per weight (conv_weight_dots_*).
      const rng = makeRng(seed + 2);
      const [n, h, w, k] = [3, 11, 9, 5];
      const { t: x, ref: xr } = randomTensor(rng, [n, 1, h, w]);
      const { t: weight } = randomTensor(rng, [k, 1, 3, 3], -1, 1, true);
      const { t: gout, ref: gr } = randomTensor(rng, [n, k, h, w]);
      const ref = new Float64Array(k * 9);
      for (let b = 0; b < n; b++)
        for (let o = 0; o < k; o++)
          for (let y = 0; y < h; y++)
            for (let z = 0; z < w; z++)
              for (let ky = 0; ky < 3; ky++)
                for (let kx = 0; kx < 3; kx++) {
                  const iy = y + ky - 1, ix = z + kx - 1;
                  if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                  ref[o * 9 + ky * 3 + kx] += gr[((b * k + o) * h + y) * w + z] * xr[(b * h + iy) * w + ix];
                }
      expect(kd.setCpuIsa(isa)).toBe(true);
      kd.setNumThreads(1);
      const grad = () => {
        weight.grad = null;
        conv2d(x, weight, null, { padding: 1 }).mul(gout).sum().backward();
        return values(weight.grad!);
      };
      const { value: dw, calls } = counted(grad);
      expectClose(dw, ref, 1e-5, `seed ${seed}`);
      // The conv entry and its GEMMs may run the AVX-512 build; nothing else may.
      expectOnly(calls, buildOf(isa), isa === 'avx512' ? ['avx512'] : []);
      if (isa === 'scalar' && ISAS.includes('avx2')) {
        kd.setCpuIsa('avx2');
        const fused = grad();
        expect(dw.some((v, i) => v !== fused[i]), 'the portable and AVX2 builds gave the same bits').toBe(true);
      }
    });
  });
});

const f32 = Math.fround;
const LR = 0.01, BETAS = [0.9, 0.999] as const, EPS = 1e-8, WD = 0.1;

/**
 * One Adam step (torch.optim.Adam, weightDecay added to the gradient) from zero state:
 * 'run' through kd.optim.Adam, 'float64' in double precision, 'float32' as the portable kernel
 * computes it (cpu/optim_impl.h: every operation rounded to float32, in source order).
 */
function adamStep(p0: Float64Array, g: Float64Array, how: 'run' | 'float64' | 'float32'): Float32Array | Float64Array {
  if (how === 'run') {
    const p = kd.tensor(Float32Array.from(p0)).requiresGrad_();
    p.grad = kd.keep(kd.tensor(Float32Array.from(g)));
    new Adam([p], { lr: LR, betas: [...BETAS], eps: EPS, weightDecay: WD }).step();
    return values(p);
  }
  if (how === 'float64') {
    return p0.map((p, i) => {
      const gi = g[i] + WD * p;
      const m = (1 - BETAS[0]) * gi, v = (1 - BETAS[1]) * gi * gi;
      return p - (LR / (1 - BETAS[0])) * (m / (Math.sqrt(v) / Math.sqrt(1 - BETAS[1]) + EPS));
    });
  }
  const lr = f32(LR), b1 = f32(BETAS[0]), b2 = f32(BETAS[1]), eps = f32(EPS), wd = f32(WD);
  const stepSize = f32(lr / (1 - b1)), bc2Sqrt = f32(Math.sqrt(1 - b2));
  const w1 = f32(1 - b1), w2 = f32(1 - b2);
  return Float32Array.from(p0, (p, i) => {
    const gi = f32(g[i] + f32(wd * p));
    const m = f32(w1 * gi); // m + w1 (gi − m) with m = 0
    const v = f32(f32(w2 * gi) * gi); // b2 v + w2 gi gi with v = 0
    const denom = f32(f32(f32(Math.sqrt(v)) / bc2Sqrt) + eps);
    return f32(p - f32(stepSize * f32(m / denom)));
  });
}
