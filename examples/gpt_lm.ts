// A character-level GPT pretrained on the King James Bible that ships with kindling, then sampled.
// The nanoGPT recipe: one id per character, random 128-character windows, AdamW with weight decay
// on the matrices, a linear warm-up then cosine decay, gradients clipped to norm 1. By default it
// trains a small model for 300 steps (a minute or two on 2 cores, validation loss near 2.0);
// `--steps 3000 --embd 256 --layers 4` gets to real words (or run `npx kindling lm --minutes 5`).
// Run: npm run build:ts && node dist/examples/gpt_lm.js [--steps N] [--layers N] [--embd N] [--threads N]
// (In your own project, import * as kd from 'kindling'.)
import { parseArgs } from 'node:util';

import * as kd from '../lib/index.js';

const { values: flags } = parseArgs({
  options: {
    steps: { type: 'string', default: '300' },
    layers: { type: 'string', default: '2' },
    embd: { type: 'string', default: '128' },
    threads: { type: 'string' },
  },
});
if (flags.threads) kd.setNumThreads(Number(flags.threads));
const steps = Number(flags.steps), blockSize = 128, batchSize = 16, peakLr = 2e-3, warmup = Math.min(100, steps / 10);
kd.manualSeed(0);

// The corpus as character ids; the last 10% is held out.
const corpus = kd.data.datasets.text();
const tokenizer = kd.text.CharTokenizer.fromText(corpus);
const ids = Int32Array.from(tokenizer.encode(corpus));
const cut = Math.floor(0.9 * ids.length);
const train = new kd.data.TokenWindows(ids.subarray(0, cut), blockSize, { stride: 1 });
const val = new kd.data.TokenWindows(ids.subarray(cut), blockSize, { stride: 1 });
const rng = new kd.Generator(0);
const batchOf = (windows: kd.data.TokenWindows) => windows.getBatch(Int32Array.from({ length: batchSize }, () => rng.nextInt(windows.length)));

const model = kd.models.gpt({ vocabSize: tokenizer.vocabSize, blockSize, nLayer: Number(flags.layers), nHead: 4, nEmbd: Number(flags.embd) });
const matrices = model.parameters().filter((p) => p.ndim >= 2), vectors = model.parameters().filter((p) => p.ndim < 2);
const optimizer = new kd.optim.AdamW([{ params: matrices, weightDecay: 0.1 }, { params: vectors, weightDecay: 0 }], { lr: peakLr, betas: [0.9, 0.99] });
console.log(`char GPT: ${model.numParameters().toLocaleString('en-US')} parameters, vocabulary ${tokenizer.vocabSize}, ${steps} steps of ${batchSize}x${blockSize} characters`);

const started = performance.now();
for (let step = 0; step < steps; step++) {
  const lr = step < warmup ? (peakLr * (step + 1)) / warmup : peakLr * (0.1 + 0.45 * (1 + Math.cos((Math.PI * (step - warmup)) / (steps - warmup))));
  for (const group of optimizer.paramGroups) group.lr = lr;
  const loss = kd.tidy(() => {
    optimizer.zeroGrad();
    const [x, y] = batchOf(train);
    const { loss } = model.forward(x, y);
    loss.backward();
    kd.optim.clipGradNorm(model.parameters(), 1);
    optimizer.step();
    return loss.item();
  });
  if ((step + 1) % 100 === 0 || step === steps - 1) {
    model.eval();
    const valLoss = kd.noGrad(() => kd.tidy(() => {
      let sum = 0;
      for (let i = 0; i < 4; i++) sum += model.forward(...(batchOf(val) as [kd.Tensor, kd.Tensor])).loss.item();
      return sum / 4;
    }));
    model.train();
    const seconds = (performance.now() - started) / 1000;
    console.log(`step ${step + 1}: train loss ${loss.toFixed(3)}, validation loss ${valLoss.toFixed(3)} nats/char, ${Math.round(((step + 1) * batchSize * blockSize) / seconds)} tokens/s`);
  }
}

// Sampling runs the prompt once, then one new position per character against the key/value cache.
const prompt = 'And the LORD said';
const out = model.generate(tokenizer.encode(prompt), { maxNewTokens: 300, temperature: 0.8, topK: 20, seed: 1 });
console.log(`\n${tokenizer.decode(out)}`);
