// The Tensor object itself: printing like PyTorch's repr, data()/toArray()/item(), dtype
// conversion with to(), and dispose/tidy semantics.
import { inspect } from 'node:util';

import { describe, expect, it } from 'vitest';

import * as kd from '../lib/index.js';
import { freshSeed, makeRng } from './helpers.js';

describe('printing', () => {
  it('floats, integral floats, ints, bools and 0-d tensors print like PyTorch', () => {
    expect(String(kd.tensor([1.5, -2.25]))).toBe('tensor([ 1.5000, -2.2500])');
    expect(String(kd.tensor([1, 2], { dtype: 'float32' }))).toBe('tensor([1., 2.])');
    expect(String(kd.tensor([1, -20]))).toBe('tensor([  1, -20], dtype=kindling.int32)');
    expect(String(kd.tensor([true, false]))).toBe('tensor([ True, False])');
    expect(String(kd.tensor(3.5))).toBe('tensor(3.5000)');
    expect(String(kd.tensor([[1, 2], [3, 4]], { dtype: 'float32' }))).toBe('tensor([[1., 2.],\n        [3., 4.]])');
    expect(String(kd.zeros([2, 1, 2]))).toBe('tensor([[[0., 0.]],\n\n        [[0., 0.]]])');
    expect(inspect(kd.tensor([0.5]))).toBe('tensor([0.5000])');
  });

  it('scientific notation for wide ranges; nan and inf', () => {
    expect(String(kd.tensor([1e-5, 1]))).toBe('tensor([1.0000e-05, 1.0000e+00])');
    expect(String(kd.tensor([1e9, 1], { dtype: 'float32' }))).toBe('tensor([1.0000e+09, 1.0000e+00])');
    expect(String(kd.tensor([NaN, Infinity, -Infinity, 1.5]))).toBe('tensor([   nan,    inf,   -inf, 1.5000])');
  });

  it('empty tensors, requires_grad / grad_fn, and non-contiguous views', () => {
    expect(String(kd.zeros([0]))).toBe('tensor([])');
    expect(String(kd.zeros([2, 0]))).toBe('tensor([], size=(2, 0))');
    const x = kd.ones([2], { requiresGrad: true });
    expect(String(x)).toBe('tensor([1., 1.], requires_grad=True)');
    expect(String(x.mul(2))).toMatch(/^tensor\(\[2\., 2\.\], grad_fn=<Mul\w*>\)$/);
    expect(String(kd.arange(6, { dtype: 'float32' }).view(2, 3).T)).toBe('tensor([[0., 3.],\n        [1., 4.],\n        [2., 5.]])');
  });

  it('summarises more than 1000 elements with edge items, as PyTorch does', () => {
    expect(String(kd.arange(2000, { dtype: 'float32' }))).toBe('tensor([   0.,    1.,    2.,  ..., 1997., 1998., 1999.])');
    const s = String(kd.zeros([100, 100]));
    expect(s.split('\n').length).toBeLessThan(10);
    expect(s).toContain('...');
  });
});

describe('reading values', () => {
  it('data() of a contiguous tensor is a live view; of a non-contiguous one, a row-major copy', () => {
    const t = kd.arange(6, { dtype: 'float32' }).view(2, 3);
    const d = t.data() as Float32Array;
    expect(d).toBeInstanceOf(Float32Array);
    d[0] = 42;
    expect(t.toArray()).toEqual([[42, 1, 2], [3, 4, 5]]);
    const tt = t.T.data();
    expect(Array.from(tt)).toEqual([42, 3, 1, 4, 2, 5]);
    tt[0] = -1;
    expect(t.toArray()).toEqual([[42, 1, 2], [3, 4, 5]]);
    // A view with an offset reads from its offset.
    expect(Array.from(t.select(0, 1).data())).toEqual([3, 4, 5]);
    expect(kd.tensor([1, 2]).data()).toBeInstanceOf(Int32Array);
    expect(kd.tensor([true]).data()).toBeInstanceOf(Uint8Array);
  });

  it('toArray nests by shape; bools become booleans; 0-d gives a scalar', () => {
    expect(kd.arange(8).view(2, 2, 2).toArray()).toEqual([[[0, 1], [2, 3]], [[4, 5], [6, 7]]]);
    expect(kd.tensor([[true, false]]).toArray()).toEqual([[true, false]]);
    expect(kd.tensor(7).toArray()).toBe(7);
    expect(kd.tensor([[1, 2], [3, 4]]).T.toArray()).toEqual([[1, 3], [2, 4]]);
    expect(kd.ones([1]).expand(2, 3).toArray()).toEqual([[1, 1, 1], [1, 1, 1]]);
  });

  it('item() reads one element of any dtype, also from views; more than one element is a ShapeError', () => {
    expect(kd.tensor([2.5]).item()).toBe(2.5);
    expect(kd.tensor(-3).item()).toBe(-3);
    expect(Number(kd.tensor(true).item())).toBe(1);
    const t = kd.arange(12, { dtype: 'float32' }).view(3, 4).T;
    expect(t.select(0, 2).select(0, 1).item()).toBe(6);
    expect(kd.ones([1, 1, 1]).item()).toBe(1);
    expect(() => kd.ones([2]).item()).toThrow(kd.ShapeError);
    expect(() => kd.zeros([0]).item()).toThrow(kd.ShapeError);
  });

  it('size, ndim, numel, isContiguous', () => {
    const t = kd.zeros([2, 3, 4]);
    expect(t.size()).toEqual([2, 3, 4]);
    expect(t.size(-1)).toBe(4);
    expect(t.ndim).toBe(3);
    expect(t.numel).toBe(24);
    expect(t.isContiguous()).toBe(true);
    expect(t.transpose(0, 2).isContiguous()).toBe(false);
    expect(t.slice(2, 0, 4, 2).isContiguous()).toBe(false);
    expect(t.select(1, 0).isContiguous()).toBe(false);
    expect(t.unsqueeze(1).isContiguous()).toBe(true);
  });
});

describe('to(dtype)', () => {
  it('float32 -> int32 truncates toward zero and saturates; NaN becomes 0', () => {
    const f = kd.tensor([1.9, -1.9, 0.5, -0.5, 3e9, -3e9, NaN, Infinity]);
    expect(f.to('int32').toArray()).toEqual([1, -1, 0, 0, 2147483647, -2147483648, 0, 2147483647]);
    expect(f.int().dtype).toBe('int32');
  });

  it('to bool is non-zero (NaN is true); bool -> float32/int32 gives 0/1', () => {
    expect(kd.tensor([0, -0.0, 0.1, NaN]).bool().toArray()).toEqual([false, false, true, true]);
    expect(kd.tensor([0, 5, -1]).to('bool').toArray()).toEqual([false, true, true]);
    expect(kd.tensor([true, false]).float().toArray()).toEqual([1, 0]);
    expect(kd.tensor([true, false]).to({ dtype: 'int32' }).toArray()).toEqual([1, 0]);
  });

  it('int32 -> float32 rounds large values to the nearest float', () => {
    expect(kd.tensor([16777217, -7]).float().toArray()).toEqual([16777216, -7]);
  });

  it('to() on a non-contiguous view converts in logical order; the same dtype returns the tensor itself', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const base = kd.tensor(Float32Array.from({ length: 12 }, () => rng() * 20 - 10)).view(3, 4);
    const v = base.T.slice(0, 1, null, 2);
    const ref = (v.toArray() as number[][]).map((r) => r.map((v) => Math.trunc(v) | 0));
    expect(v.to('int32').toArray(), `seed ${seed}`).toEqual(ref);
    expect(base.to('float32')).toBe(base);
    expect(base.float()).toBe(base);
  });

  it('bad targets: unknown dtype or device', () => {
    const t = kd.ones([1]);
    expect(() => t.to('float64' as 'float32')).toThrow(kd.KindlingError);
    expect(() => t.to({ dtype: 'uint8' as 'bool' })).toThrow(kd.DTypeError);
    expect(() => t.to(42 as unknown as 'cpu')).toThrow(kd.ArgumentError);
    if (!kd.cuda.isAvailable()) expect(() => t.to('cuda')).toThrow(kd.DeviceError);
    expect(t.to('cpu')).toBe(t);
  });
});

describe('dispose', () => {
  it('dispose is idempotent; a disposed tensor refuses use; a stale data() view reads empty', () => {
    const t = kd.ones([4]);
    const d = t.data();
    t.dispose();
    t.dispose();
    expect(t.isDisposed).toBe(true);
    expect(() => t.data()).toThrow(kd.ArgumentError);
    expect(d.length).toBe(0);
    const one = kd.ones([1]);
    one.dispose();
    expect(() => one.item()).toThrow(kd.ArgumentError);
  });

  it('views hold their own reference: disposing the base keeps the view alive and vice versa', () => {
    const base = kd.arange(4, { dtype: 'float32' });
    const v = base.view(2, 2);
    v.dispose();
    expect(base.toArray()).toEqual([0, 1, 2, 3]);
    const w = base.reshape(4);
    base.dispose();
    expect(w.toArray()).toEqual([0, 1, 2, 3]);
    w[Symbol.dispose]();
    expect(w.isDisposed).toBe(true);
  });

  it('tidy disposes what fn made and did not return; nested tidies hand results outward; keep exempts', () => {
    const x = kd.ones([2]);
    let inner: kd.Tensor | null = null, kept: kd.Tensor | null = null;
    const out = kd.tidy(() => {
      inner = x.add(1);
      kept = kd.keep(x.mul(5));
      const nested = kd.tidy(() => {
        const tmp = x.mul(3);
        return { a: [tmp.add(1)] };
      });
      return nested.a[0].add(inner);
    });
    expect(inner!.isDisposed).toBe(true);
    expect(kept!.isDisposed).toBe(false);
    expect(out.isDisposed).toBe(false);
    expect(out.toArray()).toEqual([6, 6]);
    expect(x.isDisposed).toBe(false);
    expect(kd.tidy(() => 5)).toBe(5);
    expect(() => kd.tidy((async () => kd.ones([1])) as never)).toThrow(kd.ArgumentError);
  });

  it('tidy disposes intermediates even when fn throws', () => {
    let made: kd.Tensor | null = null;
    expect(() =>
      kd.tidy(() => {
        made = kd.ones([3]).add(1);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(made!.isDisposed).toBe(true);
  });

  it('disposing a leaf also frees its gradient', () => {
    const x = kd.ones([2], { requiresGrad: true });
    x.mul(2).sum().backward();
    const g = x.grad!;
    expect(g.toArray()).toEqual([2, 2]);
    x.dispose();
    expect(g.isDisposed).toBe(true);
  });
});
