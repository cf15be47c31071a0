// maxPool2d / avgPool2d / adaptiveAvgPool2d against float64 references written from PyTorch's
// definitions: windows, padding, dilation, ceil mode, countIncludePad, ties (first maximum gets
// the gradient), NaN, strided views, unbatched input, 1 vs 2 threads, and bad arguments.
import { afterAll, describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { ArgumentError, DTypeError, ShapeError } from '../../lib/errors.js';
import { adaptiveAvgPool2d, avgPool2d, maxPool2d, type AvgPool2dOptions, type MaxPool2dOptions } from '../../lib/ops/conv.js';
import { expectClose, freshSeed, gradcheck, makeRng, randomTensor } from '../helpers.js';

const originalThreads = kd.getNumThreads();
afterAll(() => kd.setNumThreads(originalThreads));

type Pair = [number, number];
const pairOf = (v: number | readonly number[] | null | undefined, dflt: Pair): Pair =>
  v === undefined || v === null ? dflt : typeof v === 'number' ? [v, v] : [v[0], v[1]];

function outSize(inSize: number, k: number, p: number, s: number, d: number, ceil: boolean): number {
  let o = Math.floor((inSize + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (o - 1) * s >= inSize + p) o--;
  return o;
}

function f32(t: Tensor): Float64Array {
  return Float64Array.from(t.data() as Float32Array);
}

/** Max pooling in float64: values, and gradOut routed to each window's first maximum. */
function refMaxPool(shape: number[], x: Float64Array, kernel: number | Pair, o: MaxPool2dOptions, gradOut?: Float64Array) {
  const [n, c, h, w] = shape;
  const k = pairOf(kernel, [1, 1]), s = pairOf(o.stride, k), p = pairOf(o.padding, [0, 0]), d = pairOf(o.dilation, [1, 1]);
  const oh = outSize(h, k[0], p[0], s[0], d[0], o.ceilMode ?? false), ow = outSize(w, k[1], p[1], s[1], d[1], o.ceilMode ?? false);
  const out = new Float64Array(n * c * oh * ow), dx = new Float64Array(x.length);
  for (let pl = 0; pl < n * c; pl++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++) {
        let best = -Infinity, at = -1;
        for (let i = 0; i < k[0]; i++)
          for (let j = 0; j < k[1]; j++) {
            const y = oy * s[0] - p[0] + i * d[0], xx = ox * s[1] - p[1] + j * d[1];
            if (y < 0 || y >= h || xx < 0 || xx >= w) continue;
            const v = x[pl * h * w + y * w + xx];
            if (at < 0 || v > best || Number.isNaN(v)) { best = v; at = y * w + xx; }
          }
        const q = (pl * oh + oy) * ow + ox;
        out[q] = best;
        if (gradOut) dx[pl * h * w + at] += gradOut[q];
      }
  return { out, dx, outShape: [n, c, oh, ow] };
}

/** Average pooling in float64 with PyTorch's divisor rules. */
function refAvgPool(shape: number[], x: Float64Array, kernel: number | Pair, o: AvgPool2dOptions, gradOut?: Float64Array) {
  const [n, c, h, w] = shape;
  const k = pairOf(kernel, [1, 1]), s = pairOf(o.stride, k), p = pairOf(o.padding, [0, 0]);
  const ceil = o.ceilMode ?? false, include = o.countIncludePad ?? true;
  const oh = outSize(h, k[0], p[0], s[0], 1, ceil), ow = outSize(w, k[1], p[1], s[1], 1, ceil);
  const out = new Float64Array(n * c * oh * ow), dx = new Float64Array(x.length);
  for (let pl = 0; pl < n * c; pl++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++) {
        const y0 = oy * s[0] - p[0], x0 = ox * s[1] - p[1];
        const y1 = Math.min(y0 + k[0], h + p[0]), x1 = Math.min(x0 + k[1], w + p[1]);
        const padded = (y1 - y0) * (x1 - x0);
        const ya = Math.max(y0, 0), xa = Math.max(x0, 0), yb = Math.min(y1, h), xb = Math.min(x1, w);
        const divisor = include ? padded : (yb - ya) * (xb - xa);
        const q = (pl * oh + oy) * ow + ox;
        let sum = 0;
        for (let y = ya; y < yb; y++) for (let xx = xa; xx < xb; xx++) sum += x[pl * h * w + y * w + xx];
        out[q] = sum / divisor;
        if (gradOut) for (let y = ya; y < yb; y++) for (let xx = xa; xx < xb; xx++) dx[pl * h * w + y * w + xx] += gradOut[q] / divisor;
      }
  return { out, dx, outShape: [n, c, oh, ow] };
}

function refAdaptive(shape: number[], x: Float64Array, oh: number, ow: number, gradOut?: Float64Array) {
  const [n, c, h, w] = shape;
  const out = new Float64Array(n * c * oh * ow), dx = new Float64Array(x.length);
  for (let pl = 0; pl < n * c; pl++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++) {
        const ya = Math.floor((oy * h) / oh), yb = Math.ceil(((oy + 1) * h) / oh);
        const xa = Math.floor((ox * w) / ow), xb = Math.ceil(((ox + 1) * w) / ow);
        const cnt = (yb - ya) * (xb - xa), q = (pl * oh + oy) * ow + ox;
        let sum = 0;
        for (let y = ya; y < yb; y++) for (let xx = xa; xx < xb; xx++) sum += x[pl * h * w + y * w + xx];
        out[q] = sum / cnt;
        if (gradOut) for (let y = ya; y < yb; y++) for (let xx = xa; xx < xb; xx++) dx[pl * h * w + y * w + xx] += gradOut[q] / cnt;
      }
  return { out, dx };
}

/** A random input; with `ties`, values from {-1, 0, 1} so most windows hold equal maxima. */
function input(seed: number, shape: number[], view: 'contiguous' | 'transposed', ties = false) {
  const rng = makeRng(seed);
  const quantise = (t: Tensor) => (ties ? kd.noGrad(() => t.mul(1.5).round()) : t);
  let t: Tensor;
  if (view === 'contiguous') {
    t = quantise(randomTensor(rng, shape).t);
  } else {
    // Stored [n, c, w, h], seen as [n, c, h, w].
    const [n, c, h, w] = shape;
    t = quantise(randomTensor(rng, [n, c, w, h]).t).transpose(2, 3).detach();
  }
  t = t.detach();
  t.requiresGrad = true;
  return { t, ref: f32(t.contiguous()) };
}

interface MaxCase { name: string; shape: number[]; k: number | Pair; o: MaxPool2dOptions }
const MAX_CASES: MaxCase[] = [
  { name: '2x2', shape: [3, 4, 8, 10], k: 2, o: {} },
  { name: '2x2, rows of 13 (a full group of 8 and a masked tail), odd width', shape: [2, 3, 26, 27], k: 2, o: {} },
  { name: '2x2, odd height and width (last row and column unused)', shape: [2, 3, 11, 11], k: 2, o: {} },
  { name: '2x2 ceil mode (a window past the input)', shape: [1, 2, 7, 9], k: 2, o: { ceilMode: true } },
  { name: '3x3 stride 2 padding 1', shape: [1, 3, 9, 7], k: 3, o: { stride: 2, padding: 1 } },
  { name: '3x3 stride 2 ceil mode', shape: [3, 2, 8, 11], k: 3, o: { stride: 2, ceilMode: true } },
  { name: 'non-square kernel, dilation [2,1], padding [1,0]', shape: [3, 2, 11, 9], k: [3, 2], o: { stride: [2, 1], padding: [1, 0], dilation: [2, 1] } },
  { name: 'ceil mode with padding, stride 3', shape: [1, 2, 10, 10], k: 4, o: { stride: 3, padding: 2, ceilMode: true } },
  { name: 'kernel 2 stride 1', shape: [3, 5, 5, 6], k: 2, o: { stride: 1 } },
];

describe('maxPool2d vs float64 reference', () => {
  for (const cs of MAX_CASES) {
    for (const [view, ties, threads] of [['contiguous', false, 1], ['transposed', false, 2], ['contiguous', true, 2]] as const) {
      const seed = freshSeed();
      it(`${cs.name} ${JSON.stringify(cs.shape)}, ${view}${ties ? ', ties' : ''}, ${threads} thread(s) (seed ${seed})`, () => {
        kd.setNumThreads(threads);
        const x = input(seed, cs.shape, view, ties);
        const probe = refMaxPool(cs.shape, x.ref, cs.k, cs.o);
        const gradOut = randomTensor(makeRng(seed + 1), probe.outShape);
        const ref = refMaxPool(cs.shape, x.ref, cs.k, cs.o, gradOut.ref);
        const out = maxPool2d(x.t, cs.k, cs.o);
        expect(out.shape).toEqual(ref.outShape);
        expect(Array.from(f32(out)), `seed ${seed}`).toEqual(Array.from(ref.out));
        out.mul(gradOut.t).sum().backward();
        expectClose(f32(x.t.grad!), ref.dx, 1e-6, `${cs.name} seed ${seed} input grad`);
      });
    }
  }

  it('a NaN in a window propagates to the output', () => {
    const x = kd.tensor([[[[1, NaN, 3, 4], [5, 6, 7, NaN]]]]);
    expect(Array.from(maxPool2d(x, 2).data())).toEqual([NaN, NaN]);
  });

  it('an all -Infinity window gives -Infinity and routes its gradient to the first element', () => {
    const x = kd.full([1, 1, 2, 2], -Infinity);
    x.requiresGrad = true;
    const out = maxPool2d(x, 2);
    expect(out.item()).toBe(-Infinity);
    out.sum().backward();
    expect(Array.from(x.grad!.data())).toEqual([1, 0, 0, 0]);
  });

  it('an unbatched [c, h, w] input gives [c, oh, ow]', () => {
    const seed = freshSeed();
    const x = input(seed, [1, 3, 7, 6], 'contiguous');
    const x3 = x.t.reshape([3, 7, 6]);
    const ref = refMaxPool([1, 3, 7, 6], x.ref, 3, { stride: 2 });
    const out = maxPool2d(x3, 3, { stride: 2 });
    expect(out.shape).toEqual([3, 3, 2]);
    expect(Array.from(f32(out)), `seed ${seed}`).toEqual(Array.from(ref.out));
  });

  it('gradients match finite differences on distinct values', () => {
    const seed = freshSeed();
    kd.setNumThreads(2);
    // Distinct values spaced well beyond the finite-difference step keep each argmax fixed.
    const perm = Array.from({ length: 2 * 2 * 5 * 6 }, (_, i) => i).sort(() => makeRng(seed)() - 0.5);
    const x = kd.tensor(perm.map((v) => v * 0.1)).reshape([2, 2, 5, 6]).detach();
    x.requiresGrad = true;
    const r = randomTensor(makeRng(seed), [2, 2, 3, 3]).t;
    gradcheck((xi) => maxPool2d(xi, 3, { stride: 2, padding: 1 }).mul(r).sum(), [x], { context: `seed ${seed}` });
  });
});

interface AvgCase { name: string; shape: number[]; k: number | Pair; o: AvgPool2dOptions }
const AVG_CASES: AvgCase[] = [
  { name: '2x2', shape: [3, 4, 8, 10], k: 2, o: {} },
  { name: '3x3 stride 2 padding 1, count padding', shape: [1, 3, 9, 7], k: 3, o: { stride: 2, padding: 1 } },
  { name: '3x3 stride 2 padding 1, not counting padding', shape: [3, 3, 9, 7], k: 3, o: { stride: 2, padding: 1, countIncludePad: false } },
  { name: 'ceil mode, window past the padded edge', shape: [3, 2, 8, 11], k: 3, o: { stride: 2, padding: 1, ceilMode: true } },
  { name: 'ceil mode, not counting padding', shape: [1, 2, 10, 7], k: [4, 3], o: { stride: [3, 2], padding: [2, 1], ceilMode: true, countIncludePad: false } },
];

describe('avgPool2d vs float64 reference', () => {
  for (const cs of AVG_CASES) {
    for (const [view, threads] of [['contiguous', 1], ['transposed', 2]] as const) {
      const seed = freshSeed();
      it(`${cs.name} ${JSON.stringify(cs.shape)}, ${view}, ${threads} thread(s) (seed ${seed})`, () => {
        kd.setNumThreads(threads);
        const x = input(seed, cs.shape, view);
        const probe = refAvgPool(cs.shape, x.ref, cs.k, cs.o);
        const gradOut = randomTensor(makeRng(seed + 1), probe.outShape);
        const ref = refAvgPool(cs.shape, x.ref, cs.k, cs.o, gradOut.ref);
        const out = avgPool2d(x.t, cs.k, cs.o);
        expect(out.shape).toEqual(ref.outShape);
        expectClose(f32(out), ref.out, 1e-5, `${cs.name} seed ${seed} forward`);
        out.mul(gradOut.t).sum().backward();
        expectClose(f32(x.t.grad!), ref.dx, 1e-5, `${cs.name} seed ${seed} input grad`);
      });
    }
  }

  it('gradients match finite differences', () => {
    const seed = freshSeed();
    const x = randomTensor(makeRng(seed), [2, 2, 5, 6], -1, 1, true).t;
    const r = randomTensor(makeRng(seed + 1), [2, 2, 3, 4]).t;
    gradcheck((xi) => avgPool2d(xi, 3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false }).mul(r).sum(), [x],
      { context: `seed ${seed}` });
  });
});

describe('adaptiveAvgPool2d vs float64 reference', () => {
  const cases: [number[], number | [number | null, number | null], number, number][] = [
    [[3, 4, 7, 9], [3, 4], 3, 4],
    [[1, 2, 5, 5], 1, 1, 1],
    [[3, 2, 6, 10], [null, 3], 6, 3],
    [[1, 3, 4, 3], [7, 5], 7, 5], // output larger than input: overlapping single-pixel cells
  ];
  for (const [shape, size, oh, ow] of cases) {
    for (const [view, threads] of [['contiguous', 1], ['transposed', 2]] as const) {
      const seed = freshSeed();
      it(`${JSON.stringify(shape)} to ${JSON.stringify(size)}, ${view}, ${threads} thread(s) (seed ${seed})`, () => {
        kd.setNumThreads(threads);
        const x = input(seed, shape, view);
        const gradOut = randomTensor(makeRng(seed + 1), [shape[0], shape[1], oh, ow]);
        const ref = refAdaptive(shape, x.ref, oh, ow, gradOut.ref);
        const out = adaptiveAvgPool2d(x.t, size);
        expect(out.shape).toEqual([shape[0], shape[1], oh, ow]);
        expectClose(f32(out), ref.out, 1e-5, `seed ${seed} forward`);
        out.mul(gradOut.t).sum().backward();
        expectClose(f32(x.t.grad!), ref.dx, 1e-5, `seed ${seed} input grad`);
      });
    }
  }
});

describe('pooling gives the same results on 1 and 2 threads', () => {
  it('max, avg and adaptive forward and backward are bitwise equal', () => {
    const seed = freshSeed();
    const results = [1, 2].map((threads) => {
      kd.setNumThreads(threads);
      const x = input(seed, [4, 8, 17, 13], 'transposed');
      const outs = [maxPool2d(x.t, 3, { stride: 2, ceilMode: true }), avgPool2d(x.t, 3, { padding: 1 }), adaptiveAvgPool2d(x.t, [5, 4])];
      outs.reduce((acc, o) => acc.add(o.sum()), kd.zeros([])).backward();
      return [...outs.map((o) => Array.from(o.data())), Array.from(x.t.grad!.data())];
    });
    for (let i = 0; i < results[0].length; i++) expect(results[1][i], `seed ${seed} result ${i}`).toEqual(results[0][i]);
  });
});

describe('pooling argument errors', () => {
  const x = kd.zeros([2, 3, 8, 8]);
  const cases: [string, () => unknown, typeof ShapeError | typeof ArgumentError | typeof DTypeError, RegExp][] = [
    ['2-d input', () => maxPool2d(kd.zeros([8, 8]), 2), ShapeError, /maxPool2d: expected a 3-d .* got \[8,8\]/],
    ['padding over half the kernel', () => maxPool2d(x, 3, { padding: 2 }), ArgumentError, /maxPool2d: padding \[2,2\] must be at most half the kernel size \[3,3\]/],
    ['avg padding over half the kernel', () => avgPool2d(x, [2, 4], { padding: [2, 1] }), ArgumentError, /avgPool2d: padding/],
    ['zero stride', () => maxPool2d(x, 2, { stride: 0 }), ArgumentError, /maxPool2d: stride must be positive/],
    ['zero kernel', () => avgPool2d(x, 0), ArgumentError, /avgPool2d: kernelSize must be positive/],
    ['negative padding', () => avgPool2d(x, 2, { padding: -1 }), ArgumentError, /padding must be non-negative/],
    ['kernel larger than input', () => maxPool2d(x, 9), ShapeError, /maxPool2d: input \[2,3,8,8\] is too small/],
    ['dilated kernel larger than input', () => maxPool2d(x, 3, { dilation: 4 }), ShapeError, /output size would be/],
    ['int32 input', () => maxPool2d(kd.zeros([1, 1, 4, 4], { dtype: 'int32' }), 2), DTypeError, /maxPool2d: expected float32/],
    ['adaptive zero size', () => adaptiveAvgPool2d(x, [0, 2]), ArgumentError, /adaptiveAvgPool2d: outputSize must hold positive integers/],
    ['adaptive 5-d input', () => adaptiveAvgPool2d(kd.zeros([1, 1, 1, 4, 4]), 2), ShapeError, /adaptiveAvgPool2d: expected a 3-d/],
  ];
  for (const [name, fn, type, message] of cases) {
    it(`${name} gives ${type.name}`, () => {
      expect(fn).toThrow(type);
      expect(fn).toThrow(message);
    });
  }

  it('the native backward rejects indices outside the input plane', async () => {
    const { native } = await import('../../lib/native.js');
    const f = native.alloc(4 * 16), idx = native.alloc(4 * 4), gx = native.alloc(4 * 16);
    new Int32Array(native.hostView(idx), 0, 4).set([0, 1, 99, 2]);
    const geom = [1, 1, 4, 4, 2, 2, 2, 2, 2, 2, 0, 0, 1, 1];
    expect(() => native.maxPool2dBackward(geom, f, 0, idx, 0, gx, 0)).toThrow(/outside its input plane/);
    expect(() => native.maxPool2dBackward(geom, f, 0, idx, 1, gx, 0)).toThrow(/reaches outside/);
    [f, idx, gx].forEach((b) => native.dispose(b));
  });
});
