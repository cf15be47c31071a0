// kd.train beyond accuracy: the mae / mse / topKAccuracy metrics and user metric functions in fit
// and evaluate logs, a regularizer added to the reported loss, verbose 2, evaluate restoring each
// module's own mode, and kd.train.predict (batched, eval mode, no grad).
import { afterEach, describe, expect, it, vi } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectError, freshSeed, makeRng } from '../helpers.js';

const { nn } = kd;
const F = kd.nn.functional;

afterEach(() => {
  vi.restoreAllMocks();
});

// The model is the identity, so the data's inputs are the outputs and every value is known.
const scores = [
  [2, 1, 0, -1], // target 0: rank 1
  [0, 3, 1, 2], // target 3: rank 2
  [0.5, 0.2, 0.9, 0.1], // target 1: rank 3
  [1, 4, 2, 3], // target 0: rank 4
  [5, 1, 1, 0], // target 0: rank 1
];
const classes = [0, 3, 1, 0, 0];
const ranks = [1, 2, 3, 4, 1];

function classData(): kd.data.TensorDataset {
  return new kd.data.TensorDataset(kd.tensor(scores, { dtype: 'float32' }), kd.tensor(classes, { dtype: 'int32' }));
}

describe('metrics beyond accuracy', () => {
  it('topKAccuracy counts a target among the k highest scores (k = 5 by default), for any batch size', () => {
    for (const batchSize of [1, 2, 5]) {
      const logs = kd.train.evaluate(new nn.Identity(), {
        data: classData(), batchSize,
        metrics: ['accuracy', 'topKAccuracy', kd.train.metrics.topKAccuracy({ k: 2, name: 'top2' }), kd.train.metrics.topKAccuracy({ k: 3, name: 'top3' })],
      });
      expect(logs, `batch ${batchSize}: ${JSON.stringify(logs)}`).toEqual({
        accuracy: 2 / 5, topKAccuracy: 1, top2: ranks.filter((r) => r <= 2).length / 5, top3: ranks.filter((r) => r <= 3).length / 5,
      });
    }
    const oneHot = new kd.data.TensorDataset(kd.tensor(scores, { dtype: 'float32' }), kd.data.oneHot(kd.tensor(classes, { dtype: 'int32' }), 4));
    expect(kd.train.evaluate(new nn.Identity(), { data: oneHot, metrics: [kd.train.metrics.topKAccuracy({ k: 2 })] })).toEqual({ topKAccuracy: 3 / 5 });
  });

  it('mae and mse are the means over every element, and [N] targets fit an [N, 1] output', () => {
    const rng = makeRng(freshSeed());
    const out = Array.from({ length: 7 }, () => [4 * rng() - 2]);
    const target = Array.from({ length: 7 }, () => 4 * rng() - 2);
    const data = new kd.data.TensorDataset(kd.tensor(out, { dtype: 'float32' }), kd.tensor(target, { dtype: 'float32' }));
    const maeRef = out.reduce((s, [o], i) => s + Math.abs(o - target[i]), 0) / 7;
    const mseRef = out.reduce((s, [o], i) => s + (o - target[i]) ** 2, 0) / 7;
    for (const batchSize of [1, 3, 7]) {
      const logs = kd.train.evaluate(new nn.Identity(), { data, metrics: ['mae', 'mse'], batchSize });
      expect(logs.mae).toBeCloseTo(maeRef, 5);
      expect(logs.mse).toBeCloseTo(mseRef, 5);
    }
  });

  it('a user metric function (number or Tensor result) is logged under its name in fit and evaluate', async () => {
    kd.manualSeed(1);
    const model = new nn.Sequential(new nn.Linear(4, 4));
    const meanScore = (output: Tensor): Tensor => output.mean();
    function firstClassRate(output: Tensor): number {
      return kd.noGrad(() => kd.tidy(() => output.argmax(1).eq(0).float().mean().item()));
    }
    const history = await kd.train.fit(model, {
      optimizer: new kd.optim.SGD(model.parameters(), { lr: 0 }), loss: F.crossEntropy, trainData: classData(), valData: classData(),
      epochs: 1, batchSize: 2, metrics: [meanScore, firstClassRate], verbose: 0,
    });
    expect(Object.keys(history.history).sort()).toEqual(['firstClassRate', 'loss', 'lr', 'meanScore', 'val_firstClassRate', 'val_loss', 'val_meanScore']);
    const direct = kd.noGrad(() => kd.tidy(() => {
      const out = model.forward(kd.tensor(scores, { dtype: 'float32' }));
      return [out.mean().item(), out.argmax(1).eq(0).float().mean().item()];
    }));
    expect(history.history.val_meanScore[0]).toBeCloseTo(direct[0], 5);
    expect(history.history.val_firstClassRate[0]).toBeCloseTo(direct[1], 6);
    expect(history.history.meanScore[0]).toBeCloseTo(direct[0], 5);
  });

  it('rejects anonymous, duplicate and reserved metric names and uncalled factories with ArgumentErrors', () => {
    const data = classData();
    const evaluate = (metrics: unknown[]) => kd.train.evaluate(new nn.Identity(), { data, metrics: metrics as kd.train.MetricInput[] });
    expectError(() => evaluate([(o: Tensor) => o.mean()]), kd.ArgumentError, 'metric 0 is an anonymous function');
    expectError(() => evaluate(['mae', 'mae']), kd.ArgumentError, "two metrics are named 'mae'");
    const loss = (o: Tensor) => o.mean();
    expectError(() => evaluate([loss]), kd.ArgumentError, "may not be named 'loss'");
    expectError(() => evaluate(['f1']), kd.ArgumentError, "unknown metric 'f1'", 'topKAccuracy');
    expectError(() => evaluate([kd.train.metrics.topKAccuracy]), kd.ArgumentError, 'topKAccuracy: expected options');
    expectError(() => kd.train.metrics.topKAccuracy({ k: 0 }), kd.ArgumentError, 'k must be a positive integer');
    const notNumber = (() => 'x') as unknown as kd.train.MetricFn;
    Object.defineProperty(notNumber, 'name', { value: 'notNumber' });
    expectError(() => evaluate([notNumber]), kd.ArgumentError, "metric 'notNumber' returned string");
    const wide = new kd.data.TensorDataset(kd.tensor(scores, { dtype: 'float32' }), kd.tensor(scores.map(() => [1, 2]), { dtype: 'float32' }));
    expectError(() => kd.train.evaluate(new nn.Identity(), { data: wide, metrics: ['mae'] }), kd.ShapeError, 'mae: output [5,4] and target [5,2]');
  });
});

describe('regularizer', () => {
  const l1 = (m: kd.nn.Module): Tensor => F.l1Penalty(m.parameters()).mul(0.01);

  it('is added to the loss fit reports and evaluate gives (as Keras adds regularization losses)', async () => {
    kd.manualSeed(2);
    const model = new nn.Sequential(new nn.Linear(4, 4));
    const penalty = kd.noGrad(() => kd.tidy(() => l1(model).item()));
    const plain = kd.train.evaluate(model, { data: classData(), loss: F.crossEntropy }).loss;
    const withPenalty = kd.train.evaluate(model, { data: classData(), loss: F.crossEntropy, regularizer: l1 }).loss;
    expect(withPenalty).toBeCloseTo(plain + penalty, 5);
    const history = await kd.train.fit(model, {
      optimizer: new kd.optim.SGD(model.parameters(), { lr: 0 }), loss: F.crossEntropy, regularizer: l1,
      trainData: classData(), valData: classData(), epochs: 1, batchSize: 2, verbose: 0,
    });
    expect(history.history.loss[0]).toBeCloseTo(plain + penalty, 5);
    expect(history.history.val_loss[0]).toBeCloseTo(plain + penalty, 5);
  });

  it('its gradient reaches the weights: a strong L1 penalty shrinks their L1 norm far below the unpenalised run', async () => {
    const l1Norm = async (regularizer?: kd.train.Regularizer) => {
      kd.manualSeed(3);
      const model = new nn.Sequential(new nn.Linear(4, 4));
      await kd.train.fit(model, {
        optimizer: new kd.optim.SGD(model.parameters(), { lr: 0.05 }), loss: F.crossEntropy, regularizer,
        trainData: classData(), epochs: 30, batchSize: 5, verbose: 0,
      });
      return kd.noGrad(() => kd.tidy(() => F.l1Penalty(model.parameters()).item()));
    };
    const free = await l1Norm();
    const penalised = await l1Norm((m) => F.l1Penalty(m.parameters()).mul(0.5));
    expect(penalised, `L1 norm ${penalised} with the penalty, ${free} without`).toBeLessThan(0.2 * free);
  });

  it('must be a function returning a one-element tensor, and evaluate needs a loss for it', async () => {
    const model = new nn.Sequential(new nn.Linear(4, 4));
    const base = { optimizer: new kd.optim.SGD(model.parameters(), { lr: 0.1 }), loss: F.crossEntropy, trainData: classData(), epochs: 1, verbose: 0 as const };
    await expect(kd.train.fit(model, { ...base, regularizer: 3 as unknown as kd.train.Regularizer })).rejects.toThrow(/regularizer must be a function/);
    await expect(kd.train.fit(model, { ...base, regularizer: (m) => m.parameters()[0] })).rejects.toThrow(kd.ShapeError);
    expect(() => kd.train.evaluate(model, { data: classData(), metrics: ['accuracy'], regularizer: l1 })).toThrow(/pass a loss too/);
  });
});

describe('fit verbose 2 and evaluate modes', () => {
  it('verbose 2 prints one line per epoch (no bar); other values are rejected', async () => {
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    const model = new nn.Sequential(new nn.Linear(4, 4));
    const base = { optimizer: new kd.optim.SGD(model.parameters(), { lr: 0.1 }), loss: F.crossEntropy, trainData: classData(), epochs: 2 };
    await kd.train.fit(model, { ...base, verbose: 2 });
    vi.restoreAllMocks();
    expect(lines.filter((l) => /^Epoch [12]\/2 .*loss/.test(l)).length).toBe(2);
    await expect(kd.train.fit(model, { ...base, verbose: 3 as 2 })).rejects.toThrow(/verbose must be 0, 1 or 2/);
  });

  it('evaluate puts back each module\'s own mode (a BatchNorm frozen in eval stays in eval)', () => {
    const model = new nn.Sequential(new nn.Linear(4, 4), new nn.BatchNorm1d(4));
    model.at(1).eval();
    kd.train.evaluate(model, { data: classData(), loss: F.crossEntropy });
    expect([model.training, model.at(0).training, model.at(1).training]).toEqual([true, true, false]);
  });
});

describe('predict', () => {
  it('gives the outputs of every sample in batches, equal to one forward in eval mode, without grad', () => {
    kd.manualSeed(freshSeed());
    const model = new nn.Sequential(new nn.Linear(3, 8), new nn.Dropout(0.5), new nn.ReLU(), new nn.Linear(8, 2));
    const x = kd.randn([37, 3]);
    model.eval();
    const whole = kd.noGrad(() => model.forward(x));
    model.train();
    for (const batchSize of [1, 5, 32, 100]) {
      const out = kd.train.predict(model, x, { batchSize });
      expect(out.shape).toEqual([37, 2]);
      expect(out.requiresGrad).toBe(false);
      expect(Array.from(out.data() as Float32Array)).toEqual(Array.from(whole.data() as Float32Array));
    }
    const fromDataset = kd.train.predict(model, new kd.data.TensorDataset(x, kd.zeros([37])), { batchSize: 8 });
    expect(Array.from(fromDataset.data() as Float32Array)).toEqual(Array.from(whole.data() as Float32Array));
    const fromLoader = kd.train.predict(model, new kd.data.DataLoader(new kd.data.TensorDataset(x), { batchSize: 10 }));
    expect(Array.from(fromLoader.data() as Float32Array)).toEqual(Array.from(whole.data() as Float32Array));
    expect(model.training).toBe(true);
  });

  it('returns its input when the model is the identity, frees every intermediate, and puts back mixed modes', () => {
    const x = kd.randn([10, 2]);
    expect(Array.from(kd.train.predict(new nn.Sequential(), x, { batchSize: 4 }).data() as Float32Array)).toEqual(Array.from(x.data() as Float32Array));
    const model = new nn.Sequential(new nn.Linear(2, 2), new nn.BatchNorm1d(2));
    model.at(1).eval();
    kd.train.predict(model, x);
    expect([model.at(0).training, model.at(1).training]).toEqual([true, false]);
    const out = kd.tidy(() => {
      const before = kd.tidy(() => kd.train.predict(model, x, { batchSize: 3 }));
      return before;
    });
    expect(out.isDisposed).toBe(false);
  });

  it('rejects what is not a model, data or a batch size with clear errors', () => {
    const model = new nn.Linear(2, 2);
    expectError(() => kd.train.predict(model, [1, 2] as unknown as Tensor), kd.ArgumentError, 'predict: data must be a Tensor');
    expectError(() => kd.train.predict(model, kd.tensor(1)), kd.ShapeError, 'batch dim');
    expectError(() => kd.train.predict(model, kd.zeros([0, 2])), kd.ArgumentError, 'no samples');
    expectError(() => kd.train.predict(model, kd.zeros([4, 2]), { batchSize: 0 }), kd.ArgumentError, 'batchSize must be a positive integer');
    expectError(() => kd.train.predict({} as kd.nn.Module, kd.zeros([4, 2])), kd.ArgumentError, 'expected a kd.nn.Module');
  });
});
