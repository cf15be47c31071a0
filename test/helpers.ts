// Shared test utilities: a seeded generator (the seed is printed on failure through the test
// name), float64 references, relative errors, non-contiguous views and finite differences.
import { afterAll, expect, it } from 'vitest';

import { liveStorageCount } from '../lib/backend/storage.js';

import * as kd from '../lib/index.js';
import type { Tensor } from '../lib/index.js';
import type { CpuIsa } from '../lib/runtime.js';

/** mulberry32: small, fast, seeded. */
export function makeRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A fresh seed per call unless KINDLING_TEST_SEED pins it; tests put it in their messages. */
export function freshSeed(): number {
  const pinned = process.env.KINDLING_TEST_SEED;
  return pinned ? Number(pinned) : Math.floor(Math.random() * 2 ** 31);
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Random float64 values in [lo, hi) and the float32 tensor holding them (rounded). */
export function randomTensor(rng: () => number, shape: number[], lo = -1, hi = 1, requiresGrad = false): { t: Tensor; ref: Float64Array } {
  const n = numel(shape);
  const f32 = new Float32Array(n);
  for (let i = 0; i < n; i++) f32[i] = lo + (hi - lo) * rng();
  const t = kd.tensor(f32, { dtype: 'float32' }).reshape(shape);
  if (requiresGrad) t.requiresGrad = true;
  return { t, ref: Float64Array.from(f32) };
}

/** ‖out − ref‖ / ‖ref‖ (absolute norm when ref is all zeros). */
export function relError(out: ArrayLike<number>, ref: ArrayLike<number>): number {
  expect(out.length).toBe(ref.length);
  let num = 0, den = 0;
  for (let i = 0; i < ref.length; i++) {
    const o = out[i], r = ref[i];
    if (Number.isNaN(r) && Number.isNaN(o)) continue;
    if (r === o) { den += r * r; continue; }
    num += (o - r) * (o - r);
    den += r * r;
  }
  if (Number.isNaN(num)) return Infinity;
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

export function expectClose(out: ArrayLike<number>, ref: ArrayLike<number>, tol: number, context = ''): void {
  const err = relError(out, ref);
  expect(err, `${context} relative error ${err}`).toBeLessThan(tol);
}

/**
 * Error of sums against their float64 values relative to the sums of the terms' magnitudes
 * (‖out − ref‖ / ‖scale‖): a sum of terms of both signs may cancel to near 0, where a float32
 * result is only accurate relative to its terms.
 */
export function expectCloseToTerms(out: ArrayLike<number>, ref: ArrayLike<number>, scale: ArrayLike<number>, tol: number, context = ''): void {
  expect(out.length).toBe(ref.length);
  let num = 0, den = 0;
  for (let i = 0; i < ref.length; i++) {
    num += (out[i] - ref[i]) ** 2;
    den += scale[i] ** 2;
  }
  const err = Math.sqrt(num / den);
  expect(err, `${context} error relative to the terms ${err}`).toBeLessThan(tol);
}

/** Runs f; it must throw an instance of `cls` whose message matches every pattern (a string: contains it). */
export function expectError(f: () => unknown, cls: new (...a: never[]) => Error, ...patterns: (RegExp | string)[]): void {
  let caught: unknown = null;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${cls.name}, nothing was thrown`).not.toBeNull();
  expect(caught, `expected ${cls.name}, got ${String(caught)}`).toBeInstanceOf(cls);
  for (const p of patterns) expect((caught as Error).message).toMatch(p);
}

/** Row-major strides of a shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
}

/** Calls fn(index, flatPosition) for every multi-index of shape in row-major order. */
export function forEachIndex(shape: readonly number[], fn: (idx: number[], flat: number) => void): void {
  const n = numel(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let flat = 0; flat < n; flat++) {
    fn(idx, flat);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

/**
 * Checks autograd against central finite differences: for scalar f(inputs), each input's .grad
 * must match (f(x + h e_i) − f(x − h e_i)) / 2h, computed in float32 with a float64 sum.
 */
export function gradcheck(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[], { eps = 1e-2, tol = 2e-2, context = '' } = {}): void {
  for (const x of inputs) { x.grad?.dispose(); x.grad = null; }
  const out = f(...inputs);
  out.backward();
  out.dispose();
  inputs.forEach((x, k) => {
    const analytic = Float64Array.from(x.grad!.data() as Float32Array);
    const data = x.data() as Float32Array;
    const numeric = new Float64Array(data.length);
    kd.noGrad(() => {
      for (let i = 0; i < data.length; i++) {
        const orig = data[i];
        data[i] = orig + eps;
        const fp = kd.tidy(() => f(...inputs).item());
        data[i] = orig - eps;
        const fm = kd.tidy(() => f(...inputs).item());
        data[i] = orig;
        numeric[i] = (fp - fm) / (2 * eps);
      }
    });
    expectClose(analytic, numeric, tol, `${context} input ${k} gradient vs finite differences`);
  });
}

/**
 * Live native storages after a full garbage collection: tensors forgotten anywhere are freed by
 * GC-time finalizers at any allocation, so a leak check compares collected counts and asserts the
 * count did not grow (earlier tests' tensors may still be released in between).
 */
export function settledStorageCount(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return liveStorageCount();
}

/**
 * One test per CPU instruction set (avx512, avx2, scalar; skipped where this processor lacks it)
 * and thread count (1, 2): `fn` runs with both set, and they are restored after each test.
 */
export function itOnEveryIsa(title: string, fn: (isa: CpuIsa, threads: number) => void): void {
  const originalIsa = kd.cpuIsa(), originalThreads = kd.getNumThreads();
  const available = (['avx512', 'avx2', 'scalar'] as CpuIsa[]).filter((isa) => kd.setCpuIsa(isa));
  kd.setCpuIsa(originalIsa);
  afterAll(() => {
    kd.setCpuIsa(originalIsa);
    kd.setNumThreads(originalThreads);
  });
  for (const isa of ['avx512', 'avx2', 'scalar'] as CpuIsa[]) {
    for (const threads of [1, 2]) {
      it.skipIf(!available.includes(isa))(`${isa}, ${threads} thread(s): ${title}`, () => {
        kd.setCpuIsa(isa);
        kd.setNumThreads(threads);
        try {
          fn(isa, threads);
        } finally {
          kd.setCpuIsa(originalIsa);
          kd.setNumThreads(originalThreads);
        }
      });
    }
  }
}
