// Positional encodings: the sinusoidal table against a float64 transcription of "Attention Is
// All You Need", the learned table, RoPE against a float64 transcription of Hugging Face's
// LlamaRotaryEmbedding + apply_rotary_pos_emb (test/fixtures/posenc.expected.json, written by
// make_posenc_fixtures.py with PyTorch 2.13) and finite differences, and nn.Embedding's
// maxNorm / fromPretrained against PyTorch.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, expectError, gradcheck, makeRng, randomTensor } from '../helpers.js';

const { nn } = kd;
const F = kd.nn.functional;
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

interface Stored { shape: number[]; values: number[] }
interface Fixture {
  rope: Record<'q' | 'k' | 'rq' | 'rk' | 'cos' | 'sin' | 'q_out' | 'k_out' | 'q_grad' | 'k_grad', Stored> & { headDim: number; base: number; offset: number };
  embedding_max_norm: Record<string, { weight: Stored; indices: number[]; out: Stored; weight_after: Stored }>;
  embedding_scale_grad_by_freq: { weight: Stored; indices: number[]; r: Stored; grad: Stored; repr: string };
  embedding_names: { keys: string[]; requires_grad: boolean; repr: string };
}
const fixture = JSON.parse(readFileSync(join(FIXTURES, 'posenc.expected.json'), 'utf8')) as Fixture;
const stored = (s: Stored, requiresGrad = false) => {
  const t = kd.tensor(s.values, { dtype: 'float32' }).reshape(s.shape);
  t.requiresGrad = requiresGrad;
  return t;
};
const values = (t: Tensor) => Array.from(t.data() as Float32Array);

describe('SinusoidalPositionalEncoding', () => {
  it('pe[pos, 2i] = sin(pos / 10000^(2i/d)), pe[pos, 2i+1] = cos(...) in float64', () => {
    const d = 6, maxLen = 50;
    const pe = new nn.SinusoidalPositionalEncoding(d, { maxLen });
    expect(pe.pe.shape).toEqual([maxLen, d]);
    const ref = new Float64Array(maxLen * d);
    for (let pos = 0; pos < maxLen; pos++) {
      for (let i = 0; 2 * i < d; i++) {
        const div = Math.exp((2 * i) * -Math.log(10000) / d);
        ref[pos * d + 2 * i] = Math.sin(pos * div);
        if (2 * i + 1 < d) ref[pos * d + 2 * i + 1] = Math.cos(pos * div);
      }
    }
    expectClose(values(pe.pe), ref, 1e-6, 'sinusoidal table');
  });

  it('forward adds pe[:seq] to every batch row of x [batch, seq, d]; the table is not in the stateDict', () => {
    const rng = makeRng(3);
    const { t: x, ref } = randomTensor(rng, [2, 4, 6]);
    const m = new nn.SinusoidalPositionalEncoding(6, { maxLen: 10 });
    expect(Object.keys(m.stateDict())).toEqual([]);
    const out = values(m.forward(x));
    const table = values(m.pe);
    const expected = ref.map((v, i) => v + table[i % 24]);
    expectClose(out, expected, 1e-6, 'x + pe');
    expect(m.toString()).toBe('SinusoidalPositionalEncoding(d_model=6, max_len=10, dropout=0)');
  });

  it('dropout applies in training and not in eval; the default maxLen is 5000', () => {
    const m = new nn.SinusoidalPositionalEncoding(4, { dropout: 0.5 });
    expect(m.pe.shape).toEqual([5000, 4]);
    kd.manualSeed(1);
    const x = kd.ones([4, 64, 4]);
    const trained = values(m.forward(x));
    expect(trained.filter((v) => v === 0).length).toBeGreaterThan(100);
    m.eval();
    expectClose(values(m.forward(x)), values(x.add(m.pe.narrow(0, 0, 64))), 1e-7, 'eval is x + pe');
  });

  it('errors name the layer and shapes: seq > maxLen, wrong width, wrong rank', () => {
    const m = new nn.SinusoidalPositionalEncoding(4, { maxLen: 3 });
    expectError(() => m.forward(kd.zeros([1, 4, 4])), kd.ShapeError, 'SinusoidalPositionalEncoding', 'exceeds max_len 3', '[1,4,4]');
    expectError(() => m.forward(kd.zeros([1, 2, 5])), kd.ShapeError, 'd_model=4');
    expectError(() => m.forward(kd.zeros([2, 4])), kd.ShapeError, 'SinusoidalPositionalEncoding');
  });
});

describe('LearnedPositionalEmbedding', () => {
  it('holds weight [maxLen, dModel] under stateDict key "weight" and adds rows offset..offset+seq-1', () => {
    const m = new nn.LearnedPositionalEmbedding(8, 3);
    expect(Object.keys(m.stateDict())).toEqual(['weight']);
    expect(m.weight.shape).toEqual([8, 3]);
    const x = kd.zeros([2, 3, 3]);
    const w = values(m.weight);
    expect(values(m.forward(x))).toEqual([...w.slice(0, 9), ...w.slice(0, 9)]);
    expect(values(m.forward(x, { offset: 5 }))).toEqual([...w.slice(15, 24), ...w.slice(15, 24)]);
  });

  it('gradients reach the rows used, summed over the batch', () => {
    const m = new nn.LearnedPositionalEmbedding(4, 2);
    m.forward(kd.zeros([3, 2, 2])).sum().backward();
    expect(values(m.weight.grad!)).toEqual([3, 3, 3, 3, 0, 0, 0, 0]);
  });

  it('errors when positions pass maxLen', () => {
    const m = new nn.LearnedPositionalEmbedding(4, 2);
    expectError(() => m.forward(kd.zeros([1, 5, 2])), kd.ShapeError, 'LearnedPositionalEmbedding', 'exceed max_len 4');
    expectError(() => m.forward(kd.zeros([1, 2, 2]), { offset: 3 }), kd.ShapeError, 'positions 3..4');
  });
});

describe('RoPE against Hugging Face apply_rotary_pos_emb (float64, PyTorch 2.13)', () => {
  const r = fixture.rope;

  it('RotaryEmbedding tables at the KV-cache offset match LlamaRotaryEmbedding', () => {
    const m = new nn.RotaryEmbedding(r.headDim, { base: r.base, maxSeqLen: 16 });
    expect(Object.keys(m.stateDict())).toEqual([]);
    expectClose(values(m.cos.narrow(0, r.offset, 5).contiguous()), r.cos.values, 1e-6, 'cos');
    expectClose(values(m.sin.narrow(0, r.offset, 5).contiguous()), r.sin.values, 1e-6, 'sin');
  });

  it('forward(q, k, { offset }) matches, and its gradients match PyTorch autograd', () => {
    const m = new nn.RotaryEmbedding(r.headDim, { base: r.base, maxSeqLen: 16 });
    const q = stored(r.q, true), k = stored(r.k, true);
    const [qo, ko] = m.forward(q, k, { offset: r.offset });
    expectClose(values(qo), r.q_out.values, 1e-5, 'q rotated');
    expectClose(values(ko), r.k_out.values, 1e-5, 'k rotated');
    qo.mul(stored(r.rq)).sum().add(ko.mul(stored(r.rk)).sum()).backward();
    expectClose(values(q.grad!), r.q_grad.values, 1e-5, 'q grad');
    expectClose(values(k.grad!), r.k_grad.values, 1e-5, 'k grad');
  });

  it('F.applyRotaryEmb with the fixture tables matches; position 0 is the identity', () => {
    const out = F.applyRotaryEmb(stored(r.q), stored(r.cos), stored(r.sin));
    expectClose(values(out), r.q_out.values, 1e-5, 'functional');
    const m = new nn.RotaryEmbedding(r.headDim);
    const x = stored(r.q).narrow(2, 0, 1).contiguous();
    const [x0] = m.forward(x, x);
    expectClose(values(x0), values(x), 1e-7, 'position 0');
  });

  it('backward of applyRotaryEmb matches finite differences', () => {
    const rng = makeRng(7);
    const { t: x } = randomTensor(rng, [1, 2, 3, 4], -1, 1, true);
    const { t: w } = randomTensor(rng, [1, 2, 3, 4]);
    const m = new nn.RotaryEmbedding(4, { maxSeqLen: 8 });
    const cos = m.cos.narrow(0, 2, 3), sin = m.sin.narrow(0, 2, 3);
    gradcheck((xi) => F.applyRotaryEmb(xi, cos, sin).mul(w).sum(), [x], { context: 'applyRotaryEmb' });
  });

  it('rotation keeps each pair\'s norm and relative positions only matter: <R(p)q, R(p)k> is shift-invariant', () => {
    const rng = makeRng(9);
    const m = new nn.RotaryEmbedding(8, { maxSeqLen: 32 });
    const { t: q } = randomTensor(rng, [1, 1, 1, 8]);
    const { t: k } = randomTensor(rng, [1, 1, 1, 8]);
    const dot = (a: number, b: number) => {
      const [qa] = m.forward(q, q, { offset: a });
      const [kb] = m.forward(k, k, { offset: b });
      return qa.mul(kb).sum().item();
    };
    expect(dot(5, 2)).toBeCloseTo(dot(13, 10), 5);
    const [q7] = m.forward(q, q, { offset: 7 });
    expect(q7.norm().item()).toBeCloseTo(q.norm().item(), 5);
    expect(dot(5, 2)).not.toBeCloseTo(dot(5, 3), 3);
  });

  it('errors: odd headDim, wrong shapes, positions past maxSeqLen, cos/sin that do not broadcast', () => {
    expectError(() => new nn.RotaryEmbedding(5), kd.ArgumentError, 'RotaryEmbedding', 'even');
    const m = new nn.RotaryEmbedding(4, { maxSeqLen: 4 });
    expectError(() => m.forward(kd.zeros([1, 1, 3, 4]), kd.zeros([1, 1, 3, 4]), { offset: 2 }), kd.ShapeError, 'RotaryEmbedding', 'positions 2..4', 'max_seq_len 4');
    expectError(() => m.forward(kd.zeros([1, 1, 3, 6]), kd.zeros([1, 1, 3, 6])), kd.ShapeError, 'head_dim=4', '[1,1,3,6]');
    expectError(() => m.forward(kd.zeros([1, 1, 3, 4]), kd.zeros([1, 1, 2, 4])), kd.ShapeError, 'sequence length');
    expectError(() => F.applyRotaryEmb(kd.zeros([2, 3]), kd.zeros([3, 3]), kd.zeros([3, 3])), kd.ShapeError, 'applyRotaryEmb', 'even');
    expectError(() => F.applyRotaryEmb(kd.zeros([2, 4]), kd.zeros([3, 4]), kd.zeros([3, 4])), kd.ShapeError, 'applyRotaryEmb', 'broadcast');
  });
});

describe('nn.Embedding maxNorm and fromPretrained as PyTorch', () => {
  for (const [p, c] of Object.entries(fixture.embedding_max_norm)) {
    it(`maxNorm 1.5, normType ${p}: looked-up rows renormalised in the weight, output matches`, () => {
      const emb = nn.Embedding.fromPretrained(stored(c.weight), { freeze: false, maxNorm: 1.5, normType: Number(p) });
      const out = emb.forward(kd.tensor(c.indices, { dtype: 'int32' }).reshape([2, 3]));
      expect(out.shape).toEqual([2, 3, 4]);
      expectClose(values(out), c.out.values, 1e-6, 'output');
      expectClose(values(emb.weight), c.weight_after.values, 1e-6, 'weight after renorm');
      // Rows not looked up (2, 4, 6) are untouched.
      const before = c.weight.values;
      for (const row of [2, 4, 6]) expect(values(emb.weight).slice(row * 4, row * 4 + 4)).toEqual(before.slice(row * 4, row * 4 + 4).map(Math.fround));
    });
  }

  it('scaleGradByFreq with a padding row: each row gradient divided by its count in the batch', () => {
    const c = fixture.embedding_scale_grad_by_freq;
    const emb = nn.Embedding.fromPretrained(stored(c.weight), { freeze: false, paddingIdx: 1, scaleGradByFreq: true });
    emb.forward(kd.tensor(c.indices, { dtype: 'int32' }).reshape([2, 4])).mul(stored(c.r)).sum().backward();
    expectClose(values(emb.weight.grad!), c.grad.values, 1e-6, 'weight gradient');
    expect(new nn.Embedding(6, 3, { paddingIdx: 1, scaleGradByFreq: true }).toString()).toBe(c.repr);
  });

  it('F.embedding with maxNorm renormalises the weight in place, outside autograd', () => {
    const w = kd.tensor([[3, 4], [0.3, 0.4]], { dtype: 'float32', requiresGrad: true });
    const out = F.embedding(kd.tensor([0, 1, 0], { dtype: 'int32' }), w, { maxNorm: 1 });
    expectClose(values(w), [0.6, 0.8, 0.3, 0.4], 1e-6, 'row 0 scaled to norm 1');
    expect(w.gradFn).toBeNull();
    out.sum().backward();
    expect(values(w.grad!)).toEqual([2, 2, 1, 1]);
  });

  it('fromPretrained: freeze defaults to true, stateDict key "weight", the table copied', () => {
    const names = fixture.embedding_names;
    const table = kd.tensor([[1, 2], [3, 4], [5, 6]], { dtype: 'float32' });
    const frozen = nn.Embedding.fromPretrained(table);
    expect(Object.keys(frozen.stateDict())).toEqual(names.keys);
    expect(frozen.weight.requiresGrad).toBe(names.requires_grad);
    expect(values(frozen.forward(kd.tensor([2], { dtype: 'int32' })))).toEqual([5, 6]);
    const trainable = nn.Embedding.fromPretrained(table, { freeze: false, paddingIdx: 0 });
    expect(trainable.weight.requiresGrad).toBe(true);
    expect(trainable.paddingIdx).toBe(0);
    expect(values(trainable.weight)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(new nn.Embedding(5, 3, { maxNorm: 2, normType: 1 }).toString()).toBe(names.repr);
  });

  it('errors: sparse, bad maxNorm, 1-d pretrained table, out-of-range index leaves the weight unchanged', () => {
    expectError(() => new nn.Embedding(3, 2, { sparse: true }), kd.ArgumentError, 'Embedding', 'sparse');
    expectError(() => new nn.Embedding(3, 2, { maxNorm: -1 }), kd.ArgumentError, 'max_norm');
    expectError(() => nn.Embedding.fromPretrained(kd.zeros([3])), kd.ShapeError, 'fromPretrained', '[3]');
    const emb = new nn.Embedding(3, 2, { maxNorm: 0.1 });
    const before = values(emb.weight);
    expectError(() => emb.forward(kd.tensor([0, 3], { dtype: 'int32' })), kd.KindlingError, 'embedding', '3 rows');
    expect(values(emb.weight)).toEqual(before);
  });
});
