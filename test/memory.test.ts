import { beforeEach, describe, expect, it, vi } from 'vitest';

import { cpuBackend } from '../lib/backend/cpu.js';
import { liveStorageCount } from '../lib/backend/storage.js';
import * as kd from '../lib/index.js';
import { resetMemoryWatch } from '../lib/memory.js';
import { settledStorageCount } from './helpers.js';

function rssMiB(): number {
  return process.memoryUsage().rss / 2 ** 20;
}

function settle(): void {
  // Give V8 a chance to run finalizers, so what is measured is what the program holds.
  if (global.gc) global.gc();
}

describe('memory', () => {
  // Each of these long synchronous loops first lets the event loop turn: back to back on a loaded
  // machine they would hold it past vitest's timeout for the worker's progress messages.
  beforeEach(() => new Promise<void>((resolve) => setImmediate(resolve)));

  it('stays flat over 20,000 op-and-backward iterations inside tidy', () => {
    kd.manualSeed(7);
    const w = kd.randn([64, 32], { requiresGrad: true });
    const b = kd.zeros([32], { requiresGrad: true });
    const x = kd.randn([16, 64]);
    const step = () =>
      kd.tidy(() => {
        const y = x.matmul(w).add(b).relu();
        const loss = y.mul(y).mean();
        loss.backward();
        kd.noGrad(() => {
          w.sub_(w.grad!, 1e-3);
          b.sub_(b.grad!, 1e-3);
        });
        w.grad!.dispose();
        w.grad = null;
        b.grad!.dispose();
        b.grad = null;
        return loss.item();
      });
    for (let i = 0; i < 5000; i++) step();
    settle();
    const warm = rssMiB();
    const readings: number[] = [];
    let last = 0;
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 5000; i++) last = step();
      settle();
      readings.push(rssMiB());
    }
    const after = readings[readings.length - 1];
    console.log(`RSS after warm-up ${warm.toFixed(1)} MiB, then per 5,000 steps: ${readings.map((r) => r.toFixed(1)).join(', ')}`);
    expect(Number.isFinite(last)).toBe(true);
    expect(after - warm, `RSS grew from ${warm.toFixed(1)} MiB to ${after.toFixed(1)} MiB`).toBeLessThan(8);
  });

  it('stays flat training a small CNN (the fused conv-pool node) with Adam inside tidy', () => {
    kd.manualSeed(11);
    const model = new kd.nn.Sequential(
      new kd.nn.Conv2d(1, 8, 3), new kd.nn.ReLU(), new kd.nn.MaxPool2d(2),
      new kd.nn.Conv2d(8, 8, 3), new kd.nn.ReLU(), new kd.nn.MaxPool2d(2),
      new kd.nn.Flatten(), new kd.nn.Linear(8 * 5 * 5, 10),
    );
    const opt = new kd.optim.Adam(model.parameters(), { lr: 1e-3 });
    const lossFn = new kd.nn.CrossEntropyLoss();
    const x = kd.randn([4, 1, 28, 28]);
    const y = kd.tensor([1, 3, 5, 7]);
    const step = () => kd.tidy(() => {
      opt.zeroGrad();
      const loss = lossFn.forward(model.forward(x) as kd.Tensor, y);
      loss.backward();
      opt.step();
      return loss.item();
    });
    for (let i = 0; i < 300; i++) step();
    settle();
    const warm = rssMiB();
    let last = 0;
    for (let round = 0; round < 4; round++) for (let i = 0; i < 300; i++) last = step();
    settle();
    const after = rssMiB();
    expect(Number.isFinite(last)).toBe(true);
    // A leaked pooled activation alone would be 21 KiB a step, 25 MiB over these 1,200 steps.
    expect(after - warm, `RSS grew from ${warm.toFixed(1)} MiB to ${after.toFixed(1)} MiB`).toBeLessThan(8);
  });

  it('holds flat memory and a constant number of storages training a model that uses every kd.nn layer', () => {
    kd.manualSeed(23);
    const nn = kd.nn;
    // An image branch (conv, batch norm, the fused ReLU-pool and conv-ReLU-pool paths, both
    // average pools), a token branch (embedding with a padding row, sinusoidal, learned and
    // rotary positions, conv1d), and a head through every normalisation, dropout, activation and
    // container; every loss module is summed.
    class EveryLayer extends nn.Module {
      image = new nn.Sequential(
        new nn.Conv2d(1, 4, 3, { padding: 1 }), new nn.BatchNorm2d(4), new nn.ReLU(), new nn.MaxPool2d(2),
        new nn.AvgPool2d(3, { stride: 1, padding: 1 }),
        new nn.Conv2d(4, 4, 3), new nn.ReLU(), new nn.MaxPool2d(2),
        new nn.AdaptiveAvgPool2d(1), new nn.Flatten(),
      );
      // Up and down again: transposed conv, group norm, hardtanh, bilinear resize.
      decoder = new nn.Sequential(
        new nn.ConvTranspose2d(1, 4, 2, { stride: 2 }), new nn.GroupNorm(2, 4), new nn.Hardtanh(),
        new nn.Upsample({ size: [8, 8], mode: 'bilinear' }), new nn.AdaptiveAvgPool2d(1), new nn.Flatten(),
      );
      embed = new nn.Embedding(20, 6, { paddingIdx: 0 });
      posSin = new nn.SinusoidalPositionalEncoding(6, { maxLen: 16, dropout: 0.1 });
      posLearned = new nn.LearnedPositionalEmbedding(16, 6);
      rope = new nn.RotaryEmbedding(6, { maxSeqLen: 16 });
      conv1d = new nn.Conv1d(6, 8, 3, { padding: 1 });
      gelu = new nn.GELU('tanh');
      pool1d = new nn.MaxPool1d(2);
      trunk = new nn.Sequential(
        new nn.Linear(16, 16), new nn.BatchNorm1d(16), new nn.LayerNorm(16), new nn.RMSNorm(16), new nn.Dropout(0.1),
      );
      activations = new nn.ModuleList([
        new nn.LeakyReLU(0.1), new nn.SiLU(), new nn.ELU(), new nn.Softplus(), new nn.Tanh(), new nn.Sigmoid(), new nn.Identity(),
      ]);
      heads = new nn.ModuleDict({
        cls: new nn.Linear(16, 5),
        reg: new nn.Sequential(new nn.Linear(16, 4, { bias: false }), new nn.Unflatten(1, [2, 2]), new nn.Flatten()),
      });
      softmax = new nn.Softmax(1);
      logSoftmax = new nn.LogSoftmax(1);
      // Attention over the tokens: Transformer holds the encoder/decoder stacks, layers and MHA.
      transformer = new nn.Transformer({ dModel: 6, nhead: 2, numEncoderLayers: 1, numDecoderLayers: 1, dimFeedforward: 8, batchFirst: true });
      causal = nn.Transformer.generateSquareSubsequentMask(7);
      // Recurrent: the three sequence modules (the LSTM on a packed batch) and the three cells.
      rnn = new nn.RNN(6, 4, { batchFirst: true, nonlinearity: 'relu' });
      lstm = new nn.LSTM(6, 4, { batchFirst: true, bidirectional: true, projSize: 2 });
      gru = new nn.GRU(6, 4, { numLayers: 2, dropout: 0.1 });
      rnnCell = new nn.RNNCell(6, 4);
      gruCell = new nn.GRUCell(6, 4);
      lstmCell = new nn.LSTMCell(6, 4);

      forward(images: kd.Tensor, tokens: kd.Tensor): { logits: kd.Tensor; reg: kd.Tensor; probs: kd.Tensor; logProbs: kd.Tensor } {
        const pictures = this.image.forward(images) as kd.Tensor;
        const decoded = this.decoder.forward(images) as kd.Tensor;
        const placed = this.posLearned.forward(this.posSin.forward(this.embed.forward(tokens))).unsqueeze(1);
        const [rotQ, rotK] = this.rope.forward(placed, placed, { offset: 2 });
        const embedded = rotQ.add(rotK).squeeze(1);
        const text = (this.pool1d.forward(this.gelu.forward(this.conv1d.forward(embedded.transpose(1, 2)))) as kd.Tensor).mean(2);
        let h = this.trunk.forward(kd.cat([pictures, text, decoded], 1)) as kd.Tensor;
        const tokensIn = this.embed.forward(tokens);
        h = h.add(this.transformer.forward(tokensIn, tokensIn, { tgtMask: this.causal, srcKeyPaddingMask: tokens.eq(0) }).mean(1).sum(1, true));
        const [rnnOut] = this.rnn.forward(tokensIn);
        const [, [lstmH]] = this.lstm.forward(kd.nn.utils.rnn.packPaddedSequence(tokensIn, [3, 7, 5, 7, 1, 2], { batchFirst: true, enforceSorted: false }));
        const [, gruH] = this.gru.forward(tokensIn.transpose(0, 1));
        const first = tokensIn.select(1, 0);
        const [cellH] = this.lstmCell.forward(first, [this.gruCell.forward(first, this.rnnCell.forward(first)), this.rnnCell.forward(first)]);
        h = h.add((rnnOut as kd.Tensor).mean(1).sum(1, true)).add(lstmH.sum(0).sum(1, true)).add(gruH.sum(0).sum(1, true)).add(cellH.sum(1, true));
        for (const act of this.activations) h = act.forward(h) as kd.Tensor;
        const logits = (this.heads.get('cls') as kd.nn.Linear).forward(h);
        const reg = (this.heads.get('reg') as kd.nn.Sequential).forward(h) as kd.Tensor;
        return { logits, reg, probs: this.softmax.forward(logits), logProbs: this.logSoftmax.forward(logits) };
      }
    }
    const model = new EveryLayer();
    const losses = {
      ce: new nn.CrossEntropyLoss({ labelSmoothing: 0.1 }), nll: new nn.NLLLoss(), mse: new nn.MSELoss(), l1: new nn.L1Loss(),
      smoothL1: new nn.SmoothL1Loss(), huber: new nn.HuberLoss(), bce: new nn.BCELoss(), bceLogits: new nn.BCEWithLogitsLoss(),
    };
    // Every module class kd.nn exports is in the model or among the losses (bar the bases Loss and RNNBase).
    const used = new Set<unknown>([...model.modules(), ...Object.values(losses)].map((m) => m.constructor));
    const exported = Object.values(nn).filter((v): v is typeof kd.nn.Module => typeof v === 'function' && v.prototype instanceof nn.Module);
    const missing = exported.filter((cls) => !used.has(cls) && !['Loss', 'RNNBase'].includes(cls.name)).map((cls) => cls.name);
    expect(missing, 'kd.nn module classes the model does not use').toEqual([]);
    const opt = new kd.optim.Adam(model.parameters(), { lr: 1e-3 });
    const images = kd.randn([6, 1, 12, 12]);
    const tokens = kd.randint(0, 20, [6, 7]);
    const labels = kd.randint(0, 5, [6]);
    const target = kd.randn([6, 4]);
    const target01 = kd.rand([6, 4]);
    const uniform = kd.full([6, 5], 0.2);
    const step = () => kd.tidy(() => {
      opt.zeroGrad();
      const { logits, reg, probs, logProbs } = model.forward(images, tokens);
      const loss = losses.ce.forward(logits, labels).add(losses.nll.forward(logProbs, labels))
        .add(losses.mse.forward(reg, target)).add(losses.l1.forward(reg, target))
        .add(losses.smoothL1.forward(reg, target)).add(losses.huber.forward(reg, target))
        .add(losses.bce.forward(reg.sigmoid(), target01)).add(losses.bceLogits.forward(reg, target01))
        .add(losses.mse.forward(probs, uniform));
      loss.backward();
      opt.step();
      // The eval path (running statistics, no dropout) too, without a graph.
      model.eval();
      kd.noGrad(() => model.forward(images, tokens));
      model.train();
      return loss.item();
    });
    const first = step();
    for (let i = 0; i < 199; i++) step();
    settle();
    const storages = liveStorageCount();
    // RSS over two windows of 200 steps after the warm-up: the heap and the allocator's caches
    // may still settle in the first; a leak keeps growing in the second.
    let last = 0;
    for (let i = 0; i < 200; i++) last = step();
    settle();
    const warm = rssMiB();
    for (let i = 0; i < 200; i++) last = step();
    settle();
    const after = rssMiB();
    expect(Number.isFinite(last)).toBe(true);
    expect(last, 'the model trains').toBeLessThan(first);
    expect(liveStorageCount(), 'live native storages after 400 more steps').toBe(storages);
    expect(after - warm, `RSS grew from ${warm.toFixed(1)} MiB to ${after.toFixed(1)} MiB`).toBeLessThan(8);
  });

  it('holds a constant number of storages and flat RSS over 2,000 steps training an LSTM on packed batches with Adam', () => {
    kd.manualSeed(12);
    const { packPaddedSequence, padPackedSequence } = kd.nn.utils.rnn;
    const lstm = new kd.nn.LSTM(4, 8, { numLayers: 2, bidirectional: true, batchFirst: true });
    const head = new kd.nn.Linear(16, 3);
    const opt = new kd.optim.Adam([...lstm.parameters(), ...head.parameters()], { lr: 1e-2 });
    const x = kd.randn([5, 7, 4]);
    const lengths = [7, 3, 5, 1, 6];
    const labels = kd.randint(0, 3, [5 * 7]);
    const step = () => kd.tidy(() => {
      opt.zeroGrad();
      const [out, [h, c]] = lstm.forward(packPaddedSequence(x, lengths, { batchFirst: true, enforceSorted: false }));
      const [padded] = padPackedSequence(out as kd.nn.utils.rnn.PackedSequence, { batchFirst: true });
      const loss = kd.nn.functional.crossEntropy(head.forward(padded).reshape([-1, 3]), labels).add(h.square().mean()).add(c.square().mean());
      loss.backward();
      opt.step();
      return loss.item();
    });
    const first = step();
    for (let i = 0; i < 499; i++) step();
    settle();
    const storages = settledStorageCount();
    let last = 0;
    for (let i = 0; i < 500; i++) last = step();
    settle();
    const warm = rssMiB();
    for (let i = 0; i < 1000; i++) last = step();
    settle();
    const after = rssMiB();
    expect(Number.isFinite(last)).toBe(true);
    expect(last, 'the LSTM trains').toBeLessThan(first);
    expect(settledStorageCount(), 'live native storages after 1,500 more steps').toBe(storages);
    expect(after - warm, `RSS grew from ${warm.toFixed(1)} MiB to ${after.toFixed(1)} MiB`).toBeLessThan(8);
  });

  it('trains a tiny GPT for 2,000 steps (AdamW, clipping, and a generate every 500) with flat RSS and storage count', () => {
    kd.manualSeed(13);
    const model = kd.models.gpt({ vocabSize: 32, blockSize: 16, nLayer: 2, nHead: 2, nEmbd: 32, dropout: 0.1 });
    const opt = new kd.optim.AdamW(model.parameters(), { lr: 1e-3, weightDecay: 0.1 });
    const seq = Array.from({ length: 17 * 4 }, (_, i) => (i * 7) % 32);
    const x = kd.tensor(seq.slice(0, 64), { dtype: 'int32' }).reshape([4, 16]);
    const y = kd.tensor(seq.slice(1, 65), { dtype: 'int32' }).reshape([4, 16]);
    const step = () => kd.tidy(() => {
      opt.zeroGrad();
      const { loss } = model.forward(x, y);
      loss.backward();
      kd.optim.clipGradNorm(model.parameters(), 1);
      opt.step();
      return loss.item();
    });
    let first = 0, last = 0;
    for (let i = 0; i < 400; i++) last = i === 0 ? (first = step()) : step();
    model.generate([1, 2, 3], { maxNewTokens: 20, seed: 1 });
    settle();
    const warm = rssMiB(), storages = settledStorageCount();
    for (let i = 0; i < 1600; i++) {
      last = step();
      if (i % 500 === 499) model.generate([1, 2, 3], { maxNewTokens: 20, seed: i });
    }
    settle();
    const after = rssMiB();
    expect(last, 'the model trains').toBeLessThan(first);
    expect(settledStorageCount(), 'live native storages after 1,600 more steps').toBeLessThanOrEqual(storages);
    expect(after - warm, `RSS grew from ${warm.toFixed(1)} MiB to ${after.toFixed(1)} MiB`).toBeLessThan(8);
    opt.dispose();
  });

  it("counts live storages outside any tidy: ops' and backwards' temporaries are freed by their own scopes", () => {
    kd.manualSeed(5);
    const x = kd.randn([5, 7], { requiresGrad: true });
    const w = kd.randn([7, 3], { requiresGrad: true });
    const before = settledStorageCount();
    // Composed forwards (layerNorm, maximum, remainder, bceLoss's range check) and their backwards
    // make temporaries; only the results held here may remain.
    const held: kd.Tensor[] = [];
    const hold = (t: kd.Tensor) => { held.push(t); return t; };
    const h = hold(kd.nn.functional.layerNorm(hold(hold(x.matmul(w)).relu()), [3]));
    const a = hold(hold(hold(h.logSoftmax(1)).maximum(-2)).remainder(3));
    const b = hold(kd.nn.functional.bceLoss(hold(h.sigmoid()), hold(kd.full([5, 3], 0.5))));
    const loss = hold(hold(a.mean()).add(b));
    // The forward's temporaries that backward reads (layerNorm's centered input, ...) live on in
    // the graph as saved tensors until backward releases it.
    expect(liveStorageCount()).toBeGreaterThan(before + held.length);
    loss.backward();
    expect(liveStorageCount(), 'after backward: what is held and the two gradients').toBe(before + held.length + 2);
    const grads = [x.grad!, w.grad!];
    for (const t of [...held, ...grads]) t.dispose();
    x.grad = null;
    w.grad = null;
    expect(liveStorageCount()).toBe(before);
  });

  it('an outer tidy around many inner scopes that keep tensors and forget them does not pin them until it closes', () => {
    const before = settledStorageCount();
    const n = 6000;
    let pinned = 0;
    kd.tidy(() => {
      for (let i = 0; i < n; i++) kd.tidy(() => { kd.keep(kd.zeros([16])); });
      // Still inside the outer scope: what is not pinned by the scopes goes at a collection.
      pinned = settledStorageCount() - before;
    });
    expect(pinned, `${pinned} of ${n} forgotten kept tensors pinned inside the outer scope`).toBeLessThan(n / 2);
    expect(settledStorageCount() - before).toBeLessThan(n / 2);
  });

  it('frees storage deterministically: dispose, using, and tidy', () => {
    const t = kd.ones([1000]);
    const v = t.reshape([10, 100]);
    t.dispose();
    // The view still holds the storage.
    expect((v.sum().item())).toBe(1000);
    v.dispose();
    expect(() => v.sum()).toThrow(kd.ArgumentError);
    {
      using u = kd.ones([3]);
      expect(u.sum().item()).toBe(3);
    }
    let inner: kd.Tensor | null = null;
    const kept = kd.tidy(() => {
      inner = kd.ones([4]);
      return inner.add(1);
    });
    expect(inner!.isDisposed).toBe(true);
    expect(kept.isDisposed).toBe(false);
    expect(kept.toArray()).toEqual([2, 2, 2, 2]);
  });

  it('keeps data() views safe after dispose', () => {
    const t = kd.ones([8]);
    const view = t.data();
    t.dispose();
    // The buffer is detached: the stale view reads as empty instead of freed memory.
    expect(view.length).toBe(0);
  });
});

// Issue 10's loops, written as a PyTorch user writes them: a fresh batch each step, nothing
// disposed, nothing in tidy. What they forget is freed at garbage collections (the native
// finalizer runs during the collection, so a synchronous loop gets it back too), and every
// Module.forward frees its own intermediates.
describe('memory without tidy', () => {
  type Loop = 'tidy' | 'hand-disposed' | 'forgot (sync)' | 'forgot (async)';

  function mlpSetup() {
    kd.manualSeed(31);
    const model = new kd.nn.Sequential(
      new kd.nn.Linear(784, 128), new kd.nn.ReLU(), new kd.nn.Linear(128, 64), new kd.nn.ReLU(), new kd.nn.Linear(64, 10),
    );
    return { model, inputShape: [32, 784] };
  }

  function cnnSetup() {
    kd.manualSeed(37);
    const model = new kd.nn.Sequential(
      new kd.nn.Conv2d(1, 8, 3), new kd.nn.ReLU(), new kd.nn.MaxPool2d(2),
      new kd.nn.Conv2d(8, 16, 3), new kd.nn.ReLU(), new kd.nn.MaxPool2d(2),
      new kd.nn.Flatten(), new kd.nn.Linear(16 * 5 * 5, 10),
    );
    return { model, inputShape: [8, 1, 28, 28] };
  }

  /** Runs `steps` training steps written as `loop`; returns RSS (MiB) at the middle and the end, and live storages at the end. */
  async function train(setup: () => { model: kd.nn.Module; inputShape: number[] }, loop: Loop, steps: number) {
    const { model, inputShape } = setup();
    const opt = new kd.optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
    const lossFn = new kd.nn.CrossEntropyLoss();
    let middle = 0, lossValue = 0;
    for (let step = 0; step < steps; step++) {
      const x = kd.randn(inputShape);
      const y = kd.randint(0, 10, [inputShape[0]]);
      if (loop === 'tidy') {
        lossValue = kd.tidy(() => {
          opt.zeroGrad();
          const loss = lossFn.forward(model.forward(x) as kd.Tensor, y);
          loss.backward();
          opt.step();
          return loss.item();
        });
      } else {
        opt.zeroGrad();
        const out = model.forward(x) as kd.Tensor;
        const loss = lossFn.forward(out, y);
        loss.backward();
        opt.step();
        lossValue = loss.item();
        if (loop === 'hand-disposed') {
          for (const t of [out, loss]) t.dispose();
        }
        if (loop === 'forgot (async)' && step % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
      }
      if (loop === 'tidy' || loop === 'hand-disposed') {
        x.dispose();
        y.dispose();
      }
      if (step === steps >> 1) middle = rssMiB();
    }
    expect(Number.isFinite(lossValue)).toBe(true);
    return { middle, end: rssMiB(), storages: liveStorageCount() };
  }

  it('an MLP loop with no tidy and no dispose, synchronous or async, holds at most 1.5x the RSS of the tidy loop, and a hand-disposed one is flat', async () => {
    const steps = 1000;
    settle();
    const before = settledStorageCount();
    const tidyRun = await train(mlpSetup, 'tidy', steps);
    settle();
    // Every step of the hand-disposed loop frees exactly what it made: the count of live
    // storages is the same after each step, with no collection needed.
    const hand = await train(mlpSetup, 'hand-disposed', steps);
    const sync = await train(mlpSetup, 'forgot (sync)', steps);
    const asyncRun = await train(mlpSetup, 'forgot (async)', steps);
    const report = `RSS MiB (middle -> end): tidy ${tidyRun.middle.toFixed(0)} -> ${tidyRun.end.toFixed(0)}, hand-disposed ${hand.middle.toFixed(0)} -> ${hand.end.toFixed(0)}, ` +
      `forgot sync ${sync.middle.toFixed(0)} -> ${sync.end.toFixed(0)} (${sync.storages - before} storages live), forgot async ${asyncRun.middle.toFixed(0)} -> ${asyncRun.end.toFixed(0)} (${asyncRun.storages - before})`;
    console.log(report);
    expect(hand.end - hand.middle, report).toBeLessThan(8);
    expect(hand.end, report).toBeLessThan(1.1 * tidyRun.end);
    for (const run of [sync, asyncRun]) {
      expect(run.end, report).toBeLessThan(1.5 * tidyRun.end);
      expect(run.end - run.middle, report).toBeLessThan(16);
      // 1,000 steps leave 4 storages each (batch, labels, output, loss) if nothing is freed.
      expect(run.storages - before, report).toBeLessThan(steps);
    }
  });

  it('a training step makes no zero-copy views (Node frees their wrappers only when the event loop turns)', () => {
    // A view per step was the slow leak of the hand-disposed synchronous loop (about 250 bytes a
    // step: cross-entropy read its labels through data()).
    const { model } = mlpSetup();
    const opt = new kd.optim.SGD(model.parameters(), { lr: 0.01 });
    const lossFn = new kd.nn.CrossEntropyLoss();
    const x = kd.randn([32, 784]), y = kd.randint(0, 10, [32]);
    const hostView = vi.spyOn(cpuBackend, 'hostBuffer');
    try {
      for (let step = 0; step < 3; step++) {
        opt.zeroGrad();
        const out = model.forward(x) as kd.Tensor;
        const loss = lossFn.forward(out, y);
        loss.backward();
        opt.step();
        loss.item();
        for (const t of [out, loss]) t.dispose();
      }
      expect(hostView).not.toHaveBeenCalled();
    } finally {
      hostView.mockRestore();
    }
  });

  it('the hand-disposed loop keeps the same number of live storages after every step', () => {
    const { model } = mlpSetup();
    const opt = new kd.optim.SGD(model.parameters(), { lr: 0.01 });
    const lossFn = new kd.nn.CrossEntropyLoss();
    // What earlier tests forgot is collected first, so that no collection changes the count below.
    settle();
    settle();
    const counts: number[] = [];
    for (let step = 0; step < 300; step++) {
      const x = kd.randn([32, 784]), y = kd.randint(0, 10, [32]);
      opt.zeroGrad();
      const out = model.forward(x) as kd.Tensor;
      const loss = lossFn.forward(out, y);
      loss.backward();
      opt.step();
      for (const t of [x, y, out, loss]) t.dispose();
      if (step >= 2) counts.push(liveStorageCount());
    }
    expect(new Set(counts).size, `live storages per step: ${[...new Set(counts)].join(', ')}`).toBe(1);
  });

  it('a CNN loop with no tidy and no dispose holds at most 1.5x the RSS of the tidy loop', async () => {
    const steps = 600;
    settle();
    const tidyRun = await train(cnnSetup, 'tidy', steps);
    const sync = await train(cnnSetup, 'forgot (sync)', steps);
    const report = `RSS MiB: tidy ${tidyRun.middle.toFixed(0)} -> ${tidyRun.end.toFixed(0)}, forgot sync ${sync.middle.toFixed(0)} -> ${sync.end.toFixed(0)}`;
    console.log(report);
    expect(sync.end, report).toBeLessThan(1.5 * tidyRun.end);
    expect(sync.end - sync.middle, report).toBeLessThan(16);
  });

  it("Module.forward frees its intermediates: a Sequential's and a user module's, whatever shape its result has", () => {
    class Pair extends kd.nn.Module {
      body = new kd.nn.Sequential(new kd.nn.Linear(6, 6), new kd.nn.ReLU(), new kd.nn.Linear(6, 6), new kd.nn.Tanh());
      forward(x: kd.Tensor): { pair: [kd.Tensor, kd.Tensor[]]; scale: number } {
        const h = (this.body.forward(x.mul(2).add(1)) as kd.Tensor).sigmoid();
        const w = h.softmax(1);
        return { pair: [h.mul(3), [w]], scale: 3 };
      }
    }
    kd.manualSeed(41);
    const model = new Pair();
    const x = kd.randn([4, 6]);
    const before = settledStorageCount();
    const result = kd.noGrad(() => model.forward(x));
    // Without a graph nothing else may stay: just the two tensors returned.
    expect(liveStorageCount() - before).toBe(2);
    expect(result.pair[0].isDisposed || result.pair[1][0].isDisposed).toBe(false);
    expect(result.scale).toBe(3);
    const rowSums = result.pair[1][0].sum(1);
    expect((rowSums.toArray() as number[]).every((v) => Math.abs(v - 1) < 1e-5)).toBe(true);
    for (const t of [rowSums, result.pair[0], result.pair[1][0]]) t.dispose();
    expect(liveStorageCount()).toBe(before);
    // With a graph, backward still reaches the parameters through the freed intermediates.
    const y = model.forward(x);
    y.pair[0].sum().backward();
    const grad = model.body[0] instanceof kd.nn.Linear ? model.body[0].weight.grad : null;
    expect(grad).not.toBeNull();
    expect(Number.isFinite(grad!.abs().sum().item())).toBe(true);
  });

  it('kd.memory() reports live tensors and bytes per device', () => {
    settle();
    const before = kd.memory();
    expect(Object.keys(before).sort()).toEqual(['cpu', 'cuda']);
    const t = kd.zeros([1000]);
    const v = t.reshape([10, 100]);
    const during = kd.memory();
    expect(during.cpu.tensors - before.cpu.tensors).toBe(1);  // a view shares its base's storage
    expect(during.cpu.bytes - before.cpu.bytes).toBe(4000);
    t.dispose();
    v.dispose();
    expect(kd.memory().cpu).toEqual(before.cpu);
  });
});

describe('data() arrays', () => {
  it("an array from a temporary's data() stays valid after garbage collection, and its memory is freed once the array is dropped", async () => {
    kd.manualSeed(43);
    const model = new kd.nn.Linear(8, 5);
    const x = kd.randn([32, 8]);
    let classes: Int32Array | null = kd.noGrad(() => model.forward(x).argmax(1).data()) as Int32Array;
    const copy = Int32Array.from(classes);
    const live = liveStorageCount();
    for (let i = 0; i < 3; i++) {
      settle();
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(classes.length).toBe(32);
    expect([...classes]).toEqual([...copy]);
    // Other tensors allocated meanwhile do not reuse its memory.
    for (let i = 0; i < 50; i++) kd.full([32], 7, { dtype: 'int32' });
    settle();
    expect([...classes]).toEqual([...copy]);
    expect(liveStorageCount()).toBeLessThanOrEqual(live);
    classes = null;
    for (let i = 0; i < 3; i++) {
      settle();
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(liveStorageCount(), 'the storage is freed once the array is unreachable').toBeLessThan(live);
  });
});

describe('the growing-tensors warning', () => {
  it('warns once, naming kd.tidy, when a loop keeps every loss; not when it only forgets them', () => {
    const warnings: string[] = [];
    const spy = vi.spyOn(process, 'emitWarning').mockImplementation((w: string | Error) => { warnings.push(String(w)); });
    try {
      kd.manualSeed(47);
      const model = new kd.nn.Linear(4, 2);
      const opt = new kd.optim.SGD(model.parameters(), { lr: 0.01 });
      const x = kd.randn([8, 4]);
      const y = kd.randn([8, 2]);
      const step = () => {
        opt.zeroGrad();
        const loss = kd.nn.functional.mseLoss(model.forward(x), y);
        loss.backward();
        opt.step();
        return loss;
      };
      settle();
      settle();
      resetMemoryWatch();
      for (let i = 0; i < 3000; i++) step();
      expect(warnings, 'a loop that only forgets its losses').toEqual([]);
      const losses: kd.Tensor[] = [];
      for (let i = 0; i < 4000; i++) losses.push(step());
      expect(warnings.length).toBe(1);
      expect(warnings[0]).toMatch(/kd\.tidy/);
      for (let i = 0; i < 2500; i++) losses.push(step());
      expect(warnings.length, 'once per process').toBe(1);
      for (const l of losses) l.dispose();
    } finally {
      spy.mockRestore();
      resetMemoryWatch();
    }
  });
});
