// matmul: forward against a float64 product on matrices, vectors, broadcast batches and
// transposed views; gradients (analytic float64 and finite differences), including the
// transposed right operand that linear() passes (weight.T), whose gradient comes back contiguous.
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, freshSeed, gradcheck, makeRng, randomTensor } from '../helpers.js';

/** float64 [.., m, n] = a [.., m, k] · b [.., k, n] with a and b already broadcast to batch. */
function refMatmul(a: Float64Array, b: Float64Array, batch: number, m: number, k: number, n: number): Float64Array {
  const out = new Float64Array(batch * m * n);
  for (let t = 0; t < batch; t++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += a[(t * m + i) * k + p] * b[(t * k + p) * n + j];
        out[(t * m + i) * n + j] = s;
      }
  return out;
}

function transposeRef(x: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = x[i * cols + j];
  return out;
}

describe('matmul vs float64', () => {
  it('matrices of odd sizes, a transposed left or right operand, vectors on either side', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const [m, k, n] = [7, 13, 5];
    const { t: a, ref: ar } = randomTensor(rng, [m, k]);
    const { t: b, ref: br } = randomTensor(rng, [k, n]);
    const want = refMatmul(ar, br, 1, m, k, n);
    expectClose(a.matmul(b).data() as Float32Array, want, 1e-6, `plain seed ${seed}`);
    // The same product through stored-transposed operands.
    const at = kd.tensor(Float32Array.from(transposeRef(ar, m, k))).reshape([k, m]).T;
    const bt = kd.tensor(Float32Array.from(transposeRef(br, k, n))).reshape([n, k]).T;
    expect(bt.isContiguous()).toBe(false);
    expectClose(at.matmul(bt).data() as Float32Array, want, 1e-6, `transposed seed ${seed}`);
    const { t: v, ref: vr } = randomTensor(rng, [k]);
    const av = a.matmul(v);
    expect(av.shape).toEqual([m]);
    expectClose(av.data() as Float32Array, refMatmul(ar, vr, 1, m, k, 1), 1e-6, `matrix @ vector seed ${seed}`);
    const vb = v.matmul(b);
    expect(vb.shape).toEqual([n]);
    expectClose(vb.data() as Float32Array, refMatmul(vr, br, 1, 1, k, n), 1e-6, `vector @ matrix seed ${seed}`);
  });

  it('broadcasts batch dims: [2,1,3,4] @ [3,4,5] -> [2,3,3,5]', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const { t: a, ref: ar } = randomTensor(rng, [2, 1, 3, 4]);
    const { t: b, ref: br } = randomTensor(rng, [3, 4, 5]);
    const out = a.matmul(b);
    expect(out.shape).toEqual([2, 3, 3, 5]);
    const ab = new Float64Array(6 * 12), bb = new Float64Array(6 * 20);
    for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) {
      ab.set(ar.subarray(i * 12, i * 12 + 12), (i * 3 + j) * 12);
      bb.set(br.subarray(j * 20, j * 20 + 20), (i * 3 + j) * 20);
    }
    expectClose(out.data() as Float32Array, refMatmul(ab, bb, 6, 3, 4, 5), 1e-6, `seed ${seed}`);
  });
});

describe('matmul gradients', () => {
  it('dA = g B^T and dB = A^T g in float64, for a contiguous and a transposed right operand', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const [m, k, n] = [6, 9, 11];
    const { t: a, ref: ar } = randomTensor(rng, [m, k], -1, 1, true);
    const { ref: gr, t: g } = randomTensor(rng, [m, n]);
    for (const transposed of [false, true]) {
      const { t: w, ref: wr } = randomTensor(rng, transposed ? [n, k] : [k, n], -1, 1, true);
      a.grad = null;
      const b = transposed ? w.T : w;
      const br = transposed ? transposeRef(wr, n, k) : wr;
      a.matmul(b).backward(g);
      expectClose(a.grad!.data() as Float32Array, refMatmul(gr, transposeRef(br, k, n), 1, m, n, k), 1e-6, `dA transposed=${transposed} seed ${seed}`);
      const dB = refMatmul(transposeRef(ar, m, k), gr, 1, k, m, n);
      expect(w.grad!.shape).toEqual(w.shape);
      expect(w.grad!.isContiguous()).toBe(true);
      expectClose(w.grad!.data() as Float32Array, transposed ? transposeRef(dB, k, n) : dB, 1e-6, `dB transposed=${transposed} seed ${seed}`);
    }
  });

  it('[B, T, k] @ weight.T folds into one product: values, dA and a contiguous dW in float64, also from a transposed input', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const [B, T, k, n] = [3, 5, 7, 4];
    const { t: w, ref: wr } = randomTensor(rng, [n, k], -1, 1, true);
    const { t: g, ref: gr } = randomTensor(rng, [B, T, n]);
    for (const viewed of [false, true]) {
      const { t: x0, ref: xr } = randomTensor(rng, [B, T, k], -1, 1, true);
      // The same values through a non-contiguous view: stored [T, B, k], transposed back.
      const xs = viewed ? kd.tensor(Float32Array.from({ length: B * T * k }, (_, i) => {
        const t = Math.floor(i / (B * k)), b = Math.floor(i / k) % B, c = i % k;
        return xr[(b * T + t) * k + c];
      })).reshape([T, B, k]).requiresGrad_() : x0;
      const x = viewed ? xs.transpose(0, 1) : xs;
      w.grad = null;
      const y = x.matmul(w.T);
      expect(y.shape).toEqual([B, T, n]);
      const want = refMatmul(xr, transposeRef(wr, n, k), 1, B * T, k, n);
      expectClose(y.data() as Float32Array, want, 1e-6, `forward viewed=${viewed} seed ${seed}`);
      y.backward(g);
      const dX = refMatmul(gr, wr, 1, B * T, n, k);
      const dXgot = viewed ? xs.grad!.transpose(0, 1).contiguous() : xs.grad!;
      expectClose(dXgot.data() as Float32Array, dX, 1e-6, `dX viewed=${viewed} seed ${seed}`);
      expect(w.grad!.isContiguous()).toBe(true);
      expectClose(w.grad!.data() as Float32Array, refMatmul(transposeRef(gr, B * T, n), xr, 1, n, B * T, k), 1e-6, `dW viewed=${viewed} seed ${seed}`);
    }
  });

  it('finite differences through vectors, broadcast batches and transposed views', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const r = (shape: number[]) => randomTensor(rng, shape, -1, 1, true).t;
    const weights = (t: Tensor) => kd.tensor(Float32Array.from({ length: t.numel }, (_, i) => Math.sin(i + 1))).reshape(t.shape);
    const check = (f: (...xs: Tensor[]) => Tensor, inputs: Tensor[], context: string) =>
      gradcheck((...xs) => { const y = f(...xs); return y.mul(weights(y)).sum(); }, inputs, { context: `${context} seed ${seed}` });
    check((x, y) => x.matmul(y), [r([3, 4]), r([4])], 'matrix @ vector');
    check((x, y) => x.matmul(y), [r([4]), r([4, 2])], 'vector @ matrix');
    check((x, y) => x.matmul(y), [r([2, 1, 3, 4]), r([3, 4, 2])], 'broadcast batch');
    check((x, y) => x.T.matmul(y.T), [r([4, 3]), r([2, 4])], 'both transposed');
  });
});
