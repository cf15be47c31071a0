// Elementwise ops against float64 JavaScript references: every unary map on every layout and on
// odd, empty and thread-splitting sizes; special values; binary ops with NumPy broadcasting and
// PyTorch type promotion; where / maskedFill; the in-place forms.
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, forEachIndex, freshSeed, makeRng, numel } from '../helpers.js';
import { LAYOUTS, erf, expectSpecial, f32, laid, roundHalfEven, values } from './layouts.js';

const TOL = 1e-5;
const gelu = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));
const geluTanh = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const softplus = (x: number, beta = 1, threshold = 20) => (beta * x > threshold ? x : Math.log1p(Math.exp(beta * x)) / beta);

interface UnaryCase {
  name: string;
  run: (t: Tensor) => Tensor;
  ref: (x: number) => number;
  lo: number;
  hi: number;
  /** Whether int32 input gives float32 (PyTorch promotes) or stays int32. */
  intResult: 'float32' | 'int32';
  /** Special inputs whose results the reference states exactly. */
  specials?: number[];
}

const SPECIALS = [NaN, Infinity, -Infinity, 0, -1, 1, 0.5, -2.5];
const unaryCases: UnaryCase[] = [
  { name: 'neg', run: (t) => t.neg(), ref: (x) => -x, lo: -3, hi: 3, intResult: 'int32', specials: SPECIALS },
  { name: 'exp', run: (t) => t.exp(), ref: Math.exp, lo: -5, hi: 5, intResult: 'float32', specials: SPECIALS },
  { name: 'log', run: (t) => t.log(), ref: Math.log, lo: 0.01, hi: 10, intResult: 'float32', specials: SPECIALS },
  { name: 'sqrt', run: (t) => t.sqrt(), ref: Math.sqrt, lo: 0, hi: 10, intResult: 'float32', specials: SPECIALS },
  { name: 'rsqrt', run: (t) => t.rsqrt(), ref: (x) => 1 / Math.sqrt(x), lo: 0.05, hi: 10, intResult: 'float32', specials: SPECIALS },
  { name: 'abs', run: (t) => t.abs(), ref: Math.abs, lo: -3, hi: 3, intResult: 'int32', specials: SPECIALS },
  { name: 'relu', run: (t) => t.relu(), ref: (x) => (Number.isNaN(x) ? x : Math.max(x, 0)), lo: -3, hi: 3, intResult: 'int32', specials: SPECIALS },
  { name: 'gelu', run: (t) => t.gelu(), ref: gelu, lo: -4, hi: 4, intResult: 'float32', specials: [NaN, Infinity, 0, -1, 1, -6, 6] },
  { name: 'gelu(tanh)', run: (t) => t.gelu('tanh'), ref: geluTanh, lo: -4, hi: 4, intResult: 'float32', specials: [NaN, Infinity, 0, -1, 1, -6, 6] },
  { name: 'sigmoid', run: (t) => t.sigmoid(), ref: sigmoid, lo: -8, hi: 8, intResult: 'float32', specials: [...SPECIALS, -100, 100] },
  { name: 'tanh', run: (t) => t.tanh(), ref: Math.tanh, lo: -4, hi: 4, intResult: 'float32', specials: [...SPECIALS, -30, 30] },
  { name: 'silu', run: (t) => t.silu(), ref: (x) => x * sigmoid(x), lo: -6, hi: 6, intResult: 'float32', specials: [NaN, Infinity, 0, -1, 1, -100] },
  { name: 'sin', run: (t) => t.sin(), ref: Math.sin, lo: -10, hi: 10, intResult: 'float32', specials: SPECIALS },
  { name: 'cos', run: (t) => t.cos(), ref: Math.cos, lo: -10, hi: 10, intResult: 'float32', specials: SPECIALS },
  { name: 'square', run: (t) => t.square(), ref: (x) => x * x, lo: -3, hi: 3, intResult: 'int32', specials: SPECIALS },
  { name: 'reciprocal', run: (t) => t.reciprocal(), ref: (x) => 1 / x, lo: 0.2, hi: 3, intResult: 'float32', specials: SPECIALS },
  { name: 'sign', run: (t) => t.sign(), ref: (x) => (Number.isNaN(x) ? NaN : Math.sign(x)), lo: -3, hi: 3, intResult: 'int32', specials: SPECIALS },
  { name: 'floor', run: (t) => t.floor(), ref: Math.floor, lo: -5, hi: 5, intResult: 'int32', specials: SPECIALS },
  { name: 'ceil', run: (t) => t.ceil(), ref: Math.ceil, lo: -5, hi: 5, intResult: 'int32', specials: SPECIALS },
  { name: 'round', run: (t) => t.round(), ref: roundHalfEven, lo: -5, hi: 5, intResult: 'int32', specials: [...SPECIALS, 1.5, 2.5, -0.5, 3.5, -3.5, 0.49999997] },
  { name: 'log1p', run: (t) => t.log1p(), ref: Math.log1p, lo: -0.99, hi: 5, intResult: 'float32', specials: [...SPECIALS, 1e-10, -1e-10] },
  { name: 'expm1', run: (t) => t.expm1(), ref: Math.expm1, lo: -3, hi: 3, intResult: 'float32', specials: [...SPECIALS, 1e-10, -1e-10] },
  { name: 'erf', run: (t) => t.erf(), ref: erf, lo: -3, hi: 3, intResult: 'float32', specials: [...SPECIALS, 5, -5] },
  { name: 'leakyRelu', run: (t) => t.leakyRelu(), ref: (x) => (x > 0 ? x : 0.01 * x), lo: -3, hi: 3, intResult: 'float32', specials: SPECIALS },
  { name: 'leakyRelu(0.2)', run: (t) => t.leakyRelu(0.2), ref: (x) => (x > 0 ? x : 0.2 * x), lo: -3, hi: 3, intResult: 'float32' },
  { name: 'elu', run: (t) => t.elu(), ref: (x) => (x > 0 ? x : Math.expm1(x)), lo: -3, hi: 3, intResult: 'float32', specials: SPECIALS },
  { name: 'elu(0.5)', run: (t) => t.elu(0.5), ref: (x) => (x > 0 ? x : 0.5 * Math.expm1(x)), lo: -3, hi: 3, intResult: 'float32' },
  { name: 'softplus', run: (t) => t.softplus(), ref: (x) => softplus(x), lo: -10, hi: 25, intResult: 'float32', specials: [...SPECIALS, 19.5, 20.5, -50] },
  { name: 'softplus(beta 2, threshold 5)', run: (t) => t.softplus(2, 5), ref: (x) => softplus(x, 2, 5), lo: -5, hi: 5, intResult: 'float32' },
  { name: 'clamp(-0.5, 0.5)', run: (t) => t.clamp(-0.5, 0.5), ref: (x) => (Number.isNaN(x) ? x : Math.min(Math.max(x, -0.5), 0.5)), lo: -2, hi: 2, intResult: 'float32', specials: SPECIALS },
  { name: 'clamp(min 0)', run: (t) => t.clamp(0), ref: (x) => (Number.isNaN(x) ? x : Math.max(x, 0)), lo: -2, hi: 2, intResult: 'int32', specials: SPECIALS },
  { name: 'clamp(max 1)', run: (t) => t.clamp(null, 1), ref: (x) => (Number.isNaN(x) ? x : Math.min(x, 1)), lo: -2, hi: 2, intResult: 'int32', specials: SPECIALS },
];

function check(out: Tensor, ref: Float64Array, shape: number[], context: string, tol = TOL): void {
  expect(out.shape, context).toEqual(shape);
  expectSpecial(values(out), ref, tol * 10, context);
  expectClose(values(out), ref, tol, context);
}

describe('unary ops', () => {
  for (const c of unaryCases) {
    it(`${c.name} matches float64 on every layout, odd sizes and size-1 dims`, () => {
      const seed = freshSeed(), rng = makeRng(seed);
      const draw = () => c.lo + (c.hi - c.lo) * rng();
      for (const shape of [[1], [7], [1031], [3, 1, 5], [4, 7, 6]]) {
        for (const layout of LAYOUTS) {
          const x = laid(shape, layout, draw);
          const out = c.run(x.t);
          expect(out.dtype).toBe('float32');
          check(out, x.ref.map(c.ref), shape, `${c.name} ${layout} ${JSON.stringify(shape)} seed ${seed}`);
          out.dispose();
          x.free();
        }
      }
    });
  }

  it('every unary op handles 100k elements (thread split), contiguous and transposed', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    for (const c of unaryCases) {
      for (const layout of ['contiguous', 'transposed'] as const) {
        const x = laid([317, 331], layout, () => c.lo + (c.hi - c.lo) * rng());
        const out = c.run(x.t);
        check(out, x.ref.map(c.ref), [317, 331], `${c.name} ${layout} 317x331 seed ${seed}`);
        out.dispose();
        x.free();
      }
    }
  });

  it('every unary op returns an empty tensor for zero-size input', () => {
    for (const c of unaryCases) {
      for (const shape of [[0], [3, 0, 2]]) {
        const x = kd.zeros(shape);
        const out = c.run(x);
        expect(out.shape, c.name).toEqual(shape);
        expect(out.numel).toBe(0);
        out.dispose();
        x.dispose();
      }
    }
  });

  it('special values (NaN, ±inf, 0, log/sqrt of negatives) follow IEEE / PyTorch', () => {
    for (const c of unaryCases) {
      if (!c.specials) continue;
      const x = kd.tensor(Float32Array.from(c.specials));
      const out = c.run(x);
      expectSpecial(values(out), c.specials.map((v) => f32(c.ref(f32(v)))), 1e-5, `${c.name} on ${c.specials.join(', ')}`);
      out.dispose();
      x.dispose();
    }
  });

  it('int32 input: float maps promote to float32; neg/abs/square/sign/relu/clamp/floor stay int32', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    for (const c of unaryCases) {
      const lo = Math.ceil(c.lo), hi = Math.floor(c.hi);
      if (hi <= lo) continue;
      const x = laid([5, 3], 'transposed', () => lo + Math.floor(rng() * (hi - lo + 1)), 'int32');
      const out = c.run(x.t);
      expect(out.dtype, c.name).toBe(c.intResult);
      check(out, x.ref.map(c.ref), [5, 3], `${c.name} int32 seed ${seed}`);
      out.dispose();
      x.free();
    }
  });

  it('int32 neg/abs wrap at INT32_MIN like two\'s complement; square wraps', () => {
    const x = kd.tensor([-2147483648, 2147483647, -5]);
    expect(x.neg().toArray()).toEqual([-2147483648, -2147483647, 5]);
    expect(x.abs().toArray()).toEqual([-2147483648, 2147483647, 5]);
    expect(kd.tensor([65536]).square().toArray()).toEqual([0]);
  });

  it('clamp of an int32 tensor: integer bounds keep int32, a fractional bound promotes to float32; min > max gives max', () => {
    const x = kd.tensor([-3, -1, 0, 2, 5]);
    const f = x.clamp(-1.5, 2.5);
    expect(f.dtype).toBe('float32');
    expect(f.toArray()).toEqual([-1.5, -1, 0, 2, 2.5]);
    expect(x.clamp(3, 1).toArray()).toEqual([1, 1, 1, 1, 1]);
    expect(x.clamp(3, 1).dtype).toBe('int32');
    expect(kd.tensor([-3, 0.5, 4]).clamp(3, 1).toArray()).toEqual([1, 1, 1]);
    expect(x.clamp(-2147483648, 2147483647).toArray()).toEqual([-3, -1, 0, 2, 5]);
    expect(() => x.clamp_(0.5)).toThrow(kd.DTypeError);
    expect(() => kd.tensor([true]).clamp(0, 1)).toThrow(kd.DTypeError);
  });

  it('bool inputs: logicalNot flips; float maps promote to float32', () => {
    const b = kd.tensor([true, false, true]);
    expect(b.logicalNot().toArray()).toEqual([false, true, false]);
    const e = b.exp();
    expect(e.dtype).toBe('float32');
    expectClose(values(e), [Math.E, 1, Math.E], 1e-6);
    expect(kd.tensor([0, 2, -1]).logicalNot().toArray()).toEqual([true, false, false]);
    expect(kd.tensor([0, 0.5, NaN]).logicalNot().toArray()).toEqual([true, false, false]);
  });

  it('gelu rejects an unknown approximation', () => {
    expect(() => kd.ones([2]).gelu('fast' as 'tanh')).toThrow(kd.ArgumentError);
  });
});

// ---- binary ------------------------------------------------------------------------------------

interface BinaryCase {
  name: string;
  run: (a: Tensor, b: Tensor | number) => Tensor;
  ref: (x: number, y: number) => number;
  a: [number, number];
  b: [number, number];
  bool?: boolean;
}

const pyMod = (x: number, y: number) => {
  const r = x % y;
  return r !== 0 && r < 0 !== y < 0 ? r + y : r;
};
const binaryCases: BinaryCase[] = [
  { name: 'add', run: (a, b) => a.add(b), ref: (x, y) => x + y, a: [-2, 2], b: [-2, 2] },
  { name: 'add(alpha 2.5)', run: (a, b) => a.add(b, 2.5), ref: (x, y) => x + 2.5 * y, a: [-2, 2], b: [-2, 2] },
  { name: 'sub', run: (a, b) => a.sub(b), ref: (x, y) => x - y, a: [-2, 2], b: [-2, 2] },
  { name: 'sub(alpha -3)', run: (a, b) => a.sub(b, -3), ref: (x, y) => x + 3 * y, a: [-2, 2], b: [-2, 2] },
  { name: 'mul', run: (a, b) => a.mul(b), ref: (x, y) => x * y, a: [-2, 2], b: [-2, 2] },
  { name: 'div', run: (a, b) => a.div(b), ref: (x, y) => x / y, a: [-2, 2], b: [0.5, 2] },
  { name: 'pow', run: (a, b) => a.pow(b), ref: Math.pow, a: [0.1, 3], b: [-2, 2] },
  { name: 'remainder', run: (a, b) => a.remainder(b), ref: pyMod, a: [-5, 5], b: [0.5, 2] },
  { name: 'remainder(negative divisor)', run: (a, b) => a.remainder(b), ref: pyMod, a: [-5, 5], b: [-2, -0.5] },
  { name: 'maximum', run: (a, b) => a.maximum(b), ref: Math.max, a: [-2, 2], b: [-2, 2] },
  { name: 'minimum', run: (a, b) => a.minimum(b), ref: Math.min, a: [-2, 2], b: [-2, 2] },
  { name: 'eq', run: (a, b) => a.eq(b), ref: (x, y) => +(x === y), a: [0, 3], b: [0, 3], bool: true },
  { name: 'ne', run: (a, b) => a.ne(b), ref: (x, y) => +(x !== y), a: [0, 3], b: [0, 3], bool: true },
  { name: 'lt', run: (a, b) => a.lt(b), ref: (x, y) => +(x < y), a: [0, 3], b: [0, 3], bool: true },
  { name: 'le', run: (a, b) => a.le(b), ref: (x, y) => +(x <= y), a: [0, 3], b: [0, 3], bool: true },
  { name: 'gt', run: (a, b) => a.gt(b), ref: (x, y) => +(x > y), a: [0, 3], b: [0, 3], bool: true },
  { name: 'ge', run: (a, b) => a.ge(b), ref: (x, y) => +(x >= y), a: [0, 3], b: [0, 3], bool: true },
  { name: 'logicalAnd', run: (a, b) => a.logicalAnd(b), ref: (x, y) => +(x !== 0 && y !== 0), a: [0, 2], b: [0, 2], bool: true },
  { name: 'logicalOr', run: (a, b) => a.logicalOr(b), ref: (x, y) => +(x !== 0 || y !== 0), a: [0, 2], b: [0, 2], bool: true },
  { name: 'logicalXor', run: (a, b) => a.logicalXor(b), ref: (x, y) => +((x !== 0) !== (y !== 0)), a: [0, 2], b: [0, 2], bool: true },
];

/** Reference for a op b broadcast NumPy-style. */
function broadcastRef(aShape: number[], a: Float64Array, bShape: number[], b: Float64Array, f: (x: number, y: number) => number): { shape: number[]; ref: Float64Array } {
  const n = Math.max(aShape.length, bShape.length);
  const pa = [...new Array(n - aShape.length).fill(1), ...aShape], pb = [...new Array(n - bShape.length).fill(1), ...bShape];
  const shape = pa.map((s, i) => (s === 1 ? pb[i] : s));
  const sa = pa.map((_, i) => pa.slice(i + 1).reduce((p, q) => p * q, 1)), sb = pb.map((_, i) => pb.slice(i + 1).reduce((p, q) => p * q, 1));
  const ref = new Float64Array(numel(shape));
  forEachIndex(shape, (idx, flat) => {
    let ia = 0, ib = 0;
    for (let d = 0; d < n; d++) {
      ia += (pa[d] === 1 ? 0 : idx[d]) * sa[d];
      ib += (pb[d] === 1 ? 0 : idx[d]) * sb[d];
    }
    ref[flat] = f(a[ia], b[ib]);
  });
  return { shape, ref };
}

const BROADCASTS: [number[], number[]][] = [
  [[7], [7]],
  [[3, 1, 5], [4, 1]],
  [[4, 1], [3, 1, 5]],
  [[1], [6]],
  [[2, 3], []],
  [[], [2, 3]],
  [[5, 6], [6]],
  [[1031], [1031]],
  [[0, 3], [1, 3]],
];

describe('binary ops', () => {
  for (const c of binaryCases) {
    it(`${c.name} broadcasts like NumPy on every layout pair`, () => {
      const seed = freshSeed(), rng = makeRng(seed);
      // Comparisons draw small integers so equality happens.
      const drawA = c.bool ? () => Math.floor(c.a[0] + (c.a[1] - c.a[0]) * rng()) : () => c.a[0] + (c.a[1] - c.a[0]) * rng();
      const drawB = c.bool ? () => Math.floor(c.b[0] + (c.b[1] - c.b[0]) * rng()) : () => c.b[0] + (c.b[1] - c.b[0]) * rng();
      for (const [sa, sb] of BROADCASTS) {
        for (const [la, lb] of [['contiguous', 'contiguous'], ['transposed', 'sliced'], ['expanded', 'transposed'], ['sliced', 'expanded']] as const) {
          const a = laid(sa, la, drawA), b = laid(sb, lb, drawB);
          const { shape, ref } = broadcastRef(sa, a.ref, sb, b.ref, c.ref);
          const out = c.run(a.t, b.t);
          expect(out.dtype).toBe(c.bool ? 'bool' : 'float32');
          check(out, ref, shape, `${c.name} ${la}${JSON.stringify(sa)} with ${lb}${JSON.stringify(sb)} seed ${seed}`);
          out.dispose();
          a.free();
          b.free();
        }
      }
    });

    it(`${c.name} with a JS number and with a 0-d tensor`, () => {
      const seed = freshSeed(), rng = makeRng(seed);
      const a = laid([4, 5], 'transposed', () => c.a[0] + (c.a[1] - c.a[0]) * rng());
      const s = c.bool ? 1 : f32(c.b[0] + (c.b[1] - c.b[0]) * rng());
      const byNumber = c.run(a.t, s);
      check(byNumber, a.ref.map((x) => c.ref(x, s)), [4, 5], `${c.name} with number ${s} seed ${seed}`);
      const zeroD = kd.tensor(s, { dtype: 'float32' });
      const byTensor = c.run(a.t, zeroD);
      check(byTensor, a.ref.map((x) => c.ref(x, s)), [4, 5], `${c.name} with 0-d tensor seed ${seed}`);
      const both = c.run(kd.tensor(f32(c.a[1] * 0.7), { dtype: 'float32' }), zeroD);
      expect(both.shape).toEqual([]);
      for (const t of [byNumber, zeroD, byTensor, both]) t.dispose();
      a.free();
    });
  }

  it('100k-element add/mul/maximum cross the thread split with broadcast operands', () => {
    const seed = freshSeed(), rng = makeRng(seed), draw = () => rng() * 4 - 2;
    const a = laid([317, 331], 'transposed', draw), b = laid([331], 'contiguous', draw);
    for (const c of binaryCases.filter((x) => ['add', 'mul', 'maximum', 'lt'].includes(x.name))) {
      const { shape, ref } = broadcastRef([317, 331], a.ref, [331], b.ref, c.ref);
      const out = c.run(a.t, b.t);
      check(out, ref, shape, `${c.name} 317x331 seed ${seed}`);
      out.dispose();
    }
    a.free();
    b.free();
  });

  it('incompatible shapes throw a ShapeError naming the op and both shapes', () => {
    const a = kd.ones([3, 4]), b = kd.ones([5]);
    for (const op of ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'eq', 'lt'] as const) {
      expect(() => (a[op] as (x: Tensor) => Tensor)(b)).toThrow(kd.ShapeError);
      expect(() => (a[op] as (x: Tensor) => Tensor)(b)).toThrow(/\[3,4\].*\[5\]/);
    }
    expect(() => a.logicalAnd(b)).toThrow(kd.ShapeError);
    expect(() => a.logicalXor(b)).toThrow(/logicalXor: shapes \[3,4\] and \[5\]/);
  });

  it('logicalXor on bools, a scalar and mixed dtypes; sub of two bools points to it', () => {
    const p = kd.tensor([true, true, false, false]), q = kd.tensor([true, false, true, false]);
    expect(() => p.sub(q)).toThrow(kd.DTypeError);
    expect(() => p.sub(q)).toThrow(/use logicalXor/);
    expect(p.logicalXor(q).toArray()).toEqual([false, true, true, false]);
    expect(p.logicalXor(true).toArray()).toEqual([false, false, true, true]);
    const x = kd.tensor([[0, 2.5], [-1, 0]]), n = kd.tensor([3, 0], { dtype: 'int32' });
    const r = x.logicalXor(n);
    expect(r.dtype).toBe('bool');
    expect(r.toArray()).toEqual([[true, true], [false, false]]);
  });

  it('NaN propagates through maximum/minimum from either side; comparisons with NaN are false except ne', () => {
    const a = kd.tensor([NaN, 1, 2]), b = kd.tensor([0, NaN, 3]);
    expectSpecial(values(a.maximum(b)), [NaN, NaN, 3], 0, 'maximum');
    expectSpecial(values(a.minimum(b)), [NaN, NaN, 2], 0, 'minimum');
    expect(a.eq(b).toArray()).toEqual([false, false, false]);
    expect(a.ne(b).toArray()).toEqual([true, true, true]);
    expect(a.lt(b).toArray()).toEqual([false, false, true]);
  });

  it('division by zero gives ±inf / NaN; int32 division is true division', () => {
    expectSpecial(values(kd.tensor([1, -1, 0]).div(kd.tensor([0, 0, 0]))), [Infinity, -Infinity, NaN], 0, 'div by zero');
    const q = kd.tensor([7, -7, 1]).div(kd.tensor([2, 2, 3]));
    expect(q.dtype).toBe('float32');
    expectClose(values(q), [3.5, -3.5, 1 / 3], 1e-6);
  });

  it('int32 remainder follows the divisor\'s sign; int32 arithmetic wraps on overflow', () => {
    const r = kd.tensor([7, -7, 7, -7]).remainder(kd.tensor([3, 3, -3, -3]));
    expect(r.dtype).toBe('int32');
    expect(r.toArray()).toEqual([1, 2, -2, -1]);
    expect(kd.tensor([2147483647]).add(1).toArray()).toEqual([-2147483648]);
    expect(kd.tensor([3, 4]).mul(kd.tensor([5, -6])).toArray()).toEqual([15, -24]);
  });

  it('pow: negative base with a fractional exponent is NaN; integer exponents on int32 stay int32', () => {
    expectSpecial(values(kd.tensor([-2, 4, 0]).pow(0.5)), [NaN, 2, 0], 1e-6, 'pow 0.5');
    expectSpecial(values(kd.tensor([-2, 4, 0], { dtype: 'float32' }).pow(3)), [-8, 64, 0], 1e-6, 'pow 3');
    const i = kd.tensor([-2, 3, 0]).pow(3);
    expect(i.dtype).toBe('int32');
    expect(i.toArray()).toEqual([-8, 27, 0]);
    expect(kd.tensor([2, 3]).pow(0).toArray()).toEqual([1, 1]);
    expect(kd.tensor([2]).pow(30).toArray()).toEqual([1073741824]);
    // A large integer exponent must not loop once per unit of the exponent.
    expect(kd.tensor([1, -1, 0]).pow(1_000_000_001).toArray()).toEqual([1, -1, 0]);
    expect(kd.tensor([-2, 4], { dtype: 'float32' }).pow(kd.tensor([2, 0.5])).toArray()).toEqual([4, 2]);
  });
});

describe('type promotion', () => {
  it('int32 + float32 -> float32, int32 + int32 -> int32, int32 + bool -> int32, bool + float32 -> float32', () => {
    const i = kd.tensor([1, 2]), f = kd.tensor([0.5, 0.25]), b = kd.tensor([true, false]);
    expect(i.add(f).dtype).toBe('float32');
    expect(f.add(i).dtype).toBe('float32');
    expect(i.add(i).dtype).toBe('int32');
    expect(i.add(b).dtype).toBe('int32');
    expect(i.add(b).toArray()).toEqual([2, 2]);
    expect(b.add(f).dtype).toBe('float32');
    expect(b.mul(f).toArray()).toEqual([0.5, 0]);
  });

  it('JS numbers: an integer keeps int32, a fractional number gives float32, a boolean keeps the dtype', () => {
    const i = kd.tensor([1, 2]);
    expect(i.add(2).dtype).toBe('int32');
    expect(i.add(2).toArray()).toEqual([3, 4]);
    expect(i.add(2.5).dtype).toBe('float32');
    expect(i.add(2.5).toArray()).toEqual([3.5, 4.5]);
    expect(i.mul(0.5).toArray()).toEqual([0.5, 1]);
    expect(i.add(true).toArray()).toEqual([2, 3]);
    expect(kd.tensor([true, false]).add(1).dtype).toBe('int32');
    expect(kd.tensor([true, false]).add(1.5).dtype).toBe('float32');
    expect(kd.tensor([2, 3]).gt(2.5).toArray()).toEqual([false, true]);
    expect(kd.tensor([2, 3]).eq(2.0).toArray()).toEqual([true, false]);
  });

  it('0-d tensors act like scalars of their kind: int32[n] + float32 0-d -> float32; float32[n] + int32 0-d -> float32; int32[n] + int32 0-d -> int32', () => {
    const i = kd.tensor([1, 2]);
    expect(i.add(kd.tensor(0.5)).dtype).toBe('float32');
    expect(i.add(kd.tensor(0.5)).toArray()).toEqual([1.5, 2.5]);
    expect(kd.tensor([0.5]).add(kd.tensor(2)).dtype).toBe('float32');
    expect(i.add(kd.tensor(3)).dtype).toBe('int32');
    expect(kd.tensor(3).add(i).dtype).toBe('int32');
    expect(kd.tensor(0.5).add(i).dtype).toBe('float32');
  });

  it('bool op bool: add is logical or, mul logical and (PyTorch keeps bool); sub of bools is a DTypeError', () => {
    const a = kd.tensor([true, true, false, false]), b = kd.tensor([true, false, true, false]);
    const s = a.add(b), p = a.mul(b);
    expect(s.dtype).toBe('bool');
    expect(s.toArray()).toEqual([true, true, true, false]);
    expect(p.dtype).toBe('bool');
    expect(p.toArray()).toEqual([true, false, false, false]);
    expect(() => a.sub(b)).toThrow(kd.DTypeError);
    expect(() => a.neg()).toThrow(kd.DTypeError);
  });
});

describe('where and maskedFill', () => {
  it('where broadcasts condition [3,1] with a [1,4] and b [4] on mixed layouts', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const cond = kd.tensor([[true], [false], [true]]);
    const a = laid([1, 4], 'expanded', () => rng()), b = laid([4], 'sliced', () => -rng());
    const out = kd.where(cond, a.t, b.t);
    const ref: number[] = [];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) ref.push(i !== 1 ? a.ref[j] : b.ref[j]);
    check(out, Float64Array.from(ref), [3, 4], `where seed ${seed}`);
    a.free();
    b.free();
  });

  it('where with scalars and promotion: int32 vs float number -> float32; two ints -> int32; two booleans -> bool', () => {
    const cond = kd.tensor([true, false]);
    expect(kd.where(cond, kd.tensor([1, 2]), 0.5).toArray()).toEqual([1, 0.5]);
    expect(kd.where(cond, kd.tensor([1, 2]), 0.5).dtype).toBe('float32');
    expect(kd.where(cond, 3, 4).dtype).toBe('int32');
    expect(kd.where(cond, 3, 4).toArray()).toEqual([3, 4]);
    expect(kd.where(cond, true, false).toArray()).toEqual([true, false]);
    expect(kd.ones([2]).where(cond, kd.tensor([5, 6])).toArray()).toEqual([1, 6]);
    expect(() => kd.where(kd.ones([2]), 1, 2)).toThrow(kd.DTypeError);
    expect(() => kd.where(kd.tensor([true, false, true]), kd.ones([2]), 0)).toThrow(kd.ShapeError);
  });

  it('maskedFill with a broadcast mask on a transposed input; int and bool inputs keep their dtype', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const x = laid([3, 4], 'transposed', () => rng());
    const mask = kd.tensor([true, false, false, true]);
    const out = x.t.maskedFill(mask, -Infinity);
    const ref = x.ref.map((v, i) => (i % 4 === 0 || i % 4 === 3 ? -Infinity : v));
    expectSpecial(values(out), ref, 0, `maskedFill seed ${seed}`);
    expect(kd.tensor([1, 2]).maskedFill(kd.tensor([true, false]), 9).toArray()).toEqual([9, 2]);
    expect(kd.tensor([true, false]).maskedFill(kd.tensor([true, true]), 0).toArray()).toEqual([false, false]);
    expect(() => x.t.maskedFill(kd.ones([3, 4]), 0)).toThrow(kd.DTypeError);
    expect(() => kd.ones([4]).maskedFill(kd.tensor([[true], [false]]), 0)).toThrow(kd.ShapeError);
    x.free();
  });
});

describe('in place', () => {
  it('add_/sub_/mul_/div_ with a broadcast tensor, a number and alpha write through a transposed view into its base', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const base = kd.tensor(Float32Array.from({ length: 12 }, () => rng() * 2 - 1)).reshape([4, 3]);
    const ref = Float64Array.from(base.data() as Float32Array);
    const row = kd.tensor(Float32Array.from({ length: 4 }, () => 0.5 + rng()));
    const r = Float64Array.from(row.data() as Float32Array);
    const view = base.T; // [3,4], element (i,j) is base[j*3+i]
    const apply = (f: (x: number, y: number) => number) => {
      for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) ref[j * 3 + i] = f32(f(ref[j * 3 + i], r[j]));
    };
    view.add_(row);
    apply((x, y) => x + y);
    view.sub_(row, 2);
    apply((x, y) => x - f32(2 * y));
    view.mul_(row);
    apply((x, y) => x * y);
    view.div_(row);
    apply((x, y) => x / y);
    view.add_(1.5);
    apply((x) => x + 1.5);
    view.mul_(-2);
    apply((x) => x * -2);
    expectClose(values(base), ref, 1e-6, `in place seed ${seed}`);
    expect(view.add_(1)).toBe(view);
  });

  it('copy_ broadcasts and converts dtype; fill_, zero_ and clamp_ write through slices', () => {
    const t = kd.zeros([2, 6]);
    const odd = t.slice(1, 1, null, 2); // columns 1, 3, 5
    odd.copy_(kd.tensor([1, 2, 3])); // int32 source, broadcast over rows
    expect(t.toArray()).toEqual([[0, 1, 0, 2, 0, 3], [0, 1, 0, 2, 0, 3]]);
    t.select(0, 0).fill_(7);
    expect(t.toArray()).toEqual([[7, 7, 7, 7, 7, 7], [0, 1, 0, 2, 0, 3]]);
    t.clamp_(0.5, 2.5);
    expect(t.toArray()).toEqual([[2.5, 2.5, 2.5, 2.5, 2.5, 2.5], [0.5, 1, 0.5, 2, 0.5, 2.5]]);
    t.select(1, 0).zero_();
    expect(t.toArray()).toEqual([[0, 2.5, 2.5, 2.5, 2.5, 2.5], [0, 1, 0.5, 2, 0.5, 2.5]]);
    const i = kd.tensor([-5, 0, 5]);
    i.clamp_(null, 1);
    expect(i.toArray()).toEqual([-5, 0, 1]);
    i.clamp_(-1);
    expect(i.toArray()).toEqual([-1, 0, 1]);
    expect(() => t.copy_(kd.ones([3]))).toThrow(kd.ShapeError);
  });

  it('in-place ops on a tensor requiring grad throw while grad mode is on and work under noGrad', () => {
    const w = kd.ones([3], { requiresGrad: true });
    for (const f of [() => w.add_(1), () => w.sub_(1), () => w.mul_(2), () => w.div_(2), () => w.copy_(kd.zeros([3])), () => w.fill_(0), () => w.zero_(), () => w.clamp_(0, 1)]) {
      expect(f).toThrow(kd.ArgumentError);
      expect(f).toThrow(/noGrad/);
    }
    kd.noGrad(() => w.mul_(3).add_(1));
    expect(w.toArray()).toEqual([4, 4, 4]);
  });

  it('in-place result dtype must be the tensor\'s: int32.add_(1.5), int32.mul_(float tensor) and bool.add_ are DTypeErrors', () => {
    const i = kd.tensor([1, 2]);
    expect(() => i.add_(1.5)).toThrow(kd.DTypeError);
    expect(() => i.mul_(kd.tensor([0.5, 0.5]))).toThrow(kd.DTypeError);
    expect(() => i.div_(2)).toThrow(kd.DTypeError);
    i.add_(3);
    i.mul_(kd.tensor([true, false]));
    expect(i.toArray()).toEqual([4, 0]);
    const b = kd.tensor([true, false]);
    expect(() => b.add_(1)).toThrow(kd.DTypeError);
    expect(() => b.mul_(kd.tensor([true, true]))).toThrow(kd.DTypeError);
    const f = kd.tensor([1.5, 2.5]);
    f.add_(kd.tensor([1, 2]));
    expect(f.toArray()).toEqual([2.5, 4.5]);
    expect(() => kd.ones([3]).add_(kd.ones([2, 3]))).toThrow(kd.ShapeError);
  });

  it('writing in place into an expanded (stride 0) tensor is refused', () => {
    const e = kd.ones([1, 3]).expand([4, 3]);
    expect(() => e.add_(1)).toThrow(kd.ArgumentError);
    expect(() => e.fill_(2)).toThrow(kd.ArgumentError);
  });
});

describe('integer remainder by zero', () => {
  it('raises an ArgumentError, as PyTorch raises ZeroDivisionError, for a number or a tensor divisor', () => {
    const a = kd.tensor([5, -7, 9], { dtype: 'int32' });
    expect(() => a.remainder(0)).toThrow(kd.ArgumentError);
    expect(() => a.remainder(0)).toThrow(/remainder: integer division by zero/);
    expect(() => a.remainder(kd.tensor([2, 0, 3], { dtype: 'int32' }))).toThrow(/integer division by zero/);
    expect(() => a.remainder(kd.tensor([true, false, true]))).toThrow(/integer division by zero/);
    expect(() => kd.tensor([[1, 2]], { dtype: 'int32' }).remainder(kd.tensor([[1], [0]], { dtype: 'int32' }).transpose(0, 1).expand([2, 2]))).toThrow(/integer division by zero/);
  });

  it('nonzero integer divisors and float zero divisors still work', () => {
    const a = kd.tensor([5, -7, 9], { dtype: 'int32' });
    expect(a.remainder(kd.tensor([2, 3, -4], { dtype: 'int32' })).toArray()).toEqual([1, 2, -3]);
    expect(a.remainder(4).toArray()).toEqual([1, 1, 1]);
    expect(a.remainder(0.0 + 0.5).dtype).toBe('float32');
    const f = kd.tensor([1.5, 2.5]).remainder(0).toArray() as number[];
    expect(f.every(Number.isNaN)).toBe(true);
  });
});
