// `kindling finetune` with tiny settings: a tiny GPT-2 folder (kd.models.gpt2, the GPT-2 BPE fixture
// tokenizer) fine-tuned as a language model, fully and with LoRA; a tiny BERT folder fine-tuned as
// a classifier on a CSV.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CommanderError } from 'commander';

import { createProgram } from '../../lib/cli.js';
import { type FinetuneArgs, latestLmRun, runFinetune } from '../../lib/cli_finetune.js';
import * as kd from '../../lib/index.js';

const tokenizers = join(import.meta.dirname, '..', 'fixtures', 'tokenizers');
let dir: string;
let gptDir: string, bertDir: string, charDir: string, textFile: string, csvFile: string;

const defaults: Omit<FinetuneArgs, 'from' | 'data'> = {
  loraDropout: 0, epochs: 1, batchSize: 4, blockSize: 16, weightDecay: 0.01, warmup: 0.1, accumulation: 1, valSplit: 0.2, seed: 1,
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kindling-finetune-'));
  kd.manualSeed(3);
  gptDir = join(dir, 'gpt2');
  kd.models.gpt2({ vocabSize: 1500, nPositions: 32, nEmbd: 16, nLayer: 1, nHead: 2 }).savePretrained(gptDir);
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(tokenizers, 'gpt2-bpe', f), join(gptDir, f));
  bertDir = join(dir, 'bert');
  kd.models.bert({ vocabSize: 1500, hiddenSize: 16, numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 32, maxPositionEmbeddings: 32, head: 'sequenceClassification', numLabels: 3 }).savePretrained(bertDir);
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(tokenizers, 'bert-uncased', f), join(bertDir, f));
  // A `kindling lm` folder as runLm writes it: model.safetensors with the config in its metadata, tokenizer.json.
  charDir = join(dir, 'char-gpt');
  mkdirSync(charDir);
  const chars = kd.text.CharTokenizer.fromText('abcdefghijklmnopqrstuvwxyz .\n');
  const config = { vocabSize: chars.vocabSize, blockSize: 16, nLayer: 1, nHead: 2, nEmbd: 16 };
  kd.io.save(kd.models.gpt(config).stateDict(), join(charDir, 'model.safetensors'), { config: JSON.stringify(config), steps: '0' });
  chars.save(join(charDir, 'tokenizer.json'));
  textFile = join(dir, 'text.txt');
  writeFileSync(textFile, 'the cat sat on the mat and the dog sat on the log. '.repeat(30));
  csvFile = join(dir, 'reviews.csv');
  const rows = ['text,label'];
  for (let i = 0; i < 24; i++) rows.push(i % 2 ? `"good, great and fine ${i}",pos` : `bad and awful ${i},neg`);
  writeFileSync(csvFile, rows.join('\n'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the command with console.log captured: its result and what it printed. */
async function quietly(args: FinetuneArgs): Promise<{ result: Awaited<ReturnType<typeof runFinetune>>; printed: string }> {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    const result = await runFinetune(args);
    return { result, printed: log.mock.calls.flat().join('\n') };
  } finally {
    log.mockRestore();
  }
}

describe('kindling finetune', () => {
  it('parses its options (finetune --help lists them; --lora and --steps reach the run)', async () => {
    let out = '';
    let args: FinetuneArgs | null = null;
    const program = createProgram({ writeOut: (s) => { out += s; }, writeErr: () => {}, exitOverride: true, onFinetune: (a) => { args = a; } });
    await expect(program.parseAsync(['node', 'kindling', 'finetune', '--help'])).rejects.toBeInstanceOf(CommanderError);
    for (const option of ['--from', '--data', '--lora', '--freeze', '--steps', '--minutes', '--out', '--accumulation']) expect(out).toContain(option);
    const again = createProgram({ writeOut: () => {}, writeErr: () => {}, exitOverride: true, onFinetune: (a) => { args = a; } });
    await again.parseAsync(['node', 'kindling', 'finetune', '--from', 'm', '--data', 'd.txt', '--lora', '4', '--steps', '10', '--lora-targets', 'c_attn,c_proj']);
    expect(args).toMatchObject({ from: 'm', data: 'd.txt', lora: 4, steps: 10, loraTargets: ['c_attn', 'c_proj'], batchSize: 8, epochs: 1 });
  });

  it('fine-tunes a GPT-2 folder on a text file: the validation loss falls, the model folder reloads', async () => {
    const out = join(dir, 'run-full');
    const { result, printed } = await quietly({ ...defaults, from: gptDir, data: textFile, lr: 3e-3, epochs: 4, out });
    expect(result.task).toBe('lm');
    expect(result.after.loss).toBeLessThan(result.before.loss - 0.5);
    expect(result.trainable).toBe(result.total);
    for (const f of ['model/config.json', 'model/model.safetensors', 'model/tokenizer.json', 'history.json', 'curve.svg', 'steps.svg', 'result.json']) expect(existsSync(join(out, f)), f).toBe(true);
    const reloaded = kd.models.gpt2.fromPretrained(join(out, 'model'));
    expect(reloaded.numParameters()).toBe(result.total);
    expect(printed).toMatch(/Before: val loss [\d.]+ \(perplexity [\d.]+\)[\s\S]*After: {2}val loss/);
  });

  it('--lora trains only the adapters, stops at --steps and writes a peft adapter folder', async () => {
    const out = join(dir, 'run-lora');
    const { result } = await quietly({ ...defaults, from: gptDir, data: textFile, lora: 2, steps: 3, epochs: 5, blockSize: 100, out }); // windows cut to n_positions 32
    expect(result.steps).toBe(3);
    // r·(in + out) per adapted c_attn (16 -> 48): 2·(16 + 48) = 128.
    expect(result.trainable).toBe(128);
    const config = JSON.parse(readFileSync(join(out, 'adapter', 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: ['c_attn'], task_type: 'CAUSAL_LM', fan_in_fan_out: true });
    const model = kd.nn.lora.loadAdapter(kd.models.gpt2.fromPretrained(gptDir), join(out, 'adapter'));
    expect(model.numParameters()).toBe(128);
  });

  it('fine-tunes a BERT folder as a classifier on a CSV, with a head resized to its labels', async () => {
    const out = join(dir, 'run-bert');
    const { result, printed } = await quietly({ ...defaults, from: bertDir, data: csvFile, lr: 1e-2, epochs: 3, freeze: '^bert\\.embeddings\\.', out });
    expect(result.task).toBe('classification');
    expect(result.after.accuracy).toBeGreaterThanOrEqual(0);
    expect(result.after.accuracy).toBeLessThanOrEqual(1);
    const saved = JSON.parse(readFileSync(join(out, 'model', 'config.json'), 'utf8')) as { id2label: Record<string, string> };
    expect(saved.id2label).toEqual({ 0: 'neg', 1: 'pos' });
    const reloaded = kd.models.bert.fromPretrained(join(out, 'model'));
    expect((reloaded as unknown as { classifier: kd.nn.Linear }).classifier.outFeatures).toBe(2);
    expect(printed).toMatch(/classification into 2 labels \(neg, pos\)[\s\S]*Before: val accuracy/);
  });

  it('fine-tunes a `kindling lm` char GPT on a second text (unknown characters left out), fully and with LoRA', async () => {
    const out = join(dir, 'run-char');
    const charText = join(dir, 'char.txt');
    writeFileSync(charText, `${readFileSync(textFile, 'utf8')}Z`);
    const { result, printed } = await quietly({ ...defaults, from: charDir, data: charText, lr: 3e-3, epochs: 2, out });
    expect(result.task).toBe('lm');
    expect(result.after.loss).toBeLessThan(result.before.loss - 0.3);
    // The result is a `kindling lm` folder again: it fine-tunes further.
    const { result: again } = await quietly({ ...defaults, from: join(out, 'model'), data: charText, lora: 2, steps: 2, out: join(dir, 'run-char-lora') });
    expect(again.before.loss).toBeCloseTo(result.after.loss, 4);
    // c_attn 16 -> 48: 2·(16 + 48).
    expect(again.trainable).toBe(128);
    expect(existsSync(join(dir, 'run-char-lora', 'adapter', 'adapter_model.safetensors'))).toBe(true);
    expect(printed).toMatch(/char GPT from[\s\S]*\(1 characters of .* are not in the model's vocabulary and were left out\)/);
  });

  it('--from gpt takes the newest `kindling lm` run folder', () => {
    const runs = join(dir, 'runs');
    mkdirSync(join(runs, 'not-lm'), { recursive: true });
    expect(() => latestLmRun(runs)).toThrow(/--from gpt takes the newest `kindling lm` run in .*there is none: run `npx kindling lm` first/);
    for (const name of ['2026-01-01', '2026-01-02']) {
      mkdirSync(join(runs, name));
      for (const f of ['model.safetensors', 'tokenizer.json']) copyFileSync(join(charDir, f), join(runs, name, f));
    }
    expect(latestLmRun(runs)).toBe(join(runs, '2026-01-02'));
  });

  it('refuses a BERT folder with a text file and a folder without config.json', async () => {
    await expect(runFinetune({ ...defaults, from: bertDir, data: textFile, out: join(dir, 'x') })).rejects.toThrow(/is a BERT folder: pass a .csv/);
    await expect(runFinetune({ ...defaults, from: join(dir, 'nothing'), data: textFile, out: join(dir, 'y') })).rejects.toThrow(/is neither a `kindling lm` folder/);
    await expect(runFinetune({ ...defaults, from: charDir, data: csvFile, out: join(dir, 'z') })).rejects.toThrow(/is a char GPT folder: pass a text file/);
  });
});
