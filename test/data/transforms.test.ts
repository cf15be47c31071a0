import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it, vi } from 'vitest';

import { createProgram, runTrain, trainAugmentation, type TrainArgs } from '../../lib/cli.js';
import { encodeIdx } from '../../lib/data/idx.js';
import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import type { RandomCrop, Transform } from '../../lib/data/transforms.js';
import { expectClose, expectError, freshSeed, makeRng } from '../helpers.js';

const T = kd.data.transforms;
const { Generator } = kd;

/** A float32 tensor of the given shape whose elements are 0, 1, 2, ... (so each value names its position). */
function iota(shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return kd.tensor(Float32Array.from({ length: n }, (_, i) => i)).reshape(shape);
}

function randomImage(rng: () => number, shape: number[]): { t: Tensor; ref: Float64Array } {
  const n = shape.reduce((a, b) => a * b, 1);
  const f32 = Float32Array.from({ length: n }, () => rng());
  return { t: kd.tensor(f32).reshape(shape), ref: Float64Array.from(f32) };
}

const values = (t: Tensor) => Array.from(t.data() as Float32Array);

/** Plane p (an H×W slice) of a row-major [..., H, W] array, as rows. */
function plane(data: ArrayLike<number>, p: number, h: number, w: number): number[][] {
  return Array.from({ length: h }, (_, y) => Array.from({ length: w }, (_, x) => data[p * h * w + y * w + x]));
}

/** numpy.pad of one H×W plane, written from the definitions of the four modes. */
function padPlane(img: number[][], [left, top, right, bottom]: number[], mode: string, fill: number): number[][] {
  const h = img.length, w = img[0].length;
  const source = (k: number, n: number): number => {
    if (k >= 0 && k < n) return k;
    if (mode === 'edge') return k < 0 ? 0 : n - 1;
    if (mode === 'reflect') return k < 0 ? -k : 2 * n - 2 - k; // mirror about the border pixel
    if (mode === 'symmetric') return k < 0 ? -1 - k : 2 * n - 1 - k; // mirror about the border edge
    return -1;
  };
  return Array.from({ length: h + top + bottom }, (_, y) =>
    Array.from({ length: w + left + right }, (_, x) => {
      const sy = source(y - top, h), sx = source(x - left, w);
      return sy < 0 || sx < 0 ? fill : img[sy][sx];
    }),
  );
}

function window(img: number[][], i: number, j: number, th: number, tw: number): number[][] {
  return img.slice(i, i + th).map((row) => row.slice(j, j + tw));
}

describe('RandomCrop', () => {
  it('pads as numpy does in each mode (hand-computed rows)', () => {
    const x = kd.tensor([[1, 2, 3, 4]], { dtype: 'float32' });
    const crop = (mode: 'constant' | 'edge' | 'reflect' | 'symmetric') => values(new T.RandomCrop([1, 8], { padding: [2, 0], paddingMode: mode, fill: 9 }).forward(x));
    expect(crop('constant')).toEqual([9, 9, 1, 2, 3, 4, 9, 9]);
    expect(crop('edge')).toEqual([1, 1, 1, 2, 3, 4, 4, 4]);
    expect(crop('reflect')).toEqual([3, 2, 1, 2, 3, 4, 3, 2]);
    expect(crop('symmetric')).toEqual([2, 1, 1, 2, 3, 4, 4, 3]);
  });

  for (const mode of ['constant', 'edge', 'reflect', 'symmetric'] as const) {
    it(`${mode} padding [1, 2, 3, 0]: every crop is a window of the padded image, and every offset occurs`, () => {
      const [c, h, w, th, tw] = [2, 4, 5, 3, 4];
      const x = iota([c, h, w]);
      const padding = [1, 2, 3, 0];
      const crop = new T.RandomCrop([th, tw], { padding, paddingMode: mode, fill: -1 });
      const padded = [0, 1].map((p) => padPlane(plane(x.data(), p, h, w), padding, mode, -1));
      const offsets = new Set<string>();
      for (let s = 0; s < 400; s++) {
        const out = crop.forward(x, new Generator(s));
        expect(out.shape).toEqual([c, th, tw]);
        const planes = [0, 1].map((p) => plane(out.data(), p, th, tw));
        let found = '';
        for (let i = 0; i + th <= h + 2 && !found; i++) {
          for (let j = 0; j + tw <= w + 4 && !found; j++) {
            if (planes.every((pl, p) => JSON.stringify(pl) === JSON.stringify(window(padded[p], i, j, th, tw)))) found = `${i},${j}`;
          }
        }
        expect(found, `seed ${s}: the crop is no window of the padded image`).not.toBe('');
        offsets.add(found);
      }
      // (h + 2 - th + 1) × (w + 4 - tw + 1) = 4 × 6 offsets, all drawn.
      expect(offsets.size).toBe(24);
    });
  }

  it('padding 2 around a 28×28 image shifts it by -2..2 pixels (the --augment crop)', () => {
    const x = iota([1, 28, 28]);
    const shifts = new Set<string>();
    for (let s = 0; s < 300; s++) {
      const out = values(new T.RandomCrop(28, { padding: 2 }).forward(x, new Generator(s)));
      // Find the output position of source pixel (10, 10), which no crop loses.
      const at = out.indexOf(10 * 28 + 10);
      const dy = Math.floor(at / 28) - 10, dx = (at % 28) - 10;
      expect(Math.abs(dy) <= 2 && Math.abs(dx) <= 2).toBe(true);
      const shifted = out.map((_, k) => {
        const y = Math.floor(k / 28) - dy, xx = (k % 28) - dx;
        return y >= 0 && y < 28 && xx >= 0 && xx < 28 ? y * 28 + xx : 0;
      });
      expect(out, `seed ${s}`).toEqual(shifted);
      shifts.add(`${dy},${dx}`);
    }
    expect(shifts.size).toBe(25);
  });

  it('accepts [H, W] images, and a crop of the whole image is the image without drawing', () => {
    const x = iota([3, 4]);
    const g = new Generator(7);
    expect(values(new T.RandomCrop([3, 4]).forward(x, g))).toEqual(values(x));
    expect(g.nextUint32()).toBe(new Generator(7).nextUint32());
    expect(new T.RandomCrop(2).forward(x).shape).toEqual([2, 2]);
  });

  it('padIfNeeded pads a small image by the shortfall on both sides, as torchvision does', () => {
    const x = kd.ones([1, 2, 3]);
    const crop = new T.RandomCrop([4, 5], { padIfNeeded: true, fill: 0 });
    const seen = new Set<string>();
    for (let s = 0; s < 200; s++) {
      const out = plane(crop.forward(x, new Generator(s)).data(), 0, 4, 5);
      // Padded to (2 + 2·2) × (3 + 2·2) = 6 × 7: the ones block lands at rows 2..3 - i, cols 2..4 - j.
      const top = out.findIndex((row) => row.includes(1)), left = out[top].indexOf(1);
      expect(out.flat().filter((v) => v === 1).length, `seed ${s}`).toBe(2 * 3);
      seen.add(`${2 - top},${2 - left}`);
    }
    expect(seen.size).toBe(3 * 3);
    expectError(() => new T.RandomCrop([4, 5]).forward(x), kd.ShapeError, 'RandomCrop', '[4, 5]', '[2, 3]', 'padIfNeeded');
  });

  it('fill per channel', () => {
    const out = new T.RandomCrop([3, 3], { padding: 1, fill: [5, 6] }).forward(kd.zeros([2, 1, 1]));
    expect(plane(out.data(), 0, 3, 3).flat().filter((v) => v === 5).length).toBe(8);
    expect(plane(out.data(), 1, 3, 3).flat().filter((v) => v === 6).length).toBe(8);
  });

  it('rejects bad sizes, paddings and modes with an ArgumentError naming RandomCrop', () => {
    for (const size of [0, -1, 2.5, [2, 0], [1, 2, 3], 'a']) expectError(() => new T.RandomCrop(size as number), kd.ArgumentError, 'RandomCrop', 'size');
    for (const padding of [-1, 1.5, [1, 2, 3], ['a']]) expectError(() => new T.RandomCrop(2, { padding: padding as number }), kd.ArgumentError, 'RandomCrop', 'padding');
    expectError(() => new T.RandomCrop(2, { paddingMode: 'wrap' as 'edge' }), kd.ArgumentError, 'RandomCrop', 'paddingMode', 'reflect');
    expectError(() => new T.RandomCrop(2, { padding: 3, paddingMode: 'reflect' }).forward(kd.zeros([1, 3, 3])), kd.ArgumentError, 'RandomCrop', 'reflect', '[3, 3]');
    expectError(() => new T.RandomCrop(2, { fill: [1, 2] }).forward(kd.zeros([3, 2, 2])), kd.ShapeError, 'RandomCrop', 'fill', '3 channel');
    expectError(() => new T.RandomCrop(2).forward(kd.zeros([4])), kd.ShapeError, 'RandomCrop', '[4]');
    expectError(() => new T.RandomCrop(2).forward(kd.zeros([4, 4], { dtype: 'int32' })), kd.DTypeError, 'RandomCrop', 'int32');
  });
});

describe('RandomHorizontalFlip', () => {
  it('p = 1 mirrors every row of every channel; p = 0 leaves the image', () => {
    const x = iota([2, 3, 4]);
    const flipped = plane(new T.RandomHorizontalFlip(1).forward(x).data(), 1, 3, 4);
    expect(flipped).toEqual(plane(x.data(), 1, 3, 4).map((row) => [...row].reverse()));
    expect(values(new T.RandomHorizontalFlip(0).forward(x))).toEqual(values(x));
    expect(values(new T.RandomHorizontalFlip(1).forward(iota([2, 5])))).toEqual([4, 3, 2, 1, 0, 9, 8, 7, 6, 5]);
  });

  it('flips about half the images at p = 0.5, and does not change its input', () => {
    const x = iota([1, 2, 2]);
    let flips = 0;
    for (let s = 0; s < 1000; s++) if (new T.RandomHorizontalFlip().forward(x, new Generator(s)).data()[0] === 1) flips++;
    expect(flips).toBeGreaterThan(430);
    expect(flips).toBeLessThan(570);
    expect(values(x)).toEqual([0, 1, 2, 3]);
  });

  it('rejects p outside [0, 1]', () => {
    for (const p of [-0.1, 1.5, NaN]) expectError(() => new T.RandomHorizontalFlip(p), kd.ArgumentError, 'RandomHorizontalFlip', 'p');
  });
});

/**
 * torchvision's rotate, in float64, written from its code path: the inverse affine matrix of
 * rotate(-angle), the affine grid in normalised coordinates, grid_sample (align_corners=False,
 * zeros padding) of the image and of a ones mask, then mask·(sample − fill) + fill.
 */
function rotateReference(img: Float64Array, [c, h, w]: number[], angle: number, mode: 'nearest' | 'bilinear', fill: number[], center?: number[]): Float64Array {
  const rot = (-angle * Math.PI) / 180;
  const m = [Math.cos(rot), Math.sin(rot), 0, -Math.sin(rot), Math.cos(rot), 0];
  const [cfx, cfy] = center ? [center[0] - w * 0.5, center[1] - h * 0.5] : [0, 0];
  m[2] += m[0] * -cfx + m[1] * -cfy + cfx;
  m[5] += m[3] * -cfx + m[4] * -cfy + cfy;
  const out = new Float64Array(c * h * w);
  const at = (p: number, y: number, x: number) => (y >= 0 && y < h && x >= 0 && x < w ? [img[p * h * w + y * w + x], 1] : [0, 0]);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      const bx = -w * 0.5 + 0.5 + j, by = -h * 0.5 + 0.5 + i;
      const gx = (m[0] * bx + m[1] * by + m[2]) / (0.5 * w), gy = (m[3] * bx + m[4] * by + m[5]) / (0.5 * h);
      const ix = ((gx + 1) * w - 1) / 2, iy = ((gy + 1) * h - 1) / 2;
      for (let p = 0; p < c; p++) {
        const f = fill.length === 1 ? fill[0] : fill[p];
        let value = 0, mask = 0;
        if (mode === 'nearest') {
          const rx = Math.round(ix), ry = Math.round(iy); // no ties at these angles
          [value, mask] = at(p, ry, rx);
          out[p * h * w + i * w + j] = mask < 0.5 ? f : value;
          continue;
        }
        const x0 = Math.floor(ix), y0 = Math.floor(iy), fx = ix - x0, fy = iy - y0;
        for (const [dy, dx, weight] of [[0, 0, (1 - fy) * (1 - fx)], [0, 1, (1 - fy) * fx], [1, 0, fy * (1 - fx)], [1, 1, fy * fx]]) {
          const [v, inside] = at(p, y0 + dy, x0 + dx);
          value += weight * v;
          mask += weight * inside;
        }
        out[p * h * w + i * w + j] = mask * (value - f) + f;
      }
    }
  }
  return out;
}

describe('RandomRotation', () => {
  for (const [h, interpolation] of [[5, 'nearest'], [6, 'nearest'], [5, 'bilinear'], [6, 'bilinear']] as const) {
    it(`90° of a ${h}×${h} image (${interpolation}) is exactly a transpose then a vertical flip (torch.rot90)`, () => {
      const x = iota([2, h, h]);
      const out = new T.RandomRotation([90, 90], { interpolation }).forward(x);
      for (let p = 0; p < 2; p++) {
        const src = plane(x.data(), p, h, h);
        const rot90 = Array.from({ length: h }, (_, i) => Array.from({ length: h }, (_, j) => src[j][h - 1 - i]));
        expect(plane(out.data(), p, h, h)).toEqual(rot90);
      }
      const half = new T.RandomRotation([180, 180], { interpolation }).forward(x);
      expect(values(half)).toEqual(plane(x.data(), 0, h, h).flat().reverse().concat(plane(x.data(), 1, h, h).flat().reverse()));
    });
  }

  for (const interpolation of ['bilinear', 'nearest'] as const) {
    it(`arbitrary angles (${interpolation}) match a float64 reference of torchvision's rotate, fill and centre included`, () => {
      const seed = freshSeed();
      const rng = makeRng(seed);
      for (const [shape, center, fill] of [[[3, 7, 9], undefined, [0]], [[2, 8, 6], [2.5, 4], [0.25, -1]], [[1, 28, 28], undefined, [0.5]]] as const) {
        const angle = -180 + 360 * rng();
        const { t, ref } = randomImage(rng, [...shape]);
        const out = new T.RandomRotation([angle, angle], { interpolation, center: center ? [...center] : undefined, fill: [...fill] }).forward(t);
        expectClose(out.data(), rotateReference(ref, [...shape], angle, interpolation, [...fill], center ? [...center] : undefined), 1e-6, `seed ${seed} shape ${shape} angle ${angle}`);
      }
    });
  }

  it('draws the angle uniformly from [-degrees, degrees]', () => {
    // A one-pixel dot at (0, 4) of a 9×9 image rotates about (4, 4): its angle can be read back.
    const x = kd.zeros([1, 9, 9]);
    (x.data() as Float32Array)[4] = 1;
    const angles: number[] = [];
    for (let s = 0; s < 300; s++) {
      const at = values(new T.RandomRotation(30).forward(x, new Generator(s))).indexOf(1);
      const y = Math.floor(at / 9), xx = at % 9;
      angles.push((Math.atan2(-(xx - 4), -(y - 4)) * 180) / Math.PI); // counter-clockwise from up
    }
    expect(Math.max(...angles)).toBeLessThanOrEqual(31);
    expect(Math.min(...angles)).toBeGreaterThanOrEqual(-31);
    expect(Math.max(...angles)).toBeGreaterThan(20);
    expect(Math.min(...angles)).toBeLessThan(-20);
  });

  it('rejects bad degrees, interpolation, centre and fill', () => {
    expectError(() => new T.RandomRotation(-5), kd.ArgumentError, 'RandomRotation', 'degrees');
    expectError(() => new T.RandomRotation([10, -10]), kd.ArgumentError, 'RandomRotation', 'min <= max');
    expectError(() => new T.RandomRotation([1, 2, 3]), kd.ArgumentError, 'RandomRotation', 'degrees');
    expectError(() => new T.RandomRotation(5, { interpolation: 'bicubic' as 'nearest' }), kd.ArgumentError, 'RandomRotation', 'interpolation');
    expectError(() => new T.RandomRotation(5, { center: [1] }), kd.ArgumentError, 'RandomRotation', 'center');
    expectError(() => new T.RandomRotation(5, { fill: [1, 2] }).forward(kd.zeros([3, 4, 4])), kd.ShapeError, 'RandomRotation', 'fill');
  });
});

describe('RandomErasing', () => {
  /** The erased cells (value `v` where the input was not) of plane 0, as their bounding box and count. */
  function erasedBox(out: ArrayLike<number>, h: number, w: number, v: number) {
    let top = h, bottom = -1, left = w, right = -1, count = 0;
    for (let k = 0; k < h * w; k++) {
      if (out[k] !== v) continue;
      const y = Math.floor(k / w), x = k % w;
      top = Math.min(top, y); bottom = Math.max(bottom, y); left = Math.min(left, x); right = Math.max(right, x);
      count++;
    }
    return { top, left, height: bottom - top + 1, width: right - left + 1, count };
  }

  it('erases one rectangle of the drawn area and aspect ratio in every channel', () => {
    const [c, h, w] = [3, 20, 20];
    const x = kd.ones([c, h, w]);
    // scale 0.25 of 400 pixels at ratio 1: a 10×10 square, somewhere.
    const tops = new Set<number>();
    for (let s = 0; s < 100; s++) {
      const out = new T.RandomErasing({ p: 1, scale: [0.25, 0.25], ratio: [1, 1], value: [-1, -2, -3] }).forward(x, new Generator(s));
      for (let p = 0; p < c; p++) {
        const box = erasedBox(out.data().subarray(p * h * w), h, w, -1 - p);
        expect(box.count).toBe(100);
        expect([box.height, box.width]).toEqual([10, 10]);
        if (p === 0) tops.add(box.top);
      }
      expect(values(out).filter((v) => v === 1).length).toBe(c * (400 - 100));
    }
    expect(tops.size).toBe(11);
  });

  it('erased areas average the middle of `scale`, with aspect ratios in `ratio`', () => {
    const seed = freshSeed();
    const x = kd.ones([1, 40, 40]);
    const erasing = new T.RandomErasing({ p: 1 });
    let areaSum = 0;
    for (let s = 0; s < 400; s++) {
      const box = erasedBox(erasing.forward(x, new Generator(seed, s)).data(), 40, 40, 0);
      expect(box.count).toBe(box.width * box.height);
      const aspect = box.height / box.width;
      expect(aspect, `seed ${seed}/${s}`).toBeGreaterThan(0.3 * 0.8);
      expect(aspect, `seed ${seed}/${s}`).toBeLessThan(3.3 / 0.8);
      areaSum += box.count / 1600;
    }
    // Uniform in [0.02, 0.33] has mean 0.175; large rectangles that do not fit are redrawn (slightly lower).
    expect(areaSum / 400, `seed ${seed}`).toBeGreaterThan(0.14);
    expect(areaSum / 400, `seed ${seed}`).toBeLessThan(0.19);
  });

  it("p decides how often; 'random' fills with standard normal noise", () => {
    const x = kd.ones([1, 16, 16]);
    let erased = 0;
    for (let s = 0; s < 600; s++) if (values(new T.RandomErasing({ p: 0.3 }).forward(x, new Generator(s))).includes(0)) erased++;
    expect(erased).toBeGreaterThan(600 * 0.3 - 50);
    expect(erased).toBeLessThan(600 * 0.3 + 50);
    const noise = values(new T.RandomErasing({ p: 1, scale: [0.5, 0.5], ratio: [1, 1], value: 'random' }).forward(kd.full([1, 64, 64], 7, { dtype: 'float32' }), new Generator(3))).filter((v) => v !== 7);
    expect(noise.length).toBe(45 * 45);
    const mean = noise.reduce((a, b) => a + b, 0) / noise.length;
    const variance = noise.reduce((a, b) => a + (b - mean) ** 2, 0) / noise.length;
    expect(Math.abs(mean)).toBeLessThan(0.1);
    expect(Math.abs(variance - 1)).toBeLessThan(0.1);
  });

  it('rejects bad p, scale, ratio, value and [H, W] images', () => {
    expectError(() => new T.RandomErasing({ p: 2 }), kd.ArgumentError, 'RandomErasing', 'p');
    expectError(() => new T.RandomErasing({ scale: [0.5, 1.5] }), kd.ArgumentError, 'RandomErasing', 'scale');
    expectError(() => new T.RandomErasing({ scale: [0.5, 0.1] }), kd.ArgumentError, 'RandomErasing', 'min <= max');
    expectError(() => new T.RandomErasing({ ratio: [0, 1] }), kd.ArgumentError, 'RandomErasing', 'ratio');
    expectError(() => new T.RandomErasing({ value: 'noise' as 'random' }), kd.ArgumentError, 'RandomErasing', 'value');
    expectError(() => new T.RandomErasing({ value: [1, 2] }).forward(kd.zeros([3, 4, 4])), kd.ShapeError, 'RandomErasing', 'value', '3 channel');
    expectError(() => new T.RandomErasing().forward(kd.zeros([4, 4])), kd.ShapeError, 'RandomErasing', '[C, H, W]', '[4,4]');
  });
});

describe('GaussianNoise', () => {
  it('adds noise of the given mean and sigma; clip keeps [0, 1]', () => {
    const x = kd.full([1, 100, 100], 0.5);
    const diff = values(new T.GaussianNoise({ mean: 0.05, sigma: 0.1, clip: false }).forward(x, new Generator(9))).map((v) => v - 0.5);
    const mean = diff.reduce((a, b) => a + b, 0) / diff.length;
    const std = Math.sqrt(diff.reduce((a, b) => a + (b - mean) ** 2, 0) / diff.length);
    expect(Math.abs(mean - 0.05)).toBeLessThan(0.005);
    expect(Math.abs(std - 0.1)).toBeLessThan(0.005);
    const clipped = values(new T.GaussianNoise({ sigma: 1 }).forward(x, new Generator(9)));
    expect(Math.min(...clipped)).toBe(0);
    expect(Math.max(...clipped)).toBe(1);
    expect(values(new T.GaussianNoise({ sigma: 0 }).forward(x))).toEqual(values(x));
  });

  it('rejects a negative sigma and non-finite options', () => {
    expectError(() => new T.GaussianNoise({ sigma: -0.1 }), kd.ArgumentError, 'GaussianNoise', 'sigma');
    expectError(() => new T.GaussianNoise({ mean: Infinity }), kd.ArgumentError, 'GaussianNoise', 'mean');
    expectError(() => new T.GaussianNoise({ clip: 1 as unknown as boolean }), kd.ArgumentError, 'GaussianNoise', 'clip');
  });
});

describe('Normalize', () => {
  it('(x - mean[c]) / std[c] per channel matches float64', () => {
    const seed = freshSeed();
    const { t, ref } = randomImage(makeRng(seed), [3, 5, 7]);
    const mean = [0.1, 0.5, -0.3], std = [0.2, 1.5, 0.7];
    const expected = ref.map((v, k) => (v - mean[Math.floor(k / 35)]) / std[Math.floor(k / 35)]);
    expectClose(new T.Normalize(mean, std).forward(t).data(), expected, 1e-6, `seed ${seed}`);
    expectClose(new T.Normalize(0.5, [2]).forward(t).data(), ref.map((v) => (v - 0.5) / 2), 1e-6, `seed ${seed}`);
  });

  it('rejects a channel-count mismatch, a zero std and [H, W] images', () => {
    expectError(() => new T.Normalize([0.1, 0.2], [1, 1]).forward(kd.zeros([3, 2, 2])), kd.ShapeError, 'Normalize', 'mean', '[3,2,2]');
    expectError(() => new T.Normalize(0, [1, 0]), kd.ArgumentError, 'Normalize', 'std', 'zero');
    expectError(() => new T.Normalize([], 1), kd.ArgumentError, 'Normalize', 'mean');
    expectError(() => new T.Normalize(0, 1).forward(kd.zeros([2, 2])), kd.ShapeError, 'Normalize', '[2,2]');
  });
});

describe('Compose', () => {
  it('applies its transforms in order', () => {
    const x = kd.ones([1, 2, 2]);
    // Padding 1 then a 4×4 crop keeps everything: the border is the fill before or after Normalize.
    const normalizeThenPad = new T.Compose([new T.Normalize(0.5, 0.5), new T.RandomCrop(4, { padding: 1 })]).forward(x);
    const padThenNormalize = new T.Compose([new T.RandomCrop(4, { padding: 1 }), new T.Normalize(0.5, 0.5)]).forward(x);
    expect(plane(normalizeThenPad.data(), 0, 4, 4)).toEqual([[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]);
    expect(plane(padThenNormalize.data(), 0, 4, 4)).toEqual([[-1, -1, -1, -1], [-1, 1, 1, -1], [-1, 1, 1, -1], [-1, -1, -1, -1]]);
  });

  it('takes plain functions of a tensor, and rejects anything else', () => {
    const twiceThenFlip = new T.Compose([(x: Tensor) => x.mul(2), new T.RandomHorizontalFlip(1)]);
    expect(values(twiceThenFlip.forward(iota([1, 1, 3])))).toEqual([4, 2, 0]);
    expectError(() => new T.Compose([new T.RandomHorizontalFlip(), 42 as unknown as Transform]), kd.ArgumentError, 'Compose', 'transforms[1]');
    expectError(() => new T.Compose(new T.RandomHorizontalFlip() as unknown as Transform[]), kd.ArgumentError, 'Compose', 'array');
    expectError(() => new T.Compose([(x: Tensor) => x.int()]).forward(kd.zeros([1, 2, 2])), kd.DTypeError, 'Lambda', 'float32');
    expect(new T.Lambda((y: Tensor) => y.add(1)).forward(kd.tensor([1, 2], { dtype: 'int32' })).toArray()).toEqual([2, 3]);
  });

  it('the same generator state gives the same result; forward without one uses kd.manualSeed', () => {
    const x = iota([1, 28, 28]);
    const aug = new T.Compose([new T.RandomCrop(28, { padding: 2 }), new T.RandomHorizontalFlip(), new T.RandomRotation(15), new T.RandomErasing(), new T.GaussianNoise()]);
    expect(values(aug.forward(x, new Generator(5)))).toEqual(values(aug.forward(x, new Generator(5))));
    kd.manualSeed(11);
    const a = values(aug.forward(x));
    kd.manualSeed(11);
    expect(values(aug.forward(x))).toEqual(a);
    expectError(() => aug.forward(x, 5 as unknown as InstanceType<typeof Generator>), kd.ArgumentError, 'Compose', 'generator');
  });
});

describe('transforms in the DataLoader', () => {
  /** n images [1, 4, 4]; image i is all i except a 1 at its top-left corner, so a flip shows; label i. */
  function markedDataset(n: number, options: kd.data.TensorDatasetOptions = {}) {
    const x = new Float32Array(n * 16);
    for (let i = 0; i < n; i++) {
      x.fill(i, i * 16, (i + 1) * 16);
      x[i * 16] = -1;
    }
    return new kd.data.TensorDataset(kd.tensor(x).reshape([n, 1, 4, 4]), kd.tensor(Int32Array.from({ length: n }, (_, i) => i)), options);
  }

  /** sample index -> its transformed image, over one epoch of `loader`. */
  function epochImages(loader: Iterable<Tensor[]>): Map<number, string> {
    const out = new Map<number, string>();
    for (const batch of loader) {
      const [x, y] = batch;
      const labels = y.data() as Int32Array, images = x.data() as Float32Array;
      const per = images.length / labels.length;
      labels.forEach((label, r) => out.set(label, Array.from(images.subarray(r * per, (r + 1) * per)).join(',')));
      for (const t of batch) t.dispose();
    }
    return out;
  }

  const augmentation = () => new T.Compose([new T.RandomCrop(4, { padding: 1 }), new T.RandomHorizontalFlip()]);

  it('same seed, same augmented batches; the next epoch augments differently', () => {
    const ds = markedDataset(40, { transform: augmentation() });
    const a = new kd.data.DataLoader(ds, { batchSize: 8, shuffle: true, seed: 123 });
    const b = new kd.data.DataLoader(ds, { batchSize: 8, shuffle: true, seed: 123 });
    const a1 = epochImages(a), b1 = epochImages(b);
    expect(a1).toEqual(b1);
    const a2 = epochImages(a);
    const changed = [...a1.keys()].filter((i) => a1.get(i) !== a2.get(i)).length;
    expect(changed).toBeGreaterThan(30);
    expect(epochImages(b)).toEqual(a2);
    expect(new Set(a1.values()).size).toBe(40);
  });

  it("a sample's augmentation depends on (seed, epoch, index), not on its batch or the shuffle", () => {
    const ds = markedDataset(30, { transform: augmentation() });
    const bySeven = epochImages(new kd.data.DataLoader(ds, { batchSize: 7, seed: 9 }));
    const whole = epochImages(new kd.data.DataLoader(ds, { batchSize: 30, seed: 9 }));
    expect(whole).toEqual(bySeven);
    // The generic path (a Subset, examples collated one by one) agrees with the gathered batches.
    const all = new kd.data.Subset(ds, Array.from({ length: 30 }, (_, i) => i));
    expect(epochImages(new kd.data.DataLoader(all, { batchSize: 4, seed: 9 }))).toEqual(bySeven);
    // And so does get(i) with the generator the loader gives sample i in epoch 0.
    const [image] = ds.get(17, new Generator(9, 17));
    expect(image.shape).toEqual([1, 4, 4]);
    expect(values(image).join(',')).toBe(bySeven.get(17));
  });

  it('flips about half of the samples of an epoch, and leaves the dataset itself unchanged', () => {
    const ds = markedDataset(200, { transform: new T.RandomHorizontalFlip() });
    const images = epochImages(new kd.data.DataLoader(ds, { batchSize: 16, shuffle: true, seed: 4 }));
    const flipped = [...images.values()].filter((s) => s.split(',')[3] === '-1').length;
    expect(flipped).toBeGreaterThan(70);
    expect(flipped).toBeLessThan(130);
    expect((ds.tensors[0].data() as Float32Array)[0]).toBe(-1);
    expect((ds.tensors[0].data() as Float32Array)[3]).toBe(0);
  });

  it('targetTransform gets int32 labels as tensors; a transform may change the sample shape', () => {
    const ds = markedDataset(10, { transform: new T.RandomCrop(2), targetTransform: (y: Tensor) => y.add(100) });
    const [x, y] = new kd.data.DataLoader(ds, { batchSize: 10 })[Symbol.iterator]().next().value as Tensor[];
    expect(x.shape).toEqual([10, 1, 2, 2]);
    expect(y.dtype).toBe('int32');
    expect(Array.from(y.data() as Int32Array)).toEqual(Array.from({ length: 10 }, (_, i) => 100 + i));
  });

  it('rejects unknown options, transforms that are not transforms, and rows of different shapes', () => {
    expectError(() => markedDataset(4, { tranform: new T.RandomHorizontalFlip() } as kd.data.TensorDatasetOptions), kd.ArgumentError, 'TensorDataset', "'tranform'");
    expectError(() => markedDataset(4, { transform: 3 as unknown as Transform }), kd.ArgumentError, 'TensorDataset: transform');
    expectError(() => new kd.data.TensorDataset(kd.zeros([4, 2]), { targetTransform: (y: Tensor) => y }), kd.ArgumentError, 'targetTransform', 'second tensor');
    let calls = 0;
    const ragged = markedDataset(4, { transform: (x: Tensor) => (calls++ % 2 ? x : x.reshape([16])) });
    expectError(() => ragged.getBatch(Int32Array.of(0, 1)), kd.ShapeError, 'TensorDataset', '[16]', '[1,4,4]');
    const intImages = new kd.data.TensorDataset(kd.zeros([2, 1, 2, 2], { dtype: 'int32' }), { transform: new T.RandomHorizontalFlip() });
    expectError(() => intImages.getBatch(Int32Array.of(0)), kd.DTypeError, 'RandomHorizontalFlip', 'int32');
  });

  it('fashionMnist and iris pass their transform options to the datasets', () => {
    const flip = new T.RandomHorizontalFlip(1);
    const fm = kd.data.datasets.fashionMnist({ transform: flip, testTransform: new T.Normalize(0.5, 0.5) });
    expect(fm.train.transform).toBe(flip);
    expect(fm.test.transform).toBeInstanceOf(T.Normalize);
    const [image] = fm.train.get(0);
    expect(plane(image.data(), 0, 28, 28)[5]).toEqual(plane(fm.train.tensors[0].select(0, 0).data(), 0, 28, 28)[5].reverse());
    const iris = kd.data.datasets.iris({ transform: new T.GaussianNoise({ sigma: 0.01, clip: false }) });
    expect(iris.dataset.transform).toBeInstanceOf(T.GaussianNoise);
    expect(iris.dataset.get(0)[0].shape).toEqual([4]);
  });
});

describe('kindling train --augment', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kindling-augment-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is parsed as a flag (off by default)', async () => {
    const parse = async (...argv: string[]) => {
      let args: TrainArgs | null = null;
      await createProgram({ exitOverride: true, onTrain: (a) => { args = a; }, writeOut: () => {}, writeErr: () => {} }).parseAsync(['node', 'kindling', 'train', ...argv]);
      return args as TrainArgs | null;
    };
    expect((await parse('--augment'))?.augment).toBe(true);
    expect((await parse())?.augment).toBeFalsy();
  });

  it('trains on augmented images: crop with padding 2 and horizontal flip', async () => {
    const augmentation = trainAugmentation();
    expect(augmentation.transforms.map((t) => t.constructor.name)).toEqual(['RandomCrop', 'RandomHorizontalFlip']);
    expect((augmentation.transforms[0] as RandomCrop).padding).toEqual([2, 2, 2, 2]);
    const rng = makeRng(2);
    const make = (n: number, prefix: string) => {
      const images = Uint8Array.from({ length: n * 784 }, () => Math.floor(rng() * 256)), labels = Uint8Array.from({ length: n }, (_, i) => i % 10);
      writeFileSync(join(dir, `${prefix}-images-idx3-ubyte.gz`), gzipSync(encodeIdx({ dtype: 'uint8', shape: [n, 28, 28], data: images })));
      writeFileSync(join(dir, `${prefix}-labels-idx1-ubyte.gz`), gzipSync(encodeIdx({ dtype: 'uint8', shape: [n], data: labels })));
    };
    make(60, 'train');
    make(20, 't10k');
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    let printed = '';
    try {
      await runTrain({ model: 'mlp', epochs: 1, batchSize: 16, lr: 1e-3, data: dir, device: 'cpu', out: join(dir, 'run'), seed: 1, valSplit: 0.1, augment: true });
    } finally {
      printed = log.mock.calls.map((c) => c.join(' ')).join('\n');
      log.mockRestore();
    }
    expect(printed).toMatch(/augmentation: RandomCrop\(28, padding 2\), RandomHorizontalFlip/);
  });
});
