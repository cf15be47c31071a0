import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { freshSeed, makeRng } from '../helpers.js';

const { nn } = kd;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kindling-fit-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Points in [-1, 1]² labelled by quadrant (4 classes): separable, but not linearly by one line. */
function quadrants(n: number, seed: number): kd.data.TensorDataset {
  const rng = makeRng(seed);
  const x: number[][] = [], y: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = [2 * rng() - 1, 2 * rng() - 1];
    x.push(p);
    y.push((p[0] > 0 ? 1 : 0) + (p[1] > 0 ? 2 : 0));
  }
  return new kd.data.TensorDataset(kd.tensor(x, { dtype: 'float32' }), kd.tensor(y, { dtype: 'int32' }));
}

function smallMlp(): kd.nn.Sequential {
  return new nn.Sequential(new nn.Linear(2, 16), new nn.Tanh(), new nn.Linear(16, 4));
}

describe('fit', () => {
  it("makes a small MLP's loss fall and accuracy rise on a synthetic task", async () => {
    const seed = freshSeed();
    kd.manualSeed(seed);
    const model = smallMlp();
    const optimizer = new kd.optim.Adam(model.parameters(), { lr: 0.02 });
    const history = await kd.train.fit(model, {
      optimizer, loss: new nn.CrossEntropyLoss(), trainData: quadrants(256, seed), valData: quadrants(128, seed + 1),
      epochs: 15, batchSize: 32, metrics: ['accuracy'], seed, verbose: 0,
    });
    expect(history.epoch).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect(Object.keys(history.history).sort()).toEqual(['accuracy', 'loss', 'lr', 'val_accuracy', 'val_loss']);
    const { loss, val_accuracy: valAcc } = history.history;
    expect(loss.length).toBe(15);
    expect(loss[14], `seed ${seed}: ${loss.map((l) => l.toFixed(3))}`).toBeLessThan(0.4 * loss[0]);
    expect(valAcc[14], `seed ${seed}`).toBeGreaterThan(0.9);
    expect(history.history.lr.every((lr) => lr === 0.02)).toBe(true);
  });

  it("the epoch loss is the mean over samples of each batch's mean loss (uneven last batch)", async () => {
    // With lr 0 the model never changes, so every epoch's loss must equal evaluate's loss.
    kd.manualSeed(3);
    const model = smallMlp();
    const data = quadrants(50, 4);
    const loss = new nn.CrossEntropyLoss();
    const history = await kd.train.fit(model, {
      optimizer: new kd.optim.SGD(model.parameters(), { lr: 0 }), loss, trainData: data, epochs: 2, batchSize: 16,
      metrics: ['accuracy'], verbose: 0,
    });
    const ref = kd.train.evaluate(model, { data, loss, metrics: ['accuracy'], batchSize: 7 });
    for (const l of history.history.loss) expect(l).toBeCloseTo(ref.loss, 5);
    for (const a of history.history.accuracy) expect(a).toBeCloseTo(ref.accuracy, 10);
  });

  it('takes a DataLoader and a loss function as well as a Dataset and a loss module', async () => {
    kd.manualSeed(5);
    const model = smallMlp();
    const loader = new kd.data.DataLoader(quadrants(64, 6), { batchSize: 16, shuffle: true, seed: 1 });
    const history = await kd.train.fit(model, {
      optimizer: new kd.optim.Adam(model.parameters(), { lr: 0.01 }), loss: nn.functional.crossEntropy, trainData: loader, epochs: 3, verbose: 0,
    });
    expect(history.history.loss.length).toBe(3);
    expect(history.history.accuracy).toBeUndefined();
  });

  it('puts the model back in train mode each epoch after validating in eval mode', async () => {
    kd.manualSeed(8);
    const model = new nn.Sequential(new nn.Linear(2, 8), new nn.BatchNorm1d(8), new nn.ReLU(), new nn.Linear(8, 4));
    const modes: boolean[] = [];
    await kd.train.fit(model, {
      optimizer: new kd.optim.SGD(model.parameters(), { lr: 0.1 }), loss: new nn.CrossEntropyLoss(), trainData: quadrants(40, 9), valData: quadrants(20, 10),
      epochs: 2, batchSize: 8, verbose: 0,
      callbacks: [{ onBatchEnd: (_b, _l, state) => { modes.push(state.model.training); } }],
    });
    expect(modes.length).toBe(10);
    expect(modes.every((m) => m)).toBe(true);
    // 5 batches per epoch update the running stats; validation (eval mode) must not.
    expect(model.stateDict()['1.num_batches_tracked'].item()).toBe(10);
  });

  it('rejects bad options with ArgumentErrors that say what is wrong', async () => {
    const model = smallMlp();
    const optimizer = new kd.optim.SGD(model.parameters(), { lr: 0.1 });
    const base = { optimizer, loss: new nn.CrossEntropyLoss(), trainData: quadrants(8, 1), epochs: 1, verbose: 0 as const };
    await expect(kd.train.fit(model, { ...base, metrics: ['f1' as 'accuracy'] })).rejects.toThrow(/unknown metric 'f1'/);
    await expect(kd.train.fit(model, { ...base, epochs: 0 })).rejects.toThrow(kd.ArgumentError);
    await expect(kd.train.fit(model, { ...base, epochs: 2, initialEpoch: 3 })).rejects.toThrow(/initialEpoch/);
    await expect(kd.train.fit(model, { ...base, batchSize: 0 })).rejects.toThrow(/batchSize/);
    await expect(kd.train.fit(model, { ...base, trainData: [1, 2] as unknown as kd.data.TensorDataset })).rejects.toThrow(/trainData/);
    await expect(kd.train.fit(model, { ...base, loss: 'mse' as unknown as kd.nn.MSELoss })).rejects.toThrow(/loss/);
    const oneField = new kd.data.TensorDataset(kd.zeros([4, 2]));
    await expect(kd.train.fit(model, { ...base, trainData: oneField })).rejects.toThrow(/\[input, target\]/);
  });
});

describe('evaluate', () => {
  // The model is the identity, so the data's inputs are the logits and every value is known.
  const logits = [
    [2, 1, 0], // argmax 0
    [0, 3, 1], // argmax 1
    [0.5, 0.2, 0.9], // argmax 2
    [1, 4, 2], // argmax 1
    [5, 1, 1], // argmax 0
  ];
  const labels = [0, 1, 0, 2, 0]; // rows 0, 1 and 4 are right: accuracy 3/5

  function crossEntropyRef(): number {
    let sum = 0;
    logits.forEach((row, i) => {
      const m = Math.max(...row);
      const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
      sum += lse - row[labels[i]];
    });
    return sum / logits.length;
  }

  it('gives the accuracy and the per-sample mean loss of a hand-made case, for any batch size', () => {
    const data = new kd.data.TensorDataset(kd.tensor(logits, { dtype: 'float32' }), kd.tensor(labels, { dtype: 'int32' }));
    for (const batchSize of [1, 2, 5, 64]) {
      const out = kd.train.evaluate(new nn.Identity(), { data, loss: new nn.CrossEntropyLoss(), metrics: ['accuracy'], batchSize });
      expect(out.accuracy, `batch ${batchSize}`).toBe(0.6);
      expect(Math.abs(out.loss - crossEntropyRef()), `batch ${batchSize}`).toBeLessThan(1e-6);
    }
  });

  it('scores one-hot targets by their argmax and single logits by their sign', () => {
    const oneHot = kd.data.oneHot(kd.tensor(labels, { dtype: 'int32' }), 3);
    const data = new kd.data.TensorDataset(kd.tensor(logits, { dtype: 'float32' }), oneHot);
    expect(kd.train.evaluate(new nn.Identity(), { data, metrics: ['accuracy'] })).toEqual({ accuracy: 0.6 });
    const binary = new kd.data.TensorDataset(kd.tensor([[1.5], [-0.2], [0.3], [-3]]), kd.tensor([[1], [0], [0], [1]], { dtype: 'float32' }));
    expect(kd.train.evaluate(new nn.Identity(), { data: binary, metrics: ['accuracy'] }).accuracy).toBe(0.5);
  });

  it('runs in eval mode without grad and restores the mode it found', () => {
    let sawTraining: boolean | null = null, sawGrad: boolean | null = null;
    class Probe extends nn.Module {
      forward(x: Tensor): Tensor {
        sawTraining = this.training;
        sawGrad = kd.isGradEnabled();
        return x;
      }
    }
    const probe = new Probe();
    const data = new kd.data.TensorDataset(kd.tensor(logits, { dtype: 'float32' }), kd.tensor(labels, { dtype: 'int32' }));
    kd.train.evaluate(probe, { data, metrics: ['accuracy'] });
    expect([sawTraining, sawGrad, probe.training]).toEqual([false, false, true]);
  });

  it('asks for a loss or a metric, and mismatched targets are a ShapeError', () => {
    const data = new kd.data.TensorDataset(kd.tensor(logits, { dtype: 'float32' }), kd.tensor(labels, { dtype: 'int32' }));
    expect(() => kd.train.evaluate(new nn.Identity(), { data })).toThrow(/loss and\/or metrics/);
    const wrong = new kd.data.TensorDataset(kd.tensor(logits, { dtype: 'float32' }), kd.tensor(logits.map(() => [1, 0]), { dtype: 'int32' }));
    expect(() => kd.train.evaluate(new nn.Identity(), { data: wrong, metrics: ['accuracy'] })).toThrow(kd.ShapeError);
  });
});

describe('resuming from a checkpoint', () => {
  it('2 epochs + save + fresh model and optimizer + load + 2 more equals 4 epochs straight', async () => {
    const seed = freshSeed();
    const trainData = quadrants(96, seed), valData = quadrants(32, seed + 1);
    const options = (optimizer: kd.optim.Optimizer) => ({
      optimizer, loss: new nn.CrossEntropyLoss(), trainData, valData, batchSize: 10, metrics: ['accuracy' as const], seed, verbose: 0 as const,
    });

    kd.manualSeed(seed);
    const straight = smallMlp();
    const straightOpt = new kd.optim.Adam(straight.parameters(), { lr: 0.01 });
    const full = await kd.train.fit(straight, { ...options(straightOpt), epochs: 4 });

    kd.manualSeed(seed);
    const first = smallMlp();
    const firstOpt = new kd.optim.Adam(first.parameters(), { lr: 0.01 });
    const path = join(dir, 'ckpt-{epoch}.safetensors');
    await kd.train.fit(first, { ...options(firstOpt), epochs: 2, callbacks: [kd.train.callbacks.modelCheckpoint({ path })] });
    expect(existsSync(join(dir, 'ckpt-2.safetensors'))).toBe(true);

    kd.manualSeed(seed + 99); // a different initialisation, which the checkpoint must overwrite
    const resumed = smallMlp();
    const resumedOpt = new kd.optim.Adam(resumed.parameters(), { lr: 0.5 });
    const ckpt = kd.train.loadCheckpoint(join(dir, 'ckpt-2.safetensors'), { model: resumed, optimizer: resumedOpt });
    expect(ckpt.epoch).toBe(2);
    expect(resumedOpt.paramGroups[0].lr).toBe(0.01);
    const rest = await kd.train.fit(resumed, { ...options(resumedOpt), epochs: 4, initialEpoch: ckpt.epoch, history: ckpt.history! });

    expect(rest.epoch).toEqual([1, 2, 3, 4]);
    for (const key of ['loss', 'accuracy', 'val_loss', 'val_accuracy']) {
      const a = full.history[key], b = rest.history[key];
      expect(b.length).toBe(4);
      a.forEach((v, i) => expect(Math.abs(v - b[i]), `seed ${seed}: ${key} at epoch ${i + 1}: ${v} vs ${b[i]}`).toBeLessThan(1e-5));
    }
    const wa = straight.stateDict()['2.weight'].data() as Float32Array, wb = resumed.stateDict()['2.weight'].data() as Float32Array;
    wa.forEach((v, i) => expect(Math.abs(v - wb[i]), `seed ${seed}`).toBeLessThan(1e-5));
  });

  it('a checkpoint loaded into another architecture is a ShapeError naming the key', () => {
    kd.manualSeed(1);
    const model = smallMlp();
    const opt = new kd.optim.Adam(model.parameters(), { lr: 0.01 });
    const path = join(dir, 'a.safetensors');
    kd.train.saveCheckpoint(path, { model, optimizer: opt, epoch: 1 });
    const other = new nn.Sequential(new nn.Linear(2, 5), new nn.Tanh(), new nn.Linear(5, 4));
    expect(() => kd.train.loadCheckpoint(path, { model: other })).toThrow(kd.ShapeError);
    expect(() => kd.train.loadCheckpoint(path, { model: other })).toThrow(/0\.weight/);
  });
});
