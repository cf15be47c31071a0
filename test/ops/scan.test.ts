// cumsum and cumprod against float64 running sums/products on random inputs (odd sizes, every
// dim, transposed / sliced / expanded views, int32 and bool), their gradients against finite
// differences (cumprod with zeros in the input, exact as PyTorch's), and errors.
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import { expectClose, expectError, freshSeed, gradcheck, makeRng, numel } from '../helpers.js';
import { LAYOUTS, laid, values } from './layouts.js';

function refScan(ref: Float64Array, shape: number[], dim: number, product: boolean): Float64Array {
  const out = new Float64Array(ref.length);
  const n = shape[dim], inner = numel(shape.slice(dim + 1)), outer = numel(shape.slice(0, dim));
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let acc = product ? 1 : 0;
      for (let k = 0; k < n; k++) {
        const p = (o * n + k) * inner + i;
        acc = product ? acc * ref[p] : acc + ref[p];
        out[p] = acc;
      }
    }
  }
  return out;
}

describe('cumsum and cumprod', () => {
  it('match float64 running sums and products along every dim of every layout', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const draw = () => 0.5 + rng();
    for (const layout of LAYOUTS) {
      const shape = [3, 7, 5];
      const x = laid(shape, layout, draw);
      for (let dim = -3; dim < 3; dim++) {
        const d = (dim + 3) % 3;
        expectClose(values(x.t.cumsum(dim)), refScan(x.ref, shape, d, false), 1e-6, `seed ${seed} ${layout} cumsum dim ${dim}`);
        expectClose(values(kd.cumprod(x.t, dim)), refScan(x.ref, shape, d, true), 1e-6, `seed ${seed} ${layout} cumprod dim ${dim}`);
      }
      x.free();
    }
  });

  it('scan int32 and bool tensors into int32 and 0-d tensors to themselves', () => {
    const x = kd.tensor([[1, -2, 3], [4, 5, -6]], { dtype: 'int32' });
    const s = x.cumsum(1);
    expect(s.dtype).toBe('int32');
    expect(s.toArray()).toEqual([[1, -1, 2], [4, 9, 3]]);
    expect(x.cumprod(0).toArray()).toEqual([[1, -2, 3], [4, -10, -18]]);
    expect(kd.tensor([true, false, true]).cumsum(0).toArray()).toEqual([1, 1, 2]);
    expect(kd.tensor(2.5).cumsum(0).item()).toBe(2.5);
    expect(kd.tensor(2.5).cumprod(-1).shape).toEqual([]);
  });

  it('cumsum gradient matches finite differences, on a transposed view too', () => {
    const rng = makeRng(freshSeed());
    const x = kd.tensor(Array.from({ length: 12 }, () => rng() * 2 - 1)).reshape([3, 4]).requiresGrad_();
    const w = kd.tensor(Array.from({ length: 12 }, () => rng() * 2 - 1)).reshape([3, 4]);
    gradcheck((a) => a.cumsum(1).mul(w).sum(), [x]);
    gradcheck((a) => a.t().cumsum(1).mul(w.t()).sum(), [x]);
  });

  it('cumprod gradient matches finite differences with one zero, two zeros and none in a row', () => {
    const rng = makeRng(freshSeed());
    const rows = [
      [0.9, -1.2, 0.7, 1.1, -0.8],
      [0.9, 0, 0.7, 1.1, -0.8],
      [0, 1.3, 0, 1.1, -0.8],
      [1.2, -0.7, 0.6, 1.3, 0],
    ];
    const x = kd.tensor(rows).requiresGrad_();
    const w = kd.tensor(rows.map((r) => r.map(() => rng() * 2 - 1)));
    gradcheck((a) => a.cumprod(1).mul(w).sum(), [x], { eps: 1e-3 });
    gradcheck((a) => a.cumprod(0).mul(w).sum(), [x], { eps: 1e-3 });
    // The gradient is finite where a division by x would not be.
    x.grad = null;
    x.cumprod(1).sum().backward();
    expect(Array.from(x.grad!.data()).every(Number.isFinite)).toBe(true);
    expect(x.grad!.data()[6]).not.toBe(0); // the zero at row 1, col 1
  });

  it('rejects a bad dim with an error naming the op', () => {
    expectError(() => kd.ones([2, 3]).cumsum(2), kd.KindlingError, /cumsum/);
    expectError(() => kd.ones([2, 3]).cumprod(-3), kd.KindlingError, /cumprod/);
  });
});
