// sinh, cosh, trunc and fmod (native kernels) against float64 on every layout, special values and
// int32; lerp, clip, isnan / isinf / isfinite and allclose; backwards against finite differences.
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, forEachIndex, freshSeed, gradcheck, makeRng, numel } from '../helpers.js';
import { LAYOUTS, expectSpecial, f32, laid, values } from './layouts.js';

const TOL = 1e-5;
const SPECIALS = [NaN, Infinity, -Infinity, 0, -0, 1e-10, -1e-10, 0.5, -2.5, 3.7, -3.7, 80, -80, 100];

interface UnaryCase { name: string; run: (t: Tensor) => Tensor; ref: (x: number) => number; lo: number; hi: number }
const unaryCases: UnaryCase[] = [
  { name: 'sinh', run: (t) => t.sinh(), ref: Math.sinh, lo: -6, hi: 6 },
  { name: 'cosh', run: (t) => kd.cosh(t), ref: Math.cosh, lo: -6, hi: 6 },
  { name: 'trunc', run: (t) => kd.trunc(t), ref: Math.trunc, lo: -5, hi: 5 },
];

describe('sinh, cosh, trunc', () => {
  for (const c of unaryCases) {
    it(`${c.name} matches float64 on every layout and odd sizes`, () => {
      const seed = freshSeed(), rng = makeRng(seed), draw = () => c.lo + (c.hi - c.lo) * rng();
      for (const shape of [[1], [7], [1031], [3, 1, 5], [4, 7, 6]]) {
        for (const layout of LAYOUTS) {
          const x = laid(shape, layout, draw);
          const out = c.run(x.t);
          expect(out.dtype).toBe('float32');
          expect(out.shape).toEqual(shape);
          expectClose(values(out), x.ref.map(c.ref), TOL, `seed ${seed} ${c.name} ${layout} ${shape}`);
          out.dispose(); x.free();
        }
      }
    });

    it(`${c.name} gives float32-rounded results on special values`, () => {
      const out = c.run(kd.tensor(SPECIALS, { dtype: 'float32' }));
      const ref = SPECIALS.map((v) => f32(c.ref(f32(v))));
      expectSpecial(values(out), ref, 1e-6, c.name);
      if (c.name === 'trunc') expect([4, 6].map((i) => Object.is(values(out)[i], -0))).toEqual([true, true]);
    });
  }

  it('sinh and cosh promote int32 and bool to float32; trunc keeps int32 and rejects bool', () => {
    expect(kd.sinh(kd.tensor([1, -2])).dtype).toBe('float32');
    expectClose(values(kd.cosh(kd.tensor([true, false]))), [Math.cosh(1), 1], TOL);
    const ti = kd.trunc(kd.tensor([5, -5]));
    expect(ti.dtype).toBe('int32');
    expect(ti.toArray()).toEqual([5, -5]);
    expect(() => kd.trunc(kd.tensor([true]))).toThrow(kd.DTypeError);
  });

  it('sinh, cosh and trunc backward', () => {
    const rng = makeRng(freshSeed());
    const x = kd.tensor(Array.from({ length: 7 }, () => rng() * 4 - 2)).requiresGrad_();
    gradcheck((t) => t.sinh().mul(t.cosh()).sum(), [x], { eps: 1e-3 });
    const y = kd.tensor([1.5, -2.5, 0.3]).requiresGrad_();
    y.trunc().sum().backward();
    expect(Array.from(y.grad!.data())).toEqual([0, 0, 0]);
  });
});

describe('fmod', () => {
  const fmodRef = (a: number, b: number) => a % b;  // JavaScript's % is C's fmod

  it('float fmod matches float64 on every layout with a broadcast divisor', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const draw = () => (rng() - 0.5) * 20;
    const divisor = () => (rng() < 0.5 ? -1 : 1) * (0.5 + rng() * 3);
    for (const layout of LAYOUTS) {
      const a = laid([5, 7], layout, draw), b = laid([1, 7], 'contiguous', divisor);
      const out = a.t.fmod(b.t);
      const ref = new Float64Array(35);
      forEachIndex([5, 7], ([, j], flat) => { ref[flat] = f32(fmodRef(a.ref[flat], b.ref[j])); });
      expectSpecial(values(out), ref, 1e-6, `seed ${seed} fmod ${layout}`);
      out.dispose(); a.free(); b.free();
    }
  });

  it('takes the dividend sign (unlike remainder) and handles special values', () => {
    const a = kd.tensor([5, -5, 5, -5, 0, Infinity, 3, NaN, -0], { dtype: 'float32' });
    const b = kd.tensor([3, 3, -3, -3, 2, 2, Infinity, 1, 3], { dtype: 'float32' });
    expectSpecial(values(a.fmod(b)), [2, -2, 2, -2, 0, NaN, 3, NaN, -0], 0, 'fmod specials');
    expect(Object.is(values(a.fmod(b))[8], -0)).toBe(true);
    expectSpecial(values(kd.fmod(kd.tensor([5, -5]), 2.5)), [0, -0], 0, 'int by fractional scalar');
    expect(kd.fmod(kd.tensor([5, -5]), 2.5).dtype).toBe('float32');
  });

  it('int32 fmod truncates, stays int32, and rejects a zero divisor', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const a = laid([9, 4], 'transposed', () => Math.floor((rng() - 0.5) * 200), 'int32');
    const b = laid([4], 'contiguous', () => (rng() < 0.5 ? -1 : 1) * (1 + Math.floor(rng() * 9)), 'int32');
    const out = kd.fmod(a.t, b.t);
    expect(out.dtype).toBe('int32');
    const ref = new Float64Array(36);
    forEachIndex([9, 4], ([, j], flat) => { ref[flat] = Math.trunc(a.ref[flat] % b.ref[j]) || 0; });
    expect(Array.from(values(out))).toEqual(Array.from(ref));
    expect(kd.tensor([-2147483648]).fmod(-1).item()).toBe(0);
    expect(() => kd.fmod(kd.tensor([5, -5]), kd.tensor([0, 3]))).toThrow(kd.ArgumentError);
    expect(() => kd.fmod(kd.tensor([5, -5]), 0)).toThrow(/fmod.*zero/);
    expect(() => kd.fmod(kd.tensor([true]), kd.tensor([true]))).toThrow(kd.DTypeError);
    expect(kd.fmod(kd.tensor([true, false]), 2).toArray()).toEqual([1, 0]);
    expect(() => kd.fmod(kd.ones([2, 3]), kd.ones([4]))).toThrow(/fmod.*\[2, ?3\]/);
    out.dispose(); a.free(); b.free();
  });

  it('fmod backward: 1 for the dividend, -trunc(a / b) for the divisor', () => {
    const rng = makeRng(freshSeed());
    // Dividends at least 0.2 |b| away from the jumps at multiples of b, so finite differences are smooth.
    const divisors = [1.3, -2.1, 0.7];
    const a = kd.tensor(Array.from({ length: 6 }, (_, i) => divisors[i % 3] * (Math.floor((rng() - 0.5) * 8) + 0.2 + 0.6 * rng()))).reshape([2, 3]).requiresGrad_();
    const b = kd.tensor(divisors).requiresGrad_();
    gradcheck((x, y) => x.fmod(y).mul(x).sum(), [a, b], { eps: 1e-3 });
  });
});

describe('lerp and clip', () => {
  it('lerp with a scalar and a broadcast tensor weight matches float64', () => {
    const seed = freshSeed(), rng = makeRng(seed), draw = () => rng() * 4 - 2;
    const s = laid([3, 5], 'transposed', draw), e = laid([5], 'sliced', draw), w = laid([4, 1, 1], 'contiguous', () => rng() * 1.6 - 0.3);
    for (const weight of [0.25, 0.75, 1]) {
      const out = kd.lerp(s.t, e.t, weight);
      const ref = new Float64Array(15);
      forEachIndex([3, 5], ([, j], flat) => { ref[flat] = s.ref[flat] + weight * (e.ref[j] - s.ref[flat]); });
      expectClose(values(out), ref, TOL, `seed ${seed} lerp weight ${weight}`);
      if (weight === 1) expect(Array.from(values(out))).toEqual(Array.from(ref).map(f32));
    }
    const out = s.t.lerp(e.t, w.t);
    expect(out.shape).toEqual([4, 3, 5]);
    const ref = new Float64Array(60);
    forEachIndex([4, 3, 5], ([k, i, j], flat) => { ref[flat] = s.ref[i * 5 + j] + w.ref[k] * (e.ref[j] - s.ref[i * 5 + j]); });
    expectClose(values(out), ref, TOL, `seed ${seed} lerp tensor weight`);
    s.free(); e.free(); w.free();
  });

  it('lerp backward for start, end and weight', () => {
    const rng = makeRng(freshSeed());
    const r = (shape: number[], lo = -1, hi = 1) => kd.tensor(Array.from({ length: numel(shape) }, () => lo + (hi - lo) * rng())).reshape(shape).requiresGrad_();
    gradcheck((a, b, w) => kd.lerp(a, b, w).square().sum(), [r([2, 3]), r([3]), r([2, 1], -0.2, 1.2)], { eps: 1e-3 });
    gradcheck((a, b) => kd.lerp(a, b, 0.8).square().sum(), [r([4]), r([4])], { eps: 1e-3 });
  });

  it('lerp rejects int tensors', () => {
    expect(() => kd.lerp(kd.tensor([1, 2]), kd.tensor([3, 4]), 0.5)).toThrow(kd.DTypeError);
  });

  it('clip is clamp', () => {
    const x = kd.tensor([-2, -0.5, 0.5, 2]);
    expect(x.clip(-1, 1).toArray()).toEqual(x.clamp(-1, 1).toArray());
    expect(kd.clip(kd.tensor([1, 5]), 2, 3).toArray()).toEqual([2, 3]);
    expect(() => kd.clip(x)).toThrow(kd.ArgumentError);
  });
});

describe('isnan, isinf, isfinite, allclose', () => {
  it('classify special values on a sliced view; ints and bools are all finite', () => {
    const base = kd.tensor([0, NaN, 1, Infinity, 2, -Infinity, 3, -0, 4, 1e38], { dtype: 'float32' });
    const x = base.slice(0, 1, null, 2);  // NaN, Inf, -Inf, -0, 1e38
    expect(x.isnan().toArray()).toEqual([true, false, false, false, false]);
    expect(kd.isinf(x).toArray()).toEqual([false, true, true, false, false]);
    expect(kd.isfinite(x).toArray()).toEqual([false, false, false, true, true]);
    expect(kd.isfinite(kd.tensor([1, 2])).toArray()).toEqual([true, true]);
    expect(kd.isinf(kd.tensor([true])).toArray()).toEqual([false]);
    expect(kd.isnan(kd.tensor([[1, 2]])).shape).toEqual([1, 2]);
  });

  it('allclose applies |a - b| <= atol + rtol |b| with broadcasting, NaN and infinity rules', () => {
    const a = kd.tensor([1, 2, 3], { dtype: 'float32' }), b = kd.tensor([1 + 5e-6, 2, 3 - 4e-5]);
    expect(a.allclose(b)).toBe(false);
    expect(a.allclose(b, { rtol: 1e-5, atol: 2e-5 })).toBe(true);
    expect(kd.allclose(kd.tensor([1, 1]), kd.tensor([1]))).toBe(true);
    expect(kd.allclose(kd.tensor([Infinity]), kd.tensor([Infinity]))).toBe(true);
    expect(kd.allclose(kd.tensor([Infinity]), kd.tensor([-Infinity]))).toBe(false);
    expect(kd.allclose(kd.tensor([NaN]), kd.tensor([NaN]))).toBe(false);
    expect(kd.allclose(kd.tensor([NaN]), kd.tensor([NaN]), { equalNan: true })).toBe(true);
    expect(kd.allclose(kd.tensor([1, 2]), kd.tensor([1, 2]))).toBe(true);
    expect(kd.allclose(kd.tensor([1, 2]), kd.tensor([1, 3]), { atol: 1 })).toBe(true);
    expect(() => kd.allclose(kd.tensor([1.5]), kd.tensor([1]))).toThrow(kd.DTypeError);
    expect(() => kd.allclose(kd.ones([2]), kd.ones([3]))).toThrow(kd.ShapeError);
  });

  it('allclose on random values agrees with an element-by-element float64 check', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    for (let trial = 0; trial < 20; trial++) {
      const n = 1 + Math.floor(rng() * 50);
      const av = Array.from({ length: n }, () => rng() * 10 - 5);
      const bv = av.map((v) => (rng() < 0.1 ? v * (1 + (rng() - 0.5) * 1e-3) : v));
      const a = kd.tensor(av), b = kd.tensor(bv);
      const [af, bf] = [values(a), values(b)];
      const expected = Array.from(af).every((v, i) => Math.abs(v - bf[i]) <= 1e-8 + 1e-5 * Math.abs(bf[i]));
      expect(kd.allclose(a, b), `seed ${seed} trial ${trial}`).toBe(expected);
    }
  });
});

describe('numel', () => {
  it('kd.numel agrees with the t.numel getter', () => {
    const t = kd.zeros([3, 0, 2]), u = kd.ones([2, 5]).T;
    expect(kd.numel(t)).toBe(0);
    expect(kd.numel(u)).toBe(10);
    expect(u.numel).toBe(10);
    expect(kd.numel(kd.tensor(3))).toBe(1);
  });
});

describe.skipIf(!kd.cuda.isAvailable())('on a CUDA device (skipped without one)', () => {
  const onCuda = (t: Tensor) => t.to('cuda');
  const back = (t: Tensor) => values(t.to('cpu'));

  it('sinh, cosh and trunc on a transposed CUDA view match the CPU', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const x = kd.tensor(Array.from({ length: 63 }, () => rng() * 12 - 6), { dtype: 'float32' }).reshape([7, 9]);
    for (const op of ['sinh', 'cosh', 'trunc'] as const) {
      const cpu = x.T[op](), gpu = onCuda(x).T[op]();
      expect(gpu.device).toBe('cuda');
      expectClose(back(gpu), values(cpu), TOL, `seed ${seed} ${op} on CUDA`);
    }
    expect(back(kd.trunc(onCuda(kd.tensor([5, -5]))))).toEqual(Float64Array.from([5, -5]));
  });

  it('float and int32 fmod with a broadcast divisor match the CPU, and a zero int divisor throws', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const a = kd.tensor(Array.from({ length: 35 }, () => (rng() - 0.5) * 20), { dtype: 'float32' }).reshape([5, 7]);
    const b = kd.tensor(Array.from({ length: 7 }, () => (rng() < 0.5 ? -1 : 1) * (0.5 + rng() * 3)), { dtype: 'float32' });
    expectSpecial(back(onCuda(a).fmod(onCuda(b))), values(a.fmod(b)), 1e-6, `seed ${seed} float fmod on CUDA`);
    const ai = kd.tensor(Array.from({ length: 35 }, () => Math.floor((rng() - 0.5) * 200))).reshape([5, 7]);
    const bi = kd.tensor(Array.from({ length: 7 }, () => (rng() < 0.5 ? -1 : 1) * (1 + Math.floor(rng() * 9))));
    expect(back(onCuda(ai).fmod(onCuda(bi)))).toEqual(values(ai.fmod(bi)));
    expect(() => onCuda(ai).fmod(0)).toThrow(kd.ArgumentError);
  });
});
