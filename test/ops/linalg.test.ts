// mm, bmm, addmm, baddbmm, dot, outer, kron, cross and norm against float64 references on seeded
// random inputs (odd sizes, transposed and sliced operands, broadcast inputs), their backwards
// against finite differences, and PyTorch's shape and dtype errors.
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import { expectClose, forEachIndex, freshSeed, gradcheck, makeRng, numel, stridesOf } from '../helpers.js';
import { LAYOUTS, laid, values } from './layouts.js';

const GEMM_TOL = 1e-4;

/** Row-major float64 matrix product of [m, k] and [k, n]. */
function matmulRef(a: Float64Array, b: Float64Array, m: number, k: number, n: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
    out[i * n + j] = s;
  }
  return out;
}

/** ref values of a tensor of `shape` broadcast to `target` (row-major). */
function broadcastRef(ref: Float64Array, shape: number[], target: number[]): Float64Array {
  const out = new Float64Array(numel(target));
  const st = stridesOf(shape), lead = target.length - shape.length;
  forEachIndex(target, (idx, flat) => {
    let off = 0;
    for (let d = 0; d < shape.length; d++) off += (shape[d] === 1 ? 0 : idx[lead + d]) * st[d];
    out[flat] = ref[off];
  });
  return out;
}

describe('mm and bmm', () => {
  it('mm matches float64 for odd sizes and every operand layout', () => {
    const seed = freshSeed(), rng = makeRng(seed), draw = () => rng() * 2 - 1;
    for (const [m, k, n] of [[1, 1, 1], [7, 5, 3], [33, 17, 9]]) {
      for (const layout of LAYOUTS) {
        const a = laid([m, k], layout, draw), b = laid([k, n], layout === 'expanded' ? 'sliced' : layout, draw);
        const out = a.t.mm(b.t);
        expect(out.shape).toEqual([m, n]);
        expectClose(values(out), matmulRef(a.ref, b.ref, m, k, n), GEMM_TOL, `seed ${seed} mm ${m}x${k}x${n} ${layout}`);
        out.dispose(); a.free(); b.free();
      }
    }
  });

  it('bmm matches float64 per batch, with a transposed batch operand', () => {
    const seed = freshSeed(), rng = makeRng(seed), draw = () => rng() * 2 - 1;
    const [bt, m, k, n] = [3, 5, 7, 4];
    const a = laid([bt, m, k], 'contiguous', draw);
    const b = laid([n, k, bt], 'contiguous', draw);
    const bv = b.t.permute(2, 1, 0);
    const out = kd.bmm(a.t, bv);
    expect(out.shape).toEqual([bt, m, n]);
    const bRef = new Float64Array(bt * k * n);
    forEachIndex([bt, k, n], ([i, p, j], flat) => { bRef[flat] = b.ref[(j * k + p) * bt + i]; });
    for (let i = 0; i < bt; i++) {
      const ref = matmulRef(a.ref.subarray(i * m * k), bRef.subarray(i * k * n), m, k, n);
      expectClose(values(out).subarray(i * m * n, (i + 1) * m * n), ref, GEMM_TOL, `seed ${seed} bmm batch ${i}`);
    }
    out.dispose(); bv.dispose(); a.free(); b.free();
  });

  it('mm and bmm backward match finite differences', () => {
    const rng = makeRng(freshSeed());
    const a = kd.tensor(Array.from({ length: 12 }, () => rng() - 0.5)).reshape([3, 4]).requiresGrad_();
    const b = kd.tensor(Array.from({ length: 8 }, () => rng() - 0.5)).reshape([4, 2]).requiresGrad_();
    gradcheck((x, y) => x.mm(y).square().sum(), [a, b]);
    const p = kd.tensor(Array.from({ length: 12 }, () => rng() - 0.5)).reshape([2, 3, 2]).requiresGrad_();
    const q = kd.tensor(Array.from({ length: 8 }, () => rng() - 0.5)).reshape([2, 2, 2]).requiresGrad_();
    gradcheck((x, y) => x.bmm(y).square().sum(), [p, q]);
  });

  it('mm and bmm reject wrong ranks, inner sizes, batch sizes and int operands', () => {
    const a = kd.ones([2, 3]), b = kd.ones([4, 2]), v = kd.ones([3]);
    expect(() => a.mm(b)).toThrow(kd.ShapeError);
    expect(() => a.mm(b)).toThrow(/mm.*\[2, ?3\].*\[4, ?2\]/);
    expect(() => a.mm(v)).toThrow(kd.ShapeError);
    expect(() => kd.mm(kd.ones([2, 3], { dtype: 'int32' }), kd.ones([3, 2], { dtype: 'int32' }))).toThrow(kd.DTypeError);
    expect(() => kd.bmm(kd.ones([2, 2, 3]), kd.ones([3, 3, 2]))).toThrow(/bmm/);
    expect(() => kd.bmm(a, a)).toThrow(kd.ShapeError);
  });
});

describe('addmm and baddbmm', () => {
  it('addmm is beta * input + alpha * mat1 @ mat2 with a broadcast input', () => {
    const seed = freshSeed(), rng = makeRng(seed), draw = () => rng() * 2 - 1;
    const [m, k, n] = [5, 6, 3];
    const a = laid([m, k], 'transposed', draw), b = laid([k, n], 'sliced', draw), c = laid([n], 'contiguous', draw);
    const out = kd.addmm(c.t, a.t, b.t, { beta: 0.5, alpha: -2 });
    const prod = matmulRef(a.ref, b.ref, m, k, n), cb = broadcastRef(c.ref, [n], [m, n]);
    expectClose(values(out), prod.map((p, i) => 0.5 * cb[i] - 2 * p), GEMM_TOL, `seed ${seed} addmm`);
    const plain = c.t.addmm(a.t, b.t);
    expectClose(values(plain), prod.map((p, i) => cb[i] + p), GEMM_TOL, `seed ${seed} addmm defaults`);
    out.dispose(); plain.dispose(); a.free(); b.free(); c.free();
  });

  it('addmm with beta 0 ignores NaN in input, as PyTorch', () => {
    const out = kd.addmm(kd.full([2, 3], NaN), kd.ones([2, 3]), kd.ones([3, 3]), { beta: 0 });
    expect(out.toArray()).toEqual([[3, 3, 3], [3, 3, 3]]);
  });

  it('baddbmm matches float64 with a broadcast input', () => {
    const seed = freshSeed(), rng = makeRng(seed), draw = () => rng() * 2 - 1;
    const [bt, m, k, n] = [2, 3, 5, 4];
    const a = laid([bt, m, k], 'contiguous', draw), b = laid([bt, k, n], 'sliced', draw), c = laid([m, 1], 'contiguous', draw);
    const out = c.t.baddbmm(a.t, b.t, { beta: 2, alpha: 0.5 });
    expect(out.shape).toEqual([bt, m, n]);
    const cb = broadcastRef(c.ref, [m, 1], [bt, m, n]);
    const ref = new Float64Array(bt * m * n);
    for (let i = 0; i < bt; i++) ref.set(matmulRef(a.ref.subarray(i * m * k), b.ref.subarray(i * k * n), m, k, n), i * m * n);
    expectClose(values(out), ref.map((p, i) => 2 * cb[i] + 0.5 * p), GEMM_TOL, `seed ${seed} baddbmm`);
    out.dispose(); a.free(); b.free(); c.free();
  });

  it('addmm and baddbmm backward match finite differences', () => {
    const rng = makeRng(freshSeed());
    const r = (shape: number[]) => kd.tensor(Array.from({ length: numel(shape) }, () => rng() - 0.5)).reshape(shape).requiresGrad_();
    gradcheck((c, a, b) => kd.addmm(c, a, b, { beta: 0.7, alpha: 1.3 }).square().sum(), [r([3]), r([2, 4]), r([4, 3])]);
    gradcheck((c, a, b) => kd.baddbmm(c, a, b, { beta: -1, alpha: 2 }).square().sum(), [r([1, 2, 3]), r([2, 2, 2]), r([2, 2, 3])]);
  });

  it('reject an input that does not broadcast to the product', () => {
    expect(() => kd.addmm(kd.ones([3, 3]), kd.ones([2, 3]), kd.ones([3, 3]))).toThrow(kd.ShapeError);
    expect(() => kd.baddbmm(kd.ones([4]), kd.ones([2, 2, 3]), kd.ones([2, 3, 3]))).toThrow(/baddbmm/);
  });
});

describe('dot, outer, kron', () => {
  it('dot of float vectors (sliced) matches float64; int32 dot is exact', () => {
    const seed = freshSeed(), rng = makeRng(seed), draw = () => rng() * 2 - 1;
    for (const n of [1, 13, 1000]) {
      const a = laid([n], 'sliced', draw), b = laid([n], 'contiguous', draw);
      const out = kd.dot(a.t, b.t);
      expect(out.shape).toEqual([]);
      // Against the sum of |a_i b_i|: a dot product of random signs may cancel to near zero.
      const want = a.ref.reduce((s, v, i) => s + v * b.ref[i], 0), scale = a.ref.reduce((s, v, i) => s + Math.abs(v * b.ref[i]), 0);
      expect(Math.abs(out.item() - want) / scale, `seed ${seed} dot ${n}`).toBeLessThan(GEMM_TOL);
      a.free(); b.free();
    }
    expect(kd.dot(kd.tensor([1, 2]), kd.tensor([1, 10])).item()).toBe(21);
    expect(kd.dot(kd.tensor([1, 2]), kd.tensor([1, 10])).dtype).toBe('int32');
  });

  it('dot rejects mixed dtypes, sizes and ranks', () => {
    expect(() => kd.dot(kd.tensor([1.5, 2]), kd.tensor([1, 10]))).toThrow(kd.DTypeError);
    expect(() => kd.dot(kd.ones([2]), kd.ones([3]))).toThrow(kd.ShapeError);
    expect(() => kd.dot(kd.ones([2, 1]), kd.ones([2]))).toThrow(kd.ShapeError);
  });

  it('outer and kron match float64 on strided inputs and promote dtypes', () => {
    const seed = freshSeed(), rng = makeRng(seed), draw = () => rng() * 2 - 1;
    const a = laid([5], 'sliced', draw), b = laid([3], 'contiguous', draw);
    const o = a.t.outer(b.t);
    const oRef = new Float64Array(15);
    forEachIndex([5, 3], ([i, j], flat) => { oRef[flat] = a.ref[i] * b.ref[j]; });
    expectClose(values(o), oRef, 1e-6, `seed ${seed} outer`);
    expect(kd.outer(kd.tensor([1, 2]), kd.tensor([1.5, 10])).toArray()).toEqual([[1.5, 10], [3, 20]]);
    const p = laid([2, 3], 'transposed', draw), q = laid([4, 1, 2], 'sliced', draw);
    const k = kd.kron(p.t, q.t);
    expect(k.shape).toEqual([4, 2, 6]);
    const kRef = new Float64Array(48);
    forEachIndex([4, 2, 6], ([i, j, l], flat) => {
      // p padded to [1, 2, 3]
      kRef[flat] = p.ref[Math.floor(j / 1) * 3 + Math.floor(l / 2)] * q.ref[i * 2 + (j % 1) * 2 + (l % 2)];
    });
    expectClose(values(k), kRef, 1e-6, `seed ${seed} kron`);
    expect(kd.kron(kd.tensor([1, 2]), kd.tensor([1, 10])).toArray()).toEqual([1, 10, 2, 20]);
    a.free(); b.free(); p.free(); q.free();
  });

  it('dot, outer and kron backward match finite differences', () => {
    const rng = makeRng(freshSeed());
    const r = (shape: number[]) => kd.tensor(Array.from({ length: numel(shape) }, () => rng() - 0.5)).reshape(shape).requiresGrad_();
    gradcheck((a, b) => kd.dot(a, b).square(), [r([5]), r([5])]);
    gradcheck((a, b) => kd.outer(a, b).square().sum(), [r([3]), r([4])]);
    gradcheck((a, b) => kd.kron(a, b).square().sum(), [r([2, 3]), r([3, 2])]);
  });
});

describe('cross', () => {
  const crossRef = (a: number[], b: number[]) => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];

  it('cross along dim 1 of a transposed view with a broadcast operand matches float64', () => {
    const seed = freshSeed(), rng = makeRng(seed), draw = () => rng() * 2 - 1;
    const a = laid([4, 3], 'transposed', draw), b = laid([1, 3], 'contiguous', draw);
    const out = kd.cross(a.t, b.t, 1);
    expect(out.shape).toEqual([4, 3]);
    const ref = new Float64Array(12);
    for (let i = 0; i < 4; i++) ref.set(crossRef(Array.from(a.ref.subarray(i * 3, i * 3 + 3)), Array.from(b.ref)), i * 3);
    expectClose(values(out), ref, 1e-6, `seed ${seed} cross`);
    a.free(); b.free();
  });

  it('cross defaults to the first dim of size 3 and works on int32', () => {
    expect(kd.cross(kd.tensor([1, 2, 3]), kd.tensor([4, 5, 6])).toArray()).toEqual([-3, 6, -3]);
    const a = kd.tensor([[1, 0], [0, 1], [0, 0]]), b = kd.tensor([[0, 0], [1, 0], [0, 1]]);
    expect(a.cross(b).toArray()).toEqual([[0, 1], [0, 0], [1, 0]]);
  });

  it('cross backward matches finite differences', () => {
    const rng = makeRng(freshSeed());
    const r = (shape: number[]) => kd.tensor(Array.from({ length: numel(shape) }, () => rng() - 0.5)).reshape(shape).requiresGrad_();
    gradcheck((a, b) => kd.cross(a, b, 0).square().sum(), [r([3, 2]), r([3, 2])]);
  });

  it('cross rejects a dim that is not 3 long and mismatched ranks', () => {
    expect(() => kd.cross(kd.ones([4, 3]), kd.ones([4, 3]), 0)).toThrow(kd.ShapeError);
    expect(() => kd.cross(kd.ones([4, 4]), kd.ones([4, 4]))).toThrow(/no dim of size 3/);
    expect(() => kd.cross(kd.ones([4, 3, 5]), kd.ones([3, 5]), 1)).toThrow(kd.ShapeError);
  });
});

describe('norm', () => {
  type P = number | 'fro';
  const normRef = (v: number[], p: P): number => {
    const a = v.map(Math.abs);
    if (p === 'fro' || p === 2) return Math.sqrt(a.reduce((s, x) => s + x * x, 0));
    if (p === Infinity) return Math.max(...a);
    if (p === -Infinity) return Math.min(...a);
    if (p === 0) return a.filter((x) => x !== 0).length;
    return a.reduce((s, x) => s + x ** p, 0) ** (1 / p);
  };

  for (const p of ['fro', 2, 1, Infinity, -Infinity, 0, 3, 0.5] as P[]) {
    it(`norm p=${p} over all dims and over dims [0, 2] (keepdim) of a transposed view matches float64`, () => {
      const seed = freshSeed(), rng = makeRng(seed), draw = () => rng() * 4 - 2;
      const shape = [5, 3, 4];
      const x = laid(shape, 'transposed', draw);
      const all = kd.norm(x.t, p);
      expect(all.shape).toEqual([]);
      expectClose([all.item()], [normRef(Array.from(x.ref), p)], 1e-5, `seed ${seed} p=${p} all`);
      const part = x.t.norm(p, [0, 2], true);
      expect(part.shape).toEqual([1, 3, 1]);
      const ref = [0, 1, 2].map((j) => {
        const v: number[] = [];
        forEachIndex(shape, ([, jj], flat) => { if (jj === j) v.push(x.ref[flat]); });
        return normRef(v, p);
      });
      expectClose(values(part), ref, 1e-5, `seed ${seed} p=${p} dims [0, 2]`);
      const one = x.t.norm(p, -1);
      expect(one.shape).toEqual([5, 3]);
      all.dispose(); part.dispose(); one.dispose(); x.free();
    });
  }

  it('norm backward matches finite differences for p = 2, 1, 3, 0.5 and inf', () => {
    const rng = makeRng(freshSeed());
    // Magnitudes in [0.5, 2): away from the kinks at zero that finite differences cannot see through.
    const r = (shape: number[]) => kd.tensor(Array.from({ length: numel(shape) }, () => (rng() < 0.5 ? -1 : 1) * (0.5 + 1.5 * rng()))).reshape(shape).requiresGrad_();
    for (const p of [2, 1, 3, 0.5] as P[]) gradcheck((x) => x.norm(p, 1).square().sum(), [r([3, 4])], { eps: 1e-3, context: `p=${p}` });
    // The inf norm has a kink wherever two magnitudes tie: keep each row's magnitudes 0.3 apart.
    const spread = kd.tensor(Array.from({ length: 3 }, () => [0.6, 0.9, 1.2, 1.5].sort(() => rng() - 0.5)
      .map((m) => (rng() < 0.5 ? -1 : 1) * (m + 0.05 * rng())))).requiresGrad_();
    gradcheck((x) => x.norm(Infinity, 1).square().sum(), [spread], { eps: 1e-3, context: 'p=inf' });
    gradcheck((x) => x.norm().mul(2), [r([2, 3])]);
  });

  it("norm backward at zero is PyTorch's subgradient", () => {
    const grad = (values: number[], p: P) => {
      const x = kd.tensor(values, { dtype: 'float32' }).requiresGrad_();
      kd.norm(x, p).backward();
      return Array.from(x.grad!.data());
    };
    expect(grad([0, 0, 0], 2)).toEqual([0, 0, 0]);
    expect(grad([0, 0, 0], 3)).toEqual([0, 0, 0]);
    expect(grad([0, 1, -2], 1)).toEqual([0, 1, -1]);
    expect(grad([0, 2, -2], Infinity)).toEqual([0, 0.5, -0.5]);
    const g15 = grad([0, 1, -2], 1.5);
    expect(g15[0]).toBe(0);
    expectClose(g15, [0, 0.6392, -0.9040], 1e-3, 'p=1.5 vs PyTorch');
    const g05 = grad([0, 1, -2], 0.5);
    expectClose(g05, [0, 2.4142, -1.7071], 1e-3, 'p=0.5 vs PyTorch');
  });

  it('norm rejects int input, a bad p, and the inf norm of an empty tensor', () => {
    expect(() => kd.norm(kd.tensor([1, 2]))).toThrow(kd.DTypeError);
    expect(() => kd.norm(kd.ones([2]), -1)).toThrow(kd.ArgumentError);
    expect(() => kd.norm(kd.zeros([0]), Infinity)).toThrow(kd.ShapeError);
    expect(kd.norm(kd.zeros([0])).item()).toBe(0);
  });
});
