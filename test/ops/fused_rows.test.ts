// The row-wise fused nodes (lib/ops/fused_rows.ts over native/cpu/fused_rows.cc): F.layerNorm,
// F.rmsNorm, F.biasGelu and F.crossEntropy with class targets. Values and gradients against
// float64 references on odd sizes (1, 7, 33, 1000 columns, a 50257-class vocabulary), strided
// inputs, each ISA build, 1 and 2 threads; gradients against finite differences; the composed
// backward under createGraph; PyTorch's values (test/fixtures/make_fused_rows_fixtures.py);
// large magnitudes; ignored rows; and errors on bad shapes.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterEach, describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { native } from '../../lib/native.js';
import type { CpuIsa } from '../../lib/runtime.js';
import { expectClose, expectError, freshSeed, gradcheck, makeRng, randomTensor } from '../helpers.js';

const F = kd.nn.functional;
const seed = freshSeed();
const isaAtStart = kd.cpuIsa();
const threadsAtStart = kd.getNumThreads();
afterEach(() => {
  kd.setCpuIsa(isaAtStart);
  kd.setNumThreads(threadsAtStart);
});

const values = (t: Tensor) => Float64Array.from(t.data() as Float32Array);
const f32 = (v: ArrayLike<number>, shape: number[]) => kd.tensor(Float32Array.from(v)).reshape(shape);

/** Runs fn under every ISA build this CPU has, on 1 and 2 threads; checks the build really ran. */
function underEachBuild(fn: (context: string) => void): void {
  for (const isa of ['scalar', 'avx2', 'avx512'] as const) {
    if (!kd.setCpuIsa(isa)) continue;
    for (const threads of [1, 2]) {
      kd.setNumThreads(threads);
      const before = native.isaDispatchCounts() as Record<CpuIsa, number>;
      fn(`${isa}, ${threads} threads`);
      const after = native.isaDispatchCounts() as Record<CpuIsa, number>;
      expect(after[isa] - before[isa], `${isa} build ran`).toBeGreaterThan(0);
    }
  }
}

// ---- float64 references -------------------------------------------------------------------------

interface NormRef { y: Float64Array; dx: Float64Array; dw: Float64Array; db: Float64Array }

/** Layer / RMS norm of x [rows, cols] and the gradients of sum(y * r), in float64. */
function normRef(rms: boolean, x: Float64Array, rows: number, cols: number, w: Float64Array | null, b: Float64Array | null,
  eps: number, r: Float64Array): NormRef {
  const y = new Float64Array(rows * cols), dx = new Float64Array(rows * cols);
  const dw = new Float64Array(cols), db = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    let mu = 0;
    if (!rms) { for (let j = 0; j < cols; j++) mu += x[o + j]; mu /= cols; }
    let v = 0;
    for (let j = 0; j < cols; j++) v += (x[o + j] - mu) ** 2;
    const rstd = 1 / Math.sqrt(v / cols + eps);
    let sg = 0, sgx = 0;
    for (let j = 0; j < cols; j++) {
      const xh = (x[o + j] - mu) * rstd, wj = w ? w[j] : 1;
      y[o + j] = xh * wj + (b ? b[j] : 0);
      const gw = r[o + j] * wj;
      sg += gw; sgx += gw * xh;
      dw[j] += r[o + j] * xh; db[j] += r[o + j];
    }
    for (let j = 0; j < cols; j++) {
      const xh = (x[o + j] - mu) * rstd, gw = r[o + j] * (w ? w[j] : 1);
      dx[o + j] = rstd * (gw - (rms ? 0 : sg / cols) - xh * sgx / cols);
    }
  }
  return { y, dx, dw, db };
}

function geluRef(z: number, tanh: boolean): [number, number] {
  if (tanh) {
    const k = Math.sqrt(2 / Math.PI), u = k * (z + 0.044715 * z ** 3), t = Math.tanh(u);
    return [0.5 * z * (1 + t), 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * k * (1 + 3 * 0.044715 * z * z)];
  }
  const cdf = 0.5 * erfc(-z / Math.SQRT2);
  return [z * cdf, cdf + z * Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI)];
}

/** erfc in float64 (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7 everywhere). */
function erfc(x: number): number {
  const z = Math.abs(x), t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}

interface CeOptions { weight?: number[]; ignoreIndex?: number; labelSmoothing?: number; reduction?: 'mean' | 'sum' | 'none' }

/**
 * Cross entropy of x [rows, C] against targets, PyTorch's formula, and the gradient of
 * sum(loss * r) (r ignored for scalar reductions), in float64.
 */
function ceRef(x: Float64Array, rows: number, c: number, target: number[], o: CeOptions, r: Float64Array | null): { loss: Float64Array; dx: Float64Array } {
  const eps = o.labelSmoothing ?? 0, ignore = o.ignoreIndex ?? -100, reduction = o.reduction ?? 'mean';
  const w = (j: number) => (o.weight ? o.weight[j] : 1);
  let wsum = 0;
  for (let j = 0; j < c; j++) wsum += w(j);
  const loss = new Float64Array(rows), tw = new Float64Array(rows), p = new Float64Array(rows * c);
  for (let i = 0; i < rows; i++) {
    let m = -Infinity;
    for (let j = 0; j < c; j++) m = Math.max(m, x[i * c + j]);
    let s = 0;
    for (let j = 0; j < c; j++) s += Math.exp(x[i * c + j] - m);
    const lse = m + Math.log(s);
    for (let j = 0; j < c; j++) p[i * c + j] = Math.exp(x[i * c + j] - lse);
    if (target[i] === ignore) continue;
    let smooth = 0;
    for (let j = 0; j < c; j++) smooth += w(j) * (lse - x[i * c + j]);
    tw[i] = w(target[i]);
    loss[i] = (1 - eps) * tw[i] * (lse - x[i * c + target[i]]) + (eps / c) * smooth;
  }
  const denom = tw.reduce((a, b) => a + b, 0);
  const dx = new Float64Array(rows * c);
  for (let i = 0; i < rows; i++) {
    if (target[i] === ignore) continue;
    const g = reduction === 'none' ? r![i] : reduction === 'sum' ? 1 : 1 / denom;
    for (let j = 0; j < c; j++) {
      const pj = p[i * c + j];
      dx[i * c + j] = g * ((1 - eps) * tw[i] * (pj - (j === target[i] ? 1 : 0)) + (eps / c) * (wsum * pj - w(j)));
    }
  }
  if (reduction === 'none') return { loss, dx };
  const total = loss.reduce((a, b) => a + b, 0);
  return { loss: Float64Array.of(reduction === 'sum' ? total : total / denom), dx };
}

// ---- layer norm / RMS norm -------------------------------------------------------------------

describe('fused layerNorm / rmsNorm', () => {
  for (const rms of [false, true]) {
    const name = rms ? 'rmsNorm' : 'layerNorm';
    const run = (x: Tensor, shape: number[], w: Tensor | null, b: Tensor | null, eps: number) =>
      rms ? F.rmsNorm(x, shape, w, eps) : F.layerNorm(x, shape, w, b, eps);

    it(`${name} matches float64 values and gradients, cols 1 / 7 / 33 / 1000, every build and thread count (seed ${seed})`, () => {
      const rng = makeRng(seed);
      for (const [rows, cols] of [[5, 1], [9, 7], [4, 33], [6, 1000], [67, 33]]) {
        for (const affine of [true, false]) {
          const { t: x, ref: xr } = randomTensor(rng, [rows, cols], -2, 3);
          const { t: w, ref: wr } = randomTensor(rng, [cols], 0.5, 1.5);
          const { t: b, ref: br } = randomTensor(rng, [cols], -1, 1);
          const { t: r, ref: rr } = randomTensor(rng, [rows, cols]);
          const eps = cols === 1 ? 1e-3 : 1e-5;
          const ref = normRef(rms, xr, rows, cols, affine ? wr : null, affine && !rms ? br : null, eps, rr);
          underEachBuild((build) => {
            const ctx = `${name} [${rows}, ${cols}] affine ${affine} (${build})`;
            const xs = x.detach().requiresGrad_(), ws = w.detach().requiresGrad_(), bs = b.detach().requiresGrad_();
            const y = run(xs, [cols], affine ? ws : null, affine ? bs : null, eps);
            expectClose(values(y), ref.y, 2e-6, `${ctx} output`);
            y.mul(r).sum().backward();
            expectClose(values(xs.grad!), ref.dx, cols === 1 ? 1e-2 : 2e-5, `${ctx} dx`);
            if (affine) {
              // With one column, dweight and dbias are each a sum over the rows that can cancel to
              // near zero, so the float32 sum's rounding is large relative to the result.
              const colTol = cols === 1 ? 1e-4 : 2e-6;
              expectClose(values(ws.grad!), ref.dw, colTol, `${ctx} dweight`);
              if (!rms) expectClose(values(bs.grad!), ref.db, colTol, `${ctx} dbias`);
            }
          });
        }
      }
    });

    it(`${name} over two trailing dims on a strided (transposed) input matches the contiguous one`, () => {
      const rng = makeRng(seed + 1);
      const { t: base } = randomTensor(rng, [5, 4, 3]);
      const x = base.transpose(0, 2).requiresGrad_();  // [3, 4, 5], not contiguous
      expect(x.isContiguous()).toBe(false);
      const w = randomTensor(rng, [4, 5], 0.5, 1.5).t.requiresGrad_();
      const b = rms ? null : randomTensor(rng, [4, 5]).t.requiresGrad_();
      const r = randomTensor(rng, [3, 4, 5]).t;
      const y = run(x, [4, 5], w, b, 1e-5);
      y.mul(r).sum().backward();
      const xc = x.detach().contiguous();
      const ref = normRef(rms, values(xc), 3, 20, values(w), b ? values(b) : null, 1e-5, values(r));
      expectClose(values(y), ref.y, 2e-6, 'output');
      expectClose(values(x.grad!.contiguous()), ref.dx, 2e-5, 'dx');
      expectClose(values(w.grad!), ref.dw, 2e-6, 'dweight');
      if (b) expectClose(values(b.grad!), ref.db, 2e-6, 'dbias');
    });

    it(`${name} gradients match finite differences`, () => {
      const rng = makeRng(seed + 2);
      const x = randomTensor(rng, [3, 5], -1, 1, true).t;
      const w = randomTensor(rng, [5], 0.5, 1.5, true).t;
      const b = randomTensor(rng, [5], -1, 1, true).t;
      const r = randomTensor(rng, [3, 5]).t;
      gradcheck((xx, ww, bb) => run(xx, [5], ww, bb, 1e-5).mul(r).sum(), rms ? [x, w] : [x, w, b], { eps: 1e-2, context: name });
    });

    it(`${name} of rows centred at 1e4 keeps float64 accuracy`, () => {
      const rng = makeRng(seed + 3);
      const { ref: noise } = randomTensor(rng, [4, 256]);
      const xr = noise.map((v) => 1e4 + v);
      const x = f32(xr, [4, 256]);
      const y = run(x, [256], null, null, 1e-5);
      const ref = normRef(rms, values(x), 4, 256, null, null, 1e-5, new Float64Array(1024));
      expectClose(values(y), ref.y, rms ? 2e-6 : 2e-3, 'output');
    });

    it(`${name} under createGraph gives the fused gradient and a second derivative`, () => {
      const rng = makeRng(seed + 4);
      const x0 = randomTensor(rng, [3, 6]).t;
      const w = randomTensor(rng, [6], 0.5, 1.5).t;
      const r = randomTensor(rng, [3, 6]).t, r2 = randomTensor(rng, [3, 6]).t;
      const gradOf = (createGraph: boolean) => {
        const xs = x0.detach().requiresGrad_();
        run(xs, [6], w, null, 1e-5).mul(r).sum().backward(undefined, { createGraph });
        return xs;
      };
      const fused = gradOf(false).grad!;
      const xs = gradOf(true);
      expect(xs.grad!.requiresGrad).toBe(true);
      expectClose(values(xs.grad!), values(fused), 1e-5, 'composed vs fused');
      const first = xs.grad!;
      xs.grad = null;
      first.mul(r2).sum().backward();
      expect(values(xs.grad!).every(Number.isFinite)).toBe(true);
      expect(values(xs.grad!).some((v) => v !== 0)).toBe(true);
    });
  }

  it('nn.LayerNorm (bias false) and nn.RMSNorm route through the fused node', () => {
    const ln = new kd.nn.LayerNorm([6], { bias: false });
    const rn = new kd.nn.RMSNorm([6]);
    const x = kd.randn([2, 3, 6]).requiresGrad_();
    const y = ln.forward(x);
    expect(y.gradFn?.name).toBe('LayerNormBackward');
    expect(rn.forward(x).gradFn?.name).toBe('RmsNormBackward');
    y.sum().backward();
    expect(ln.weight!.grad).not.toBeNull();
  });

  it('rejects shapes that do not end in normalizedShape, wrong parameter shapes and bad eps', () => {
    const x = kd.randn([2, 3]);
    expectError(() => F.layerNorm(x, [4]), kd.ShapeError, 'layerNorm', '[2,3]');
    expectError(() => F.layerNorm(x, [3], kd.ones([4])), kd.ShapeError, 'layerNorm', 'weight');
    expectError(() => F.rmsNorm(x, [3], kd.ones([2])), kd.ShapeError, 'rmsNorm', 'weight');
    expectError(() => F.rmsNorm(x, [2, 3, 4]), kd.ShapeError, 'rmsNorm');
    expectError(() => F.layerNorm(x, [3], null, null, -1), kd.ArgumentError, 'eps');
  });
});

// ---- bias + GELU ---------------------------------------------------------------------------------

describe('F.biasGelu', () => {
  for (const approximate of ['none', 'tanh'] as const) {
    it(`${approximate}: values and dx / dbias match float64, cols 1 / 7 / 33 / 1000, every build and thread count`, () => {
      const rng = makeRng(seed + 10);
      for (const [rows, cols] of [[3, 1], [5, 7], [70, 33], [4, 1000]]) {
        const { t: x, ref: xr } = randomTensor(rng, [rows, cols], -6, 6);
        const { t: b, ref: br } = randomTensor(rng, [cols], -1, 1);
        const { t: r, ref: rr } = randomTensor(rng, [rows, cols]);
        const y64 = new Float64Array(rows * cols), dx64 = new Float64Array(rows * cols), db64 = new Float64Array(cols);
        for (let i = 0; i < rows * cols; i++) {
          const [v, d] = geluRef(Math.fround(xr[i] + br[i % cols]), approximate === 'tanh');
          y64[i] = v; dx64[i] = d * rr[i]; db64[i % cols] += d * rr[i];
        }
        underEachBuild((build) => {
          const ctx = `[${rows}, ${cols}] ${build}`;
          const xs = x.detach().requiresGrad_(), bs = b.detach().requiresGrad_();
          const y = F.biasGelu(xs, bs, { approximate });
          expect(y.gradFn?.name).toBe('BiasGeluBackward');
          expectClose(values(y), y64, 1e-6, `${ctx} output`);
          y.mul(r).sum().backward();
          expectClose(values(xs.grad!), dx64, 1e-6, `${ctx} dx`);
          // One column: dbias is a sum over the rows that can cancel, so allow the float32 sum's rounding.
          expectClose(values(bs.grad!), db64, cols === 1 ? 1e-4 : 1e-5, `${ctx} dbias`);
        });
      }
    });

    it(`${approximate}: equals F.gelu(x + bias) on a strided input, values and gradients, and finite differences`, () => {
      const rng = makeRng(seed + 11);
      const x = randomTensor(rng, [7, 4], -3, 3).t.transpose(0, 1).requiresGrad_();  // [4, 7] strided
      const b = randomTensor(rng, [7]).t.requiresGrad_();
      const x2 = x.detach().requiresGrad_(), b2 = b.detach().requiresGrad_();
      const r = randomTensor(rng, [4, 7]).t;
      const y = F.biasGelu(x, b, { approximate });
      const ref = F.gelu(x2.add(b2), approximate);
      expectClose(values(y), values(ref), 1e-6, 'output');
      y.mul(r).sum().backward();
      ref.mul(r).sum().backward();
      expectClose(values(x.grad!.contiguous()), values(x2.grad!.contiguous()), 1e-6, 'dx');
      expectClose(values(b.grad!), values(b2.grad!), 1e-5, 'dbias');
      const xt = randomTensor(rng, [2, 3], -2, 2, true).t, bt = randomTensor(rng, [3], -1, 1, true).t;
      gradcheck((xx, bb) => F.biasGelu(xx, bb, { approximate }).mul(r.narrow(0, 0, 2).narrow(1, 0, 3)).sum(), [xt, bt], { context: approximate });
    });

    it(`${approximate}: under createGraph the composed backward equals the fused one`, () => {
      const rng = makeRng(seed + 12);
      const x0 = randomTensor(rng, [3, 5], -3, 3).t, b = randomTensor(rng, [5]).t;
      const gradOf = (createGraph: boolean) => {
        const xs = x0.detach().requiresGrad_();
        F.biasGelu(xs, b, { approximate }).sum().backward(undefined, { createGraph });
        return xs;
      };
      const fused = values(gradOf(false).grad!);
      const xs = gradOf(true);
      expect(xs.grad!.requiresGrad).toBe(true);
      expectClose(values(xs.grad!), fused, 1e-5, 'composed vs fused');
    });
  }

  it('keeps float accuracy per element in the far negative tail, values and slopes, both forms and x.gelu', () => {
    // Stable float64 references: z Φ(z) from erfc, z σ(2u) as z w / (1 + w) with w = exp(2u).
    const tanhParts = (z: number) => {
      const k = Math.sqrt(2 / Math.PI), u = k * (z + 0.044715 * z ** 3), w = Math.exp(-2 * Math.abs(u));
      const s = u >= 0 ? 1 / (1 + w) : w / (1 + w);
      return [z * s, s + 2 * z * (w / (1 + w) ** 2) * k * (1 + 3 * 0.044715 * z * z)];
    };
    const ref = (z: number, tanh: boolean) => (tanh ? tanhParts(z) : geluRef(z, false));
    const zs = Array.from({ length: 161 }, (_, i) => Math.fround(-12 + i * 0.05));
    const x = kd.tensor(zs).reshape([7, 23]), zero = kd.zeros([23]), ones = kd.ones([7, 23]);
    underEachBuild((build) => {
      for (const approximate of ['none', 'tanh'] as const) {
        const tanh = approximate === 'tanh';
        const xs = x.detach().requiresGrad_();
        const y = values(F.biasGelu(xs, zero, { approximate }));
        F.biasGelu(xs, zero, { approximate }).backward(ones);
        const dx = values(xs.grad!);
        const xe = x.detach().requiresGrad_();
        const ye = values(xe.gelu(approximate));
        xe.gelu(approximate).backward(ones);
        const dxe = values(xe.grad!);
        zs.forEach((z, i) => {
          const [v, d] = ref(z, tanh);
          // Where exp(-z²/2), or exp(2u), is a normal float (z > -13, or z > -9.5 for tanh), each
          // result keeps a relative error within 1e-5.
          if (z < (tanh ? -9.5 : -13)) return;
          {
            expect(Math.abs(y[i] - v) / Math.abs(v), `${build} ${approximate} gelu(${z})`).toBeLessThan(1e-5);
            expect(Math.abs(ye[i] - v) / Math.abs(v), `${build} ${approximate} x.gelu(${z})`).toBeLessThan(1e-5);
          }
          {
            expect(Math.abs(dx[i] - d) / Math.abs(d), `${build} ${approximate} gelu'(${z})`).toBeLessThan(1e-5);
            expect(Math.abs(dxe[i] - d) / Math.abs(d), `${build} ${approximate} x.gelu'(${z})`).toBeLessThan(1e-5);
          }
        });
      }
    });
  });

  it('rejects a bias that does not match the last dim, non-float inputs and a bad approximate', () => {
    const x = kd.randn([2, 3]);
    expectError(() => F.biasGelu(x, kd.randn([2])), kd.ShapeError, 'biasGelu', '[2,3]');
    expectError(() => F.biasGelu(x, kd.randn([1, 3])), kd.ShapeError, 'biasGelu');
    expectError(() => F.biasGelu(kd.tensor([1, 2, 3]), kd.randn([3])), kd.DTypeError, 'biasGelu');
    expectError(() => F.biasGelu(x, kd.randn([3]), { approximate: 'erf' as 'none' }), kd.ArgumentError, 'approximate');
  });
});

// ---- softmax cross-entropy -------------------------------------------------------------------

describe('fused softmax cross-entropy (F.crossEntropy with class targets)', () => {
  const cases: [string, number, number, CeOptions][] = [
    ['mean', 9, 7, {}],
    ['sum, ignoreIndex 2', 9, 7, { ignoreIndex: 2, reduction: 'sum' }],
    ['none', 5, 33, { reduction: 'none' }],
    ['weights, mean', 6, 33, { weight: [] }],
    ['labelSmoothing 0.15, mean', 6, 1000, { labelSmoothing: 0.15 }],
    ['weights, labelSmoothing 0.3, ignored rows, none', 7, 33, { weight: [], labelSmoothing: 0.3, ignoreIndex: -1, reduction: 'none' }],
    ['one class', 4, 1, {}],
    ['vocabulary 50257, mean', 3, 50257, {}],
  ];
  for (const [name, rows, c, options] of cases) {
    it(`${name}: [${rows}, ${c}] loss and gradient match float64, every build and thread count`, () => {
      const rng = makeRng(seed + 20 + c);
      const { t: x, ref: xr } = randomTensor(rng, [rows, c], -4, 4);
      const target = Array.from({ length: rows }, () => Math.floor(rng() * c));
      if (options.ignoreIndex !== undefined) { target[1] = options.ignoreIndex; target[rows - 1] = options.ignoreIndex; }
      const o = { ...options, weight: options.weight ? Array.from({ length: c }, () => 0.25 + rng()) : undefined };
      const { t: r, ref: rr } = randomTensor(rng, [rows]);
      const ref = ceRef(xr, rows, c, target, o, rr);
      const t = kd.tensor(Int32Array.from(target));
      const weight = o.weight ? kd.tensor(Float32Array.from(o.weight)) : undefined;
      const builds = c > 10000 ? (fn: (s: string) => void) => fn('default build') : underEachBuild;
      builds((build) => {
        const xs = x.detach().requiresGrad_();
        const loss = F.crossEntropy(xs, t, { ...o, weight });
        expectClose(values(loss), ref.loss, 2e-6, `${name} ${build} loss`);
        (o.reduction === 'none' ? loss.mul(r).sum() : loss).backward();
        expectClose(values(xs.grad!), ref.dx, 2e-5, `${name} ${build} dx`);
        if (options.ignoreIndex !== undefined) expect(values(xs.grad!).slice(c, 2 * c).every((v) => v === 0)).toBe(true);
      });
    });
  }

  it('logits of magnitude 1e4 over 50257 classes give finite, exact losses and gradients', () => {
    const rng = makeRng(seed + 30);
    const { ref: xr } = randomTensor(rng, [2, 50257], -1e4, 1e4);
    xr[17] = 1e4; xr[50257 + 5] = 1e4; xr[50257 + 6] = 1e4;  // a tie in row 1
    const x = f32(xr, [2, 50257]).requiresGrad_();
    const target = [17, 40000];
    const loss = F.crossEntropy(x, kd.tensor(Int32Array.from(target)), { reduction: 'sum' });
    const ref = ceRef(values(x), 2, 50257, target, { reduction: 'sum' }, null);
    expect(Number.isFinite(loss.item())).toBe(true);
    expectClose(values(loss), ref.loss, 1e-6, 'loss');
    loss.backward();
    expectClose(values(x.grad!), ref.dx, 1e-6, 'dx');
  });

  it('the row maximum is found at every position (vector lanes and their tail), -inf classes drop out, a NaN row gives NaN', () => {
    const rng = makeRng(seed + 33);
    const c = 2048 + 37;  // one full chunk and a tail that is not a whole number of lanes
    const positions = [0, 5, 15, 16, 31, 2047, 2048, 2048 + 31, c - 1];
    const rows = positions.length + 2;
    const { ref: xr } = randomTensor(rng, [rows, c], -3, 3);
    positions.forEach((p, r) => { xr[r * c + p] = 40; });
    for (let j = 0; j < c; j += 3) xr[positions.length * c + j] = -Infinity;
    xr[(rows - 1) * c + 100] = NaN;
    const target = Array.from({ length: rows }, (_, r) => (r < positions.length ? positions[r] : 1));
    // The float64 reference takes -inf as -1e30 (the same zero probability, no inf - inf).
    const finite = xr.slice(0, (rows - 1) * c).map((v) => (v === -Infinity ? -1e30 : v));
    const ref = ceRef(finite, rows - 1, c, target.slice(0, rows - 1), { reduction: 'none' }, new Float64Array(rows - 1).fill(1));
    underEachBuild((build) => {
      const x = f32(xr, [rows, c]).requiresGrad_();
      const loss = F.crossEntropy(x, kd.tensor(Int32Array.from(target)), { reduction: 'none' });
      const got = values(loss);
      expectClose(got.slice(0, rows - 1), ref.loss, 2e-6, `${build}: loss`);
      expect(Number.isNaN(got[rows - 1])).toBe(true);
      loss.sum().backward();
      expectClose(values(x.grad!).slice(0, (rows - 1) * c), ref.dx, 2e-5, `${build}: dx`);
    });
  });

  it('[N, C, d1, d2] logits and a strided [N, C] view match float64', () => {
    const rng = makeRng(seed + 31);
    const { t: x4 } = randomTensor(rng, [2, 5, 3, 2], -3, 3, true);
    const target = Array.from({ length: 12 }, () => Math.floor(rng() * 5));
    const t4 = kd.tensor(Int32Array.from(target)).reshape([2, 3, 2]);
    const loss = F.crossEntropy(x4, t4, { labelSmoothing: 0.1 });
    loss.backward();
    // rows in (n, d1, d2) order, classes last
    const rowsX = x4.detach().permute([0, 2, 3, 1]).contiguous();
    const ref = ceRef(values(rowsX), 12, 5, target, { labelSmoothing: 0.1 }, null);
    expectClose(values(loss), ref.loss, 2e-6, 'spatial loss');
    expectClose(values(x4.grad!.permute([0, 2, 3, 1]).contiguous()), ref.dx, 2e-5, 'spatial dx');

    const base = randomTensor(rng, [7, 4], -3, 3).t;
    const xt = base.transpose(0, 1).requiresGrad_();  // [4, 7], strided
    const tt = [6, 0, 3, 2];
    const lt = F.crossEntropy(xt, kd.tensor(Int32Array.from(tt)), { reduction: 'sum' });
    lt.backward();
    const reft = ceRef(values(xt.detach().contiguous()), 4, 7, tt, { reduction: 'sum' }, null);
    expectClose(values(lt), reft.loss, 2e-6, 'strided loss');
    expectClose(values(xt.grad!.contiguous()), reft.dx, 2e-5, 'strided dx');
  });

  it('gradients match finite differences, and the composed backward under createGraph equals the fused one', () => {
    const rng = makeRng(seed + 32);
    const x = randomTensor(rng, [4, 5], -2, 2, true).t;
    const t = kd.tensor([1, -100, 4, 0]);
    const weight = kd.tensor([0.5, 1, 1.5, 2, 0.7]);
    gradcheck((xx) => F.crossEntropy(xx, t, { weight, labelSmoothing: 0.2 }), [x], { context: 'weighted smoothed' });
    const gradOf = (createGraph: boolean) => {
      const xs = x.detach().requiresGrad_();
      F.crossEntropy(xs, t, { weight, labelSmoothing: 0.2, reduction: 'sum' }).backward(undefined, { createGraph });
      return xs;
    };
    const fused = values(gradOf(false).grad!);
    const xs = gradOf(true);
    expect(xs.grad!.requiresGrad).toBe(true);
    expectClose(values(xs.grad!), fused, 1e-5, 'composed vs fused');
    const first = xs.grad!;
    xs.grad = null;
    first.mul(first).sum().backward();
    expect(values(xs.grad!).every(Number.isFinite)).toBe(true);
  });

  it('matches PyTorch: all ignored gives NaN for the mean, and bad targets and shapes throw', () => {
    const x = kd.randn([3, 4]);
    expect(Number.isNaN(F.crossEntropy(x, kd.tensor([-100, -100, -100])).item())).toBe(true);
    expect(F.crossEntropy(x, kd.tensor([-100, -100, -100]), { reduction: 'sum' }).item()).toBe(0);
    expectError(() => F.crossEntropy(x, kd.tensor([0, 4, 1])), kd.ArgumentError, 'crossEntropy', 'out of bounds');
    expectError(() => F.crossEntropy(x, kd.tensor([0, 1])), kd.ShapeError, 'crossEntropy', '[3,4]');
    expectError(() => F.crossEntropy(x, kd.tensor([0, 1, 2]), { weight: kd.ones([3]) }), kd.ShapeError, 'weight');
    expectError(() => F.crossEntropy(x, kd.tensor([0, 1, 2]), { labelSmoothing: 1.5 }), kd.ArgumentError, 'labelSmoothing');
  });
});

// ---- PyTorch's values --------------------------------------------------------------------------

interface NormCase { name: string; op: 'layerNorm' | 'rmsNorm'; shape: number[]; normalized: number[]; eps: number | null;
  x: number[]; weight: number[] | null; bias: number[] | null; r: number[]; y: number[]; dx: number[]; dweight: number[] | null; dbias: number[] | null }
interface GeluCase { name: string; shape: number[]; approximate: 'none' | 'tanh'; x: number[]; bias: number[]; r: number[]; y: number[]; dx: number[]; dbias: number[] }
interface CeCase { name: string; shape: number[]; target: number[]; weight: number[] | null; ignoreIndex: number;
  reduction: 'mean' | 'sum' | 'none'; labelSmoothing: number; x: number[]; loss: number[]; dx: number[] }

describe('fused row ops against PyTorch (test/fixtures/fused_rows.expected.json)', () => {
  const fixture = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'fused_rows.expected.json'), 'utf8')) as
    { torch: string; norms: NormCase[]; gelu: GeluCase[]; crossEntropy: CeCase[] };
  for (const c of fixture.norms) {
    it(`${c.name} (torch ${fixture.torch})`, () => {
      const x = f32(c.x, c.shape).requiresGrad_();
      const w = c.weight ? f32(c.weight, c.normalized).requiresGrad_() : null;
      const b = c.bias ? f32(c.bias, c.normalized).requiresGrad_() : null;
      const y = c.op === 'layerNorm' ? F.layerNorm(x, c.normalized, w, b, c.eps ?? 1e-5) : F.rmsNorm(x, c.normalized, w, c.eps);
      expectClose(values(y), c.y, 2e-6, 'output');
      y.mul(f32(c.r, c.shape)).sum().backward();
      expectClose(values(x.grad!), c.dx, 1e-5, 'dx');
      if (w) expectClose(values(w.grad!), c.dweight!, 1e-5, 'dweight');
      if (b) expectClose(values(b.grad!), c.dbias!, 1e-5, 'dbias');
    });
  }
  for (const c of fixture.gelu) {
    it(`${c.name} (torch ${fixture.torch})`, () => {
      const x = f32(c.x, c.shape).requiresGrad_(), b = f32(c.bias, [c.shape[c.shape.length - 1]]).requiresGrad_();
      const y = F.biasGelu(x, b, { approximate: c.approximate });
      expectClose(values(y), c.y, 1e-6, 'output');
      y.mul(f32(c.r, c.shape)).sum().backward();
      expectClose(values(x.grad!), c.dx, 1e-6, 'dx');
      expectClose(values(b.grad!), c.dbias, 1e-5, 'dbias');
    });
  }
  for (const c of fixture.crossEntropy) {
    it(`${c.name} (torch ${fixture.torch})`, () => {
      const x = f32(c.x, c.shape).requiresGrad_();
      const tshape = [c.shape[0], ...c.shape.slice(2)];
      const t = kd.tensor(Int32Array.from(c.target)).reshape(tshape);
      const loss = F.crossEntropy(x, t, { weight: c.weight ? kd.tensor(Float32Array.from(c.weight)) : null,
        ignoreIndex: c.ignoreIndex, reduction: c.reduction, labelSmoothing: c.labelSmoothing });
      expectClose(values(loss), c.loss, 2e-6, 'loss');
      const n = loss.numel;
      const scale = kd.tensor(Float32Array.from({ length: n }, (_, i) => (n === 1 ? 0.5 : 0.5 + i / (n - 1)))).reshape(loss.shape);
      loss.mul(scale).sum().backward();
      expectClose(values(x.grad!), c.dx, 2e-5, 'dx');
    });
  }
});
