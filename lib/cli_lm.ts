// `kindling lm`: pretrains a character-level GPT (kd.models.gpt, kd.text.CharTokenizer) on the
// shipped King James Bible, the last 10% of it held out for validation. Trains for --steps or for
// --minutes (whichever ends first), with a progress bar per evaluation interval, writes the
// model, the tokenizer, history.json and an SVG loss curve into --out, and prints a sample.
import { join, resolve } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';

import { noGrad } from './autograd/grad_mode.js';
import { checkOutDirWritable, fraction, nonNegativeInt, positiveInt, positiveNumber } from './cli.js';
import { TokenWindows, text as shippedText } from './data/text.js';
import { ArgumentError } from './errors.js';
import { writeFileAtomic } from './io/files.js';
import { save } from './io/index.js';
import { GPT } from './models/gpt.js';
import { AdamW } from './optim/adam.js';
import { clipGradNorm } from './optim/clip.js';
import { Generator, manualSeed } from './random.js';
import { cpuIsa, getNumThreads, setNumThreads } from './runtime.js';
import { tidy } from './scope.js';
import type { Tensor } from './tensor.js';
import { CharTokenizer } from './text/char.js';
import { trainingCurveSvg } from './train/plot.js';
import { EpochProgress } from './train/progress.js';

export interface LmArgs {
  /** Wall-clock training budget; training also stops at --steps. */
  minutes: number;
  steps?: number;
  layers: number;
  heads: number;
  embd: number;
  blockSize: number;
  batchSize: number;
  lr: number;
  /** Steps of linear warm-up before the cosine decay. */
  warmup: number;
  weightDecay: number;
  dropout: number;
  /** Steps between validation-loss measurements. */
  evalInterval: number;
  /** Batches averaged for each validation loss. */
  evalBatches: number;
  threads?: number;
  seed: number;
  out?: string;
  /** Characters sampled at the end. */
  sampleLength: number;
  prompt: string;
  temperature: number;
  topK?: number;
  /** Where the summary lines go (default stdout). */
  write?: (line: string) => void;
}

// The defaults, measured as README says: a 4-layer 256-wide char GPT over 128-character windows,
// batch 16, AdamW lr 2e-3 with warm-up and cosine decay to a tenth.
export const LM_DEFAULTS = {
  minutes: 5, layers: 4, heads: 4, embd: 256, blockSize: 128, batchSize: 16, lr: 2e-3, warmup: 100, weightDecay: 0.1,
  dropout: 0, evalInterval: 100, evalBatches: 8, seed: 1, sampleLength: 400, prompt: 'And God said', temperature: 0.8,
};

export interface LmResult {
  outDir: string;
  steps: number;
  tokens: number;
  seconds: number;
  valLoss: number;
  sample: string;
}

function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number >= 0.');
  return n;
}

/** Adds `lm` to the kindling program; `run` is what it does with the parsed options. */
export function addLmCommand(program: Command, run: (args: LmArgs) => Promise<unknown> | unknown = runLm): Command {
  const d = LM_DEFAULTS;
  return program
    .command('lm')
    .description('Pretrain a character-level GPT on the shipped King James Bible, then sample from it.')
    .option('--minutes <x>', 'training time budget in minutes', positiveNumber, d.minutes)
    .option('--steps <n>', 'stop after this many steps (default: when --minutes is up)', positiveInt)
    .option('--layers <n>', 'Transformer blocks', positiveInt, d.layers)
    .option('--heads <n>', 'attention heads', positiveInt, d.heads)
    .option('--embd <n>', 'model width (a multiple of --heads)', positiveInt, d.embd)
    .option('--block-size <n>', 'context length in characters', positiveInt, d.blockSize)
    .option('--batch-size <n>', 'sequences per step', positiveInt, d.batchSize)
    .option('--lr <x>', 'peak AdamW learning rate', positiveNumber, d.lr)
    .option('--warmup <n>', 'steps of linear warm-up', nonNegativeInt, d.warmup)
    .option('--weight-decay <x>', 'AdamW weight decay (matrices only)', nonNegativeNumber, d.weightDecay)
    .option('--dropout <p>', 'dropout', fraction, d.dropout)
    .option('--eval-interval <n>', 'steps between validation losses', positiveInt, d.evalInterval)
    .option('--eval-batches <n>', 'batches per validation loss', positiveInt, d.evalBatches)
    .option('--threads <n>', 'CPU threads (default: KINDLING_NUM_THREADS or the core count)', positiveInt)
    .option('--seed <n>', 'seed for initialisation, batches and sampling', nonNegativeInt, d.seed)
    .option('--out <dir>', 'folder for model.safetensors, tokenizer.json, history.json and curve.svg (default: runs/<timestamp>)')
    .option('--sample-length <n>', 'characters to sample at the end', nonNegativeInt, d.sampleLength)
    .option('--prompt <text>', 'the sample\'s prompt', d.prompt)
    .option('--temperature <x>', 'sampling temperature (0: greedy)', nonNegativeNumber, d.temperature)
    .option('--top-k <n>', 'sample among the k most likely characters', positiveInt)
    .action(async (opts: LmArgs) => {
      await run(opts);
    });
}

function timestamp(): string {
  return new Date().toISOString().replace(/:/g, '-').replace(/\..*$/, '');
}

/** Warm-up then cosine decay to a tenth of the peak, over `progress` in [0, 1] of the run. */
export function lrAt(step: number, progress: number, peak: number, warmup: number): number {
  if (step < warmup) return (peak * (step + 1)) / warmup;
  const p = Math.min(1, Math.max(0, progress));
  return peak * (0.1 + 0.45 * (1 + Math.cos(Math.PI * p)));
}

/** `kindling lm`: trains, writes the run folder, prints and returns a sample. */
export async function runLm(args: LmArgs): Promise<LmResult> {
  const a = { ...LM_DEFAULTS, ...Object.fromEntries(Object.entries(args).filter(([, v]) => v !== undefined)) } as LmArgs;
  const write = a.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  if (a.embd % a.heads !== 0) throw new ArgumentError(`kindling lm: --embd ${a.embd} must be a multiple of --heads ${a.heads}`);
  if (a.threads !== undefined) setNumThreads(a.threads);
  const outDir = resolve(a.out ?? join('runs', timestamp()));
  checkOutDirWritable(outDir, 'kindling lm --out', ['model.safetensors', 'tokenizer.json', 'history.json', 'curve.svg']);
  manualSeed(a.seed);

  const corpus = shippedText('kjv');
  const tokenizer = CharTokenizer.fromText(corpus);
  const ids = Int32Array.from(tokenizer.encode(corpus));
  const split = Math.floor(ids.length * 0.9);
  // Every window start is a sample (stride 1); batches draw random starts.
  const train = new TokenWindows(ids.subarray(0, split), a.blockSize, { stride: 1 }), val = new TokenWindows(ids.subarray(split), a.blockSize, { stride: 1 });
  const model = new GPT({ vocabSize: tokenizer.vocabSize, blockSize: a.blockSize, nLayer: a.layers, nHead: a.heads, nEmbd: a.embd, dropout: a.dropout });
  // As nanoGPT: weight decay on the matrices (Linear weights, embeddings), none on biases and LayerNorms.
  const params = [...model.namedParameters()];
  const optimizer = new AdamW([
    { params: params.filter(([, p]) => p.ndim >= 2).map(([, p]) => p), weightDecay: a.weightDecay },
    { params: params.filter(([, p]) => p.ndim < 2).map(([, p]) => p), weightDecay: 0 },
  ], { lr: a.lr, betas: [0.9, 0.99] });
  const rng = new Generator(a.seed, 1);
  const randomStarts = (data: TokenWindows, n: number, g: Generator) => Int32Array.from({ length: n }, () => g.nextInt(data.length));
  // The validation batches are fixed, so successive validation losses compare like with like.
  const valStarts = Array.from({ length: a.evalBatches }, (_, i) => randomStarts(val, a.batchSize, new Generator(a.seed + 1000, i)));

  write(`kindling lm: char GPT on the King James Bible (${train.ids.length.toLocaleString('en-US')} training, ${val.ids.length.toLocaleString('en-US')} validation characters, vocabulary ${tokenizer.vocabSize})`);
  write(`  ${a.layers} layers, ${a.heads} heads, width ${a.embd}, context ${a.blockSize}, ${model.numParameters().toLocaleString('en-US')} parameters; batch ${a.batchSize}, AdamW lr ${a.lr} (warm-up ${a.warmup}, cosine), weight decay ${a.weightDecay}, dropout ${a.dropout}`);
  write(`  budget ${a.steps !== undefined ? `${a.steps} steps or ` : ''}${a.minutes} min, ${getNumThreads()} threads (${cpuIsa()}), seed ${a.seed}\n`);

  const validationLoss = () => noGrad(() => {
    model.eval();
    let sum = 0;
    for (const starts of valStarts) sum += tidy(() => model.forward(...(val.getBatch(starts) as [Tensor, Tensor])).loss.item());
    model.train();
    return sum / valStarts.length;
  });

  const budgetMs = a.minutes * 60_000, maxSteps = a.steps ?? Infinity;
  const history = { step: [] as number[], tokens: [] as number[], seconds: [] as number[], loss: [] as number[], val_loss: [] as number[], lr: [] as number[] };
  const started = performance.now();
  const progressOf = (step: number) => Math.max(step / maxSteps, (performance.now() - started) / budgetMs);
  const intervals = Number.isFinite(maxSteps) ? Math.ceil(maxSteps / a.evalInterval) : 0;
  let step = 0;
  while (step < maxSteps && performance.now() - started < budgetMs) {
    const intervalStart = performance.now(), firstStep = step;
    const planned = Math.min(a.evalInterval, maxSteps - step);
    // The line names the steps it covers; a time budget has no fixed number of intervals.
    const prefix = `Steps ${step + 1}-${step + planned}${intervals ? ` of ${maxSteps}` : ''}`;
    const progress = new EpochProgress({ epoch: history.step.length + 1, epochs: intervals || history.step.length + 1, batches: planned, enabled: true, write, prefix });
    let lossSum = 0, lr = a.lr;
    try {
      while (step - firstStep < planned && performance.now() - started < budgetMs) {
        lr = lrAt(step, progressOf(step), a.lr, a.warmup);
        for (const g of optimizer.paramGroups) g.lr = lr;
        lossSum += tidy(() => {
          optimizer.zeroGrad();
          const { loss } = model.forward(...(train.getBatch(randomStarts(train, a.batchSize, rng)) as [Tensor, Tensor]));
          loss.backward();
          clipGradNorm(model.parameters(), 1);
          optimizer.step();
          return loss.item();
        });
        step++;
        progress.update(step - firstStep, (step - firstStep) * a.batchSize, { loss: lossSum / (step - firstStep) });
      }
    } finally {
      progress.stop();
    }
    const intervalSeconds = (performance.now() - intervalStart) / 1000, done = step - firstStep;
    const valLoss = validationLoss();
    const logs = { loss: lossSum / done, val_loss: valLoss, lr };
    history.step.push(step);
    history.tokens.push(step * a.batchSize * a.blockSize);
    history.seconds.push((performance.now() - started) / 1000);
    history.loss.push(logs.loss);
    history.val_loss.push(valLoss);
    history.lr.push(lr);
    progress.summary(logs, intervalSeconds, (done * a.batchSize) / intervalSeconds);
  }
  const seconds = (performance.now() - started) / 1000;
  const tokens = step * a.batchSize * a.blockSize;
  optimizer.dispose();

  const config = { vocabSize: tokenizer.vocabSize, blockSize: a.blockSize, nLayer: a.layers, nHead: a.heads, nEmbd: a.embd };
  save(model.stateDict(), join(outDir, 'model.safetensors'), { config: JSON.stringify(config), steps: String(step) });
  tokenizer.save(join(outDir, 'tokenizer.json'));
  writeFileAtomic(join(outDir, 'history.json'), Buffer.from(JSON.stringify({ config, args: { ...a, write: undefined }, history }, null, 1)), 'kindling lm');
  writeFileAtomic(join(outDir, 'curve.svg'), Buffer.from(trainingCurveSvg({ epoch: history.step, series: { loss: history.loss, val_loss: history.val_loss } },
    { title: `char GPT on the King James Bible (${a.layers}x${a.embd})`, xLabel: 'step' })), 'kindling lm');

  const prompt = [...a.prompt].filter((c) => tokenizer.chars.includes(c)).join('') || '\n';
  const sample = tokenizer.decode(model.generate(tokenizer.encode(prompt), { maxNewTokens: a.sampleLength, temperature: a.temperature, topK: a.topK, seed: a.seed }));
  const valLoss = history.val_loss.at(-1) ?? NaN;
  write(`\n${step} steps, ${tokens.toLocaleString('en-US')} tokens in ${seconds.toFixed(0)} s (${Math.round(tokens / seconds)} tokens/s); validation loss ${valLoss.toFixed(3)} nats/char`);
  write(`Sample (temperature ${a.temperature}${a.topK ? `, top-k ${a.topK}` : ''}):\n${sample}\n`);
  write(`Wrote ${outDir}/ (model.safetensors, tokenizer.json, history.json, curve.svg)`);
  return { outDir, steps: step, tokens, seconds, valLoss, sample };
}
