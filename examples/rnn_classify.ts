// A GRU sequence classifier on a task that needs memory: each sequence (length 8 to 40) is noise
// symbols with digits mixed in, and its label is the digit that appeared FIRST, often dozens of
// steps before the end. Sequences of different lengths share a batch as a PackedSequence
// (kd.nn.utils.rnn.packPaddedSequence with enforceSorted false), so the GRU's final state for
// each is the one at its own last real step; a linear head reads it. Reports test accuracy
// (chance is 1 / --classes; the defaults reach 100% in 400 steps). The PyTorch original:
//   packed = pack_padded_sequence(emb(x), lengths, batch_first=True, enforce_sorted=False)
//   _, h = gru(packed); logits = head(h[-1])
// Run: npm run build:ts && node dist/examples/rnn_classify.js [--steps 400] [--hidden 64]
//   [--classes 5] [--maxLen 40] [--batch 32] [--lr 0.005]
// (In your own project, import * as kd from 'kindling'.)
import { parseArgs } from 'node:util';

import * as kd from '../lib/index.js';
import type { Tensor } from '../lib/index.js';

const { nn } = kd;
const F = kd.nn.functional;
const { packPaddedSequence } = kd.nn.utils.rnn;
const { values: flags } = parseArgs({
  options: {
    steps: { type: 'string', default: '400' },
    hidden: { type: 'string', default: '64' },
    classes: { type: 'string', default: '5' },
    maxLen: { type: 'string', default: '40' },
    batch: { type: 'string', default: '32' },
    lr: { type: 'string', default: '0.005' },
    test: { type: 'string', default: '512' },
    seed: { type: 'string', default: '0' },
  },
});
const steps = Number(flags.steps), hidden = Number(flags.hidden), classes = Number(flags.classes);
const maxLen = Number(flags.maxLen), batch = Number(flags.batch);
const seed = Number(flags.seed);
kd.manualSeed(seed);
const NOISE = 10; // ids 0..9 are noise symbols, 10 + d is digit d
const vocab = NOISE + classes;

/**
 * n sequences as padded ids [n, maxLen] (noise 0..9, digit d as 10 + d), their lengths and labels.
 * The first digit comes within the first half; after it, a third of the symbols are digits.
 */
function makeSet(n: number, gen: kd.Generator): { ids: Int32Array; lengths: number[]; labels: Int32Array } {
  const ids = new Int32Array(n * maxLen), labels = new Int32Array(n), lengths: number[] = [];
  for (let i = 0; i < n; i++) {
    const len = 8 + gen.nextInt(maxLen - 7);
    const first = gen.nextInt(Math.floor(len / 2));
    labels[i] = gen.nextInt(classes);
    for (let t = 0; t < len; t++) {
      let id: number;
      if (t < first) id = gen.nextInt(NOISE);
      else if (t === first) id = NOISE + labels[i];
      else id = gen.nextUniform() < 1 / 3 ? NOISE + gen.nextInt(classes) : gen.nextInt(NOISE);
      ids[i * maxLen + t] = id;
    }
    lengths.push(len);
  }
  return { ids, lengths, labels };
}

class FirstDigitClassifier extends nn.Module {
  embed: kd.nn.Embedding;
  gru: kd.nn.GRU;
  head: kd.nn.Linear;

  constructor() {
    super();
    this.embed = new nn.Embedding(vocab, 16);
    this.gru = new nn.GRU(16, hidden, { batchFirst: true });
    this.head = new nn.Linear(hidden, classes);
  }

  /** ids [B, maxLen] padded, lengths [B] -> logits [B, classes]. */
  forward(ids: Tensor, lengths: number[]): Tensor {
    const packed = packPaddedSequence(this.embed.forward(ids), lengths, { batchFirst: true, enforceSorted: false });
    const [, h] = this.gru.forward(packed);
    return this.head.forward(h.select(0, 0));
  }
}

// The data set is the same every run: its own seeded generator, apart from the model's.
const gen = new kd.Generator(seed + 1);
const train = makeSet(steps * batch, gen);
const test = makeSet(Number(flags.test), gen);
const rows = (set: ReturnType<typeof makeSet>, from: number, count: number) => ({
  ids: kd.tensor(set.ids.subarray(from * maxLen, (from + count) * maxLen), { dtype: 'int32' }).reshape([count, maxLen]),
  lengths: set.lengths.slice(from, from + count),
  labels: kd.tensor(set.labels.subarray(from, from + count), { dtype: 'int32' }),
});

const model = new FirstDigitClassifier();
const optimizer = new kd.optim.Adam(model.parameters(), { lr: Number(flags.lr) });
console.log(`first-digit task: ${classes} classes, lengths 8..${maxLen}, GRU hidden ${hidden}, ${steps} steps of ${batch}`);
const t0 = performance.now();
let smoothed = 0;
for (let step = 0; step < steps; step++) {
  const loss = kd.tidy(() => {
    const b = rows(train, step * batch, batch);
    optimizer.zeroGrad();
    const l = F.crossEntropy(model.forward(b.ids, b.lengths), b.labels);
    l.backward();
    optimizer.step();
    return l.item();
  });
  smoothed = step === 0 ? loss : 0.95 * smoothed + 0.05 * loss;
  if ((step + 1) % 100 === 0 || step + 1 === steps) {
    console.log(`step ${step + 1}: loss ${smoothed.toFixed(3)} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
}

model.eval();
const correct = kd.noGrad(() => kd.tidy(() => {
  const b = rows(test, 0, test.labels.length);
  return model.forward(b.ids, b.lengths).argmax(1).eq(b.labels).sum().item();
}));
console.log(`test accuracy ${(100 * correct / test.labels.length).toFixed(1)}% (${correct}/${test.labels.length}; chance ${(100 / classes).toFixed(1)}%)`);
