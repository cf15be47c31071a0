// Pretrains a small BERT with the masked-LM objective on the shipped King James Bible and reports
// masked-token accuracy on chapters it never trained on, beside the accuracy of always guessing
// the most frequent token. The text is cut into verses; one chapter in 20 is held out (the same
// chapters bert_finetune.ts tests on). A byte-level BPE tokenizer with BERT's special tokens
// ([PAD] = 0, [CLS], [SEP], [MASK]) is trained on the training verses; each batch takes random
// windows of the token stream as [CLS] ... [SEP] and masks 15% of the tokens with
// kd.data.maskTokens (80% [MASK], 10% a random token, 10% kept; labels -100 elsewhere).
// With --save DIR the model is written as a Hugging Face folder (config.json +
// model.safetensors, which transformers' BertForMaskedLM.from_pretrained loads) plus the
// tokenizer (tokenizer.bpe.json) for bert_finetune.ts.
// Run: npm run build:ts && node dist/examples/bert_mlm.js [--steps 500] [--max-seconds 100]
//        [--hidden 64] [--layers 2] [--heads 4] [--seq 64] [--batch 32] [--vocab 512] [--lr 3e-3] [--save DIR]
// The defaults stop after 100 s; longer runs (say --steps 5000 --max-seconds 1800 --hidden 256) go much further.
// (In your own project, import * as kd from 'kindling'.)
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import * as kd from '../lib/index.js';
import type { BertForMaskedLM } from '../lib/models/bert.js';

export const SPECIAL_TOKENS = ['[PAD]', '[CLS]', '[SEP]', '[MASK]'];
export const [PAD, CLS, SEP, MASK] = [0, 1, 2, 3];
export const TOKENIZER_FILE = 'tokenizer.bpe.json';

export interface Verse {
  book: string;
  chapter: number;
  text: string;
  /** 0: Old Testament (Genesis .. Malachi), 1: New Testament (Matthew .. Revelation). */
  testament: 0 | 1;
  /** One chapter in 20 is held out from every training run of both examples. */
  heldOut: boolean;
}

/**
 * The verses of the shipped text. Its layout: a header line "Book chapter" ("1 Samuel 3",
 * "Song of Solomon 2") before each chapter, then one line per verse, "  <n> <text>"; the New
 * Testament starts at "Matthew 1".
 */
export function kjvVerses(text = kd.data.datasets.text()): Verse[] {
  const verses: Verse[] = [];
  let book = '', chapter = 0, chapterIndex = -1, testament: 0 | 1 = 0;
  for (const line of text.split('\n')) {
    const header = /^(\S.*) (\d+)$/.exec(line);
    if (header) {
      [book, chapter] = [header[1], Number(header[2])];
      if (book === 'Matthew') testament = 1;
      chapterIndex++;
      continue;
    }
    const verse = /^\s+\d+ (.+)$/.exec(line);
    if (verse && chapterIndex >= 0) verses.push({ book, chapter, text: verse[1], testament, heldOut: chapterIndex % 20 === 7 });
  }
  return verses;
}

export interface MlmOptions {
  steps?: number;
  /** Stop training after this many seconds even when steps remain. */
  maxSeconds?: number;
  hiddenSize?: number;
  numLayers?: number;
  numHeads?: number;
  /** Tokens per sequence, [CLS] and [SEP] included. */
  seqLen?: number;
  batchSize?: number;
  /** BPE vocabulary, the 4 special tokens and 256 bytes included. */
  vocabSize?: number;
  lr?: number;
  /** Held-out sequences the accuracy is measured on. */
  evalSequences?: number;
  /** Characters of training text the tokenizer is trained on. */
  tokenizerChars?: number;
  seed?: number;
  /** Write the model (Hugging Face folder) and the tokenizer here. */
  save?: string;
  log?: (line: string) => void;
}

export interface MlmResult {
  model: BertForMaskedLM;
  tokenizer: kd.text.BpeTokenizer;
  /** Fraction of held-out masked positions whose original token is the model's top guess. */
  maskedAccuracy: number;
  /** The same for always guessing the most frequent training token. */
  baselineAccuracy: number;
  heldOutLoss: number;
  steps: number;
  seconds: number;
}

/** [CLS] window [SEP] rows of `seqLen` tokens from random starts in `stream`. */
function randomWindows(stream: Int32Array, count: number, seqLen: number, gen: kd.Generator): number[][] {
  const width = seqLen - 2;
  return Array.from({ length: count }, () => {
    const start = gen.nextInt(stream.length - width);
    return [CLS, ...stream.subarray(start, start + width), SEP];
  });
}

/** The BPE tokenizer with BERT's special tokens, trained on the start of the training verses. */
export function trainTokenizer(trainText: string, vocabSize: number, chars: number): kd.text.BpeTokenizer {
  return kd.text.BpeTokenizer.train(trainText.slice(0, chars), { vocabSize, specialTokens: SPECIAL_TOKENS });
}

export async function pretrainMlm(options: MlmOptions = {}): Promise<MlmResult> {
  const {
    steps = 500, maxSeconds = 100, hiddenSize = 64, numLayers = 2, numHeads = 4, seqLen = 64, batchSize = 32,
    vocabSize = 512, lr = 3e-3, evalSequences = 256, tokenizerChars = 1_000_000, seed = 0, save, log = console.log,
  } = options;
  kd.manualSeed(seed);
  const verses = kjvVerses();
  const joined = (held: boolean) => verses.filter((v) => v.heldOut === held).map((v) => `${v.text}\n`).join('');
  const trainText = joined(false), testText = joined(true);
  const tokenizer = trainTokenizer(trainText, vocabSize, tokenizerChars);
  const trainIds = Int32Array.from(tokenizer.encode(trainText)), testIds = Int32Array.from(tokenizer.encode(testText));
  log(`${verses.length} verses: ${trainIds.length} training tokens, ${testIds.length} held-out tokens (vocabulary ${vocabSize})`);

  const model = kd.models.bert({
    vocabSize, hiddenSize, numHiddenLayers: numLayers, numAttentionHeads: numHeads, intermediateSize: 4 * hiddenSize,
    maxPositionEmbeddings: seqLen, padTokenId: PAD,
  });
  const optimizer = new kd.optim.AdamW(model.parameters(), { lr, weightDecay: 0.01 });
  const warmup = Math.max(1, Math.min(20, Math.floor(steps / 10)));
  const schedule = new kd.optim.lrScheduler.LambdaLR(optimizer, (s) => Math.min((s + 1) / warmup, Math.max(0.1, 1 - s / steps)));
  const batches = new kd.Generator(seed, 1), masking = new kd.Generator(seed, 2);
  const maskOptions = { maskTokenId: MASK, vocabSize, specialTokenIds: [PAD, CLS, SEP, MASK] };

  const started = Date.now();
  let step = 0;
  model.train();
  while (step < steps && (Date.now() - started) / 1000 < maxSeconds) {
    const loss = kd.tidy(() => {
      const { inputIds, labels } = kd.data.maskTokens(randomWindows(trainIds, batchSize, seqLen, batches), { ...maskOptions, generator: masking });
      optimizer.zeroGrad();
      const l = model.maskedLmLoss(model.forward(inputIds), labels);
      l.backward();
      optimizer.step();
      return l.item();
    });
    schedule.step();
    step++;
    if (step % 50 === 0 || step === 1) log(`step ${step}: masked-LM loss ${loss.toFixed(3)} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }
  const seconds = (Date.now() - started) / 1000;

  // Held-out: fixed windows and a fixed masking, scored against the most-frequent-token guess.
  model.eval();
  const counts = new Map<number, number>();
  for (const id of trainIds) counts.set(id, (counts.get(id) ?? 0) + 1);
  const mostFrequent = [...counts].sort((a, b) => b[1] - a[1])[0][0];
  const { inputIds, labels } = kd.data.maskTokens(randomWindows(testIds, evalSequences, seqLen, new kd.Generator(seed, 3)), { ...maskOptions, generator: new kd.Generator(seed, 4) });
  const { correct, baseline, total, heldOutLoss } = kd.noGrad(() => kd.tidy(() => {
    const logits = model.forward(inputIds);
    const guess = Array.from(logits.argmax(-1).data() as Int32Array), truth = Array.from(labels.data() as Int32Array);
    let c = 0, b = 0, n = 0;
    truth.forEach((t, i) => {
      if (t === -100) return;
      n++;
      if (guess[i] === t) c++;
      if (mostFrequent === t) b++;
    });
    return { correct: c, baseline: b, total: n, heldOutLoss: model.maskedLmLoss(logits, labels).item() };
  }));
  const result: MlmResult = { model, tokenizer, maskedAccuracy: correct / total, baselineAccuracy: baseline / total, heldOutLoss, steps: step, seconds };
  log(`held-out masked-token accuracy ${(100 * result.maskedAccuracy).toFixed(1)}% over ${total} masked tokens ` +
    `(most frequent token: ${(100 * result.baselineAccuracy).toFixed(1)}%), loss ${heldOutLoss.toFixed(3)}, after ${step} steps in ${seconds.toFixed(0)} s`);
  if (save) {
    model.savePretrained(save);
    tokenizer.save(join(save, TOKENIZER_FILE));
    log(`saved the pretrained model and tokenizer to ${save}`);
  }
  return result;
}

/** --name value pairs of the command line. */
export function parseFlags(argv: string[], known: string[]): Record<string, string> {
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i]?.replace(/^--/, '');
    if (!argv[i]?.startsWith('--') || !known.includes(name) || argv[i + 1] === undefined) {
      throw new kd.ArgumentError(`unknown or incomplete flag '${argv[i]}' (known: ${known.map((k) => `--${k} VALUE`).join(', ')})`);
    }
    flags[name] = argv[i + 1];
  }
  return flags;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const f = parseFlags(process.argv.slice(2), ['steps', 'max-seconds', 'hidden', 'layers', 'heads', 'seq', 'batch', 'vocab', 'lr', 'save', 'seed']);
  const num = (k: string) => (f[k] === undefined ? undefined : Number(f[k]));
  await pretrainMlm({
    steps: num('steps'), maxSeconds: num('max-seconds'), hiddenSize: num('hidden'), numLayers: num('layers'), numHeads: num('heads'),
    seqLen: num('seq'), batchSize: num('batch'), vocabSize: num('vocab'), lr: num('lr'), seed: num('seed'), save: f.save,
  });
}
