// kd.models.gpt against a nanoGPT-layout GPT in PyTorch 2.13 (test/fixtures/make_gpt_fixtures.py
// writes gpt.safetensors: weights, logits, loss and gradients), plus its stateDict layout, tied
// weights, initialisation, training, the key/value cache and generate, and errors.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, expectError } from '../helpers.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
const ALL = kd.io.load(join(FIXTURES, 'gpt.safetensors'));

function part(c: string, kind: 'p' | 'i' | 'o' | 'g'): Record<string, Tensor> {
  const prefix = `${c}.${kind}.`, out: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(ALL)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
  return out;
}

const CASES = {
  bias: { vocabSize: 11, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 8, bias: true },
  nobias: { vocabSize: 13, blockSize: 6, nLayer: 1, nHead: 4, nEmbd: 8, bias: false },
} as const;

function close(a: Tensor, b: Tensor, tol: number, what: string): void {
  expect(a.shape, what).toEqual(b.shape);
  expectClose(a.contiguous().data() as Float32Array, b.contiguous().data() as Float32Array, tol, what);
}

const tiny = (seed = 1) => {
  kd.manualSeed(seed);
  return kd.models.gpt({ vocabSize: 17, blockSize: 12, nLayer: 2, nHead: 2, nEmbd: 16 });
};

describe('kd.models.gpt', () => {
  it('stateDict holds nanoGPT\'s keys and shapes, lm_head.weight listed beside wte as PyTorch lists a tied weight', () => {
    const m = kd.models.gpt({ vocabSize: 11, blockSize: 8, nLayer: 1, nHead: 2, nEmbd: 8 });
    const sd = m.stateDict();
    expect(Object.entries(sd).map(([k, t]) => `${k} ${t.shape.join('x')}`)).toEqual([
      'transformer.wte.weight 11x8',
      'transformer.wpe.weight 8x8',
      'transformer.h.0.ln_1.weight 8',
      'transformer.h.0.ln_1.bias 8',
      'transformer.h.0.attn.c_attn.weight 24x8',
      'transformer.h.0.attn.c_attn.bias 24',
      'transformer.h.0.attn.c_proj.weight 8x8',
      'transformer.h.0.attn.c_proj.bias 8',
      'transformer.h.0.ln_2.weight 8',
      'transformer.h.0.ln_2.bias 8',
      'transformer.h.0.mlp.c_fc.weight 32x8',
      'transformer.h.0.mlp.c_fc.bias 32',
      'transformer.h.0.mlp.c_proj.weight 8x32',
      'transformer.h.0.mlp.c_proj.bias 8',
      'transformer.ln_f.weight 8',
      'transformer.ln_f.bias 8',
      'lm_head.weight 11x8',
    ]);
    // named_parameters lists the shared tensor once, as PyTorch does.
    expect([...m.namedParameters()].map(([k]) => k)).not.toContain('lm_head.weight');
    expect(m.numParameters()).toBe(11 * 8 + 8 * 8 + 2 * 8 + 24 * 8 + 24 + 64 + 8 + 16 + 256 + 32 + 256 + 8 + 16);
    const nb = kd.models.gpt({ vocabSize: 5, blockSize: 4, nLayer: 1, nHead: 1, nEmbd: 4, bias: false });
    expect(Object.keys(nb.stateDict()).filter((k) => k.endsWith('bias'))).toEqual([]);
  });

  it('lm_head and wte are one tensor, also after loadStateDict, and its gradient sums both uses', () => {
    const m = kd.models.gpt(CASES.bias);
    expect(m.lmHead.weight).toBe(m.transformer.wte.weight);
    const p = part('bias', 'p');
    m.loadStateDict(p);
    expect(m.lmHead.weight).toBe(m.transformer.wte.weight);
    close(m.lmHead.weight, p['lm_head.weight'], 1e-7, 'tied weight loaded');
    const { loss } = m.forward(part('bias', 'i').idx.int(), part('bias', 'i').targets.int());
    loss.backward();
    close(m.transformer.wte.weight.grad!, part('bias', 'g')['transformer.wte.weight'], 1e-4, 'wte grad (embedding + head)');
  });

  for (const [name, config] of Object.entries(CASES)) {
    it(`${name}: logits, loss and every gradient match PyTorch with its weights loaded`, () => {
      const m = kd.models.gpt(config);
      const r = m.loadStateDict(part(name, 'p'));
      expect(r).toEqual({ missingKeys: [], unexpectedKeys: [] });
      const i = part(name, 'i'), o = part(name, 'o'), g = part(name, 'g');
      const idx = i.idx.int(), targets = i.targets.int();
      close(m.forward(idx), o.logits, 1e-5, 'logits without targets');
      const { logits, loss } = m.forward(idx, targets);
      close(logits, o.logits, 1e-5, 'logits');
      expect(loss.item()).toBeCloseTo(o.loss.item(), 5);
      loss.backward();
      const grads = Object.fromEntries(m.namedParameters());
      expect(Object.keys(grads).sort()).toEqual(Object.keys(g).sort());
      for (const [k, p] of Object.entries(grads)) close(p.grad!, g[k], 1e-4, `grad ${k}`);
    });
  }

  it('initialises as nanoGPT: N(0, 0.02) weights, c_proj N(0, 0.02/sqrt(2 nLayer)), zero biases, unit LayerNorms', () => {
    kd.manualSeed(3);
    const m = kd.models.gpt({ vocabSize: 64, blockSize: 64, nLayer: 4, nHead: 4, nEmbd: 128 });
    const std = (t: Tensor) => {
      const d = t.data() as Float32Array;
      let s = 0, s2 = 0;
      for (const v of d) { s += v; s2 += v * v; }
      return Math.sqrt(s2 / d.length - (s / d.length) ** 2);
    };
    const sd = m.stateDict();
    expect(std(sd['transformer.wte.weight'])).toBeCloseTo(0.02, 3);
    expect(std(sd['transformer.wpe.weight'])).toBeCloseTo(0.02, 3);
    expect(std(sd['transformer.h.0.attn.c_attn.weight'])).toBeCloseTo(0.02, 3);
    expect(std(sd['transformer.h.2.mlp.c_fc.weight'])).toBeCloseTo(0.02, 3);
    expect(std(sd['transformer.h.1.attn.c_proj.weight'])).toBeCloseTo(0.02 / Math.sqrt(8), 3);
    expect(std(sd['transformer.h.3.mlp.c_proj.weight'])).toBeCloseTo(0.02 / Math.sqrt(8), 3);
    for (const [k, t] of Object.entries(sd)) {
      const d = [...(t.data() as Float32Array)];
      if (k.endsWith('.bias')) expect(d.every((v) => v === 0), k).toBe(true);
      if (/ln_\d\.weight|ln_f\.weight/.test(k)) expect(d.every((v) => v === 1), k).toBe(true);
    }
  });

  it('trains: AdamW on a repeating sequence drives the loss down', () => {
    const m = tiny(2);
    const opt = new kd.optim.AdamW(m.parameters(), { lr: 1e-2, weightDecay: 0.1 });
    const seq = Array.from({ length: 13 }, (_, i) => (i * 5) % 17);
    const idx = kd.tensor([seq.slice(0, 12)], { dtype: 'int32' }), targets = kd.tensor([seq.slice(1, 13)], { dtype: 'int32' });
    const losses: number[] = [];
    for (let step = 0; step < 40; step++) {
      kd.tidy(() => {
        opt.zeroGrad();
        const { loss } = m.forward(idx, targets);
        loss.backward();
        opt.step();
        losses.push(loss.item());
      });
    }
    expect(losses[0]).toBeGreaterThan(2.5);
    expect(losses[39]).toBeLessThan(0.1);
    opt.dispose();
  });

  it('the cached path gives the full forward\'s logits: prefill, one token at a time, and a block of tokens', () => {
    const m = tiny(4).eval();
    const ids = kd.tensor([[3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8], [2, 7, 1, 8, 2, 8, 1, 8, 2, 8, 4, 5]], { dtype: 'int32' });
    kd.noGrad(() => {
      const full = m.forward(ids);
      const cache = m.createCache(2);
      const parts = [m.forwardCached(ids.slice(1, 0, 5), cache)];
      for (let t = 5; t < 8; t++) parts.push(m.forwardCached(ids.slice(1, t, t + 1), cache));
      parts.push(m.forwardCached(ids.slice(1, 8, 12), cache));
      expect(cache.length).toBe(12);
      close(kd.cat(parts, 1), full, 1e-5, 'cached vs full logits');
      expectError(() => m.forwardCached(ids.slice(1, 0, 1), cache), kd.ShapeError, /forwardCached/, /blockSize 12/);
      cache.dispose();
    });
  });

  it('generate: cached and uncached give the same tokens, greedy and sampled with a seed, also past blockSize', () => {
    const m = tiny(5);
    const prompt = [1, 2, 3];
    for (const opts of [{ temperature: 0 }, { temperature: 0.9, seed: 7 }, { temperature: 1.3, topK: 5, seed: 8 }, { topP: 0.8, seed: 9 }]) {
      const a = m.generate(prompt, { maxNewTokens: 20, ...opts });
      const b = m.generate(prompt, { maxNewTokens: 20, ...opts, useCache: false });
      expect(a.length).toBe(23);
      expect(a.slice(0, 3)).toEqual(prompt);
      expect(a, JSON.stringify(opts)).toEqual(b);
    }
    const s1 = m.generate(kd.tensor([1, 2, 3], { dtype: 'int32' }), { maxNewTokens: 10, seed: 1 });
    expect(m.generate(prompt, { maxNewTokens: 10, seed: 1 })).toEqual(s1);
    expect(m.training).toBe(true);
  });

  it('sampleToken: greedy is argmax, topK 1 is argmax, topP keeps the smallest set reaching p', () => {
    const logits = Float64Array.from([0.1, 2, -1, 1.9, 0.5]);
    const rng = new kd.Generator(3);
    expect(kd.models.sampleToken(logits, 0, undefined, undefined, rng)).toBe(1);
    for (let i = 0; i < 20; i++) expect(kd.models.sampleToken(logits, 1, 1, undefined, rng)).toBe(1);
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) seen.add(kd.models.sampleToken(logits, 1, undefined, 0.6, rng));
    expect([...seen].sort()).toEqual([1, 3]);
    const all = new Set<number>();
    for (let i = 0; i < 400; i++) all.add(kd.models.sampleToken(logits, 1, undefined, undefined, rng));
    expect([...all].sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('dropout acts in training only; eval and the cached path are deterministic', () => {
    kd.manualSeed(6);
    const m = kd.models.gpt({ vocabSize: 17, blockSize: 12, nLayer: 1, nHead: 2, nEmbd: 16, dropout: 0.3 });
    const ids = kd.tensor([[1, 2, 3, 4, 5]], { dtype: 'int32' });
    const a = m.forward(ids).data() as Float32Array, b = m.forward(ids).data() as Float32Array;
    expect(Array.from(a)).not.toEqual(Array.from(b));
    m.eval();
    const e1 = m.forward(ids), e2 = m.forward(ids);
    close(e1, e2, 1e-12, 'eval is deterministic');
    const cache = m.createCache();
    close(kd.noGrad(() => m.forwardCached(ids, cache)), e1, 1e-5, 'cached = eval forward');
    cache.dispose();
  });

  it('a stateDict saved with kd.io and loaded into a fresh model gives the same logits and keeps the weights tied', () => {
    const m = tiny(8), fresh = tiny(9);
    const dir = mkdtempSync(join(tmpdir(), 'kindling-gpt-'));
    const path = join(dir, 'gpt.safetensors');
    kd.io.save(m.stateDict(), path);
    fresh.loadStateDict(kd.io.load(path));
    rmSync(dir, { recursive: true, force: true });
    expect(fresh.lmHead.weight).toBe(fresh.transformer.wte.weight);
    const ids = kd.tensor([[1, 5, 9, 2]], { dtype: 'int32' });
    close(fresh.forward(ids), m.forward(ids), 1e-7, 'reloaded logits');
  });

  it('errors name the op and the shapes', () => {
    const m = tiny();
    expectError(() => m.forward(kd.zeros([1, 13], { dtype: 'int32' })), kd.ShapeError, /GPT.forward/, /\[1, 13\]|\[1,13\]/, /blockSize is only 12/);
    expectError(() => m.forward(kd.zeros([1, 4])), kd.DTypeError, /int32/);
    expectError(() => m.forward(kd.zeros([4], { dtype: 'int32' })), kd.ShapeError, /\[B, T\]/);
    expectError(() => m.forward(kd.zeros([1, 4], { dtype: 'int32' }), kd.zeros([1, 3], { dtype: 'int32' })), kd.ShapeError, /targets/);
    expectError(() => kd.models.gpt({ vocabSize: 10, blockSize: 8, nLayer: 1, nHead: 3, nEmbd: 8 }), kd.ArgumentError, /multiple of nHead/);
    expectError(() => kd.models.gpt({ vocabSize: 0, blockSize: 8, nLayer: 1, nHead: 1, nEmbd: 8 }), kd.ArgumentError, /vocabSize/);
    expectError(() => m.generate([], { maxNewTokens: 1 }), kd.ArgumentError, /empty/);
    expectError(() => m.generate([17], { maxNewTokens: 1 }), kd.ArgumentError, /out of range/);
    expectError(() => m.generate([1], { maxNewTokens: 1, topP: 0 }), kd.ArgumentError, /topP/);
    expectError(() => m.generate([1], { maxNewTokens: 1, temperature: -1 }), kd.ArgumentError, /temperature/);
    const other = kd.models.gpt({ vocabSize: 17, blockSize: 12, nLayer: 1, nHead: 2, nEmbd: 16 });
    const cache = other.createCache();
    expectError(() => m.forwardCached(kd.zeros([1, 1], { dtype: 'int32' }), cache), kd.ArgumentError, /createCache/);
    cache.dispose();
  });
});
