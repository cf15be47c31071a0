// `kindling finetune`: fine-tunes a pretrained model on the user's data, fully or with LoRA. A
// character-level GPT folder written by `kindling lm`, or a Hugging Face GPT-2 folder, trains as
// a causal language model on a text file (validation loss and perplexity before and after); a
// Hugging Face BERT folder with a CSV of text,label trains a sequence classifier (validation
// accuracy before and after). AdamW over weightDecayGroups with transformers'
// linear warm-up schedule, a progress bar per epoch, and a run folder with the result (an adapter
// folder for LoRA, a model folder otherwise), history.json and the per-step loss curve.
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import type { Command } from 'commander';

import { parseCsvRows } from './data/csv.js';
import { TensorDataset, permutation } from './data/dataset.js';
import { TokenWindows } from './data/text.js';
import { ArgumentError, DataError } from './errors.js';
import { readText, writeFileAtomic } from './io/files.js';
import { load, loadMetadata, save } from './io/index.js';
import { GPT } from './models/gpt.js';
import { bert } from './models/bert.js';
import { gpt2 } from './models/gpt2.js';
import { readPretrainedConfig } from './models/pretrained.js';
import { crossEntropy } from './nn/functional/loss.js';
import { normal_, zeros_ } from './nn/init.js';
import { Linear } from './nn/layers/linear.js';
import * as lora from './nn/lora.js';
import { Module } from './nn/module.js';
import { AdamW } from './optim/adam.js';
import { WarmupLinearLR } from './optim/lr_scheduler.js';
import { weightDecayGroups } from './optim/param_groups.js';
import { manualSeed } from './random.js';
import { getNumThreads, setNumThreads } from './runtime.js';
import { noGrad } from './autograd/grad_mode.js';
import { tensor } from './ops/creation.js';
import type { Tensor } from './tensor.js';
import { CharTokenizer } from './text/char.js';
import { fromPretrained as tokenizerFromPretrained, type PretrainedTokenizer } from './text/pretrained.js';
import { fraction, nonNegativeInt, positiveInt, positiveNumber } from './cli.js';
import { historyCurveSvg, historyToJson } from './train/checkpoint.js';
import { evaluate, fit } from './train/fit.js';
import { trainingCurveSvg } from './train/plot.js';
import type { Logs } from './train/progress.js';

export interface FinetuneArgs {
  /** A `kindling lm` folder (model.safetensors with its config, tokenizer.json), or a Hugging Face GPT-2 or BERT folder (config.json, model.safetensors, tokenizer files). */
  from: string;
  /** A text file (causal LM) or a CSV of text,label (classification). */
  data: string;
  /** LoRA rank; absent: full fine-tuning. */
  lora?: number;
  loraAlpha?: number;
  loraDropout: number;
  /** LoRA targets (module-name suffixes); default c_attn for GPT and GPT-2, query,value for BERT. */
  loraTargets?: string[];
  /** Freeze the parameters whose names match this regex (full fine-tuning). */
  freeze?: string;
  steps?: number;
  minutes?: number;
  epochs: number;
  batchSize: number;
  /** Tokens per window (LM) or per text (classification, truncated). */
  blockSize: number;
  lr?: number;
  weightDecay: number;
  /** Fraction of the optimizer steps spent warming up. */
  warmup: number;
  accumulation: number;
  valSplit: number;
  seed: number;
  threads?: number;
  out?: string;
}

export interface FinetuneResult {
  task: 'lm' | 'classification';
  before: Logs;
  after: Logs;
  steps: number;
  trainable: number;
  total: number;
  outDir: string;
}

/** Adds `kindling finetune` to the program; `run` does the work (tests pass their own). */
export function registerFinetune(program: Command, run: (args: FinetuneArgs) => Promise<unknown> | unknown = runFinetune): Command {
  return program
    .command('finetune')
    .description('Fine-tune a char GPT (a `kindling lm` folder) or a Hugging Face GPT-2 folder on a text file (causal LM), or a BERT folder on a CSV of text,label (classification); fully or with LoRA.')
    .requiredOption('--from <dir|gpt>', 'a `kindling lm` run folder (char GPT; "gpt": the newest under runs/), or a Hugging Face GPT-2 or BERT folder (config.json, model.safetensors, tokenizer files)')
    .requiredOption('--data <file>', 'a text file (language modelling) or a .csv with text,label columns (classification)')
    .option('--lora <r>', 'train rank-r LoRA adapters only (written as a peft adapter folder); default: full fine-tuning', positiveInt)
    .option('--lora-alpha <a>', 'LoRA alpha (scale alpha/r); default 2r', positiveNumber)
    .option('--lora-dropout <p>', 'dropout on the adapter input', fraction, 0)
    .option('--lora-targets <names>', 'comma-separated module names to adapt (default: c_attn for GPT and GPT-2, query,value for BERT)', (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .option('--freeze <regex>', 'freeze the parameters whose names match (e.g. "^transformer\\.h\\.[0-5]\\.")')
    .option('--steps <n>', 'stop after n optimizer steps', positiveInt)
    .option('--minutes <m>', 'stop after m minutes of training', positiveNumber)
    .option('--epochs <n>', 'epochs over the training data (the run stops earlier at --steps or --minutes)', positiveInt, 1)
    .option('--batch-size <n>', 'batch size', positiveInt, 8)
    .option('--block-size <n>', 'tokens per training window (LM) or per text (classification)', positiveInt, 128)
    .option('--lr <x>', 'peak AdamW learning rate (default 5e-5, or 2e-4 with --lora)', positiveNumber)
    .option('--weight-decay <x>', 'AdamW weight decay for the weight matrices (biases and norms get none)', fraction, 0.01)
    .option('--warmup <f>', 'fraction of the steps spent in linear warm-up', fraction, 0.1)
    .option('--accumulation <k>', 'micro-batches per optimizer step (gradient accumulation)', positiveInt, 1)
    .option('--val-split <f>', 'fraction of the data held out for validation', fraction, 0.1)
    .option('--seed <n>', 'seed for initialisation, the split, shuffling and dropout', nonNegativeInt, 1)
    .option('--threads <n>', 'CPU threads', positiveInt)
    .option('--out <dir>', 'run folder (default runs/finetune-<timestamp>)')
    .action(async (opts: FinetuneArgs) => {
      await run(opts);
    });
}

type Family = 'gpt' | 'gpt2' | 'bert';

/** The config `kindling lm` saves in its model.safetensors metadata. */
interface CharGptConfig {
  vocabSize: number;
  blockSize: number;
  nLayer: number;
  nHead: number;
  nEmbd: number;
}

function familyOf(dir: string): Family {
  if (!existsSync(join(dir, 'config.json'))) {
    if (existsSync(join(dir, 'model.safetensors')) && existsSync(join(dir, 'tokenizer.json'))) return 'gpt';
    throw new ArgumentError(`kindling finetune: --from ${dir} is neither a \`kindling lm\` folder (model.safetensors, tokenizer.json) nor a Hugging Face folder (config.json)`);
  }
  const json = readPretrainedConfig(dir, 'kindling finetune --from');
  if (json.model_type === 'gpt2' || json.model_type === 'bert') return json.model_type;
  throw new DataError(`kindling finetune --from: ${dir}/config.json has model_type ${JSON.stringify(json.model_type)}; kindling fine-tunes gpt2 and bert folders`);
}

/** Rows in a seeded order: the first `held` for validation, the rest for training. */
function split(n: number, valSplit: number, seed: number): { train: number[]; val: number[] } {
  const order = permutation(n, seed);
  const held = n < 2 ? 0 : Math.max(1, Math.round(n * valSplit));
  return { val: order.slice(0, held), train: order.slice(held) };
}

function take(ds: TensorDataset, rows: number[]): TensorDataset {
  return new TensorDataset(...ds.getBatch(Int32Array.from(rows)));
}

/** Windows of a token stream: inputs and next-token targets, int32 [n, blockSize]. */
function windowsOf(ids: number[], blockSize: number, source: string): TensorDataset {
  const windows = new TokenWindows(Int32Array.from(ids), blockSize);
  if (windows.length < 2) throw new DataError(`kindling finetune --data: ${source} gives ${ids.length} tokens, too few for two windows of ${blockSize} (use a smaller --block-size)`);
  const examples = Array.from({ length: windows.length }, (_, i) => windows.get(i));
  const stack = (field: number) => tensor(examples.map((e) => Array.from(e[field].data() as Int32Array)), { dtype: 'int32' });
  const ds = new TensorDataset(stack(0), stack(1));
  for (const e of examples) for (const t of e) t.dispose();
  return ds;
}

/** `--from gpt`: the newest folder under `root` that `kindling lm` wrote (model.safetensors with a GPT config, tokenizer.json). */
export function latestLmRun(root: string): string {
  const dir = resolve(root);
  const runs = existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(dir, e.name)) : [];
  const lm = runs.filter((r) => existsSync(join(r, 'tokenizer.json')) && existsSync(join(r, 'model.safetensors')) && !existsSync(join(r, 'config.json')) &&
    loadMetadata(join(r, 'model.safetensors')).config !== undefined);
  if (lm.length === 0) throw new ArgumentError(`kindling finetune: --from gpt takes the newest \`kindling lm\` run in ${dir}, and there is none: run \`npx kindling lm\` first, or pass its folder`);
  return lm.sort((a, b) => statSync(b, {}).mtimeMs - statSync(a, {}).mtimeMs || b.localeCompare(a))[0]!;
}

/** A `kindling lm` folder: the GPT config from model.safetensors' metadata, and the char tokenizer. */
function readCharGpt(dir: string): { config: CharGptConfig; tokenizer: CharTokenizer; dropped: number } {
  const op = 'kindling finetune --from';
  const meta = loadMetadata(join(dir, 'model.safetensors'));
  let config: CharGptConfig;
  try {
    config = JSON.parse(meta.config ?? 'null') as CharGptConfig;
  } catch {
    throw new DataError(`${op}: ${dir}/model.safetensors has a 'config' metadata entry that is not JSON`);
  }
  if (!config || typeof config !== 'object' || !(['vocabSize', 'blockSize', 'nLayer', 'nHead', 'nEmbd'] as const).every((k) => Number.isInteger(config[k]))) {
    throw new DataError(`${op}: ${dir}/model.safetensors has no GPT config in its metadata (was it written by \`kindling lm\`?)`);
  }
  const tokenizer = CharTokenizer.load(join(dir, 'tokenizer.json'));
  if (tokenizer.vocabSize !== config.vocabSize) throw new DataError(`${op}: ${dir}: tokenizer.json has ${tokenizer.vocabSize} characters, the model ${config.vocabSize}`);
  return { config, tokenizer, dropped: 0 };
}

/** A CSV of text,label (a header naming them, or the first two columns): ids and mask stacked [n, 2, len], label ids [n]. */
function classificationData(tokenizer: PretrainedTokenizer, path: string, blockSize: number): { ds: TensorDataset; labels: string[] } {
  const op = 'kindling finetune --data';
  const rows = parseCsvRows(readText(op, path), path);
  if (rows.length === 0) throw new DataError(`${op}: ${path} is empty`);
  const header = rows[0].map((h) => h.trim().toLowerCase());
  let textCol = 0, labelCol = 1, body = rows;
  if (header.includes('text') && header.includes('label')) {
    textCol = header.indexOf('text');
    labelCol = header.indexOf('label');
    body = rows.slice(1);
  }
  body = body.filter((r) => r.length > Math.max(textCol, labelCol));
  if (body.length < 2) throw new DataError(`${op}: ${path} needs at least two rows of text,label`);
  const labels = [...new Set(body.map((r) => r[labelCol].trim()))].sort();
  if (labels.length < 2) throw new DataError(`${op}: ${path} has a single label (${labels[0]}); classification needs two or more`);
  const enc = tokenizer.encodeBatch(body.map((r) => r[textCol]), { padding: 'max_length', truncation: true, maxLength: blockSize }) as { inputIds: number[][]; attentionMask: number[][] };
  const x = tensor(enc.inputIds.map((ids, i) => [ids, enc.attentionMask[i]]), { dtype: 'int32' });
  const y = tensor(body.map((r) => labels.indexOf(r[labelCol].trim())), { dtype: 'int32' });
  return { ds: new TensorDataset(x, y), labels };
}

/** A classifier taking [batch, 2, len] (ids, attention mask) as fit's single input. */
class MaskedClassifier extends Module {
  constructor(readonly model: Module) {
    super();
  }

  forward(x: Tensor): Tensor {
    const ids = x.select(1, 0).contiguous(), mask = x.select(1, 1).contiguous();
    return this.model.forward(ids, { attentionMask: mask }) as Tensor;
  }
}

/** A causal LM whose loss is cross-entropy over every position. */
function lmLoss(out: Tensor, target: Tensor): Tensor {
  const vocab = out.shape[out.ndim - 1];
  return crossEntropy(out.reshape([-1, vocab]), target.reshape([-1]));
}

/**
 * Names the classifier's outputs after the CSV's labels, and gives it a fresh head (Hugging
 * Face's init: N(0, initializer_range), zero bias) when the folder's has another size.
 */
function resizeHead(model: { classifier: Linear }, labels: string[], config: { numLabels: number; id2label: Record<number, string>; initializerRange: number }): void {
  config.numLabels = labels.length;
  config.id2label = Object.fromEntries(labels.map((l, i) => [i, l]));
  const old = model.classifier;
  if (old.outFeatures === labels.length) return;
  const head = new Linear(old.inFeatures, labels.length, { bias: old.bias !== null });
  noGrad(() => {
    normal_(head.weight, 0, config.initializerRange);
    if (head.bias) zeros_(head.bias);
  });
  model.classifier = head;
}

function timestamp(): string {
  return new Date().toISOString().replace(/:/g, '-').replace(/\..*$/, '');
}

function describe(task: FinetuneResult['task'], logs: Logs): string {
  if (task === 'lm') return `val loss ${logs.loss.toFixed(4)} (perplexity ${Math.exp(logs.loss).toFixed(2)})`;
  return `val accuracy ${(100 * logs.accuracy).toFixed(2)}% (val loss ${logs.loss.toFixed(4)})`;
}

/** `kindling finetune`: loads, measures, trains, measures again and writes the run folder. */
export async function runFinetune(args: FinetuneArgs): Promise<FinetuneResult> {
  const op = 'kindling finetune';
  if (args.threads !== undefined) setNumThreads(args.threads);
  const from = args.from === 'gpt' ? latestLmRun('runs') : resolve(args.from);
  if (args.from === 'gpt') console.log(`kindling finetune: --from gpt is the newest \`kindling lm\` run: ${from}`);
  const family = familyOf(from);
  const isCsv = extname(args.data).toLowerCase() === '.csv';
  const task: FinetuneResult['task'] = isCsv ? 'classification' : 'lm';
  if (family === 'bert' && task === 'lm') throw new ArgumentError(`${op}: ${args.from} is a BERT folder: pass a .csv of text,label to fine-tune it as a classifier`);
  if (family !== 'bert' && task === 'classification') throw new ArgumentError(`${op}: ${args.from} is a ${family === 'gpt' ? 'char GPT' : 'GPT-2'} folder: pass a text file to fine-tune it as a language model (classification CSVs go with BERT folders)`);
  const outDir = resolve(args.out ?? join('runs', `finetune-${timestamp()}`));
  mkdirSync(outDir, { recursive: true });
  manualSeed(args.seed);

  let labels: string[] = [];
  let all: TensorDataset;
  let charGpt: { config: CharGptConfig; tokenizer: CharTokenizer; dropped: number } | null = null;
  if (family === 'gpt') {
    charGpt = readCharGpt(from);
    const text = readText(`${op} --data`, args.data);
    const vocab = new Set(charGpt.tokenizer.chars);
    const known = [...text].filter((c) => vocab.has(c));
    charGpt.dropped = [...text].length - known.length;
    all = windowsOf(charGpt.tokenizer.encode(known.join('')), Math.min(args.blockSize, charGpt.config.blockSize), args.data);
  } else {
    const tokenizer = tokenizerFromPretrained(from);
    // No longer than the model's positions (n_positions, max_position_embeddings).
    const json = readPretrainedConfig(from, `${op} --from`);
    const positions = Number(json.n_positions ?? json.max_position_embeddings);
    const length = Number.isInteger(positions) && positions > 0 ? Math.min(args.blockSize, positions) : args.blockSize;
    if (task === 'lm') all = windowsOf(tokenizer.encode(readText(`${op} --data`, args.data)), length, args.data);
    else ({ ds: all, labels } = classificationData(tokenizer, args.data, length));
  }
  const { train: trainRows, val: valRows } = split(all.length, args.valSplit, args.seed);
  const trainSet = take(all, trainRows), valSet = take(all, valRows);

  // The model: the folder's weights, with a head sized to the labels for classification.
  let inner: Module;
  if (charGpt) {
    const model = new GPT(charGpt.config);
    const weights = load(join(from, 'model.safetensors'));
    try {
      model.loadStateDict(weights);
    } finally {
      for (const t of Object.values(weights)) t.dispose();
    }
    inner = model;
  } else if (family === 'gpt2') {
    inner = gpt2.fromPretrained(from, { architecture: 'GPT2LMHeadModel' });
  } else {
    const model = bert.fromPretrained(from, { head: 'sequenceClassification' });
    resizeHead(model as unknown as { classifier: Linear }, labels, model.config as unknown as { numLabels: number; id2label: Record<number, string>; initializerRange: number });
    inner = model;
  }
  const headName = 'classifier';
  if (args.lora !== undefined) {
    const targets = args.loraTargets ?? (family === 'bert' ? ['query', 'value'] : ['c_attn']);
    lora.apply(inner, {
      r: args.lora, loraAlpha: args.loraAlpha ?? 2 * args.lora, loraDropout: args.loraDropout, targetModules: targets,
      modulesToSave: task === 'classification' ? [headName] : null, fanInFanOut: family === 'gpt2',
      baseModelNameOrPath: args.from, taskType: task === 'lm' ? 'CAUSAL_LM' : 'SEQ_CLS',
    });
  } else if (args.freeze !== undefined) {
    inner.freeze(args.freeze);
    if (task === 'classification') inner.unfreeze(new RegExp(`^${headName}\\.`));
  }
  const model = task === 'lm' ? inner : new MaskedClassifier(inner);
  const loss = task === 'lm' ? lmLoss : (out: Tensor, y: Tensor) => crossEntropy(out, y);
  const metrics = task === 'classification' ? ['accuracy' as const] : [];

  const trainable = inner.numParameters(), total = inner.numParameters({ trainable: false });
  if (trainable === 0) throw new ArgumentError(`${op}: --freeze ${args.freeze} froze every parameter; nothing would train`);
  const batchesPerEpoch = Math.ceil(trainSet.length / args.batchSize);
  const stepsPerEpoch = Math.ceil(batchesPerEpoch / args.accumulation);
  const totalSteps = Math.min(args.steps ?? Infinity, stepsPerEpoch * args.epochs);
  const lr = args.lr ?? (args.lora !== undefined ? 2e-4 : 5e-5);
  const optimizer = new AdamW(weightDecayGroups(inner, { weightDecay: args.weightDecay }), { lr });
  const scheduler = new WarmupLinearLR(optimizer, { warmupSteps: Math.round(args.warmup * totalSteps), totalSteps });

  console.log(`kindling finetune: ${{ gpt: 'char GPT', gpt2: 'GPT-2', bert: 'BERT' }[family]} from ${args.from}, ${task === 'lm' ? 'causal language modelling' : `classification into ${labels.length} labels (${labels.join(', ')})`} on ${args.data}`);
  console.log(`  ${trainSet.length} training and ${valSet.length} validation ${task === 'lm' ? `windows of ${trainSet.tensors[0].shape[1]} tokens` : 'texts'}; ${args.lora !== undefined ? `LoRA r ${args.lora}` : args.freeze ? `full, frozen /${args.freeze}/` : 'full fine-tuning'}: ${trainable.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} parameters train`);
  console.log(`  AdamW lr ${lr}, weight decay ${args.weightDecay}, linear warm-up ${Math.round(args.warmup * totalSteps)} of ${totalSteps} steps, batch ${args.batchSize}${args.accumulation > 1 ? ` x ${args.accumulation} accumulated` : ''}, seed ${args.seed}, ${getNumThreads()} threads`);

  const measure = () => evaluate(model, { data: valSet, loss, metrics, batchSize: args.batchSize });
  const before = measure();
  if (charGpt?.dropped) console.log(`  (${charGpt.dropped} characters of ${args.data} are not in the model's vocabulary and were left out)`);
  console.log(`Before: ${describe(task, before)}`);

  const stepLosses: number[] = [];
  const deadline = args.minutes === undefined ? Infinity : performance.now() + args.minutes * 60_000;
  model.train();
  const history = await fit(model, {
    optimizer, loss, trainData: trainSet, valData: valSet, epochs: args.epochs, batchSize: args.batchSize, metrics, seed: args.seed,
    scheduler, accumulationSteps: args.accumulation, clipGradNorm: 1, maxSteps: args.steps,
    callbacks: [{
      onBatchEnd: (_batch, logs, state) => {
        stepLosses.push(logs.loss);
        if (performance.now() > deadline) state.stopTraining = true;
      },
    }],
  });
  const after = measure();
  console.log(`After:  ${describe(task, after)}`);

  // The run folder: the result, the history and the curves.
  const written: string[] = [];
  if (args.lora !== undefined) {
    lora.saveAdapter(inner, join(outDir, 'adapter'));
    written.push('adapter/ (peft: adapter_model.safetensors, adapter_config.json)');
  } else if (charGpt) {
    mkdirSync(join(outDir, 'model'), { recursive: true });
    save(inner.stateDict(), join(outDir, 'model', 'model.safetensors'), { ...loadMetadata(join(from, 'model.safetensors')), finetuned_on: args.data });
    written.push('model/ (model.safetensors, tokenizer.json: a `kindling lm` folder)');
  } else {
    (inner as unknown as { savePretrained(dir: string): void }).savePretrained(join(outDir, 'model'));
    written.push('model/ (config.json, model.safetensors)');
  }
  for (const name of ['tokenizer.json', 'tokenizer_config.json', 'vocab.json', 'merges.txt', 'vocab.txt', 'special_tokens_map.json']) {
    if (existsSync(join(from, name))) copyFileSync(join(from, name), join(outDir, args.lora !== undefined ? 'adapter' : 'model', name));
  }
  writeFileAtomic(join(outDir, 'history.json'), Buffer.from(historyToJson(history)), op);
  writeFileAtomic(join(outDir, 'curve.svg'), Buffer.from(historyCurveSvg(history, `Fine-tuning ${args.from}`)), op);
  const steps = stepLosses.map((_, i) => i + 1);
  writeFileAtomic(join(outDir, 'steps.svg'), Buffer.from(trainingCurveSvg({ epoch: steps, series: { loss: stepLosses } }, { title: 'Training loss per batch' })), op);
  writeFileAtomic(join(outDir, 'result.json'), Buffer.from(JSON.stringify({ task, from: args.from, data: args.data, labels, before, after, trainable, total, batches: stepLosses.length }, null, 1)), op);
  console.log(`Wrote ${outDir}/: ${written.join(', ')}, history.json, curve.svg, steps.svg, result.json`);
  optimizer.dispose();
  return { task, before, after, steps: Math.ceil(stepLosses.length / args.accumulation), trainable, total, outDir };
}
