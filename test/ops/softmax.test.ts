// softmax / logSoftmax against float64 references on fresh random inputs: every dim, odd and
// size-1 dims, long rows, transposed / sliced / expanded views, -inf and large values, empty
// dims; fused backwards against an analytic reference and finite differences; the portable
// build against the vector one; and thread-count invariance.
import { afterEach, describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, forEachIndex, freshSeed, gradcheck, makeRng, numel, randomTensor, stridesOf } from '../helpers.js';

const seed = freshSeed();
const threadsAtStart = kd.getNumThreads();
const isaAtStart = kd.cpuIsa();
afterEach(() => {
  kd.setNumThreads(threadsAtStart);
  kd.setCpuIsa(isaAtStart);
});

function values(t: Tensor): Float64Array {
  const c = t.contiguous();
  const v = Float64Array.from(c.data() as ArrayLike<number>);
  c.dispose();
  return v;
}

/** Calls fn(flatPositions) for each row along dim of a row-major tensor of `shape`. */
function forEachRow(shape: number[], dim: number, fn: (positions: number[]) => void): void {
  const strides = stridesOf(shape);
  const outer = shape.map((s, d) => (d === dim ? 1 : s));
  forEachIndex(outer, (idx) => {
    const start = idx.reduce((a, v, d) => a + v * strides[d], 0);
    fn(Array.from({ length: shape[dim] }, (_, j) => start + j * strides[dim]));
  });
}

function softmaxRef(x: Float64Array, shape: number[], dim: number, log: boolean): Float64Array {
  const out = new Float64Array(x.length);
  forEachRow(shape, dim, (pos) => {
    let m = -Infinity;
    for (const p of pos) m = Math.max(m, x[p]);
    let s = 0;
    for (const p of pos) s += Math.exp(x[p] - m);
    for (const p of pos) out[p] = log ? x[p] - m - Math.log(s) : Math.exp(x[p] - m) / s;
  });
  return out;
}

/** dx for loss = sum(w * f(x)) where y = f(x): the reference for the fused backward. */
function backwardRef(y: Float64Array, w: Float64Array, shape: number[], dim: number, log: boolean): Float64Array {
  const dx = new Float64Array(y.length);
  forEachRow(shape, dim, (pos) => {
    let s = 0;
    for (const p of pos) s += log ? w[p] : w[p] * y[p];
    for (const p of pos) dx[p] = log ? w[p] - Math.exp(y[p]) * s : y[p] * (w[p] - s);
  });
  return dx;
}

const ops = [
  { name: 'softmax', log: false, f: (t: Tensor, d: number) => t.softmax(d) },
  { name: 'logSoftmax', log: true, f: (t: Tensor, d: number) => t.logSoftmax(d) },
];

for (const op of ops) {
  describe(`${op.name} (seed ${seed})`, () => {
    const cases: { shape: number[]; dim: number }[] = [
      { shape: [7, 13], dim: 1 },
      { shape: [7, 13], dim: 0 },
      { shape: [3, 5, 17], dim: 0 },
      { shape: [3, 5, 17], dim: 1 },
      { shape: [3, 5, 17], dim: -1 },
      { shape: [2, 3, 70, 5], dim: 2 },
      { shape: [1, 9], dim: 1 },
      { shape: [4, 1], dim: 1 },
      { shape: [1, 9], dim: 0 },
      { shape: [3, 1029], dim: 1 },
      { shape: [300, 3], dim: 0 },
      { shape: [11], dim: 0 },
    ];
    for (const c of cases) {
      it(`over dim ${c.dim} of ${JSON.stringify(c.shape)} matches float64`, () => {
        const rng = makeRng(seed);
        const { t: x, ref } = randomTensor(rng, c.shape, -6, 6);
        const d = c.dim < 0 ? c.dim + c.shape.length : c.dim;
        const out = op.f(x, c.dim);
        expect(out.shape).toEqual(c.shape);
        expectClose(out.data(), softmaxRef(ref, c.shape, d, op.log), 1e-5, `seed ${seed}`);
        x.dispose();
        out.dispose();
      });
    }

    it('reads transposed, sliced and expanded views', () => {
      const rng = makeRng(seed + 1);
      const { t: base } = randomTensor(rng, [9, 6, 14], -4, 4);
      const views = [
        base.transpose(0, 2),  // dim strides far from 1
        base.slice(2, 1, null, 3),  // strided rows and columns
        base.permute(1, 0, 2),
        base.slice(0, 0, 1).expand(5, 6, 14),  // stride 0
      ];
      for (const v of views) {
        const vals = values(v);
        for (let d = 0; d < 3; d++) {
          const out = op.f(v, d);
          expectClose(out.data(), softmaxRef(vals, v.shape, d, op.log), 1e-5, `seed ${seed} view ${JSON.stringify(v.shape)} dim ${d}`);
          out.dispose();
        }
      }
    });

    it('handles large values, -inf entries, all -inf rows, empty dims and 0-d like PyTorch', () => {
      const inf = Infinity;
      const x = kd.tensor([[1e4, 1e4 - 1, 1e4 - 2], [-inf, 0, 1], [-inf, -inf, -inf], [-1e4, 0, 1e4]]);
      const out = op.f(x, 1).toArray() as number[][];
      const want = softmaxRef(Float64Array.from([1e4, 1e4 - 1, 1e4 - 2, -inf, 0, 1, -inf, -inf, -inf, -1e4, 0, 1e4]), [4, 3], 1, op.log);
      const flat = out.flat();
      for (let i = 0; i < 12; i++) {
        if (i >= 6 && i < 9) expect(Number.isNaN(flat[i]), `all -inf row gives NaN at ${i}`).toBe(true);
        else if (!Number.isFinite(want[i])) expect(flat[i]).toBe(want[i]);
        else expect(Math.abs(flat[i] - want[i])).toBeLessThan(1e-5 * Math.max(1, Math.abs(want[i])));
      }
      const nan = op.f(kd.tensor([1, Number.NaN, 2]), 0).toArray() as number[];
      expect(nan.every((v) => Number.isNaN(v))).toBe(true);
      const empty = op.f(kd.zeros(3, 0), 1);
      expect(empty.shape).toEqual([3, 0]);
      expect(op.f(kd.zeros(0, 4), 1).shape).toEqual([0, 4]);
      expect(op.f(kd.tensor(3.5), 0).item()).toBe(op.log ? 0 : 1);
    });

    it('backward matches the analytic reference on contiguous and column-wise rows', () => {
      const rng = makeRng(seed + 2);
      for (const [shape, dim] of [[[6, 33], 1], [[40, 3, 19], 0], [[5, 8, 3], 1]] as [number[], number][]) {
        const { t: x } = randomTensor(rng, shape, -3, 3, true);
        const { t: w, ref: wr } = randomTensor(rng, shape);
        const y = op.f(x, dim);
        y.mul(w).sum().backward();
        expectClose(x.grad!.data(), backwardRef(values(y), wr, shape, dim, op.log), 1e-5, `seed ${seed} ${JSON.stringify(shape)} dim ${dim}`);
      }
    });

    it('backward takes expanded and transposed gradients and a transposed input', () => {
      const rng = makeRng(seed + 3);
      const { t: base } = randomTensor(rng, [9, 5], -3, 3);
      const x = base.transpose(0, 1);  // [5, 9]
      x.requiresGrad = true;
      // Expanded along the dim that is not reduced, so g varies along the softmax rows.
      const { t: row } = randomTensor(rng, [1, 9]);
      const { t: col } = randomTensor(rng, [5, 1]);
      const { t: gBase } = randomTensor(rng, [9, 5]);
      for (const dim of [0, 1]) {
        for (const g of [dim === 0 ? col.expand(5, 9) : row.expand(5, 9), gBase.transpose(0, 1)]) {
          x.grad = null;
          const y = op.f(x, dim);
          y.backward(g);
          expectClose(x.grad!.data(), backwardRef(values(y), values(g), [5, 9], dim, op.log), 1e-5, `seed ${seed} dim ${dim}`);
        }
      }
    });

    it('backward matches finite differences', () => {
      const rng = makeRng(seed + 4);
      const { t: x } = randomTensor(rng, [3, 5], -2, 2, true);
      const { t: w } = randomTensor(rng, [3, 5]);
      gradcheck((a) => op.f(a, 0).mul(w).sum(), [x], { context: `seed ${seed}` });
      gradcheck((a) => op.f(a, 1).mul(w).sum(), [x], { context: `seed ${seed}` });
    });

    it('under createGraph the composed backward gives the fused gradient', () => {
      const rng = makeRng(seed + 5);
      const { t: a } = randomTensor(rng, [6, 11], -2, 2, true);
      const { t: w } = randomTensor(rng, [6, 11]);
      const grads = [false, true].map((createGraph) => {
        a.grad = null;
        op.f(a, 0).mul(w).sum().backward(undefined, { createGraph });
        return values(a.grad!);
      });
      expectClose(grads[1], grads[0], 1e-6, `seed ${seed}`);
    });

    it('the portable build and 1 or 2 threads give the same values', () => {
      const rng = makeRng(seed + 6);
      const { t: x } = randomTensor(rng, [64, 257], -5, 5);
      const xt = x.transpose(0, 1);
      const run = () => [values(op.f(x, 1)), values(op.f(xt, 1)), values(op.f(x, 0))];
      kd.setNumThreads(1);
      const one = run();
      kd.setNumThreads(2);
      const two = run();
      for (let i = 0; i < one.length; i++) expect(two[i]).toEqual(one[i]);
      if (kd.setCpuIsa('scalar')) {
        const scalar = run();
        for (let i = 0; i < one.length; i++) expectClose(scalar[i], one[i], 1e-6, `seed ${seed} case ${i}`);
      }
    });

    it('rejects bad input with the right error', () => {
      expect(() => op.f(kd.zeros(2, 3), 2)).toThrow(kd.ArgumentError);
      expect(() => op.f(kd.zeros(2, 3), 2)).toThrow(new RegExp(op.name));
      expect(() => op.f(kd.zeros([2, 3], { dtype: 'int32' }), 1)).toThrow(kd.DTypeError);
      expect(() => op.f(kd.zeros([2, 3], { dtype: 'int32' }), 1)).toThrow(new RegExp(`${op.name}.*int32`));
    });
  });
}

it(`softmax of a large batch splits rows across threads consistently (seed ${seed})`, () => {
  const rng = makeRng(seed + 7);
  const shape = [513, 130];
  const { t: x, ref } = randomTensor(rng, shape, -10, 10);
  kd.setNumThreads(2);
  expectClose(x.softmax(1).data(), softmaxRef(ref, shape, 1, false), 1e-5, `seed ${seed}`);
  expectClose(x.logSoftmax(0).data(), softmaxRef(ref, shape, 0, true), 1e-5, `seed ${seed}`);
  expect(numel(shape)).toBe(513 * 130);
});
