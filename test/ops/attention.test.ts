// F.scaledDotProductAttention on the fused kernels against a float64 unfused reference written
// here (softmax(q kᵀ·scale + mask) v and its gradients): every mask kind, odd and unequal
// lengths, GQA, head dims 16/64/128, transposed [B, L, H, E] views, leading-dim broadcasting,
// Ev != E, under every ISA and 1/2 threads; dropout statistics, reproducibility and finite
// differences; PyTorch 2.13 fixtures; bad input.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterEach, describe, expect, it } from 'vitest';

import { backendFor } from '../../lib/backend/index.js';
import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, expectError, freshSeed, gradcheck, makeRng, numel } from '../helpers.js';

const F = kd.nn.functional;
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

function randomArray(rng: () => number, n: number, lo = -1, hi = 1): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.fround(lo + (hi - lo) * rng());
  return a;
}

type MaskKind = 'none' | 'causal' | 'bool' | 'float' | 'floatInf' | 'padding';

/** The mask as the reference sees it: an additive value per (b, h, i, j) (-Infinity = masked). */
type MaskFn = (b: number, h: number, i: number, j: number) => number;

interface Geometry { B: number; H: number; Hkv: number; L: number; S: number; E: number; Ev: number }

/**
 * The float64 reference over contiguous [B, H, L, E] / [B, Hkv, S, E] / [B, Hkv, S, Ev] arrays:
 * out, and the gradients of sum(out ∘ gOut). A fully masked row gives zeros (as torch's CPU SDPA).
 */
function attentionRef(g: Geometry, q: Float64Array, k: Float64Array, v: Float64Array, mask: MaskFn, scale: number,
  gOut: Float64Array) {
  const { B, H, Hkv, L, S, E, Ev } = g;
  const out = new Float64Array(B * H * L * Ev), dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length), dv = new Float64Array(v.length);
  const p = new Float64Array(S), dp = new Float64Array(S);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) {
    const kh = Math.floor(h / (H / Hkv));
    const qo = (b * H + h) * L * E, ko = (b * Hkv + kh) * S * E, vo = (b * Hkv + kh) * S * Ev, oo = (b * H + h) * L * Ev;
    for (let i = 0; i < L; i++) {
      let m = -Infinity;
      for (let j = 0; j < S; j++) {
        let s = 0;
        for (let c = 0; c < E; c++) s += q[qo + i * E + c] * k[ko + j * E + c];
        p[j] = s * scale + mask(b, h, i, j);
        m = Math.max(m, p[j]);
      }
      if (m === -Infinity) continue; // every key masked: zeros out and gradients
      let sum = 0;
      for (let j = 0; j < S; j++) sum += p[j] = Math.exp(p[j] - m);
      for (let j = 0; j < S; j++) p[j] /= sum;
      let rowDot = 0;
      for (let j = 0; j < S; j++) {
        let d = 0;
        for (let c = 0; c < Ev; c++) {
          out[oo + i * Ev + c] += p[j] * v[vo + j * Ev + c];
          dv[vo + j * Ev + c] += p[j] * gOut[oo + i * Ev + c];
          d += gOut[oo + i * Ev + c] * v[vo + j * Ev + c];
        }
        dp[j] = d;
        rowDot += p[j] * d;
      }
      for (let j = 0; j < S; j++) {
        const ds = p[j] * (dp[j] - rowDot) * scale;
        if (ds === 0) continue;
        for (let c = 0; c < E; c++) {
          dq[qo + i * E + c] += ds * k[ko + j * E + c];
          dk[ko + j * E + c] += ds * q[qo + i * E + c];
        }
      }
    }
  }
  return { out, dq, dk, dv };
}

interface Case extends Geometry { mask: MaskKind; transposed: boolean }

/** The kindling mask tensor and the reference's view of it. */
function makeMask(c: Case, rng: () => number): { t: Tensor | null; fn: MaskFn; causal: boolean } {
  const { B, H, L, S } = c;
  switch (c.mask) {
    case 'none': return { t: null, fn: () => 0, causal: false };
    case 'causal': return { t: null, fn: (_b, _h, i, j) => (j <= i ? 0 : -Infinity), causal: true };
    case 'bool': { // [H, L, S] broadcast over the batch; some rows fully masked
      const keep = new Uint8Array(H * L * S).map((_, n) => (Math.floor(n / S) % 5 === 3 ? 0 : rng() < 0.7 ? 1 : 0));
      return { t: kd.tensor(keep, { dtype: 'bool' }).reshape([H, L, S]), fn: (_b, h, i, j) => (keep[(h * L + i) * S + j] ? 0 : -Infinity), causal: false };
    }
    case 'float': { // [B, 1, L, S] additive, broadcast over heads
      const add = randomArray(rng, B * L * S, -2, 2);
      return { t: kd.tensor(Float32Array.from(add)).reshape([B, 1, L, S]), fn: (b, _h, i, j) => add[(b * L + i) * S + j], causal: false };
    }
    case 'floatInf': { // [L, S] additive with -inf entries and one fully masked row
      const add = randomArray(rng, L * S, -1, 1).map((x, n) => (Math.floor(n / S) === 1 || rng() < 0.3 ? -Infinity : x));
      return { t: kd.tensor(Float32Array.from(add)).reshape([L, S]), fn: (_b, _h, i, j) => add[i * S + j], causal: false };
    }
    case 'padding': { // a key-padding mask [B, 1, 1, S]: batch b keeps its first S - 2b keys
      const keep = new Uint8Array(B * S).map((_, n) => (n % S < S - 2 * Math.floor(n / S) ? 1 : 0));
      return { t: kd.tensor(keep, { dtype: 'bool' }).reshape([B, 1, 1, S]), fn: (b, _h, _i, j) => (keep[b * S + j] ? 0 : -Infinity), causal: false };
    }
  }
}

/** A [B, H, len, D] tensor holding `data`, contiguous or transposed from a [B, len, H, D] one. */
function headsTensor(data: Float64Array, shape: number[], transposed: boolean): Tensor {
  const [B, H, N, D] = shape;
  if (!transposed) return kd.tensor(Float32Array.from(data)).reshape(shape);
  const blhd = new Float32Array(data.length);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let n = 0; n < N; n++) for (let d = 0; d < D; d++) {
    blhd[((b * N + n) * H + h) * D + d] = data[((b * H + h) * N + n) * D + d];
  }
  return kd.tensor(blhd).reshape([B, N, H, D]).transpose(1, 2);
}

/** Runs the case through F.scaledDotProductAttention and checks out, dq, dk, dv against float64. */
function checkCase(c: Case, rng: () => number, context: string, tol = 1e-4): void {
  const { B, H, Hkv, L, S, E, Ev } = c;
  const qa = randomArray(rng, B * H * L * E), ka = randomArray(rng, B * Hkv * S * E), va = randomArray(rng, B * Hkv * S * Ev);
  const ga = randomArray(rng, B * H * L * Ev);
  const mask = makeMask(c, rng);
  const scale = 1 / Math.sqrt(E);
  const ref = attentionRef(c, qa, ka, va, mask.fn, scale, ga);
  kd.tidy(() => {
    const q = headsTensor(qa, [B, H, L, E], c.transposed).detach().requiresGrad_(true);
    const k = headsTensor(ka, [B, Hkv, S, E], c.transposed).detach().requiresGrad_(true);
    const v = headsTensor(va, [B, Hkv, S, Ev], c.transposed).detach().requiresGrad_(true);
    if (c.transposed) expect(q.isContiguous()).toBe(false);
    const out = F.scaledDotProductAttention(q, k, v, { attnMask: mask.t, isCausal: mask.causal, enableGqa: Hkv !== H });
    expect(out.shape).toEqual([B, H, L, Ev]);
    expectClose(values(out), ref.out, tol, `${context} out`);
    out.mul(kd.tensor(Float32Array.from(ga)).reshape([B, H, L, Ev])).sum().backward();
    expectClose(values(q.grad!), ref.dq, tol, `${context} dq`);
    expectClose(values(k.grad!), ref.dk, tol, `${context} dk`);
    expectClose(values(v.grad!), ref.dv, tol, `${context} dv`);
    for (const t of [q, k, v]) t.grad!.dispose();
  });
  mask.t?.dispose();
}

const settings = [
  { isa: 'default', threads: 1 }, { isa: 'default', threads: 2 }, { isa: 'avx2', threads: 1 }, { isa: 'avx2', threads: 2 },
  { isa: 'scalar', threads: 1 }, { isa: 'scalar', threads: 2 },
] as const;

function applySetting(s: (typeof settings)[number]): boolean {
  kd.setNumThreads(s.threads);
  return kd.setCpuIsa(s.isa === 'default' ? isaAtStart : s.isa);
}

describe('scaledDotProductAttention against a float64 reference', () => {
  const masks: MaskKind[] = ['none', 'causal', 'bool', 'float', 'floatInf', 'padding'];
  const shapes: Geometry[] = [
    { B: 2, H: 3, Hkv: 3, L: 13, S: 13, E: 16, Ev: 16 },   // self-attention, odd length
    { B: 2, H: 2, Hkv: 2, L: 7, S: 19, E: 16, Ev: 16 },    // cross-attention, L < S
    { B: 1, H: 4, Hkv: 2, L: 21, S: 9, E: 16, Ev: 16 },    // GQA, L > S
  ];
  for (const s of settings) {
    it(`every mask kind, cross-attention and GQA at headDim 16, transposed views (isa ${s.isa}, ${s.threads} threads, seed ${seed})`, () => {
      if (!applySetting(s)) return;
      const rng = makeRng(seed);
      shapes.forEach((g, si) => masks.forEach((mask) => {
        checkCase({ ...g, mask, transposed: (si + masks.indexOf(mask)) % 2 === 1 }, rng, `shape ${si} mask ${mask} ${s.isa}/${s.threads} seed ${seed}`);
      }));
    });
  }

  it(`head dims 64 and 128, longer rows over several key tiles, every ISA (seed ${seed})`, () => {
    const rng = makeRng(seed + 1);
    for (const s of settings) {
      if (!applySetting(s)) continue;
      checkCase({ B: 1, H: 2, Hkv: 1, L: 37, S: 70, E: 64, Ev: 64, mask: 'causal', transposed: true }, rng, `E64 causal ${s.isa}/${s.threads}`);
      // Causal over several query and key tiles (the tile products skip the zeros above the diagonal).
      checkCase({ B: 1, H: 2, Hkv: 2, L: 150, S: 150, E: 16, Ev: 16, mask: 'causal', transposed: false }, rng, `L150 causal ${s.isa}/${s.threads}`);
      checkCase({ B: 2, H: 2, Hkv: 1, L: 141, S: 97, E: 24, Ev: 24, mask: 'causal', transposed: true }, rng, `L141 S97 causal GQA ${s.isa}/${s.threads}`);
      checkCase({ B: 2, H: 2, Hkv: 2, L: 33, S: 41, E: 128, Ev: 128, mask: 'padding', transposed: false }, rng, `E128 padding ${s.isa}/${s.threads}`, 2e-4);
      checkCase({ B: 1, H: 3, Hkv: 3, L: 5, S: 67, E: 128, Ev: 128, mask: 'float', transposed: true }, rng, `E128 float ${s.isa}/${s.threads}`, 2e-4);
    }
  });

  it(`a value dim that differs from the query dim (Ev != E) matches the reference (seed ${seed})`, () => {
    const rng = makeRng(seed + 2);
    checkCase({ B: 2, H: 2, Hkv: 2, L: 9, S: 11, E: 16, Ev: 24, mask: 'causal', transposed: false }, rng, 'Ev 24 > E 16');
    checkCase({ B: 1, H: 3, Hkv: 3, L: 10, S: 6, E: 32, Ev: 8, mask: 'bool', transposed: true }, rng, 'Ev 8 < E 32');
  });

  it(`any number of leading dims, broadcast between q, k and v (seed ${seed})`, () => {
    const rng = makeRng(seed + 3);
    const [L, S, E] = [6, 9, 8];
    const qa = randomArray(rng, 2 * 3 * 2 * L * E), ka = randomArray(rng, 3 * 2 * S * E), va = randomArray(rng, 3 * 2 * S * E);
    const ga = randomArray(rng, 2 * 3 * 2 * L * E);
    // q [2, 3, 2, L, E]; k and v [3, 2, S, E] broadcast over the first dim: the reference sees B = 6, k repeated.
    const kRep = new Float64Array(2 * ka.length), vRep = new Float64Array(2 * va.length);
    kRep.set(ka); kRep.set(ka, ka.length); vRep.set(va); vRep.set(va, va.length);
    const ref = attentionRef({ B: 6, H: 2, Hkv: 2, L, S, E, Ev: E }, qa, kRep, vRep, () => 0, 0.3, ga);
    kd.tidy(() => {
      const q = kd.tensor(Float32Array.from(qa)).reshape([2, 3, 2, L, E]).requiresGrad_(true);
      const k = kd.tensor(Float32Array.from(ka)).reshape([3, 2, S, E]).requiresGrad_(true);
      const v = kd.tensor(Float32Array.from(va)).reshape([3, 2, S, E]).requiresGrad_(true);
      const out = F.scaledDotProductAttention(q, k, v, { scale: 0.3 });
      expect(out.shape).toEqual([2, 3, 2, L, E]);
      expectClose(values(out), ref.out, 1e-4, 'out');
      out.mul(kd.tensor(Float32Array.from(ga)).reshape(out.shape)).sum().backward();
      expectClose(values(q.grad!), ref.dq, 1e-4, 'dq');
      const half = (a: Float64Array) => a.subarray(0, a.length / 2).map((x, i) => x + a[i + a.length / 2]);
      expectClose(values(k.grad!), half(ref.dk), 1e-4, 'dk summed over the broadcast dim');
      expectClose(values(v.grad!), half(ref.dv), 1e-4, 'dv summed over the broadcast dim');
    });
    // 2-d and 3-d inputs.
    kd.tidy(() => {
      const q = kd.tensor(Float32Array.from(qa.subarray(0, L * E))).reshape([L, E]);
      const k = kd.tensor(Float32Array.from(ka.subarray(0, S * E))).reshape([S, E]);
      const v = kd.tensor(Float32Array.from(va.subarray(0, S * E))).reshape([S, E]);
      const r = attentionRef({ B: 1, H: 1, Hkv: 1, L, S, E, Ev: E }, qa.subarray(0, L * E), ka.subarray(0, S * E),
        va.subarray(0, S * E), () => 0, 1 / Math.sqrt(E), new Float64Array(L * E));
      const out2 = F.scaledDotProductAttention(q, k, v);
      expect(out2.shape).toEqual([L, E]);
      expectClose(values(out2), r.out, 1e-4, '2-d');
      const out3 = F.scaledDotProductAttention(q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0), { isCausal: true });
      expect(out3.shape).toEqual([1, L, E]);
      const rc = attentionRef({ B: 1, H: 1, Hkv: 1, L, S, E, Ev: E }, qa.subarray(0, L * E), ka.subarray(0, S * E),
        va.subarray(0, S * E), (_b, _h, i, j) => (j <= i ? 0 : -Infinity), 1 / Math.sqrt(E), new Float64Array(L * E));
      expectClose(values(out3), rc.out, 1e-4, '3-d causal');
    });
  });

  it(`q, k, v split from one projection: its gradient (gathered in place) equals that of separate copies, also when a piece is used twice (seed ${seed})`, () => {
    const rng = makeRng(seed + 5);
    const [B, T, H, D] = [2, 70, 3, 16];
    const base = Float32Array.from({ length: B * T * 3 * H * D }, () => rng() * 2 - 1);
    const w = kd.randn([B, H, T, D]);
    for (const reuseK of [false, true]) {
      kd.tidy(() => {
        const run = (packed: boolean) => {
          const x = kd.tensor(base).reshape([B, T, 3 * H * D]).requiresGrad_(true);
          const pieces = x.view([B, T, 3, H, D]).split(1, 2).map((t) => t.squeeze(2).transpose(1, 2));
          const [q, k, v] = packed ? pieces : pieces.map((t) => t.mul(1));
          const out = F.scaledDotProductAttention(q, k, v, { isCausal: true });
          expect(out.transpose(1, 2).isContiguous(), 'the output is laid out [B, T, H, D]').toBe(true);
          let loss = out.mul(w).sum();
          if (reuseK) loss = loss.add(k.mul(k).sum());
          loss.backward();
          return values(x.grad!);
        };
        expectClose(run(true), run(false), 1e-6, `reuseK ${reuseK}`);
      });
    }
  });

  it('masks receive no gradient and the inputs that need none get none', () => {
    kd.tidy(() => {
      const q = kd.randn([1, 2, 5, 8]).requiresGrad_(true), k = kd.randn([1, 2, 5, 8]), v = kd.randn([1, 2, 5, 8]);
      const m = kd.randn([5, 5]).requiresGrad_(true);
      F.scaledDotProductAttention(q, k, v, { attnMask: m }).sum().backward();
      expect(q.grad).not.toBeNull();
      expect(m.grad).toBeNull();
      expect(k.grad).toBeNull();
    });
  });
});

describe('scaledDotProductAttention dropout', () => {
  it('drops a fraction dropoutP of the weights and scales the rest by 1 / (1 - p)', () => {
    // q = 0: every weight is 1/S; v = identity, so out[i][j] is weight (i, j) after dropout.
    const S = 128, L = 64, H = 4, p = 0.3;
    kd.manualSeed(seed);
    const out = kd.tidy(() => {
      const q = kd.zeros([1, H, L, S]), k = kd.randn([1, H, S, S]);
      const v = kd.eye(S).reshape([1, 1, S, S]).expand([1, H, S, S]);
      return F.scaledDotProductAttention(q, k, v, { dropoutP: p });
    });
    const o = values(out);
    out.dispose();
    let dropped = 0;
    const kept = 1 / (S * (1 - p));
    for (const x of o) {
      if (x === 0) dropped++;
      else expect(Math.abs(x - kept)).toBeLessThan(1e-6);
    }
    expect(Math.abs(dropped / o.length - p), `fraction dropped ${dropped / o.length}`).toBeLessThan(0.01);
  });

  it('kd.manualSeed makes it reproducible; successive calls differ; p = 0 draws nothing', () => {
    const run = () => kd.tidy(() => {
      const x = kd.ones([2, 2, 9, 8]);
      return values(F.scaledDotProductAttention(x, x, x.mul(kd.arange(0, 8)), { dropoutP: 0.5 }));
    });
    kd.manualSeed(11);
    const a = run(), b = run();
    kd.manualSeed(11);
    const a2 = run();
    expect(Array.from(a2)).toEqual(Array.from(a));
    expect(Array.from(b)).not.toEqual(Array.from(a));
    kd.manualSeed(11);
    kd.tidy(() => F.scaledDotProductAttention(kd.ones([1, 1, 3, 4]), kd.ones([1, 1, 3, 4]), kd.ones([1, 1, 3, 4])));
    expect(Array.from(run())).toEqual(Array.from(a));
  });

  it(`the backward with dropout matches finite differences under a fixed seed (seed ${seed})`, () => {
    const rng = makeRng(seed + 4);
    const mk = (shape: number[]) => kd.tensor(Float32Array.from(randomArray(rng, numel(shape)))).reshape(shape).requiresGrad_(true);
    const q = mk([1, 2, 5, 4]), k = mk([1, 1, 7, 4]), v = mk([1, 1, 7, 4]), w = kd.tensor(Float32Array.from(randomArray(rng, 40))).reshape([1, 2, 5, 4]);
    const f = (a: Tensor, b: Tensor, c: Tensor) => {
      kd.manualSeed(1234);
      return F.scaledDotProductAttention(a, b, c, { dropoutP: 0.4, enableGqa: true, isCausal: true }).mul(w).sum();
    };
    gradcheck(f, [q, k, v], { eps: 1e-2, tol: 2e-2, context: `dropout seed ${seed}` });
    for (const t of [q, k, v, w]) t.dispose();
  });
});

interface Fixture {
  name: string; q: number[]; k: number[]; v: number[]; qShape: number[]; kShape: number[]; vShape: number[];
  mask: number[] | null; maskShape: number[] | null; maskDtype: 'bool' | 'float32' | null;
  isCausal: boolean; scale: number | null; enableGqa: boolean; gradOut: number[];
  out: number[]; dq: number[]; dk: number[]; dv: number[];
}

describe('scaledDotProductAttention against PyTorch 2.13', () => {
  const path = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/attention.json');
  const fixtures = JSON.parse(readFileSync(path, 'utf8')) as Fixture[];
  for (const fx of fixtures) {
    it(`matches torch's F.scaled_dot_product_attention: ${fx.name}`, () => {
      kd.tidy(() => {
        const q = kd.tensor(Float32Array.from(fx.q)).reshape(fx.qShape).requiresGrad_(true);
        const k = kd.tensor(Float32Array.from(fx.k)).reshape(fx.kShape).requiresGrad_(true);
        const v = kd.tensor(Float32Array.from(fx.v)).reshape(fx.vShape).requiresGrad_(true);
        const mask = fx.mask && (fx.maskDtype === 'bool'
          ? kd.tensor(Uint8Array.from(fx.mask), { dtype: 'bool' }).reshape(fx.maskShape!)
          : kd.tensor(Float32Array.from(fx.mask.map((x) => (x === null ? -Infinity : x)))).reshape(fx.maskShape!));
        const out = F.scaledDotProductAttention(q, k, v, { attnMask: mask, isCausal: fx.isCausal, scale: fx.scale, enableGqa: fx.enableGqa });
        expectClose(values(out), fx.out, 1e-5, `${fx.name} out`);
        out.mul(kd.tensor(Float32Array.from(fx.gradOut)).reshape(out.shape)).sum().backward();
        expectClose(values(q.grad!), fx.dq, 1e-4, `${fx.name} dq`);
        expectClose(values(k.grad!), fx.dk, 1e-4, `${fx.name} dk`);
        expectClose(values(v.grad!), fx.dv, 1e-4, `${fx.name} dv`);
      });
    });
  }
});

describe('scaledDotProductAttention errors', () => {
  it('rejects bad shapes, dtypes and arguments with a KindlingError naming the op', () => {
    kd.tidy(() => {
      const q = kd.zeros([2, 4, 5, 8]), k = kd.zeros([2, 4, 6, 8]), v = kd.zeros([2, 4, 6, 8]);
      expectError(() => F.scaledDotProductAttention(q, kd.zeros([2, 4, 6, 7]), v), kd.ShapeError, 'scaledDotProductAttention', '[2,4,6,7]');
      expectError(() => F.scaledDotProductAttention(q, k, kd.zeros([2, 4, 5, 8])), kd.ShapeError, 'lengths differ');
      expectError(() => F.scaledDotProductAttention(q, kd.zeros([2, 3, 6, 8]), kd.zeros([2, 3, 6, 8]), { enableGqa: true }), kd.ShapeError, 'multiple');
      expectError(() => F.scaledDotProductAttention(q, kd.zeros([2, 2, 6, 8]), kd.zeros([2, 2, 6, 8])), kd.ShapeError, 'enableGqa');
      expectError(() => F.scaledDotProductAttention(q, k, v, { attnMask: kd.zeros([5, 6]), isCausal: true }), kd.ArgumentError, 'isCausal');
      expectError(() => F.scaledDotProductAttention(q, k, v, { attnMask: kd.zeros([5, 7]) }), kd.ShapeError, 'attnMask', '[5,7]');
      expectError(() => F.scaledDotProductAttention(q, k, v, { attnMask: kd.zeros([5, 6], { dtype: 'int32' }) }), kd.DTypeError, 'attnMask');
      expectError(() => F.scaledDotProductAttention(q, k, v, { dropoutP: 1 }), kd.ArgumentError, 'dropoutP');
      expectError(() => F.scaledDotProductAttention(q, k, v, { scale: Infinity }), kd.ArgumentError, 'scale');
      expectError(() => F.scaledDotProductAttention(kd.zeros([5]), k, v), kd.ShapeError, 'at least 2 dims');
      expectError(() => F.scaledDotProductAttention(kd.zeros([2, 4, 5, 8], { dtype: 'int32' }), k, v), kd.DTypeError, 'float32');
      const big = kd.zeros([1, 1, 2, 300]);
      expectError(() => F.scaledDotProductAttention(big, big, big), kd.ShapeError, '256');
    });
  });

  it('the binding checks the geometry and every span against its storage (a KindlingError naming the entry point)', () => {
    kd.tidy(() => {
      const t = kd.zeros([1, 2, 4, 8]), lse = kd.zeros([1, 2, 4]);
      const op = (x: Tensor, shape = [1, 2, 4, 8]) => ({ handle: x.handle, offset: x.offset, shape, strides: [64, 32, 8, 1], dtype: x.dtype });
      const g = { batch: 1, heads: 2, kvHeads: 2, qLen: 4, kvLen: 4, headDim: 8, scale: 0.5, causal: false, dropoutP: 0, seed: 0, offset: 0, maskKind: 'none' as const };
      const cpu = backendFor('cpu');
      const lseOp = { handle: lse.handle, offset: 0, shape: [1, 2, 4], strides: [8, 4, 1], dtype: lse.dtype };
      cpu.attentionForward(g, op(t), lseOp, op(t), op(t), op(t), null);
      expectError(() => cpu.attentionForward({ ...g, kvHeads: 3 }, op(t), lseOp, op(t), op(t), op(t), null), kd.KindlingError, 'attentionForward', 'kvHeads');
      expectError(() => cpu.attentionForward({ ...g, headDim: 300 }, op(t), lseOp, op(t), op(t), op(t), null), kd.KindlingError, 'headDim');
      expectError(() => cpu.attentionForward({ ...g, dropoutP: 1 }, op(t), lseOp, op(t), op(t), op(t), null), kd.KindlingError, 'dropoutP');
      expectError(() => cpu.attentionForward({ ...g, qLen: 5 }, op(t), lseOp, op(t), op(t), op(t), null), kd.KindlingError, 'outside its storage');
      expectError(() => cpu.attentionForward({ ...g, maskKind: 'bool' }, op(t), lseOp, op(t), op(t), op(t), null), kd.KindlingError, 'needs a mask');
    });
  });
});
