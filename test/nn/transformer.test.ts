// nn.MultiheadAttention and the Transformer modules against PyTorch 2.13: outputs and gradients
// for PyTorch's weights loaded by stateDict key (test/fixtures/make_transformer_fixtures.py writes
// transformer.safetensors), plus stateDict layout, initialisation, finite differences and errors.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, expectError, gradcheck } from '../helpers.js';

const { nn } = kd;
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
const ALL = kd.io.load(join(FIXTURES, 'transformer.safetensors'));

/** The tensors stored under "<c>.<kind>."; "_bool" inputs become bool masks. */
function part(c: string, kind: 'p' | 'i' | 'o' | 'g'): Record<string, Tensor> {
  const prefix = `${c}.${kind}.`, out: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(ALL)) {
    if (!k.startsWith(prefix)) continue;
    const name = k.slice(prefix.length);
    if (name.endsWith('_bool')) out[name.slice(0, -5)] = v.gt(0.5);
    else out[name] = v;
  }
  return out;
}

function loaded<M extends kd.nn.Module>(c: string, m: M): M {
  const r = m.loadStateDict(part(c, 'p'));
  expect(r.missingKeys).toEqual([]);
  expect(r.unexpectedKeys).toEqual([]);
  return m.eval();
}

function close(a: Tensor, b: Tensor, tol: number, what: string): void {
  expect(a.shape, what).toEqual(b.shape);
  expectClose(a.data() as Float32Array, b.data() as Float32Array, tol, what);
}

/** Parameter name -> tensor, in stateDict order (these modules have no buffers). */
function named(m: kd.nn.Module): Record<string, Tensor> {
  const keys = Object.keys(m.stateDict()), params = m.parameters();
  expect(keys.length).toBe(params.length);
  return Object.fromEntries(keys.map((k, i) => [k, params[i]]));
}

function shapes(m: kd.nn.Module): Record<string, number[]> {
  return Object.fromEntries(Object.entries(m.stateDict()).map(([k, v]) => [k, [...v.shape]]));
}

describe('nn.MultiheadAttention vs PyTorch', () => {
  it('plain, batchFirst false, averaged weights, with input and parameter gradients', () => {
    const i = part('mha_plain', 'i'), o = part('mha_plain', 'o'), g = part('mha_plain', 'g');
    const m = loaded('mha_plain', new nn.MultiheadAttention(8, 2));
    const [q, k, v] = [i.query, i.key, i.value].map((t) => t.clone().requiresGrad_(true));
    const [out, w] = m.forward(q, k, v);
    close(out, o.output, 1e-5, 'output');
    close(w!, o.weights, 1e-5, 'weights');
    out.mul(i.r).sum().add(w!.mul(i.rw).sum()).backward();
    close(q.grad!, g.query, 1e-4, 'dquery');
    close(k.grad!, g.key, 1e-4, 'dkey');
    close(v.grad!, g.value, 1e-4, 'dvalue');
    for (const [name, p] of Object.entries(named(m))) close(p.grad!, g[name], 1e-4, `d${name}`);
  });

  it('bool key-padding (true = pad) and bool attnMask (true = masked), fused path without weights', () => {
    const i = part('mha_bool_masks', 'i'), o = part('mha_bool_masks', 'o');
    const m = loaded('mha_bool_masks', new nn.MultiheadAttention(8, 2, { batchFirst: true }));
    const [out, w] = m.forward(i.query, i.key, i.value, { keyPaddingMask: i.key_padding_mask, attnMask: i.attn_mask, needWeights: false });
    expect(w).toBeNull();
    close(out, o.output, 1e-5, 'output');
  });

  it('bool masks with weights, and gradients through the unfused path', () => {
    const i = part('mha_bool_masks_w', 'i'), o = part('mha_bool_masks_w', 'o'), g = part('mha_bool_masks_w', 'g');
    const m = loaded('mha_bool_masks_w', new nn.MultiheadAttention(8, 2, { batchFirst: true }));
    const [q, k, v] = [i.query, i.key, i.value].map((t) => t.clone().requiresGrad_(true));
    const [out, w] = m.forward(q, k, v, { keyPaddingMask: i.key_padding_mask, attnMask: i.attn_mask });
    close(out, o.output, 1e-5, 'output');
    close(w!, o.weights, 1e-5, 'weights');
    out.mul(i.r).sum().add(w!.mul(i.rw).sum()).backward();
    close(q.grad!, g.query, 1e-4, 'dquery');
    close(k.grad!, g.key, 1e-4, 'dkey');
    close(v.grad!, g.value, 1e-4, 'dvalue');
    for (const [name, p] of Object.entries(named(m))) close(p.grad!, g[name], 1e-4, `d${name}`);
  });

  it('float key-padding and 3-d float attnMask, per-head weights', () => {
    const i = part('mha_float_masks', 'i'), o = part('mha_float_masks', 'o');
    const m = loaded('mha_float_masks', new nn.MultiheadAttention(8, 2, { batchFirst: true }));
    const [out, w] = m.forward(i.query, i.key, i.value, { keyPaddingMask: i.key_padding_mask, attnMask: i.attn_mask, averageAttnWeights: false });
    close(out, o.output, 1e-5, 'output');
    expect(w!.shape).toEqual([2, 2, 3, 4]);
    close(w!, o.weights, 1e-5, 'weights');
    const [fused] = m.forward(i.query, i.key, i.value, { keyPaddingMask: i.key_padding_mask, attnMask: i.attn_mask, needWeights: false });
    close(fused, o.output, 1e-5, 'fused output');
  });

  it('kdim/vdim with separate q/k/v_proj_weight and a 3-d bool mask, with gradients', () => {
    const i = part('mha_kvdim', 'i'), o = part('mha_kvdim', 'o'), g = part('mha_kvdim', 'g');
    const m = loaded('mha_kvdim', new nn.MultiheadAttention(8, 2, { kdim: 5, vdim: 6 }));
    expect(shapes(m)).toEqual({
      q_proj_weight: [8, 8], k_proj_weight: [8, 5], v_proj_weight: [8, 6], in_proj_bias: [24], 'out_proj.weight': [8, 8], 'out_proj.bias': [8],
    });
    const [q, k, v] = [i.query, i.key, i.value].map((t) => t.clone().requiresGrad_(true));
    const [out, w] = m.forward(q, k, v, { attnMask: i.attn_mask });
    close(out, o.output, 1e-5, 'output');
    close(w!, o.weights, 1e-5, 'weights');
    out.mul(i.r).sum().add(w!.mul(i.rw).sum()).backward();
    close(q.grad!, g.query, 1e-4, 'dquery');
    close(k.grad!, g.key, 1e-4, 'dkey');
    close(v.grad!, g.value, 1e-4, 'dvalue');
    for (const [name, p] of Object.entries(named(m))) close(p.grad!, g[name], 1e-4, `d${name}`);
  });

  it('addBiasKv and addZeroAttn with a key-padding mask', () => {
    const i = part('mha_biaskv', 'i'), o = part('mha_biaskv', 'o');
    const m = loaded('mha_biaskv', new nn.MultiheadAttention(8, 2, { addBiasKv: true, addZeroAttn: true }));
    expect(shapes(m)).toEqual({ in_proj_weight: [24, 8], in_proj_bias: [24], 'out_proj.weight': [8, 8], 'out_proj.bias': [8], bias_k: [1, 1, 8], bias_v: [1, 1, 8] });
    const [out, w] = m.forward(i.query, i.key, i.value, { keyPaddingMask: i.key_padding_mask });
    close(out, o.output, 1e-5, 'output');
    expect(w!.shape).toEqual([2, 3, 6]);
    close(w!, o.weights, 1e-5, 'weights');
    const [fused] = m.forward(i.query, i.key, i.value, { keyPaddingMask: i.key_padding_mask, needWeights: false });
    close(fused, o.output, 1e-5, 'fused output');
  });

  it('unbatched 2-d input with a float 2-d mask', () => {
    const i = part('mha_unbatched', 'i'), o = part('mha_unbatched', 'o');
    const m = loaded('mha_unbatched', new nn.MultiheadAttention(8, 2));
    const [out, w] = m.forward(i.query, i.key, i.value, { attnMask: i.attn_mask });
    close(out, o.output, 1e-5, 'output');
    close(w!, o.weights, 1e-5, 'weights');
  });

  it('bias false, self-attention with the causal hint', () => {
    const i = part('mha_causal_nobias', 'i'), o = part('mha_causal_nobias', 'o');
    const m = loaded('mha_causal_nobias', new nn.MultiheadAttention(8, 2, { bias: false }));
    expect(Object.keys(m.stateDict())).toEqual(['in_proj_weight', 'out_proj.weight']);
    const [out] = m.forward(i.query, i.query, i.query, { attnMask: i.attn_mask, needWeights: false, isCausal: true });
    close(out, o.output, 1e-5, 'output');
  });
});

describe('nn.MultiheadAttention layout, initialisation, finite differences, errors', () => {
  it('stateDict names and shapes are PyTorch\'s', () => {
    const m = new nn.MultiheadAttention(16, 4);
    expect(shapes(m)).toEqual({ in_proj_weight: [48, 16], in_proj_bias: [48], 'out_proj.weight': [16, 16], 'out_proj.bias': [16] });
    expect(m.headDim).toBe(4);
  });

  it('initialises as PyTorch: xavier-uniform in_proj, zero biases, kaiming-uniform out_proj', () => {
    kd.manualSeed(3);
    const m = new nn.MultiheadAttention(64, 4);
    const w = m.inProjWeight!.data() as Float32Array;
    const xb = Math.sqrt(6 / (64 + 192));
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(xb);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.9 * xb);
    expect([...(m.inProjBias!.data() as Float32Array)].every((x) => x === 0)).toBe(true);
    expect([...(m.outProj.bias!.data() as Float32Array)].every((x) => x === 0)).toBe(true);
    const ow = m.outProj.weight.data() as Float32Array, ob = 1 / Math.sqrt(64);
    expect(Math.max(...ow.map(Math.abs))).toBeLessThanOrEqual(ob);
    expect(Math.max(...ow.map(Math.abs))).toBeGreaterThan(0.9 * ob);
  });

  it('gradients match finite differences (weights path and fused path)', () => {
    kd.manualSeed(5);
    const m = new nn.MultiheadAttention(4, 2, { batchFirst: true });
    const q = kd.randn([1, 2, 4]).requiresGrad_(true), k = kd.randn([1, 3, 4]).requiresGrad_(true), v = kd.randn([1, 3, 4]).requiresGrad_(true);
    const r = kd.randn([1, 2, 4]);
    const mask = kd.tensor([[false, false, true], [false, false, false]]);
    gradcheck((a, b, c) => {
      const [o, w] = m.forward(a, b, c, { attnMask: mask });
      return o.mul(r).sum().add(w!.mul(w!).sum());
    }, [q, k, v], { context: 'weights path' });
    gradcheck((a, b, c) => m.forward(a, b, c, { attnMask: mask, needWeights: false })[0].mul(r).sum(), [q, k, v], { context: 'fused path' });
  });

  it('dropout applies in training mode only, on both paths', () => {
    kd.manualSeed(9);
    const m = new nn.MultiheadAttention(8, 2, { dropout: 0.5 });
    const x = kd.randn([3, 2, 8]);
    const [evalOut, evalW] = m.eval().forward(x, x, x);
    const [fusedEval] = m.forward(x, x, x, { needWeights: false });
    close(fusedEval, evalOut, 1e-5, 'eval fused vs unfused');
    m.train();
    const [trainOut, trainW] = m.forward(x, x, x);
    const [fusedTrain] = m.forward(x, x, x, { needWeights: false });
    for (const t of [trainOut, fusedTrain]) {
      const d = t.sub(evalOut).abs().max().item();
      expect(d).toBeGreaterThan(1e-3);
      expect(Number.isFinite(t.sum().item())).toBe(true);
    }
    // The weights returned in training are the dropped-out ones, as PyTorch returns them.
    expect(trainW!.sub(evalW!).abs().max().item()).toBeGreaterThan(1e-3);
  });

  it('rejects bad input with errors naming the op and the shapes', () => {
    expectError(() => new nn.MultiheadAttention(10, 3), kd.ArgumentError, 'MultiheadAttention', 'divisible');
    expectError(() => new nn.MultiheadAttention(8, 2, { dropout: 1.5 }), kd.ArgumentError, 'dropout');
    const m = new nn.MultiheadAttention(8, 2);
    const x = kd.randn([3, 2, 8]);
    expectError(() => m.forward(kd.randn([3, 2, 6]), x, x), kd.ShapeError, 'MultiheadAttention', '[3,2,6]');
    expectError(() => m.forward(x, kd.randn([4, 3, 8]), kd.randn([4, 3, 8])), kd.ShapeError, 'MultiheadAttention');
    expectError(() => m.forward(x, x, x, { attnMask: kd.zeros([2, 3]) }), kd.ShapeError, 'attn_mask', '[2,3]');
    expectError(() => m.forward(x, x, x, { attnMask: kd.zeros([3, 3, 3]) }), kd.ShapeError, 'attn_mask', '[4,3,3]');
    expectError(() => m.forward(x, x, x, { keyPaddingMask: kd.zeros([3, 2]) }), kd.ShapeError, 'key_padding_mask', '[3,2]');
    expectError(() => m.forward(x, x, x, { attnMask: kd.zeros([3, 3], { dtype: 'int32' }) }), kd.DTypeError, 'attn_mask');
    expectError(() => m.forward(x, x, x, { isCausal: true }), kd.ArgumentError, 'isCausal');
  });
});

describe('Transformer modules vs PyTorch', () => {
  for (const [c, opts] of [['enc_layer', { dimFeedforward: 16 }], ['enc_layer_nf_gelu', { dimFeedforward: 16, batchFirst: true, normFirst: true, activation: 'gelu', layerNormEps: 1e-6 }]] as const) {
    it(`TransformerEncoderLayer ${c}: output and gradients`, () => {
      const i = part(c, 'i'), o = part(c, 'o'), g = part(c, 'g');
      const m = loaded(c, new nn.TransformerEncoderLayer(8, 2, opts));
      const fwd = { srcMask: i.src_mask, srcKeyPaddingMask: i.src_key_padding_mask };
      close(m.forward(i.src, fwd), o.output_eval, 1e-5, 'eval output');
      m.train();
      m.apply((mod) => { if (mod instanceof nn.Dropout) (mod as { p: number }).p = 0; });
      (m.selfAttn as { dropout: number }).dropout = 0;
      const src = i.src.clone().requiresGrad_(true);
      const out = m.forward(src, fwd);
      close(out, o.output, 1e-5, 'output');
      out.mul(i.r).sum().backward();
      close(src.grad!, g.src, 1e-4, 'dsrc');
      for (const [name, p] of Object.entries(named(m))) close(p.grad!, g[name], 1e-4, `d${name}`);
    });
  }

  it('TransformerEncoderLayer stateDict keys', () => {
    expect(shapes(new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16 }))).toEqual({
      'self_attn.in_proj_weight': [24, 8], 'self_attn.in_proj_bias': [24], 'self_attn.out_proj.weight': [8, 8], 'self_attn.out_proj.bias': [8],
      'linear1.weight': [16, 8], 'linear1.bias': [16], 'linear2.weight': [8, 16], 'linear2.bias': [8],
      'norm1.weight': [8], 'norm1.bias': [8], 'norm2.weight': [8], 'norm2.bias': [8],
    });
    expect(Object.keys(new nn.TransformerEncoderLayer(8, 2, { bias: false }).stateDict())).toEqual([
      'self_attn.in_proj_weight', 'self_attn.out_proj.weight', 'linear1.weight', 'linear2.weight', 'norm1.weight', 'norm2.weight',
    ]);
  });

  for (const [c, opts] of [['dec_layer', { dimFeedforward: 16 }], ['dec_layer_nf', { dimFeedforward: 16, batchFirst: true, normFirst: true, activation: 'gelu', bias: false }]] as const) {
    it(`TransformerDecoderLayer ${c}`, () => {
      const i = part(c, 'i'), o = part(c, 'o');
      const m = loaded(c, new nn.TransformerDecoderLayer(8, 2, opts));
      close(m.forward(i.tgt, i.memory, { tgtMask: i.tgt_mask, memoryKeyPaddingMask: i.memory_key_padding_mask }), o.output, 1e-5, 'output');
    });
  }

  it('TransformerEncoder with a final norm', () => {
    const i = part('encoder', 'i'), o = part('encoder', 'o');
    const m = loaded('encoder', new nn.TransformerEncoder(new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16 }), 2, { norm: new nn.LayerNorm(8) }));
    expect(Object.keys(m.stateDict())).toContain('layers.1.self_attn.in_proj_weight');
    expect(Object.keys(m.stateDict())).toContain('norm.weight');
    close(m.forward(i.src, { mask: i.mask }), o.output, 1e-5, 'output');
  });

  it('TransformerDecoder with a final norm', () => {
    const i = part('decoder', 'i'), o = part('decoder', 'o');
    const m = loaded('decoder', new nn.TransformerDecoder(new nn.TransformerDecoderLayer(8, 2, { dimFeedforward: 16, batchFirst: true }), 2, { norm: new nn.LayerNorm(8) }));
    expect(Object.keys(m.stateDict())).toContain('layers.1.multihead_attn.out_proj.bias');
    close(m.forward(i.tgt, i.memory, { tgtMask: i.tgt_mask, tgtKeyPaddingMask: i.tgt_key_padding_mask }), o.output, 1e-5, 'output');
  });

  it('Transformer', () => {
    const i = part('transformer', 'i'), o = part('transformer', 'o');
    const m = loaded('transformer', new nn.Transformer({ dModel: 8, nhead: 2, numEncoderLayers: 2, numDecoderLayers: 1, dimFeedforward: 16 }));
    const keys = Object.keys(m.stateDict());
    expect(keys).toContain('encoder.layers.0.self_attn.in_proj_weight');
    expect(keys).toContain('encoder.norm.weight');
    expect(keys).toContain('decoder.layers.0.norm3.bias');
    expect(keys).toContain('decoder.norm.bias');
    const out = m.forward(i.src, i.tgt, { tgtMask: i.tgt_mask, srcKeyPaddingMask: i.src_key_padding_mask, memoryKeyPaddingMask: i.memory_key_padding_mask });
    close(out, o.output, 1e-5, 'output');
  });
});

describe('Transformer modules: construction, copies, masks, errors', () => {
  it('TransformerEncoder copies the layer: same values, separate parameters', () => {
    const layer = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16 });
    const enc = new nn.TransformerEncoder(layer, 3);
    const sd = enc.stateDict(), src = layer.stateDict();
    for (let l = 0; l < 3; l++) {
      for (const k of Object.keys(src)) expect(sd[`layers.${l}.${k}`].toArray()).toEqual(src[k].toArray());
    }
    const ps = enc.parameters();
    expect(new Set(ps).size).toBe(ps.length);
    expect(ps).not.toContain(layer.linear1.weight);
    expect(enc.numLayers).toBe(3);
  });

  it('Transformer defaults and xavier-uniform on every matrix', () => {
    kd.manualSeed(1);
    const t = new nn.Transformer({ dModel: 16, nhead: 2, numEncoderLayers: 1, numDecoderLayers: 1, dimFeedforward: 32 });
    const w = t.decoder.layers.at(0) as kd.nn.TransformerDecoderLayer;
    const l1 = w.linear1.weight.data() as Float32Array, b = Math.sqrt(6 / (16 + 32));
    expect(Math.max(...l1.map(Math.abs))).toBeLessThanOrEqual(b);
    expect(Math.max(...l1.map(Math.abs))).toBeGreaterThan(0.85 * b);
    expect(w.dropout.p).toBe(0.1);
    expect(w.norm1.eps).toBe(1e-5);
    const d = new nn.Transformer();
    expect(d.dModel).toBe(512);
    expect(d.encoder.numLayers).toBe(6);
    expect(d.decoder.numLayers).toBe(6);
    expect((d.encoder.layers.at(0) as kd.nn.TransformerEncoderLayer).linear1.weight.shape).toEqual([2048, 512]);
  });

  it('generateSquareSubsequentMask is float -inf above the diagonal, 0 elsewhere', () => {
    const m = nn.Transformer.generateSquareSubsequentMask(3);
    expect(m.dtype).toBe('float32');
    expect(m.toArray()).toEqual([[0, -Infinity, -Infinity], [0, 0, -Infinity], [0, 0, 0]]);
  });

  it('rejects bad input', () => {
    expectError(() => new nn.TransformerEncoderLayer(8, 2, { activation: 'tanh' as 'relu' }), kd.ArgumentError, 'TransformerEncoderLayer', 'activation');
    expectError(() => new nn.TransformerEncoder(new nn.TransformerEncoderLayer(8, 2), 0), kd.ArgumentError, 'TransformerEncoder', 'num_layers');
    const t = new nn.Transformer({ dModel: 8, nhead: 2, numEncoderLayers: 1, numDecoderLayers: 1, dimFeedforward: 16 });
    expectError(() => t.forward(kd.randn([4, 2, 8]), kd.randn([3, 3, 8])), kd.ShapeError, 'Transformer', 'batch');
    expectError(() => t.forward(kd.randn([4, 2, 6]), kd.randn([3, 2, 6])), kd.ShapeError, 'Transformer', 'd_model');
    expectError(() => nn.Transformer.generateSquareSubsequentMask(0), kd.ArgumentError, 'generateSquareSubsequentMask');
  });

  it('a custom activation function is used', () => {
    const a = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, activation: (x) => x.tanh() }).eval();
    const b = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16 }).eval();
    b.loadStateDict(a.stateDict());
    const x = kd.randn([3, 1, 8]).mul(3);
    const ya = a.forward(x).data() as Float32Array, yb = b.forward(x).data() as Float32Array;
    expect(Math.max(...ya.map((v, j) => Math.abs(v - yb[j])))).toBeGreaterThan(1e-3);
  });
});
