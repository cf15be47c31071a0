// Making tensors: from JS data (nested arrays, typed arrays), filled, random (seeded), ranges.
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import { expectClose, freshSeed } from '../helpers.js';
import { values } from './layouts.js';

describe('kd.tensor', () => {
  it('nested arrays give the shape; whole numbers int32, fractions float32, booleans bool', () => {
    const i = kd.tensor([[1, 2, 3], [4, 5, 6]]);
    expect(i.shape).toEqual([2, 3]);
    expect(i.dtype).toBe('int32');
    expect(i.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    const f = kd.tensor([[1, 2.5]]);
    expect(f.dtype).toBe('float32');
    expect(f.toArray()).toEqual([[1, 2.5]]);
    const b = kd.tensor([[true], [false]]);
    expect(b.dtype).toBe('bool');
    expect(b.toArray()).toEqual([[true], [false]]);
    expect(kd.tensor([true, 2]).dtype).toBe('int32');
    expect(kd.tensor([NaN, 1]).dtype).toBe('float32');
    const s = kd.tensor(3.25);
    expect(s.shape).toEqual([]);
    expect(s.item()).toBe(3.25);
    expect(kd.tensor(7).dtype).toBe('int32');
    expect(kd.tensor([]).shape).toEqual([0]);
    expect(kd.tensor([]).dtype).toBe('float32');
    expect(kd.tensor([[], []]).shape).toEqual([2, 0]);
    expect(kd.tensor([[[1]], [[2]]]).shape).toEqual([2, 1, 1]);
  });

  it('an explicit dtype converts: fractions truncate toward zero into int32, numbers into bool by non-zero', () => {
    expect(kd.tensor([1.7, -1.7, 2], { dtype: 'int32' }).toArray()).toEqual([1, -1, 2]);
    expect(kd.tensor([0, 2, -0.5], { dtype: 'bool' }).toArray()).toEqual([false, true, true]);
    expect(kd.tensor([1, 2], { dtype: 'float32' }).dtype).toBe('float32');
    expect(() => kd.tensor([1], { dtype: 'float64' as 'float32' })).toThrow(kd.DTypeError);
  });

  it('typed arrays: Float32Array/Float64Array -> float32, Int32Array -> int32, with a dtype override', () => {
    const f = kd.tensor(new Float64Array([0.1, 0.2]));
    expect(f.dtype).toBe('float32');
    expect(Array.from(values(f))).toEqual([Math.fround(0.1), Math.fround(0.2)]);
    expect(kd.tensor(new Int32Array([3, -4])).toArray()).toEqual([3, -4]);
    expect(kd.tensor(new Float32Array([1.5, 2.5]), { dtype: 'int32' }).toArray()).toEqual([1, 2]);
    // The tensor holds a copy: later writes to the source do not show.
    const src = new Float32Array([1, 2, 3]);
    const t = kd.tensor(src);
    src[0] = 99;
    expect(t.toArray()).toEqual([1, 2, 3]);
  });

  it('ragged nested arrays throw ShapeError; non-numbers and int32 overflow throw', () => {
    expect(() => kd.tensor([[1, 2], [3]])).toThrow(kd.ShapeError);
    expect(() => kd.tensor([[1, 2], 3] as never)).toThrow(kd.ShapeError);
    expect(() => kd.tensor([1, [2]] as never)).toThrow(kd.KindlingError);
    expect(() => kd.tensor(['a'] as never)).toThrow(kd.KindlingError);
    expect(() => kd.tensor([2147483648])).toThrow(kd.KindlingError);
    expect(() => kd.tensor([-2147483649])).toThrow(/int32/);
    expect(kd.tensor([2147483647, -2147483648]).toArray()).toEqual([2147483647, -2147483648]);
    expect(kd.tensor([2147483648.5]).dtype).toBe('float32');
    expect(() => kd.tensor(kd.ones([1]) as never)).toThrow(kd.ArgumentError);
    expect(() => kd.tensor([1], { device: 'tpu' as 'cpu' })).toThrow(kd.DeviceError);
  });

  it('requiresGrad option marks a float leaf; int tensors refuse it', () => {
    const t = kd.tensor([1.5], { requiresGrad: true });
    expect(t.requiresGrad).toBe(true);
    expect(t.isLeaf).toBe(true);
    expect(() => kd.tensor([1, 2], { requiresGrad: true })).toThrow(kd.DTypeError);
  });
});

describe('filled tensors', () => {
  it('zeros / ones / full / empty accept f(2,3), f([2,3]) and options', () => {
    expect(kd.zeros(2, 3).toArray()).toEqual([[0, 0, 0], [0, 0, 0]]);
    expect(kd.ones([2]).toArray()).toEqual([1, 1]);
    expect(kd.ones([2], { dtype: 'int32' }).dtype).toBe('int32');
    expect(kd.zeros(2, { dtype: 'bool' }).toArray()).toEqual([false, false]);
    expect(kd.zeros([]).shape).toEqual([]);
    expect(kd.zeros([0, 4]).numel).toBe(0);
    expect(kd.full([2, 2], 1.5).toArray()).toEqual([[1.5, 1.5], [1.5, 1.5]]);
    expect(kd.full([2], 3).dtype).toBe('int32');
    expect(kd.full([2], true).dtype).toBe('bool');
    expect(kd.full([3], -Infinity).toArray()).toEqual([-Infinity, -Infinity, -Infinity]);
    expect(kd.full([1], NaN, { dtype: 'int32' }).toArray()).toEqual([0]);
    expect(kd.full([1], 1e20, { dtype: 'int32' }).toArray()).toEqual([2147483647]);
    const e = kd.empty([3, 2]);
    expect(e.shape).toEqual([3, 2]);
    expect(e.dtype).toBe('float32');
    expect(kd.zeros([2], { requiresGrad: true }).requiresGrad).toBe(true);
  });

  it('invalid sizes throw ShapeError naming the op', () => {
    expect(() => kd.zeros([-1])).toThrow(kd.ShapeError);
    expect(() => kd.zeros([-1])).toThrow(/zeros: invalid size -1/);
    expect(() => kd.ones([2.5])).toThrow(kd.ShapeError);
    expect(() => kd.full([NaN], 1)).toThrow(kd.ShapeError);
    expect(() => kd.empty(new Array(17).fill(1))).toThrow(kd.ShapeError);
  });

  it('*Like copy shape, dtype and device, with overrides', () => {
    const t = kd.ones([2, 3], { dtype: 'int32' });
    expect(kd.zerosLike(t).dtype).toBe('int32');
    expect(kd.zerosLike(t).toArray()).toEqual([[0, 0, 0], [0, 0, 0]]);
    expect(kd.onesLike(t, { dtype: 'float32' }).dtype).toBe('float32');
    expect(kd.fullLike(t, 7).toArray()).toEqual([[7, 7, 7], [7, 7, 7]]);
    expect(kd.randLike(t).dtype).toBe('float32');
    expect(kd.randnLike(t.T).shape).toEqual([3, 2]);
  });

  it('eye: square, rectangular and dtype', () => {
    expect(kd.eye(3).toArray()).toEqual([[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
    expect(kd.eye(2, 3).toArray()).toEqual([[1, 0, 0], [0, 1, 0]]);
    expect(kd.eye(3, 1).toArray()).toEqual([[1], [0], [0]]);
    expect(kd.eye(2, 2, { dtype: 'int32' }).dtype).toBe('int32');
    expect(kd.eye(0).shape).toEqual([0, 0]);
    expect(() => kd.eye(-1)).toThrow(kd.ShapeError);
  });
});

describe('random', () => {
  it('manualSeed makes rand, randn and randint repeat exactly', () => {
    const seed = freshSeed();
    kd.manualSeed(seed);
    const a = [kd.rand([50]), kd.randn([51]), kd.randint(0, 10, [52])].map(values);
    kd.manualSeed(seed);
    const b = [kd.rand([50]), kd.randn([51]), kd.randint(0, 10, [52])].map(values);
    a.forEach((v, i) => expect(Array.from(v), `stream ${i} seed ${seed}`).toEqual(Array.from(b[i])));
    kd.manualSeed(seed + 1);
    expect(Array.from(values(kd.rand([50])))).not.toEqual(Array.from(a[0]));
  });

  it('rand is uniform on [0, 1): bounds, mean 1/2, variance 1/12 over 1e5 samples', () => {
    const seed = freshSeed();
    kd.manualSeed(seed);
    const v = values(kd.rand([100_000]));
    let min = Infinity, max = -Infinity, s = 0, s2 = 0;
    for (const x of v) { min = Math.min(min, x); max = Math.max(max, x); s += x; s2 += x * x; }
    const mean = s / v.length, variance = s2 / v.length - mean * mean;
    expect(min, `seed ${seed}`).toBeGreaterThanOrEqual(0);
    expect(max, `seed ${seed}`).toBeLessThan(1);
    expect(Math.abs(mean - 0.5), `seed ${seed}`).toBeLessThan(0.01);
    expect(Math.abs(variance - 1 / 12), `seed ${seed}`).toBeLessThan(0.005);
  });

  it('randn has mean 0, std 1 and normal tails over 1e5 samples', () => {
    const seed = freshSeed();
    kd.manualSeed(seed);
    const t = kd.randn([100_000]);
    const mean = t.mean().item(), std = t.std().item();
    expect(Math.abs(mean), `seed ${seed}`).toBeLessThan(0.02);
    expect(Math.abs(std - 1), `seed ${seed}`).toBeLessThan(0.02);
    const v = values(t);
    const beyond2 = v.filter((x) => Math.abs(x) > 2).length / v.length;
    expect(Math.abs(beyond2 - 0.0455), `seed ${seed}`).toBeLessThan(0.005);
    expect(v.every(Number.isFinite)).toBe(true);
  });

  it('randint covers [low, high) evenly and never reaches high', () => {
    const seed = freshSeed();
    kd.manualSeed(seed);
    const t = kd.randint(-3, 4, [70_000]);
    expect(t.dtype).toBe('int32');
    const counts = new Map<number, number>();
    for (const x of values(t)) counts.set(x, (counts.get(x) ?? 0) + 1);
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual([-3, -2, -1, 0, 1, 2, 3]);
    for (const c of counts.values()) expect(Math.abs(c - 10_000), `seed ${seed}`).toBeLessThan(600);
    expect(() => kd.randint(5, 5, [2])).toThrow(kd.ArgumentError);
    expect(() => kd.randint(0, 1.5, [2])).toThrow(kd.ArgumentError);
    expect(() => kd.rand([2], { dtype: 'int32' })).toThrow(kd.KindlingError);
  });
});

describe('ranges', () => {
  it('arange: end only, start/end, positive and negative steps, int and float', () => {
    expect(kd.arange(5).toArray()).toEqual([0, 1, 2, 3, 4]);
    expect(kd.arange(5).dtype).toBe('int32');
    expect(kd.arange(2, 6).toArray()).toEqual([2, 3, 4, 5]);
    expect(kd.arange(10, 0, -3).toArray()).toEqual([10, 7, 4, 1]);
    expect(kd.arange(0, 1, 0.25).toArray()).toEqual([0, 0.25, 0.5, 0.75]);
    expect(kd.arange(0, 1, 0.25).dtype).toBe('float32');
    expect(kd.arange(1, -1, -0.5).toArray()).toEqual([1, 0.5, 0, -0.5]);
    expect(kd.arange(3, { dtype: 'float32' }).dtype).toBe('float32');
    expect(kd.arange(0, 5, 1, { dtype: 'float32' }).toArray()).toEqual([0, 1, 2, 3, 4]);
    expect(kd.arange(5, 2).shape).toEqual([0]);
    const f = kd.arange(0, 0.9, 0.1);
    expect(f.shape).toEqual([9]);
    expectClose(values(f), [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], 1e-6, 'arange 0.1');
    expect(() => kd.arange(0, 5, 0)).toThrow(kd.ArgumentError);
    expect(() => kd.arange(0, Infinity)).toThrow(kd.ArgumentError);
    expect(() => kd.arange(0, 1e12)).toThrow(kd.ShapeError);
  });

  it('linspace includes both ends; 1 and 0 steps', () => {
    expectClose(values(kd.linspace(-1, 1, 5)), [-1, -0.5, 0, 0.5, 1], 1e-7, 'linspace');
    expect(kd.linspace(2, 3, 1).toArray()).toEqual([2]);
    expect(kd.linspace(2, 3, 0).shape).toEqual([0]);
    expect(kd.linspace(0, 10, 11).toArray()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(() => kd.linspace(0, 1, -1)).toThrow(kd.ArgumentError);
    expect(() => kd.linspace(0, 1, 2 ** 40)).toThrow(kd.ShapeError);
  });
});

describe('int32 tensors from data', () => {
  it('NaN, infinities and values beyond int32 are ArgumentErrors naming the value, from arrays and typed arrays', () => {
    for (const bad of [NaN, Infinity, -Infinity, 1e20, 2 ** 31, -(2 ** 31) - 1]) {
      expect(() => kd.tensor(Float64Array.from([1, bad]), { dtype: 'int32' }), String(bad)).toThrow(kd.ArgumentError);
      expect(() => kd.tensor(Float64Array.from([1, bad]), { dtype: 'int32' }), String(bad)).toThrow(new RegExp(`value ${String(bad).replace('+', '\\+')} at index 1`));
      if (Math.fround(bad) !== -(2 ** 31)) expect(() => kd.tensor(Float32Array.from([bad]), { dtype: 'int32' }), String(bad)).toThrow(kd.ArgumentError);
      expect(() => kd.tensor([[0], [bad]], { dtype: 'int32' }), String(bad)).toThrow(kd.ArgumentError);
    }
  });

  it('values in range convert, fractions truncating toward zero as PyTorch does', () => {
    expect(kd.tensor(Float64Array.from([2 ** 31 - 1, -(2 ** 31), 2.7, -2.7]), { dtype: 'int32' }).toArray()).toEqual([2147483647, -2147483648, 2, -2]);
    expect(kd.tensor([1.9, -0.5], { dtype: 'int32' }).toArray()).toEqual([1, 0]);
    expect(kd.tensor(Uint8Array.from([255]), { dtype: 'int32' }).toArray()).toEqual([255]);
    expect(kd.tensor(Float64Array.from([NaN])).toArray()).toEqual([NaN]);
  });
});
