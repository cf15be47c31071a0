// conv2d / conv1d against a float64 direct convolution: forward, input, weight and bias
// gradients, over strides, padding (incl. 'same'), dilation, groups (incl. depthwise), odd and
// non-square sizes, batch 1 / 3 / 4, strided input views, 1 vs 2 threads, and bad arguments.
import { afterAll, describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { ArgumentError, DTypeError, ShapeError } from '../../lib/errors.js';
import { conv1d, conv2d, type Conv2dOptions } from '../../lib/ops/conv.js';
import { expectClose, freshSeed, gradcheck, makeRng, numel, randomTensor } from '../helpers.js';

const originalThreads = kd.getNumThreads();
afterAll(() => kd.setNumThreads(originalThreads));

interface RefGeometry {
  n: number; c: number; h: number; w: number; k: number; kh: number; kw: number; oh: number; ow: number;
  sh: number; sw: number; ph: number; pw: number; dh: number; dw: number; groups: number;
}

function pairOf(v: number | readonly number[] | undefined, dflt: number): [number, number] {
  if (v === undefined) return [dflt, dflt];
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

function refGeometry(xShape: number[], wShape: number[], o: Conv2dOptions): RefGeometry {
  const [n, c, h, w] = xShape, [k, , kh, kw] = wShape;
  const [sh, sw] = pairOf(o.stride, 1), [dh, dw] = pairOf(o.dilation, 1);
  let ph: number, pw: number, oh: number, ow: number;
  if (o.padding === 'same') {
    ph = Math.floor((dh * (kh - 1)) / 2); pw = Math.floor((dw * (kw - 1)) / 2);
    oh = h; ow = w;
  } else {
    [ph, pw] = o.padding === 'valid' ? [0, 0] : pairOf(o.padding as number | [number, number] | undefined, 0);
    oh = Math.floor((h + 2 * ph - dh * (kh - 1) - 1) / sh) + 1;
    ow = Math.floor((w + 2 * pw - dw * (kw - 1) - 1) / sw) + 1;
  }
  return { n, c, h, w, k, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw, groups: o.groups ?? 1 };
}

/**
 * Direct convolution in float64 and, given gradOut, its three gradients, from one loop nest:
 * out[n,k,oy,ox] = b[k] + Σ x[n, g·cg + c, oy·sh − ph + ky·dh, ox·sw − pw + kx·dw] · w[k, c, ky, kx].
 */
function refConv(g: RefGeometry, x: Float64Array, w: Float64Array, b: Float64Array | null, gradOut?: Float64Array) {
  const cg = g.c / g.groups, kg = g.k / g.groups;
  const out = new Float64Array(g.n * g.k * g.oh * g.ow);
  const dx = new Float64Array(x.length), dw = new Float64Array(w.length), db = new Float64Array(g.k);
  for (let n = 0; n < g.n; n++)
    for (let k = 0; k < g.k; k++) {
      const grp = Math.floor(k / kg);
      for (let oy = 0; oy < g.oh; oy++)
        for (let ox = 0; ox < g.ow; ox++) {
          const o = ((n * g.k + k) * g.oh + oy) * g.ow + ox;
          let sum = b ? b[k] : 0;
          const go = gradOut ? gradOut[o] : 0;
          db[k] += go;
          for (let c = 0; c < cg; c++)
            for (let ky = 0; ky < g.kh; ky++) {
              const iy = oy * g.sh - g.ph + ky * g.dh;
              if (iy < 0 || iy >= g.h) continue;
              for (let kx = 0; kx < g.kw; kx++) {
                const ix = ox * g.sw - g.pw + kx * g.dw;
                if (ix < 0 || ix >= g.w) continue;
                const xi = ((n * g.c + grp * cg + c) * g.h + iy) * g.w + ix;
                const wi = ((k * cg + c) * g.kh + ky) * g.kw + kx;
                sum += x[xi] * w[wi];
                dx[xi] += go * w[wi];
                dw[wi] += go * x[xi];
              }
            }
          out[o] = sum;
        }
    }
  return { out, dx, dw, db };
}

function f32(t: Tensor): Float64Array {
  return Float64Array.from(t.data() as Float32Array);
}

interface Case {
  name: string;
  x: number[];
  w: number[];
  o: Conv2dOptions;
  bias?: boolean;
}

const CASES: Case[] = [
  { name: 'plain 3x3', x: [1, 3, 7, 9], w: [4, 3, 3, 3], o: {} },
  { name: 'non-square kernel, stride 2, padding [1,2]', x: [3, 2, 9, 8], w: [5, 2, 2, 3], o: { stride: 2, padding: [1, 2] } },
  { name: 'stride [2,3], dilation [2,1]', x: [3, 3, 11, 10], w: [4, 3, 3, 2], o: { stride: [2, 3], dilation: [2, 1] } },
  { name: 'padding same, even kernel, dilation 2', x: [3, 2, 8, 7], w: [3, 2, 4, 2], o: { padding: 'same', dilation: 2 } },
  { name: 'padding same, 2x2 kernel: the odd pad row/column is at the bottom/right', x: [1, 1, 5, 5], w: [1, 1, 2, 2], o: { padding: 'same' } },
  { name: 'padding same, 2x4 kernel, batch 3', x: [3, 3, 6, 5], w: [2, 3, 2, 4], o: { padding: 'same' } },
  { name: 'padding valid, no bias', x: [1, 4, 6, 5], w: [2, 4, 3, 3], o: { padding: 'valid' }, bias: false },
  { name: 'groups 2', x: [3, 4, 7, 7], w: [6, 2, 3, 3], o: { groups: 2, padding: 1 } },
  { name: 'depthwise, multiplier 2', x: [3, 3, 9, 6], w: [6, 1, 3, 3], o: { groups: 3, padding: 1, stride: [1, 2] } },
  { name: 'pointwise 1x1', x: [3, 5, 6, 7], w: [4, 5, 1, 1], o: {} },
  { name: 'pointwise 1x1, batch 4 (image-parallel)', x: [4, 6, 5, 9], w: [7, 6, 1, 1], o: {} },
  { name: 'batch 4 (image-parallel), padding 2', x: [4, 3, 10, 9], w: [5, 3, 5, 3], o: { padding: 2 } },
  { name: 'kernel as large as the padded input', x: [1, 2, 3, 4], w: [3, 2, 5, 6], o: { padding: 1 } },
  { name: 'one input channel 3x3 (direct kernel), 9 output channels, rows of 26 (masked tail)', x: [3, 1, 28, 28], w: [9, 1, 3, 3], o: {} },
  { name: 'one input channel 5x5 (direct kernel), rows of 13', x: [2, 1, 12, 17], w: [5, 1, 5, 5], o: {} },
  { name: 'large padding, stride 3', x: [3, 2, 5, 5], w: [2, 2, 2, 2], o: { padding: 4, stride: 3 } },
  { name: 'wide rows (in-place GEMM operands): 27 taps, 7 output channels, rows of 15', x: [3, 3, 14, 15], w: [7, 3, 3, 3], o: {} },
];

function runCase(cs: Case, seed: number, threads: number, xView: 'contiguous' | 'permuted' | 'sliced' | 'channels' = 'contiguous') {
  kd.setNumThreads(threads);
  const rng = makeRng(seed);
  const [n, c, h, w] = cs.x;
  let x: Tensor, xRef: Float64Array;
  if (xView === 'contiguous') {
    ({ t: x, ref: xRef } = randomTensor(rng, cs.x, -1, 1, true));
  } else if (xView === 'permuted') {
    // Stored [n, h, c, w], seen as [n, c, h, w].
    const base = randomTensor(rng, [n, h, c, w]);
    x = base.t.permute(0, 2, 1, 3).detach();
    x.requiresGrad = true;
    xRef = f32(x.contiguous());
  } else if (xView === 'channels') {
    // Channels 2 .. c+1 of a tensor with c + 5: dense images, batch stride larger than an image.
    const base = randomTensor(rng, [n, c + 5, h, w]);
    x = base.t.slice(1, 2, c + 2).detach();
    x.requiresGrad = true;
    xRef = f32(x.contiguous());
  } else {
    // Every other column of a wider tensor, from column 1.
    const base = randomTensor(rng, [n, c, h, 2 * w + 1]);
    x = base.t.slice(3, 1, 2 * w + 1, 2).detach();
    x.requiresGrad = true;
    xRef = f32(x.contiguous());
  }
  const { t: weight, ref: wRef } = randomTensor(rng, cs.w, -1, 1, true);
  const withBias = cs.bias ?? true;
  const bias = withBias ? randomTensor(rng, [cs.w[0]], -1, 1, true) : null;
  const g = refGeometry(cs.x, cs.w, cs.o);
  const gradOut = randomTensor(rng, [g.n, g.k, g.oh, g.ow]);
  const ref = refConv(g, xRef, wRef, bias?.ref ?? null, gradOut.ref);

  const out = conv2d(x, weight, bias?.t ?? null, cs.o);
  expect(out.shape).toEqual([g.n, g.k, g.oh, g.ow]);
  const outData = f32(out);
  out.mul(gradOut.t).sum().backward();
  return { outData, ref, x, weight, bias: bias?.t ?? null };
}

describe('conv2d vs float64 direct convolution', () => {
  for (const cs of CASES) {
    for (const threads of [1, 2]) {
      const seed = freshSeed();
      it(`${cs.name}, x ${JSON.stringify(cs.x)} w ${JSON.stringify(cs.w)}, ${threads} thread(s) (seed ${seed})`, () => {
        const r = runCase(cs, seed, threads);
        const ctx = `${cs.name} seed ${seed}`;
        expectClose(r.outData, r.ref.out, 1e-4, `${ctx} forward`);
        expectClose(f32(r.x.grad!), r.ref.dx, 1e-4, `${ctx} input grad`);
        expectClose(f32(r.weight.grad!), r.ref.dw, 1e-4, `${ctx} weight grad`);
        if (r.bias) expectClose(f32(r.bias.grad!), r.ref.db, 1e-4, `${ctx} bias grad`);
      });
    }
  }

  const MNIST_LAYER2: Case = { name: 'MNIST layer 2 (wide rows)', x: [3, 32, 13, 13], w: [8, 32, 3, 3], o: {} };
  for (const view of ['permuted', 'sliced', 'channels'] as const) {
    const seed = freshSeed();
    it(`a ${view} (non-contiguous) input view matches (seed ${seed})`, () => {
      for (const cs of [CASES[1], CASES[7], CASES[9], MNIST_LAYER2]) {
        const r = runCase(cs, seed, 2, view);
        expect(r.x.isContiguous()).toBe(false);
        expectClose(r.outData, r.ref.out, 1e-4, `${cs.name} ${view} seed ${seed} forward`);
        expectClose(f32(r.x.grad!), r.ref.dx, 1e-4, `${cs.name} ${view} seed ${seed} input grad`);
        expectClose(f32(r.weight.grad!), r.ref.dw, 1e-4, `${cs.name} ${view} seed ${seed} weight grad`);
      }
    });
  }

  // Shapes that exercise every chunking: images split into segments (a 48×48 output with
  // 72-row col blocks), images grouped (5×5 outputs), both with 1 and 3 images and 2 threads.
  const LARGE: Case[] = [
    { name: 'large image split into column segments', x: [3, 8, 50, 50], w: [16, 8, 3, 3], o: {} },
    { name: 'large image, batch 1 (chunks spread over threads)', x: [1, 8, 50, 50], w: [16, 8, 3, 3], o: { padding: 1 } },
    { name: 'many small images grouped per GEMM', x: [3, 32, 7, 7], w: [24, 32, 3, 3], o: {} },
    { name: 'MNIST layer 2 shape (batch 8)', x: [8, 32, 13, 13], w: [64, 32, 3, 3], o: {} },
    { name: 'pointwise, large plane', x: [3, 16, 60, 50], w: [8, 16, 1, 1], o: {} },
  ];
  for (const cs of LARGE) {
    const seed = freshSeed();
    it(`${cs.name}: forward and gradients vs the analytic float64 reference (seed ${seed})`, () => {
      const r = runCase(cs, seed, 2);
      const ctx = `${cs.name} seed ${seed}`;
      expectClose(r.outData, r.ref.out, 1e-4, `${ctx} forward`);
      expectClose(f32(r.x.grad!), r.ref.dx, 1e-4, `${ctx} input grad`);
      expectClose(f32(r.weight.grad!), r.ref.dw, 1e-4, `${ctx} weight grad`);
      expectClose(f32(r.bias!.grad!), r.ref.db, 1e-4, `${ctx} bias grad`);
    });
  }

  it('gives the same results on 1 and 2 threads', () => {
    const seed = freshSeed();
    for (const cs of [CASES[1], CASES[8], { name: 'large', x: [3, 8, 50, 50], w: [16, 8, 3, 3], o: {} }]) {
      const one = runCase(cs, seed, 1), two = runCase(cs, seed, 2);
      expect(Array.from(two.outData), `${cs.name} seed ${seed} forward`).toEqual(Array.from(one.outData));
      expect(Array.from(f32(two.x.grad!)), `${cs.name} seed ${seed} input grad`).toEqual(Array.from(f32(one.x.grad!)));
      // Threads split the images and add their partial sums, so the weight gradient's float32
      // rounding differs (seen: 1.5e-6 over 2,304 positions an image); a race is off by far more.
      expectClose(f32(two.weight.grad!), f32(one.weight.grad!), 5e-6, `${cs.name} seed ${seed} weight grad`);
    }
  });
});

describe('conv2d gradients vs finite differences', () => {
  const small: Case[] = [
    { name: 'stride 2, padding 1', x: [2, 2, 5, 4], w: [3, 2, 3, 2], o: { stride: 2, padding: 1 } },
    { name: 'groups 2, dilation 2', x: [1, 4, 6, 5], w: [2, 2, 2, 2], o: { groups: 2, dilation: 2 } },
  ];
  for (const cs of small) {
    const seed = freshSeed();
    it(`${cs.name} (seed ${seed})`, () => {
      kd.setNumThreads(2);
      const rng = makeRng(seed);
      const x = randomTensor(rng, cs.x, -1, 1, true).t;
      const w = randomTensor(rng, cs.w, -1, 1, true).t;
      const b = randomTensor(rng, [cs.w[0]], -1, 1, true).t;
      const g = refGeometry(cs.x, cs.w, cs.o);
      const r = randomTensor(rng, [g.n, g.k, g.oh, g.ow]).t;
      gradcheck((xi, wi, bi) => conv2d(xi, wi, bi, cs.o).mul(r).sum(), [x, w, b], { context: `${cs.name} seed ${seed}` });
    });
  }
});

describe('conv2d unbatched input and conv1d', () => {
  it('an unbatched [c, h, w] input gives [k, oh, ow] and the same values as batch 1', () => {
    const seed = freshSeed();
    const rng = makeRng(seed);
    const x = randomTensor(rng, [3, 6, 5], -1, 1, true);
    const w = randomTensor(rng, [4, 3, 2, 3], -1, 1, true);
    const g = refGeometry([1, 3, 6, 5], [4, 3, 2, 3], { padding: 1 });
    const gradOut = randomTensor(rng, [4, g.oh, g.ow]);
    const ref = refConv(g, x.ref, w.ref, null, gradOut.ref);
    const out = conv2d(x.t, w.t, null, { padding: 1 });
    expect(out.shape).toEqual([4, g.oh, g.ow]);
    expectClose(f32(out), ref.out, 1e-4, `seed ${seed} forward`);
    out.mul(gradOut.t).sum().backward();
    expect(x.t.grad!.shape).toEqual([3, 6, 5]);
    expectClose(f32(x.t.grad!), ref.dx, 1e-4, `seed ${seed} input grad`);
    expectClose(f32(w.t.grad!), ref.dw, 1e-4, `seed ${seed} weight grad`);
  });

  for (const o of [{}, { stride: 2, padding: 2, dilation: 2 }, { padding: 'same' as const, groups: 2 }]) {
    const seed = freshSeed();
    it(`conv1d ${JSON.stringify(o)} matches conv2d of height 1 in float64 (seed ${seed})`, () => {
      const rng = makeRng(seed);
      const x = randomTensor(rng, [3, 4, 17], -1, 1, true);
      const w = randomTensor(rng, [6, (o as { groups?: number }).groups ? 2 : 4, 4], -1, 1, true);
      const b = randomTensor(rng, [6], -1, 1, true);
      const o2: Conv2dOptions = {
        stride: [1, (o as { stride?: number }).stride ?? 1], dilation: [1, (o as { dilation?: number }).dilation ?? 1],
        groups: (o as { groups?: number }).groups ?? 1,
      };
      const g = refGeometry([3, 4, 1, 17], [...w.t.shape.slice(0, 2), 1, 4], o2);
      if ((o as { padding?: unknown }).padding === 'same') { g.pw = Math.floor(3 / 2); g.ow = 17; }
      else { g.pw = (o as { padding?: number }).padding ?? 0; g.ow = Math.floor((17 + 2 * g.pw - g.dw * 3 - 1) / g.sw) + 1; }
      const gradOut = randomTensor(rng, [3, 6, g.ow]);
      const ref = refConv(g, x.ref, w.ref, b.ref, gradOut.ref);
      const out = conv1d(x.t, w.t, b.t, o);
      expect(out.shape).toEqual([3, 6, g.ow]);
      expectClose(f32(out), ref.out, 1e-4, `seed ${seed} forward`);
      out.mul(gradOut.t).sum().backward();
      expectClose(f32(x.t.grad!), ref.dx, 1e-4, `seed ${seed} input grad`);
      expectClose(f32(w.t.grad!), ref.dw, 1e-4, `seed ${seed} weight grad`);
      expectClose(f32(b.t.grad!), ref.db, 1e-4, `seed ${seed} bias grad`);
    });
  }
});

describe('conv2d argument errors', () => {
  const x = kd.zeros([2, 4, 8, 8]);
  const w = kd.zeros([6, 4, 3, 3]);
  const cases: [string, () => unknown, typeof ShapeError | typeof ArgumentError | typeof DTypeError, RegExp][] = [
    ['2-d input', () => conv2d(kd.zeros([8, 8]), w), ShapeError, /conv2d: expected a 3-d .* got \[8,8\]/],
    ['3-d weight', () => conv2d(x, kd.zeros([6, 4, 3])), ShapeError, /conv2d: expected a 4-d weight, got \[6,4,3\]/],
    ['channel mismatch', () => conv2d(x, kd.zeros([6, 3, 3, 3])), ShapeError, /conv2d: input \[2,4,8,8\] has 4 channels, but weight \[6,3,3,3\] with groups=1 expects 3/],
    ['groups not dividing output channels', () => conv2d(x, kd.zeros([5, 2, 3, 3]), null, { groups: 2 }), ShapeError, /5 output channels are not divisible by groups=2/],
    ['groups not dividing input channels', () => conv2d(x, kd.zeros([6, 1, 3, 3]), null, { groups: 3 }), ShapeError, /has 4 channels.*groups=3 expects 3/],
    ['kernel larger than input', () => conv2d(x, kd.zeros([6, 4, 9, 3])), ShapeError, /conv2d: input \[2,4,8,8\].*output size would be 0/],
    ['zero stride', () => conv2d(x, w, null, { stride: 0 }), ArgumentError, /conv2d: stride must be positive/],
    ['negative padding', () => conv2d(x, w, null, { padding: -1 }), ArgumentError, /conv2d: padding must be non-negative/],
    ['zero dilation', () => conv2d(x, w, null, { dilation: [1, 0] }), ArgumentError, /conv2d: dilation must be positive/],
    ['same with stride', () => conv2d(x, w, null, { padding: 'same', stride: 2 }), ArgumentError, /padding='same' is not supported for strided/],
    ['bad bias shape', () => conv2d(x, w, kd.zeros([5])), ShapeError, /conv2d: bias \[5\] must have shape \[6\]/],
    ['int32 input', () => conv2d(kd.zeros([2, 4, 8, 8], { dtype: 'int32' }), w), DTypeError, /conv2d: expected float32/],
    ['zero groups', () => conv2d(x, w, null, { groups: 0 }), ArgumentError, /groups must be a positive integer/],
    ['conv1d 4-d input', () => conv1d(x, kd.zeros([6, 4, 3])), ShapeError, /conv1d: expected a 2-d .* got \[2,4,8,8\]/],
  ];
  for (const [name, fn, type, message] of cases) {
    it(`${name} gives ${type.name}`, () => {
      expect(fn).toThrow(type);
      expect(fn).toThrow(message);
    });
  }

  it('the native entry points reject out-of-bounds operands instead of reading them', async () => {
    const { native } = await import('../../lib/native.js');
    const buf = native.alloc(4 * 10);
    const geom = [1, 1, 4, 4, 1, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 1];
    expect(() => native.conv2d(geom, buf, 0, [16, 16, 4, 1], buf, 0, null, 0, buf, 0)).toThrow(/reaches outside/);
    expect(() => native.conv2d([...geom.slice(0, 15), 0], buf, 0, [16, 16, 4, 1], buf, 0, null, 0, buf, 0)).toThrow(/positive/);
    native.dispose(buf);
  });

  it('an empty batch gives an empty output', () => {
    expect(conv2d(kd.zeros([0, 4, 8, 8]), w).shape).toEqual([0, 6, 6, 6]);
    expect(numel([0, 6, 6, 6])).toBe(0);
  });
});
