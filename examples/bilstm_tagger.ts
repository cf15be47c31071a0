// A bidirectional LSTM tagger: every token of a generated sentence gets a label that depends on
// both of its neighbours — 0 when the token before it is smaller than the token after it, 1 when
// they are equal, 2 when it is larger (a missing neighbour counts as 0) — so a left-to-right
// model can only guess, while nn.LSTM with bidirectional: true sees both sides. Sentences of
// different lengths share a batch as a PackedSequence; padPackedSequence turns the output back to
// [B, T, 2 * hidden] and padded positions are ignored by the loss (ignoreIndex -100). Reports
// per-token test accuracy: 100% after the default 300 steps, 68% with --unidirectional. The PyTorch
// original:
//   out, _ = lstm(pack_padded_sequence(emb(x), lengths, batch_first=True, enforce_sorted=False))
//   out, _ = pad_packed_sequence(out, batch_first=True); logits = head(out)
// Run: npm run build:ts && node dist/examples/bilstm_tagger.js [--steps 300] [--hidden 32]
//   [--vocab 6] [--maxLen 24] [--batch 32] [--lr 0.01] [--unidirectional] (to see a one-way LSTM fall short)
// (In your own project, import * as kd from 'kindling'.)
import { parseArgs } from 'node:util';

import * as kd from '../lib/index.js';
import type { Tensor } from '../lib/index.js';

const { nn } = kd;
const F = kd.nn.functional;
const { packPaddedSequence, padPackedSequence } = kd.nn.utils.rnn;
const { values: flags } = parseArgs({
  options: {
    steps: { type: 'string', default: '300' },
    hidden: { type: 'string', default: '32' },
    vocab: { type: 'string', default: '6' },
    maxLen: { type: 'string', default: '24' },
    batch: { type: 'string', default: '32' },
    lr: { type: 'string', default: '0.01' },
    test: { type: 'string', default: '256' },
    seed: { type: 'string', default: '0' },
    unidirectional: { type: 'boolean', default: false },
  },
});
const steps = Number(flags.steps), hidden = Number(flags.hidden), vocab = Number(flags.vocab);
const maxLen = Number(flags.maxLen), batch = Number(flags.batch), seed = Number(flags.seed);
const directions = flags.unidirectional ? 1 : 2;
kd.manualSeed(seed);
const IGNORE = -100;

/** n sentences of tokens 1..vocab as padded ids [n, maxLen], their lengths and tags (-100 past the end). */
function makeSet(n: number, gen: kd.Generator): { ids: Int32Array; lengths: number[]; tags: Int32Array } {
  const ids = new Int32Array(n * maxLen), tags = new Int32Array(n * maxLen).fill(IGNORE), lengths: number[] = [];
  for (let i = 0; i < n; i++) {
    const len = 4 + gen.nextInt(maxLen - 3);
    const row = i * maxLen;
    for (let t = 0; t < len; t++) ids[row + t] = 1 + gen.nextInt(vocab);
    for (let t = 0; t < len; t++) {
      const before = t > 0 ? ids[row + t - 1] : 0, after = t + 1 < len ? ids[row + t + 1] : 0;
      tags[row + t] = before < after ? 0 : before === after ? 1 : 2;
    }
    lengths.push(len);
  }
  return { ids, lengths, tags };
}

class Tagger extends nn.Module {
  embed: kd.nn.Embedding;
  lstm: kd.nn.LSTM;
  head: kd.nn.Linear;

  constructor() {
    super();
    this.embed = new nn.Embedding(vocab + 1, 16);
    this.lstm = new nn.LSTM(16, hidden, { batchFirst: true, bidirectional: directions === 2 });
    this.head = new nn.Linear(directions * hidden, 3);
  }

  /** ids [B, maxLen] padded, lengths [B] -> logits [B, maxLen, 3]. */
  forward(ids: Tensor, lengths: number[]): Tensor {
    const packed = packPaddedSequence(this.embed.forward(ids), lengths, { batchFirst: true, enforceSorted: false });
    const [out] = this.lstm.forward(packed);
    const [padded] = padPackedSequence(out, { batchFirst: true, totalLength: ids.shape[1] });
    return this.head.forward(padded);
  }
}

// The data set is the same every run: its own seeded generator, apart from the model's.
const gen = new kd.Generator(seed + 1);
const train = makeSet(steps * batch, gen);
const test = makeSet(Number(flags.test), gen);
const rows = (set: ReturnType<typeof makeSet>, from: number, count: number) => ({
  ids: kd.tensor(set.ids.subarray(from * maxLen, (from + count) * maxLen), { dtype: 'int32' }).reshape([count, maxLen]),
  lengths: set.lengths.slice(from, from + count),
  tags: kd.tensor(set.tags.subarray(from * maxLen, (from + count) * maxLen), { dtype: 'int32' }),
});

const model = new Tagger();
const optimizer = new kd.optim.Adam(model.parameters(), { lr: Number(flags.lr) });
console.log(`neighbour tagging: tokens 1..${vocab}, lengths 4..${maxLen}, ${directions === 2 ? 'bidirectional' : 'one-way'} LSTM hidden ${hidden}, ${steps} steps of ${batch}`);
const t0 = performance.now();
let smoothed = 0;
for (let step = 0; step < steps; step++) {
  const loss = kd.tidy(() => {
    const b = rows(train, step * batch, batch);
    optimizer.zeroGrad();
    const l = F.crossEntropy(model.forward(b.ids, b.lengths).reshape([-1, 3]), b.tags, { ignoreIndex: IGNORE });
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
const { correct, tokens } = kd.noGrad(() => kd.tidy(() => {
  const b = rows(test, 0, test.lengths.length);
  const predicted = model.forward(b.ids, b.lengths).argmax(2).reshape([-1]).data() as Int32Array;
  let right = 0, count = 0;
  test.tags.forEach((tag, i) => {
    if (tag === IGNORE) return;
    count++;
    if (predicted[i] === tag) right++;
  });
  return { correct: right, tokens: count };
}));
console.log(`per-token test accuracy ${(100 * correct / tokens).toFixed(1)}% (${correct}/${tokens} tokens)`);
