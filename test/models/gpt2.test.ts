import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import {
  GPT2ForSequenceClassification, GPT2ForTokenClassification, GPT2LMHeadModel, GPT2MLP, GPT2Model, loadReports,
} from '../../lib/models/gpt2.js';
import { readPretrainedWeights, writePretrainedFolder } from '../../lib/models/pretrained.js';
import { type SafetensorsEntry, encodeSafetensors } from '../../lib/io/safetensors.js';

const fixtures = fileURLToPath(new URL('../fixtures/gpt2/', import.meta.url));
const tinyDir = join(fixtures, 'tiny');

interface Stored { shape: number[]; values: number[] }
const expected = JSON.parse(readFileSync(join(fixtures, 'expected.json'), 'utf8')) as {
  input_ids: number[][];
  attention_mask: number[][];
  position_ids: number[][];
  token_type_ids: number[][];
  lm: Record<string, { logits: Stored; hidden_states?: Stored[] }>;
  sequence_classification: { logits: Stored };
};

const ids = () => kd.tensor(expected.input_ids, { dtype: 'int32' });
const mask = () => kd.tensor(expected.attention_mask, { dtype: 'int32' });

/** ‖out − ref‖ / ‖ref‖ over every element, after checking the shape. */
function relError(out: Tensor, want: Stored): number {
  expect(out.shape).toEqual(want.shape);
  const got = out.contiguous().data() as Float32Array;
  let num = 0, den = 0;
  want.values.forEach((w, i) => {
    num += (got[i]! - w) ** 2;
    den += w * w;
  });
  return Math.sqrt(num / den);
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kindling-gpt2-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('kd.models.gpt2.fromPretrained on a folder transformers wrote', () => {
  const lm = kd.models.gpt2.fromPretrained(tinyDir) as GPT2LMHeadModel;

  it('builds GPT2LMHeadModel in eval mode with lm_head tied to wte and nothing missing', () => {
    expect(lm).toBeInstanceOf(GPT2LMHeadModel);
    expect(lm.training).toBe(false);
    expect(lm.lmHead.weight).toBe(lm.transformer.wte.weight);
    expect(loadReports.get(lm)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(lm.config).toMatchObject({ nEmbd: 32, nLayer: 2, nHead: 4, vocabSize: 100, nPositions: 64, padTokenId: 99, activationFunction: 'gelu_new' });
  });

  it('gives transformers\' logits without a mask (1e-4)', () => {
    expect(relError(kd.noGrad(() => lm.forward(ids())), expected.lm.no_mask!.logits)).toBeLessThan(1e-4);
  });

  it('gives transformers\' logits with right and left padding, padded positions included (1e-4)', () => {
    const out = kd.noGrad(() => lm.forward(ids(), { attentionMask: mask() }));
    expect(relError(out, expected.lm.padding_mask!.logits)).toBeLessThan(1e-4);
  });

  it('a bool or float attention mask means the same as an int32 one; an all-ones mask is plain causal', () => {
    const want = kd.noGrad(() => lm.forward(ids(), { attentionMask: mask() })).toArray();
    const asBool = kd.tensor(expected.attention_mask.map((r) => r.map((v) => v === 1)), { dtype: 'bool' });
    const asFloat = kd.tensor(expected.attention_mask);
    expect(kd.noGrad(() => lm.forward(ids(), { attentionMask: asBool })).toArray()).toEqual(want);
    expect(kd.noGrad(() => lm.forward(ids(), { attentionMask: asFloat })).toArray()).toEqual(want);
    const ones = kd.ones([3, 7], { dtype: 'int32' });
    expect(kd.noGrad(() => lm.forward(ids(), { attentionMask: ones })).toArray()).toEqual(kd.noGrad(() => lm.forward(ids())).toArray());
  });

  it('gives every hidden state transformers gives (output_hidden_states)', () => {
    const { hiddenStates, lastHiddenState } = kd.noGrad(() => lm.transformer.forwardWithHiddenStates(ids(), { attentionMask: mask() }));
    const want = expected.lm.padding_mask!.hidden_states!;
    expect(hiddenStates).toHaveLength(want.length);
    hiddenStates.forEach((h, i) => expect(relError(h, want[i]!)).toBeLessThan(1e-4));
    expect(hiddenStates.at(-1)).toBe(lastHiddenState);
  });

  it('takes positionIds and tokenTypeIds as transformers does', () => {
    const positionIds = kd.tensor(expected.position_ids, { dtype: 'int32' });
    const withPositions = kd.noGrad(() => lm.forward(ids(), { attentionMask: mask(), positionIds }));
    expect(relError(withPositions, expected.lm.padding_mask_position_ids!.logits)).toBeLessThan(1e-4);
    const tokenTypeIds = kd.tensor(expected.token_type_ids, { dtype: 'int32' });
    expect(relError(kd.noGrad(() => lm.forward(ids(), { tokenTypeIds })), expected.lm.token_type_ids!.logits)).toBeLessThan(1e-4);
  });

  it('reads the sharded copy (model.safetensors.index.json) to the same model', () => {
    const sharded = kd.models.gpt2.fromPretrained(join(fixtures, 'tiny-sharded'));
    expect(readdirSync(join(fixtures, 'tiny-sharded')).filter((n) => n.endsWith('.safetensors')).length).toBeGreaterThan(1);
    expect(relError(kd.noGrad(() => sharded.forward(ids(), { attentionMask: mask() })) as Tensor, expected.lm.padding_mask!.logits)).toBeLessThan(1e-4);
  });

  it('reads a bfloat16 checkpoint as float32 (the same model as its weights rounded in float32)', () => {
    const weights = readPretrainedWeights(tinyDir);
    const bf16: Record<string, SafetensorsEntry> = {};
    const rounded: Record<string, Tensor> = {};
    for (const [key, t] of Object.entries(weights)) {
      const bits = new Uint32Array(Float32Array.from(t.data() as Float32Array).buffer);
      const half = new Uint16Array(bits.length);
      // Round to nearest even on the 16 bits dropped.
      bits.forEach((b, i) => { half[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16; });
      bf16[key] = { dtype: 'BF16', shape: [...t.shape], data: new Uint8Array(half.buffer) };
      const widened = new Float32Array(new Uint32Array(Array.from(half, (h) => h << 16)).buffer);
      rounded[key] = kd.tensor(Array.from(widened)).reshape([...t.shape]);
    }
    const bfDir = join(dir, 'bf16'), f32Dir = join(dir, 'f32');
    writePretrainedFolder(f32Dir, JSON.parse(readFileSync(join(tinyDir, 'config.json'), 'utf8')), rounded);
    writePretrainedFolder(bfDir, JSON.parse(readFileSync(join(tinyDir, 'config.json'), 'utf8')), {});
    writeFileSync(join(bfDir, 'model.safetensors'), encodeSafetensors(bf16, { format: 'pt' }));
    const fromBf16 = kd.models.gpt2.fromPretrained(bfDir), fromF32 = kd.models.gpt2.fromPretrained(f32Dir);
    const a = kd.noGrad(() => fromBf16.forward(ids(), { attentionMask: mask() }));
    expect(a.toArray()).toEqual(kd.noGrad(() => fromF32.forward(ids(), { attentionMask: mask() })).toArray());
    // bfloat16 keeps 8 bits of mantissa: close to the float32 model, not equal.
    expect(relError(a, expected.lm.padding_mask!.logits)).toBeLessThan(2e-2);
    expect(relError(a, expected.lm.padding_mask!.logits)).toBeGreaterThan(1e-6);
  });

  it('GPT2ForSequenceClassification pools each row at its last non-padding token as transformers does', () => {
    const cls = kd.models.gpt2.fromPretrained(join(fixtures, 'tiny-cls'));
    expect(cls).toBeInstanceOf(GPT2ForSequenceClassification);
    const out = kd.noGrad(() => cls.forward(ids(), { attentionMask: mask() }));
    expect(relError(out, expected.sequence_classification.logits)).toBeLessThan(1e-4);
  });

  it('loads the language model\'s folder into the base model and into a new classification head', () => {
    const base = kd.models.gpt2.fromPretrained(tinyDir, { architecture: 'GPT2Model' }) as GPT2Model;
    expect(loadReports.get(base)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    const hidden = kd.noGrad(() => base.forward(ids(), { attentionMask: mask() }));
    expect(relError(hidden, expected.lm.padding_mask!.hidden_states!.at(-1)!)).toBeLessThan(1e-4);

    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    const tok = kd.models.gpt2.fromPretrained(tinyDir, { architecture: 'GPT2ForTokenClassification', config: { numLabels: 5 } }) as GPT2ForTokenClassification;
    expect(loadReports.get(tok)).toEqual({ missingKeys: ['classifier.weight', 'classifier.bias'], unexpectedKeys: [] });
    const logits = kd.noGrad(() => tok.forward(ids()));
    expect(logits.shape).toEqual([3, 7, 5]);
    // The classifier is a Linear on the hidden states (dropout is off in eval mode).
    const hiddenNoMask = kd.noGrad(() => tok.transformer.forward(ids()));
    const want = kd.noGrad(() => kd.nn.functional.linear(hiddenNoMask, tok.classifier.weight, tok.classifier.bias));
    expect(logits.toArray()).toEqual(want.toArray());
    expect(() => kd.models.gpt2.fromPretrained(tinyDir, { architecture: 'GPT2ForTokenClassification', strict: true })).toThrow(/lacks weights the model needs: classifier\.weight, classifier\.bias/);
    process.off('warning', onWarning);
  });
});

describe('savePretrained', () => {
  it('writes what transformers writes: config.json and model.safetensors in Conv1D layout, without the tied lm_head', () => {
    const lm = kd.models.gpt2.fromPretrained(tinyDir) as GPT2LMHeadModel;
    lm.savePretrained(dir);
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors']);
    const ours = readPretrainedWeights(dir);
    const theirs = readPretrainedWeights(tinyDir);
    expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
    for (const [key, t] of Object.entries(theirs)) {
      expect(ours[key]!.shape, key).toEqual(t.shape);
      expect(Array.from(ours[key]!.data() as Float32Array), key).toEqual(Array.from(t.data() as Float32Array));
    }
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    const hf = JSON.parse(readFileSync(join(tinyDir, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ architectures: ['GPT2LMHeadModel'], model_type: 'gpt2' });
    for (const key of ['n_embd', 'n_layer', 'n_head', 'n_positions', 'vocab_size', 'activation_function', 'layer_norm_epsilon',
      'resid_pdrop', 'embd_pdrop', 'attn_pdrop', 'n_inner', 'scale_attn_weights', 'tie_word_embeddings', 'pad_token_id', 'bos_token_id',
      'summary_type', 'summary_use_proj']) {
      expect(config[key], key).toEqual(hf[key]);
    }
  });

  it('a folder it wrote loads in transformers and gives the same logits (see make_gpt2_fixtures.py --check)', () => {
    const lm = kd.models.gpt2.fromPretrained(tinyDir) as GPT2LMHeadModel;
    lm.savePretrained(dir);
    const check = JSON.parse(readFileSync(join(fixtures, 'kindling_written.check.json'), 'utf8')) as {
      files: Record<string, string>;
      config_architectures: string[];
      lm_head_tied_to_wte: boolean;
      logits_padding_mask: Stored;
      max_abs_diff_from_expected: number;
    };
    // The files transformers loaded are byte for byte the ones savePretrained writes now.
    const digests = Object.fromEntries(readdirSync(dir).sort().map((n) => [n, createHash('sha256').update(readFileSync(join(dir, n))).digest('hex')]));
    expect(digests).toEqual(check.files);
    expect(check.config_architectures).toEqual(['GPT2LMHeadModel']);
    expect(check.lm_head_tied_to_wte).toBe(true);
    expect(check.max_abs_diff_from_expected).toBeLessThan(1e-5);
    const ours = kd.noGrad(() => lm.forward(ids(), { attentionMask: mask() }));
    expect(relError(ours, check.logits_padding_mask)).toBeLessThan(1e-4);
  });

  it('round-trips every head, sharded too, to the same outputs', () => {
    kd.manualSeed(7);
    for (const architecture of ['GPT2Model', 'GPT2LMHeadModel', 'GPT2ForSequenceClassification', 'GPT2ForTokenClassification'] as const) {
      const model = kd.models.gpt2({ architecture, vocabSize: 100, nPositions: 16, nEmbd: 16, nLayer: 2, nHead: 2, padTokenId: 99, numLabels: 3 }).eval();
      const sub = join(dir, architecture);
      model.savePretrained(sub, { maxShardSize: '8KB' });
      expect(readdirSync(sub)).toContain('model.safetensors.index.json');
      const back = kd.models.gpt2.fromPretrained(sub);
      expect(back.constructor).toBe(model.constructor);
      expect(loadReports.get(back)).toEqual({ missingKeys: [], unexpectedKeys: [] });
      const want = kd.noGrad(() => model.forward(ids(), { attentionMask: mask() }));
      expect(kd.noGrad(() => back.forward(ids(), { attentionMask: mask() })).toArray(), architecture).toEqual(want.toArray());
    }
  });
});

describe('GPT-2 from scratch', () => {
  it('stateDict has Hugging Face\'s names, Linear\'s layout, and lm_head tied to wte', () => {
    const lm = kd.models.gpt2({ vocabSize: 50, nPositions: 8, nEmbd: 8, nLayer: 1, nHead: 2 }) as GPT2LMHeadModel;
    const state = lm.stateDict();
    expect(Object.keys(state)).toEqual([
      'transformer.wte.weight', 'transformer.wpe.weight',
      'transformer.h.0.ln_1.weight', 'transformer.h.0.ln_1.bias',
      'transformer.h.0.attn.c_attn.weight', 'transformer.h.0.attn.c_attn.bias',
      'transformer.h.0.attn.c_proj.weight', 'transformer.h.0.attn.c_proj.bias',
      'transformer.h.0.ln_2.weight', 'transformer.h.0.ln_2.bias',
      'transformer.h.0.mlp.c_fc.weight', 'transformer.h.0.mlp.c_fc.bias',
      'transformer.h.0.mlp.c_proj.weight', 'transformer.h.0.mlp.c_proj.bias',
      'transformer.ln_f.weight', 'transformer.ln_f.bias',
      'lm_head.weight',
    ]);
    expect(state['transformer.h.0.attn.c_attn.weight']!.shape).toEqual([24, 8]);
    expect(state['transformer.h.0.mlp.c_fc.weight']!.shape).toEqual([32, 8]);
    expect(lm.parameters().length).toBe(16);
  });

  it('initialises as transformers: N(0, 0.02), c_proj N(0, 0.02/√(2·n_layer)), zero biases, unit LayerNorms', () => {
    kd.manualSeed(3);
    const lm = kd.models.gpt2({ vocabSize: 500, nPositions: 64, nEmbd: 64, nLayer: 8, nHead: 4 }) as GPT2LMHeadModel;
    const std = (t: Tensor) => {
      const v = Array.from(t.data() as Float32Array);
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      return { mean, std: Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length) };
    };
    const block = lm.transformer.h.at(0);
    for (const t of [lm.transformer.wte.weight, lm.transformer.wpe.weight, block.attn.cAttn.weight, block.mlp.cFc.weight]) {
      const s = std(t);
      expect(Math.abs(s.mean)).toBeLessThan(0.002);
      expect(s.std).toBeGreaterThan(0.019);
      expect(s.std).toBeLessThan(0.021);
    }
    for (const t of [block.attn.cProj.weight, block.mlp.cProj.weight]) {
      expect(std(t).std).toBeGreaterThan(0.95 * 0.02 / 4);
      expect(std(t).std).toBeLessThan(1.05 * 0.02 / 4);
    }
    expect(Array.from(block.attn.cAttn.bias!.data() as Float32Array).every((v) => v === 0)).toBe(true);
    expect(Array.from(block.ln1.weight!.data() as Float32Array).every((v) => v === 1)).toBe(true);
    expect(Array.from(lm.transformer.lnF.bias!.data() as Float32Array).every((v) => v === 0)).toBe(true);
  });

  it('trains: a step of AdamW lowers the loss, and the tied weight gets both gradients', () => {
    kd.manualSeed(11);
    const lm = kd.models.gpt2({ vocabSize: 20, nPositions: 16, nEmbd: 16, nLayer: 2, nHead: 2 }) as GPT2LMHeadModel;
    lm.train();
    const optimizer = new kd.optim.AdamW(lm.parameters(), { lr: 1e-2 });
    const x = kd.tensor([[1, 2, 3, 4, 5, 6, 7, 8]], { dtype: 'int32' });
    const y = kd.tensor([2, 3, 4, 5, 6, 7, 8, 9], { dtype: 'int32' });
    const losses: number[] = [];
    for (let step = 0; step < 5; step++) {
      optimizer.zeroGrad();
      const loss = kd.nn.functional.crossEntropy(lm.forward(x).reshape([8, 20]), y);
      loss.backward();
      losses.push(loss.item() as number);
      optimizer.step();
    }
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
    expect(lm.transformer.wte.weight.grad).not.toBeNull();
  });
});

describe('GPT-2\'s MLP', () => {
  it('c_fc and a GELU run as one product and the fused bias + GELU: the output and every gradient match module by module', () => {
    for (const activationFunction of ['gelu_new', 'gelu', 'gelu_fast', 'relu']) {
      kd.manualSeed(21);
      const mlp = new GPT2MLP(24, kd.models.gpt2.config({ nEmbd: 8, nHead: 2, activationFunction, residPdrop: 0 }));
      kd.noGrad(() => mlp.cFc.bias!.copy_(kd.randn([24])));
      const x = kd.randn([2, 5, 8], { requiresGrad: true });
      const g = kd.randn([2, 5, 8]);
      const grads = (run: () => Tensor) => {
        for (const p of [x, ...mlp.parameters()]) p.grad = null;
        const y = run();
        y.backward(g);
        return [y, x.grad!, ...mlp.parameters().map((p) => p.grad!)].map((t) => Array.from(t.contiguous().data() as Float32Array));
      };
      const fused = grads(() => mlp.forward(x));
      const plain = grads(() => mlp.cProj.forward(mlp.act.forward(mlp.cFc.forward(x))));
      fused.forEach((v, i) => v.forEach((e, j) => expect(e).toBeCloseTo(plain[i]![j]!, 5)));
    }
  });
});

describe('GPT-2 with kd.nn.lora on c_attn (peft\'s GPT-2 default)', () => {
  it('trains only the adapters, r·(nEmbd + 3·nEmbd) parameters per block, and starts from the same outputs', () => {
    kd.manualSeed(5);
    const lm = kd.models.gpt2({ vocabSize: 30, nPositions: 16, nEmbd: 16, nLayer: 3, nHead: 2 }).eval() as GPT2LMHeadModel;
    const x = kd.tensor([[1, 2, 3, 4]], { dtype: 'int32' });
    const before = kd.noGrad(() => lm.forward(x)).toArray();
    kd.nn.lora.apply(lm, { r: 4, loraAlpha: 8, targetModules: ['c_attn'] });
    const trainable = [...lm.namedParameters()].filter(([, p]) => p.requiresGrad);
    expect(trainable.map(([k]) => k)).toEqual([0, 1, 2].flatMap((i) => [`transformer.h.${i}.attn.c_attn.lora_A.default.weight`, `transformer.h.${i}.attn.c_attn.lora_B.default.weight`]));
    expect(trainable.reduce((n, [, p]) => n + p.numel, 0)).toBe(3 * 4 * (16 + 48));
    expect(kd.noGrad(() => lm.forward(x)).toArray()).toEqual(before);
  });
});

describe('GPT-2 errors', () => {
  const lm = kd.models.gpt2({ vocabSize: 20, nPositions: 8, nEmbd: 8, nLayer: 1, nHead: 2 });

  it('bad inputs name the op and the shapes', () => {
    expect(() => lm.forward(kd.tensor([[1.5, 2]]))).toThrow(kd.DTypeError);
    expect(() => lm.forward(kd.tensor([1, 2], { dtype: 'int32' }))).toThrow(/inputIds must be \[batch, seq\], got \[2\]/);
    expect(() => lm.forward(kd.zeros([1, 9], { dtype: 'int32' }))).toThrow(/\[1,9\] is longer than n_positions 8/);
    expect(() => lm.forward(kd.zeros([2, 3], { dtype: 'int32' }), { attentionMask: kd.ones([2, 4]) })).toThrow(kd.ShapeError);
    expect(() => lm.forward(kd.zeros([2, 3], { dtype: 'int32' }), { positionIds: kd.zeros([3, 3], { dtype: 'int32' }) })).toThrow(/positionIds \[3,3\] does not match input_ids \[2,3\]/);
    const cls = kd.models.gpt2({ architecture: 'GPT2ForSequenceClassification', vocabSize: 20, nPositions: 8, nEmbd: 8, nLayer: 1, nHead: 2 });
    expect(() => cls.forward(kd.zeros([2, 3], { dtype: 'int32' }))).toThrow(/need config pad_token_id/);
    expect(cls.forward(kd.zeros([1, 3], { dtype: 'int32' })).shape).toEqual([1, 2]);
  });

  it('bad configs are ArgumentErrors', () => {
    expect(() => kd.models.gpt2({ nEmbd: 10, nHead: 3 })).toThrow(/n_embd 10 is not divisible by n_head 3/);
    expect(() => kd.models.gpt2({ activationFunction: 'mish' })).toThrow(/activation_function 'mish' is not supported/);
    expect(() => kd.models.gpt2({ residPdrop: 1 })).toThrow(kd.ArgumentError);
  });

  it('a missing or corrupt folder is a DataError naming the file', () => {
    expect(() => kd.models.gpt2.fromPretrained(join(dir, 'nope'))).toThrow(/config\.json is missing/);
    cpSync(tinyDir, dir, { recursive: true });
    writeFileSync(join(dir, 'model.safetensors'), 'garbage');
    expect(() => kd.models.gpt2.fromPretrained(dir)).toThrow(kd.DataError);
    writeFileSync(join(dir, 'config.json'), '{"model_type": "bert"}');
    expect(() => kd.models.gpt2.fromPretrained(dir)).toThrow(/model_type "bert", not "gpt2"/);
    writeFileSync(join(dir, 'config.json'), '{"architectures": ["GPT2DoubleHeadsModel"]}');
    expect(() => kd.models.gpt2.fromPretrained(dir)).toThrow(/names the architecture GPT2DoubleHeadsModel/);
    writeFileSync(join(dir, 'config.json'), '{"n_embd": 30, "n_head": 4}');
    expect(() => kd.models.gpt2.fromPretrained(dir)).toThrow(/config\.json: gpt2: n_embd 30 is not divisible/);
  });

  it('weights of the wrong shape are a ShapeError naming the key; old attn.bias buffers are ignored as transformers ignores them', () => {
    const small = kd.models.gpt2({ vocabSize: 100, nPositions: 64, nEmbd: 32, nLayer: 2, nHead: 4, padTokenId: 99 });
    small.savePretrained(dir);
    writeFileSync(join(dir, 'config.json'), readFileSync(join(tinyDir, 'config.json')));
    const back = kd.models.gpt2.fromPretrained(dir);
    expect(loadReports.get(back)).toEqual({ missingKeys: [], unexpectedKeys: [] });

    const withBuffers: Record<string, Tensor> = { ...(small as GPT2LMHeadModel).stateDict(), 'transformer.h.0.attn.bias': kd.ones([1, 1, 64, 64]), 'transformer.h.0.attn.masked_bias': kd.tensor(-1e4) };
    delete withBuffers['lm_head.weight'];
    for (const k of Object.keys(withBuffers)) if (/c_(attn|proj|fc)\.weight$/.test(k)) withBuffers[k] = withBuffers[k]!.transpose(0, 1);
    kd.io.save(withBuffers, join(dir, 'model.safetensors'));
    expect(loadReports.get(kd.models.gpt2.fromPretrained(dir))).toEqual({ missingKeys: [], unexpectedKeys: [] });

    writeFileSync(join(dir, 'config.json'), readFileSync(join(tinyDir, 'config.json'), 'utf8').replace('"n_inner": null', '"n_inner": 64'));
    expect(() => kd.models.gpt2.fromPretrained(dir)).toThrow(/size mismatch for transformer\.h\.0\.mlp\.c_fc\.weight/);
  });
});
