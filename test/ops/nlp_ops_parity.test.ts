// The NLP tensor ops against PyTorch 2.13 (test/fixtures/nlp_ops.expected.json, written by
// test/fixtures/make_nlp_ops_fixtures.py): einsum, F.pad in every mode, F.cosineSimilarity and
// F.normalize with their gradients, topk / sort over ties (values everywhere, indices where a
// row has no ties or the sort was stable), cumprod with zeros, and multinomial frequencies.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose } from '../helpers.js';

const F = kd.nn.functional;
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

/** NaN is stored as null. */
interface Stored { shape: number[]; values: number[] }
interface GradCase { inputs: Stored[]; out: Stored; r: Stored; grads: Stored[] }
interface Fixture {
  torch: string;
  cases: {
    einsum: (GradCase & { equation: string })[];
    pad: (GradCase & { mode: kd.nn.functional.PadMode; pad: number[]; value: number | null })[];
    cosine: (GradCase & { dim: number; eps: number })[];
    normalize: (GradCase & { p: number; dim: number })[];
    topk: { k: number; dim: number; largest: boolean; ties: boolean; input: Stored; values: Stored; indices: Stored }[];
    sort: { dim: number; descending: boolean; input: Stored; values: Stored; indices: Stored; stableIndices: Stored }[];
    cumprod: (GradCase & { dim: number })[];
    multinomial: { weights: number[]; numSamples: number; replacement: boolean; frequencies?: number[]; trials?: number; firstFrequencies?: number[] }[];
  };
}

const fixture = JSON.parse(readFileSync(join(FIXTURES, 'nlp_ops.expected.json'), 'utf8'), (_, v) => (v === null ? NaN : v)) as Fixture;

function fromStored(s: Stored, requiresGrad = false): Tensor {
  const t = kd.tensor(s.values, { dtype: 'float32' }).reshape(s.shape);
  t.requiresGrad = requiresGrad;
  return t;
}

/** Runs fn on leaves made from the stored inputs; checks the output and the gradients of sum(out * r). */
function checkGradCase(c: GradCase, fn: (...xs: Tensor[]) => Tensor, tol: number, context: string): void {
  const leaves = c.inputs.map((s) => fromStored(s, true));
  const out = fn(...leaves);
  expect(out.shape, context).toEqual(c.out.shape);
  expectClose(out.data() as Float32Array, c.out.values, tol, `${context} output`);
  const r = fromStored(c.r);
  out.mul(r).sum().backward();
  leaves.forEach((x, i) => expectClose(x.grad!.data() as Float32Array, c.grads[i].values, tol, `${context} grad ${i}`));
}

describe(`PyTorch ${fixture.torch} parity of the NLP ops`, () => {
  it('einsum matches torch.einsum and its gradients on every equation', () => {
    for (const c of fixture.cases.einsum) checkGradCase(c, (...xs) => kd.einsum(c.equation, ...xs), 1e-5, `einsum '${c.equation}'`);
  });

  it('F.pad matches in constant, reflect, replicate and circular modes, with gradients', () => {
    for (const c of fixture.cases.pad) {
      const options = c.value === null ? { mode: c.mode } : { mode: c.mode, value: c.value };
      checkGradCase(c, (x) => F.pad(x, c.pad, options), 1e-6, `pad ${c.mode} ${JSON.stringify(c.pad)}`);
    }
  });

  it('F.cosineSimilarity matches PyTorch 2 (each norm clamped by eps), broadcast and zero rows included', () => {
    for (const c of fixture.cases.cosine) {
      checkGradCase(c, (a, b) => F.cosineSimilarity(a, b, { dim: c.dim, eps: c.eps }), 1e-5, `cosineSimilarity dim ${c.dim} eps ${c.eps}`);
    }
  });

  it('F.normalize matches for p = 1, 2, 3', () => {
    for (const c of fixture.cases.normalize) checkGradCase(c, (x) => F.normalize(x, { p: c.p, dim: c.dim }), 1e-5, `normalize p ${c.p}`);
  });

  it('cumprod with zeros in the input matches in value and gradient', () => {
    for (const c of fixture.cases.cumprod) checkGradCase(c, (x) => kd.cumprod(x, c.dim), 1e-5, `cumprod dim ${c.dim}`);
  });

  it('topk values match over ties, and indices exactly on inputs without ties', () => {
    for (const c of fixture.cases.topk) {
      const x = fromStored(c.input);
      const { values, indices } = x.topk(c.k, { dim: c.dim, largest: c.largest });
      const want = c.values.values.map(Math.fround);
      expect(Array.from(values.data())).toEqual(want);
      // Every returned index points at its value.
      const back = x.gather(c.dim, indices);
      expect(Array.from(back.data())).toEqual(want);
      expect(indices.shape).toEqual(c.indices.shape);
      if (!c.ties) expect(Array.from(indices.data())).toEqual(c.indices.values);
    }
  });

  it('sort values match (NaN placed as PyTorch does), stable indices match exactly', () => {
    for (const c of fixture.cases.sort) {
      const x = fromStored(c.input);
      const { values, indices } = x.sort({ dim: c.dim, descending: c.descending, stable: true });
      const got = Array.from(values.data());
      c.values.values.forEach((v, i) => (Number.isNaN(v) ? expect(got[i]).toBeNaN() : expect(got[i]).toBe(Math.fround(v))));
      expect(Array.from(indices.data())).toEqual(c.stableIndices.values);
      expect(Array.from(x.argsort({ dim: c.dim, descending: c.descending }).data())).toEqual(c.stableIndices.values);
    }
  });

  it('multinomial frequencies agree with PyTorch draws (with and without replacement)', () => {
    kd.manualSeed(1234);
    for (const c of fixture.cases.multinomial) {
      const w = kd.tensor(c.weights, { dtype: 'float32' });
      const total = c.weights.reduce((a, b) => a + b, 0);
      if (c.replacement) {
        const draws = kd.multinomial(w, c.numSamples, { replacement: true }).data();
        const freq = new Array(c.weights.length).fill(0);
        for (const d of draws) freq[d] += 1 / c.numSamples;
        c.weights.forEach((wi, i) => {
          // Both within 4 sigma of the exact probability, so within 8 of each other.
          const p = wi / total, sigma = Math.sqrt((p * (1 - p)) / c.numSamples);
          expect(Math.abs(freq[i] - p), `category ${i}`).toBeLessThanOrEqual(4 * sigma + 1e-12);
          expect(Math.abs(freq[i] - c.frequencies![i]), `category ${i} vs PyTorch`).toBeLessThanOrEqual(8 * sigma + 1e-12);
        });
      } else {
        const trials = c.trials!;
        const first = new Array(c.weights.length).fill(0);
        const draws = kd.multinomial(w.unsqueeze(0).expand([trials, c.weights.length]).contiguous(), c.numSamples).data();
        for (let t = 0; t < trials; t++) {
          first[draws[t * c.numSamples]] += 1 / trials;
          expect(draws[t * c.numSamples]).not.toBe(draws[t * c.numSamples + 1]);
        }
        c.weights.forEach((wi, i) => {
          const p = wi / total, sigma = Math.sqrt((p * (1 - p)) / trials);
          expect(Math.abs(first[i] - c.firstFrequencies![i]), `first draw category ${i} vs PyTorch`).toBeLessThanOrEqual(8 * sigma + 1e-12);
          if (wi === 0) expect(first[i]).toBe(0);
        });
      }
    }
  });
});
