// kd.models.bert against Hugging Face transformers 5.18: tiny random BERTs that
// save_pretrained wrote (test/fixtures/make_bert_fixtures.py) load with fromPretrained and give
// transformers' hidden states, pooler outputs and logits; the state dict holds exactly
// transformers' keys; savePretrained writes the folders transformers loaded back (the check
// file); from-scratch initialisation, tying, training and errors.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { ArgumentError, DTypeError, DataError, ShapeError } from '../../lib/errors.js';
import { BertForMaskedLM, BertModel, resolveBertConfig } from '../../lib/models/bert.js';
import { expectError } from '../helpers.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'bert');
type Output = { shape: number[]; values: number[] };
interface Case { architecture: string; state_dict: Record<string, number[]>; saved_keys: string[]; outputs: Record<string, Output> }
const EXPECTED = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as {
  inputs: { input_ids: number[][]; attention_mask: number[][]; token_type_ids: number[][] };
  cases: Record<string, Case>;
};
const CHECK = JSON.parse(readFileSync(join(FIXTURES, 'kindling_written.check.json'), 'utf8')) as {
  folders: Record<string, { architecture: string; config_sha256: string; model_sha256: string; missing_keys: string[];
    unexpected_keys: string[]; mismatched_keys: string[]; max_abs_diff_from_expected: number }>;
};
const CASES = Object.keys(EXPECTED.cases);
const TINY = { vocabSize: 120, hiddenSize: 32, numHiddenLayers: 2, numAttentionHeads: 4, intermediateSize: 64, maxPositionEmbeddings: 40 };

const temps: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'kindling-bert-'));
  temps.push(d);
  return d;
}
afterAll(() => { for (const d of temps) rmSync(d, { recursive: true, force: true }); });

function inputs(rows?: number) {
  const take = <T>(a: T[]) => (rows ? a.slice(0, rows) : a);
  return {
    ids: kd.tensor(take(EXPECTED.inputs.input_ids), { dtype: 'int32' }),
    attentionMask: kd.tensor(take(EXPECTED.inputs.attention_mask), { dtype: 'int32' }),
    tokenTypeIds: kd.tensor(take(EXPECTED.inputs.token_type_ids), { dtype: 'int32' }),
  };
}

/** The model's outputs on the fixture inputs, named as expected.json names them. */
function outputsOf(model: kd.nn.Module): Record<string, Tensor> {
  const { ids, attentionMask, tokenTypeIds } = inputs();
  const bare = inputs(1).ids;
  const out: Record<string, Tensor> = {};
  if (model instanceof BertModel) {
    const full = model.forward(ids, { attentionMask, tokenTypeIds }), b = model.forward(bare);
    Object.assign(out, { 'full.last_hidden_state': full.lastHiddenState, 'full.pooler_output': full.poolerOutput!,
      'bare.last_hidden_state': b.lastHiddenState, 'bare.pooler_output': b.poolerOutput! });
  } else {
    const m = model as unknown as { forward(x: Tensor, o?: object): Tensor };
    Object.assign(out, { 'full.logits': m.forward(ids, { attentionMask, tokenTypeIds }), 'bare.logits': m.forward(bare) });
  }
  return out;
}

function maxAbsDiff(got: Tensor, want: Output): number {
  expect(got.shape).toEqual(want.shape);
  const g = got.toArray() as unknown as number[] | number[][];
  const flat = (g as unknown[]).flat(Infinity) as number[];
  return Math.max(...flat.map((v, i) => Math.abs(v - want.values[i])));
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('bert.fromPretrained on folders transformers wrote', () => {
  it.each(CASES)('%s: the class config.json names, its outputs within 1e-4 of transformers', (name) => {
    const want = EXPECTED.cases[name];
    const model = kd.models.bert.fromPretrained(join(FIXTURES, name));
    expect(model.constructor.name).toBe(want.architecture);
    expect(model.loadResult).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(model.training).toBe(false);
    const got = outputsOf(model);
    expect(Object.keys(got).sort()).toEqual(Object.keys(want.outputs).sort());
    for (const [key, t] of Object.entries(got)) expect(maxAbsDiff(t, want.outputs[key]), `${name} ${key}`).toBeLessThan(1e-4);
  });

  it.each(CASES)('%s: stateDict holds exactly transformers\' state_dict keys, in its order, with its shapes', (name) => {
    const want = EXPECTED.cases[name].state_dict;
    const state = kd.models.bert.fromPretrained(join(FIXTURES, name)).stateDict();
    expect(Object.keys(state)).toEqual(Object.keys(want));
    for (const [k, shape] of Object.entries(want)) expect(state[k].shape, k).toEqual(shape);
  });

  it('the masked-LM decoder is the word embedding table and its bias is cls.predictions.bias (tied as transformers ties them)', () => {
    const model = kd.models.bert.fromPretrained(join(FIXTURES, 'mlm')) as BertForMaskedLM;
    expect(model.cls.predictions.decoder.weight).toBe(model.bert.embeddings.wordEmbeddings.weight);
    expect(model.cls.predictions.decoder.bias).toBe(model.cls.predictions.bias);
    const names = [...model.namedParameters()].map(([n]) => n);
    expect(names).not.toContain('cls.predictions.decoder.weight');
    expect(names.length).toBe(new Set(model.parameters()).size);
  });

  it('classification heads take numLabels and id2label from config.json', () => {
    const model = kd.models.bert.fromPretrained(join(FIXTURES, 'seqcls'));
    expect(model.config.numLabels).toBe(3);
    expect(model.config.id2label).toEqual({ 0: 'law', 1: 'prophets', 2: 'gospels' });
    expect(kd.models.bert.fromPretrained(join(FIXTURES, 'tokcls')).config).toMatchObject({ numLabels: 5, hiddenAct: 'gelu_pytorch_tanh', typeVocabSize: 3 });
  });

  it('config overrides replace config.json\'s fields, as from_pretrained\'s keyword arguments', () => {
    const model = kd.models.bert.fromPretrained(join(FIXTURES, 'base'), { head: 'sequenceClassification', config: { numLabels: 4, hiddenDropoutProb: 0 } });
    expect(model.config).toMatchObject({ numLabels: 4, hiddenDropoutProb: 0, id2label: { 0: 'LABEL_0', 3: 'LABEL_3' } });
    expect(model.loadResult.missingKeys).toEqual(['classifier.weight', 'classifier.bias']);
    const named = kd.models.bert.fromPretrained(join(FIXTURES, 'base'), { head: 'sequenceClassification', config: { id2label: { 0: 'no', 1: 'yes' } } });
    expect(named.config).toMatchObject({ numLabels: 2, id2label: { 0: 'no', 1: 'yes' } });
    // A trained head of another size does not load silently (transformers: ignore_mismatched_sizes).
    expectError(() => kd.models.bert.fromPretrained(join(FIXTURES, 'seqcls'), { config: { numLabels: 4 } }), ShapeError, 'classifier.weight');
  });

  it('a head model loads a base checkpoint (bert. prefix added) and the base model a head checkpoint (prefix dropped)', () => {
    const head = kd.models.bert.fromPretrained(join(FIXTURES, 'base'), { head: 'sequenceClassification' });
    expect(head.loadResult.unexpectedKeys).toEqual([]);
    expect(head.loadResult.missingKeys).toEqual(['classifier.weight', 'classifier.bias']);
    const base = kd.models.bert.fromPretrained(join(FIXTURES, 'base')) as BertModel;
    const { ids, attentionMask } = inputs();
    const a = (head as unknown as { bert: BertModel }).bert.forward(ids, { attentionMask }).poolerOutput!;
    const b = base.forward(ids, { attentionMask }).poolerOutput!;
    expect(a.toArray()).toEqual(b.toArray());
    const fromMlm = kd.models.bert.fromPretrained(join(FIXTURES, 'mlm'), { head: 'base' });
    expect(fromMlm.loadResult.missingKeys).toEqual(['pooler.dense.weight', 'pooler.dense.bias']);
    expect(fromMlm.loadResult.unexpectedKeys.every((k) => k.startsWith('cls.predictions.'))).toBe(true);
    expectError(() => kd.models.bert.fromPretrained(join(FIXTURES, 'mlm'), { head: 'base', strict: true }), DataError, 'missing keys: pooler.dense.weight');
  });

  it('old checkpoints\' LayerNorm.gamma / LayerNorm.beta and position_ids buffers load as transformers loads them', () => {
    const dir = tempDir();
    const state = kd.io.load(join(FIXTURES, 'mlm', 'model.safetensors'));
    const renamed: Record<string, Tensor> = {};
    for (const [k, t] of Object.entries(state)) renamed[k.replace(/LayerNorm\.weight$/, 'LayerNorm.gamma').replace(/LayerNorm\.bias$/, 'LayerNorm.beta')] = t;
    renamed['bert.embeddings.position_ids'] = kd.arange(40, { dtype: 'int32' }).reshape([1, 40]);
    renamed['cls.predictions.decoder.weight'] = state['bert.embeddings.word_embeddings.weight'];
    kd.io.save(renamed, join(dir, 'model.safetensors'));
    writeFileSync(join(dir, 'config.json'), readFileSync(join(FIXTURES, 'mlm', 'config.json')));
    const model = kd.models.bert.fromPretrained(dir);
    expect(model.loadResult).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(maxAbsDiff(outputsOf(model)['full.logits'], EXPECTED.cases.mlm.outputs['full.logits'])).toBeLessThan(1e-4);
  });
});

describe('savePretrained', () => {
  it.each(CASES)('%s: writes the files transformers loaded back with no missing or unexpected keys and the same outputs', (name) => {
    const check = CHECK.folders[name];
    expect(check).toMatchObject({ architecture: EXPECTED.cases[name].architecture, missing_keys: [], unexpected_keys: [], mismatched_keys: [] });
    expect(check.max_abs_diff_from_expected).toBeLessThan(1e-5);
    const dir = join(tempDir(), name);
    kd.models.bert.fromPretrained(join(FIXTURES, name)).savePretrained(dir);
    expect(sha256(join(dir, 'model.safetensors'))).toBe(check.model_sha256);
    expect(sha256(join(dir, 'config.json'))).toBe(check.config_sha256);
    expect(Object.keys(kd.io.load(join(dir, 'model.safetensors'))).sort()).toEqual(EXPECTED.cases[name].saved_keys);
  });

  it('a sharded save (maxShardSize) loads back to the same logits', () => {
    const dir = tempDir();
    const model = kd.models.bert.fromPretrained(join(FIXTURES, 'mlm'));
    model.savePretrained(dir, { maxShardSize: 30_000 });
    expect(JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8')).weight_map['cls.predictions.bias']).toMatch(/^model-\d{5}-of-\d{5}\.safetensors$/);
    const again = kd.models.bert.fromPretrained(dir);
    expect(maxAbsDiff(outputsOf(again)['full.logits'], EXPECTED.cases.mlm.outputs['full.logits'])).toBeLessThan(1e-4);
  });
});

describe('kd.models.bert from scratch', () => {
  it('builds BertForMaskedLM by default, with transformers\' keys and Hugging Face defaults', () => {
    expect(kd.models.bert(TINY)).toBeInstanceOf(BertForMaskedLM);
    expect(resolveBertConfig({ vocabSize: 120 })).toMatchObject({ hiddenSize: 768, numHiddenLayers: 12, numAttentionHeads: 12, intermediateSize: 3072, hiddenAct: 'gelu',
      hiddenDropoutProb: 0.1, attentionProbsDropoutProb: 0.1, maxPositionEmbeddings: 512, typeVocabSize: 2, layerNormEps: 1e-12, padTokenId: 0, initializerRange: 0.02 });
    const small = kd.models.bert({ ...TINY, maxPositionEmbeddings: 40 });
    expect(Object.keys(small.stateDict())).toEqual(Object.keys(EXPECTED.cases.mlm.state_dict));
    expect(Object.keys(kd.models.bert({ ...TINY, head: 'base' }).stateDict())).toEqual(Object.keys(EXPECTED.cases.base.state_dict));
    expect(Object.keys(kd.models.bert({ ...TINY, head: 'sequenceClassification' }).stateDict())).toEqual(Object.keys(EXPECTED.cases.seqcls.state_dict));
    expect(Object.keys(kd.models.bert({ ...TINY, head: 'tokenClassification', numLabels: 5, typeVocabSize: 3 }).stateDict())).toEqual(Object.keys(EXPECTED.cases.tokcls.state_dict));
  });

  it('initialises as transformers: N(0, initializerRange) weights, zero biases, padding row zero, LayerNorm ones and zeros', () => {
    kd.manualSeed(3);
    const model = kd.models.bert({ ...TINY, vocabSize: 300, hiddenSize: 64, initializerRange: 0.05, padTokenId: 5 });
    const state = model.stateDict();
    const stats = (t: Tensor) => {
      const v = Array.from(t.data() as Float32Array);
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      return { mean, std: Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length) };
    };
    for (const key of ['bert.encoder.layer.0.attention.self.query.weight', 'bert.encoder.layer.1.intermediate.dense.weight', 'bert.embeddings.position_embeddings.weight']) {
      const { mean, std } = stats(state[key]);
      expect(Math.abs(mean), key).toBeLessThan(0.01);
      expect(std, key).toBeGreaterThan(0.045);
      expect(std, key).toBeLessThan(0.055);
    }
    const word = state['bert.embeddings.word_embeddings.weight'];
    expect(Array.from(word.select(0, 5).data() as Float32Array).every((v) => v === 0)).toBe(true);
    expect(Array.from(word.select(0, 4).data() as Float32Array).some((v) => v !== 0)).toBe(true);
    for (const key of ['bert.encoder.layer.0.attention.self.query.bias', 'cls.predictions.bias', 'bert.embeddings.LayerNorm.bias', 'cls.predictions.transform.dense.bias']) {
      expect(Array.from(state[key].data() as Float32Array).every((v) => v === 0), key).toBe(true);
    }
    expect(Array.from(state['bert.encoder.layer.1.output.LayerNorm.weight'].data() as Float32Array).every((v) => v === 1)).toBe(true);
  });

  it('padding tokens do not change the other tokens\' hidden states (attention mask), and dropout acts only in train mode', () => {
    kd.manualSeed(1);
    const model = kd.models.bert({ ...TINY, head: 'base' });
    model.eval();
    const short = model.forward(kd.tensor([[5, 6, 7, 8]], { dtype: 'int32' })).lastHiddenState;
    const padded = model.forward(kd.tensor([[5, 6, 7, 8, 0, 0]], { dtype: 'int32' }), { attentionMask: kd.tensor([[1, 1, 1, 1, 0, 0]], { dtype: 'int32' }) }).lastHiddenState;
    const a = short.toArray() as number[][][], b = padded.slice(1, 0, 4).toArray() as number[][][];
    expect(Math.max(...a[0].flatMap((row, i) => row.map((v, j) => Math.abs(v - b[0][i][j]))))).toBeLessThan(1e-5);
    const unmasked = model.forward(kd.tensor([[5, 6, 7, 8, 0, 0]], { dtype: 'int32' })).lastHiddenState.slice(1, 0, 4).toArray() as number[][][];
    expect(Math.max(...a[0].flatMap((row, i) => row.map((v, j) => Math.abs(v - unmasked[0][i][j]))))).toBeGreaterThan(1e-3);
    const ids = kd.tensor([[5, 6, 7, 8]], { dtype: 'int32' });
    expect(model.forward(ids).lastHiddenState.toArray()).toEqual(a);
    model.train();
    expect(model.forward(ids).lastHiddenState.toArray()).not.toEqual(a);
  });

  it('trains: Adam steps on one masked batch drive the masked-LM loss down, and gradients reach the tied table from both ends', () => {
    kd.manualSeed(0);
    const model = kd.models.bert({ ...TINY, hiddenDropoutProb: 0, attentionProbsDropoutProb: 0 });
    const ids = kd.tensor([[1, 17, 30, 44, 58, 71, 85, 99], [1, 12, 25, 39, 52, 66, 79, 93]], { dtype: 'int32' });
    const { inputIds, labels } = kd.data.maskTokens(ids, { maskTokenId: 3, vocabSize: 120, probability: 0.5, specialTokenIds: [1] });
    const opt = new kd.optim.Adam(model.parameters(), { lr: 3e-3 });
    const losses: number[] = [];
    for (let step = 0; step < 25; step++) {
      opt.zeroGrad();
      const loss = model.maskedLmLoss(model.forward(inputIds), labels);
      loss.backward();
      if (step === 0) {
        const g = model.bert.embeddings.wordEmbeddings.weight.grad!;
        // Row 110 never appears in the input, so its gradient comes from the decoder alone.
        expect(Math.max(...Array.from(g.select(0, 110).data() as Float32Array).map(Math.abs))).toBeGreaterThan(0);
      }
      opt.step();
      losses.push(loss.item());
    }
    expect(losses[0]).toBeGreaterThan(3.5);
    expect(losses.at(-1)!).toBeLessThan(losses[0] * 0.5);
  });
});

describe('gradients against transformers (grads.json)', () => {
  type Summary = { shape: number[]; head: number[]; sum: number; norm: number; sin_dot: number };
  const GRADS = JSON.parse(readFileSync(join(FIXTURES, 'grads.json'), 'utf8')) as {
    inputs: { mlm_labels: number[][]; seqcls_labels: number[] };
    cases: Record<string, { loss: number; grads: Record<string, Summary> }>;
  };

  it.each(['mlm', 'seqcls'])('%s: one backward gives every parameter transformers\' gradient (tied table, cls.predictions.bias, LayerNorms, embeddings) within 1e-4', (name) => {
    const model = kd.models.bert.fromPretrained(join(FIXTURES, name), { config: { hiddenDropoutProb: 0, attentionProbsDropoutProb: 0 } });
    model.train();
    const { ids, attentionMask, tokenTypeIds } = inputs();
    let loss: Tensor;
    if (model instanceof BertForMaskedLM) {
      loss = model.maskedLmLoss(model.forward(ids, { attentionMask, tokenTypeIds }), kd.tensor(GRADS.inputs.mlm_labels, { dtype: 'int32' }));
    } else {
      const logits = (model as unknown as { forward(x: Tensor, o: object): Tensor }).forward(ids, { attentionMask, tokenTypeIds });
      loss = kd.nn.functional.crossEntropy(logits, kd.tensor(GRADS.inputs.seqcls_labels, { dtype: 'int32' }));
    }
    loss.backward();
    const want = GRADS.cases[name];
    expect(Math.abs(loss.item() - want.loss)).toBeLessThan(1e-5);
    const params = new Map(model.namedParameters());
    // Tied tensors appear once in both lists (the decoder weight is the word table; its bias is cls.predictions.bias).
    expect([...params.keys()].sort()).toEqual(Object.keys(want.grads).sort());
    for (const [key, w] of Object.entries(want.grads)) {
      const g = params.get(key)!.grad;
      expect(g, key).not.toBeNull();
      expect(g!.shape, key).toEqual(w.shape);
      const flat = Float64Array.from(g!.data() as Float32Array);
      let sum = 0, sq = 0, dot = 0;
      flat.forEach((v, i) => { sum += v; sq += v * v; dot += v * Math.sin(i + 1); });
      const close = (got: number, ref: number, what: string) => expect(Math.abs(got - ref), `${key} ${what}: ${got} vs ${ref}`).toBeLessThan(1e-4 * Math.max(1, Math.abs(ref)));
      w.head.forEach((ref, i) => close(flat[i], ref, `[${i}]`));
      close(sum, w.sum, 'sum');
      close(Math.sqrt(sq), w.norm, 'norm');
      close(dot, w.sin_dot, 'sin-weighted sum');
    }
  });
});

describe('errors', () => {
  const model = kd.models.bert({ ...TINY, head: 'base' });
  const ids = kd.tensor([[1, 2, 3]], { dtype: 'int32' });

  it('bad inputs name the op and the shapes', () => {
    expectError(() => model.forward(kd.tensor([[1.5, 2, 3]])), DTypeError, 'BertModel.forward', 'int32', 'float32');
    expectError(() => model.forward(kd.tensor([1, 2, 3], { dtype: 'int32' })), ShapeError, '[batch, seq]', '[3]');
    expectError(() => model.forward(ids, { attentionMask: kd.tensor([[1, 1]], { dtype: 'int32' }) }), ShapeError, 'attentionMask [1,2]', '[1,3]');
    expectError(() => model.forward(ids, { tokenTypeIds: kd.tensor([[0, 0]], { dtype: 'int32' }) }), ShapeError, 'tokenTypeIds [1,2]');
    expectError(() => model.forward(ids, { tokenTypeIds: kd.tensor([[0.5, 0, 0]]) }), DTypeError, 'tokenTypeIds must be an int32');
    expectError(() => model.forward(kd.zeros([1, 41], { dtype: 'int32' })), ShapeError, 'sequence length 41 exceeds maxPositionEmbeddings 40');
    expectError(() => model.forward(ids, { labels: ids } as never), ArgumentError, "unknown option 'labels'");
  });

  it('bad configs are ArgumentErrors naming the field', () => {
    expectError(() => kd.models.bert({ vocabSize: 100, hiddenSize: 30, numAttentionHeads: 4 }), ArgumentError, 'hiddenSize 30 is not a multiple of numAttentionHeads 4');
    expectError(() => kd.models.bert({ vocabSize: 0 }), ArgumentError, 'vocabSize must be a positive integer');
    expectError(() => kd.models.bert({ vocabSize: 10, hiddenAct: 'mish' as never }), ArgumentError, "hiddenAct 'mish'");
    expectError(() => kd.models.bert({ vocabSize: 10, padTokenId: 10 }), ArgumentError, 'padTokenId');
    expectError(() => kd.models.bert({ vocabSize: 10, hiddenDropoutProb: 1.5 }), ArgumentError, 'hiddenDropoutProb');
    expectError(() => kd.models.bert({ vocabSize: 10, hidden_size: 8 } as never), ArgumentError, "unknown config field 'hidden_size'");
    expectError(() => kd.models.bert({ vocabSize: 10, head: 'causalLM' as never }), ArgumentError, 'head must be one of');
  });

  it('fromPretrained: missing folders, missing weights, other model types and unknown architectures are DataErrors', () => {
    expectError(() => kd.models.bert.fromPretrained(join(FIXTURES, 'nope')), DataError, 'does not exist');
    const dir = tempDir();
    const config = JSON.parse(readFileSync(join(FIXTURES, 'mlm', 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    expectError(() => kd.models.bert.fromPretrained(dir), DataError, 'model.safetensors');
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, model_type: 'gpt2' }));
    expectError(() => kd.models.bert.fromPretrained(dir), DataError, "model_type 'gpt2'");
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, architectures: ['BertForQuestionAnswering'] }));
    expectError(() => kd.models.bert.fromPretrained(dir), DataError, 'BertForQuestionAnswering');
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, position_embedding_type: 'relative_key' }));
    expectError(() => kd.models.bert.fromPretrained(dir), DataError, "position_embedding_type 'relative_key'");
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, is_decoder: true }));
    expectError(() => kd.models.bert.fromPretrained(dir), DataError, 'is_decoder');
  });

  it('a checkpoint whose shapes disagree with config.json is a ShapeError naming the key', () => {
    const dir = tempDir();
    const config = JSON.parse(readFileSync(join(FIXTURES, 'mlm', 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, vocab_size: 121 }));
    writeFileSync(join(dir, 'model.safetensors'), readFileSync(join(FIXTURES, 'mlm', 'model.safetensors')));
    expectError(() => kd.models.bert.fromPretrained(dir), ShapeError, 'bert.fromPretrained', 'word_embeddings.weight');
  });
});
