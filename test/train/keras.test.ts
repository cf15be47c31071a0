// The Keras workflow on every Module: compile / fit / evaluate / predict / summary, run by
// kd.train (the same numbers as calling kd.train.fit with the optimizer and loss compile makes).
import { afterEach, describe, expect, it, vi } from 'vitest';

import { liveStorageCount } from '../../lib/backend/storage.js';
import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectError, freshSeed, makeRng, settledStorageCount } from '../helpers.js';

const { nn } = kd;
const F = kd.nn.functional;

afterEach(() => {
  vi.restoreAllMocks();
});

/** Points in [-1, 1]² labelled by quadrant (4 classes), as x [n, 2] and int32 y [n]. */
function quadrants(n: number, seed: number): [Tensor, Tensor] {
  const rng = makeRng(seed);
  const x: number[][] = [], y: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = [2 * rng() - 1, 2 * rng() - 1];
    x.push(p);
    y.push((p[0] > 0 ? 1 : 0) + (p[1] > 0 ? 2 : 0));
  }
  return [kd.tensor(x, { dtype: 'float32' }), kd.tensor(y, { dtype: 'int32' })];
}

function smallMlp(seed: number) {
  kd.manualSeed(seed);
  return new nn.Sequential(new nn.Linear(2, 16), new nn.Tanh(), new nn.Linear(16, 4));
}

/** The optimizer fit runs with, read by a callback. */
function optimizerSeenByFit(): { callback: kd.train.Callback; seen: () => kd.train.AnyOptimizer } {
  let optimizer: kd.train.AnyOptimizer | null = null;
  return { callback: { onTrainBegin: (state) => { optimizer = state.optimizer; } }, seen: () => optimizer! };
}

describe('model.compile / fit / evaluate / predict', () => {
  it('trains the course MLP the Keras way: loss falls, accuracy rises, history has val_ values', async () => {
    const seed = freshSeed();
    const model = smallMlp(seed);
    const [x, y] = quadrants(256, seed);
    const [xt, yt] = quadrants(128, seed + 1);
    model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const history = await model.fit(x, y, { epochs: 20, batchSize: 8, validationData: [xt, yt], verbose: 0, seed });
    expect(history.epoch).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(Object.keys(history.history).sort()).toEqual(['accuracy', 'loss', 'lr', 'val_accuracy', 'val_loss']);
    expect(history.history.lr.every((lr) => lr === 0.001)).toBe(true);
    const { loss } = history.history;
    expect(loss[19], `seed ${seed}: ${loss.map((l) => l.toFixed(3))}`).toBeLessThan(0.5 * loss[0]);
    const test = model.evaluate(xt, yt);
    expect(Object.keys(test).sort()).toEqual(['accuracy', 'loss']);
    expect(test.accuracy, `seed ${seed}`).toBeGreaterThan(0.85);
    expect(test.loss).toBeCloseTo(history.history.val_loss[19], 5);
    const probs = model.predict(xt).softmax(1);
    expect(probs.shape).toEqual([128, 4]);
    const predicted = Array.from(probs.argmax(1).data() as Int32Array);
    const labels = Array.from(yt.data() as Int32Array);
    expect(predicted.filter((p, i) => p === labels[i]).length / 128).toBeCloseTo(test.accuracy, 10);
  });

  it('is kd.train.fit underneath: the same history as kd.train.fit with Keras\'s Adam and F.crossEntropy', async () => {
    const [x, y] = quadrants(100, 5);
    const keras = smallMlp(7);
    keras.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy', 'topKAccuracy'] });
    const a = await keras.fit(x, y, { epochs: 3, verbose: 0, seed: 11, validationSplit: 0.2 });
    const direct = smallMlp(7);
    const b = await kd.train.fit(direct, {
      optimizer: new kd.optim.Adam(direct.parameters(), { lr: 0.001, eps: 1e-7 }), loss: F.crossEntropy, metrics: ['accuracy', 'topKAccuracy'],
      trainData: new kd.data.TensorDataset(x.slice(0, 0, 80), y.slice(0, 0, 80)), valData: new kd.data.TensorDataset(x.slice(0, 80), y.slice(0, 80)),
      epochs: 3, batchSize: 32, verbose: 0, seed: 11,
    });
    expect(a).toEqual(b);
    expect(keras.predict(x).toArray()).toEqual(direct.predict(x).toArray());
  });

  it('string optimizers are kd.optim optimizers with Keras\'s defaults', async () => {
    const [x, y] = quadrants(8, 1);
    const expected = {
      adam: [kd.optim.Adam, { lr: 0.001, eps: 1e-7, weightDecay: 0 }],
      adamw: [kd.optim.AdamW, { lr: 0.001, eps: 1e-7, weightDecay: 0.004 }],
      sgd: [kd.optim.SGD, { lr: 0.01, momentum: 0 }],
      rmsprop: [kd.optim.RMSprop, { lr: 0.001, alpha: 0.9, eps: 1e-7 }],
    } as const;
    for (const [name, [cls, defaults]] of Object.entries(expected)) {
      const model = smallMlp(1);
      const probe = optimizerSeenByFit();
      model.compile({ optimizer: name as kd.train.OptimizerName, loss: 'sparseCategoricalCrossentropy' });
      await model.fit(x, y, { verbose: 0, callbacks: [probe.callback] });
      expect(probe.seen(), name).toBeInstanceOf(cls);
      expect(probe.seen().paramGroups[0], name).toMatchObject(defaults);
      expect(probe.seen().paramGroups[0].params, name).toEqual(model.parameters());
    }
    const model = smallMlp(1);
    const mine = new kd.optim.SGD(model.parameters(), { lr: 0.5 });
    const probe = optimizerSeenByFit();
    model.compile({ optimizer: mine, loss: new nn.CrossEntropyLoss() });
    await model.fit(x, y, { verbose: 0, callbacks: [probe.callback] });
    expect(probe.seen()).toBe(mine);
  });

  it('validationSplit holds out the last samples before shuffling, as Keras', async () => {
    const [x, y] = quadrants(50, 3);
    const model = smallMlp(2);
    model.compile({ optimizer: new kd.optim.SGD(model.parameters(), { lr: 0 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const history = await model.fit(x, y, { epochs: 1, validationSplit: 0.3, verbose: 0 });
    // floor(50 * 0.7) = 35 train rows; rows 35..49 validate.
    const last = model.evaluate(x.slice(0, 35), y.slice(0, 35));
    expect(history.history.val_loss[0]).toBeCloseTo(last.loss, 6);
    expect(history.history.val_accuracy[0]).toBe(last.accuracy);
    expect(history.history.loss[0]).toBeCloseTo(model.evaluate(x.slice(0, 0, 35), y.slice(0, 0, 35)).loss, 5);
  });

  it('frees the row views validationSplit makes: once x and y are disposed, no storage of theirs is left', async () => {
    const model = smallMlp(1).compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    const before = settledStorageCount();
    const [x, y] = quadrants(20, 1);
    await model.fit(x, y, { epochs: 2, validationSplit: 0.25, verbose: 0 });
    expect(x.isDisposed || y.isDisposed).toBe(false);
    x.dispose();
    y.dispose();
    expect(settledStorageCount()).toBeLessThanOrEqual(before);
  });

  it('fits and evaluates a Dataset, and remembers the input shape for summary()', async () => {
    const [x, y] = quadrants(40, 4);
    const data = new kd.data.TensorDataset(x, y);
    const model = smallMlp(3);
    expect(model.summary()).toContain('Param Shapes');
    model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy', 'topKAccuracy'] });
    const history = await model.fit(data, { epochs: 2, batchSize: 8, verbose: 0 });
    expect(history.epoch).toEqual([1, 2]);
    expect(Object.keys(model.evaluate(data, { batchSize: 7 })).sort()).toEqual(['accuracy', 'loss', 'topKAccuracy']);
    const summary = model.summary();
    expect(summary).toContain('Output Shape');
    expect(summary).toMatch(/0 \(Linear\)\s+\[1,16\]\s+48/);
    expect(summary).toMatch(/2 \(Linear\)\s+\[1,4\]\s+68/);
    // A layer added since fit breaks the remembered input: summary falls back to parameter shapes.
    model.push(new nn.Linear(3, 3));
    expect(model.summary()).toContain('Param Shapes');
    expect(() => model.summary({ inputShape: [2] })).toThrow(kd.ShapeError);
  });

  it('stops at a non-finite loss by default and trains on with terminateOnNaN: false', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const [x, y] = quadrants(16, 2);
    const nanLoss = (output: Tensor) => output.sum().mul(NaN);
    const model = smallMlp(1).compile({ optimizer: 'sgd', loss: nanLoss });
    const stopped = await model.fit(x, y, { epochs: 3, batchSize: 4, verbose: 0 });
    expect(stopped.epoch).toEqual([1]);
    expect(warn).toHaveBeenCalledTimes(1);
    const onward = await model.fit(x, y, { epochs: 3, batchSize: 4, verbose: 0, terminateOnNaN: false });
    expect(onward.epoch).toEqual([1, 2, 3]);
  });

  it('compile returns the model, so it chains', () => {
    const model = smallMlp(1).compile({ optimizer: 'adam', loss: 'mse' });
    expect(model).toBeInstanceOf(nn.Sequential);
    expect(model.at(0).outFeatures).toBe(16);
  });
});

describe('compile: losses by name', () => {
  const logits = kd.tensor([[2, 1, 0], [0, 3, 1], [0.5, 0.2, 0.9], [1, 4, 2]], { dtype: 'float32' });
  const labels = kd.tensor([0, 1, 0, 2], { dtype: 'int32' });
  const evaluateIdentity = (options: Omit<kd.train.CompileOptions, 'optimizer'>, output: Tensor, target: Tensor) =>
    new nn.Identity().compile({ ...options, optimizer: new kd.optim.SGD([kd.zeros([1], { requiresGrad: true })]) }).evaluate(output, target);
  const ce = kd.noGrad(() => F.crossEntropy(logits, labels).item());

  it('sparseCategoricalCrossentropy takes logits by default and probabilities with fromLogits: false', () => {
    expect(evaluateIdentity({ loss: 'sparseCategoricalCrossentropy' }, logits, labels).loss).toBeCloseTo(ce, 6);
    const probs = kd.noGrad(() => logits.softmax(1));
    expect(evaluateIdentity({ loss: 'sparseCategoricalCrossentropy', fromLogits: false }, probs, labels).loss).toBeCloseTo(ce, 5);
  });

  it('categoricalCrossentropy takes one-hot targets, from logits or probabilities', () => {
    const oneHot = kd.data.oneHot(labels, 3);
    expect(evaluateIdentity({ loss: 'categoricalCrossentropy' }, logits, oneHot).loss).toBeCloseTo(ce, 6);
    const probs = kd.noGrad(() => logits.softmax(1));
    expect(evaluateIdentity({ loss: 'categoricalCrossentropy', fromLogits: false }, probs, oneHot).loss).toBeCloseTo(ce, 5);
  });

  it('binaryCrossentropy fits [N] 0/1 targets to an [N, 1] output; accuracy thresholds logits at 0 and probabilities at 0.5', () => {
    const z = kd.tensor([[1.5], [-0.2], [0.3], [-3]], { dtype: 'float32' });
    const t = kd.tensor([1, 0, 0, 1], { dtype: 'int32' });
    const ref = kd.noGrad(() => F.bceWithLogitsLoss(z, kd.tensor([[1], [0], [0], [1]], { dtype: 'float32' })).item());
    const fromLogits = evaluateIdentity({ loss: 'binaryCrossentropy', metrics: ['accuracy'] }, z, t);
    expect(fromLogits.loss).toBeCloseTo(ref, 6);
    expect(fromLogits.accuracy).toBe(0.5);
    const p = kd.noGrad(() => z.sigmoid());
    const fromProbs = evaluateIdentity({ loss: 'binaryCrossentropy', fromLogits: false, metrics: ['accuracy'] }, p, t);
    expect(fromProbs.loss).toBeCloseTo(ref, 5);
    expect(fromProbs.accuracy).toBe(0.5);
  });

  it('mse and mae compare float outputs with targets of the same number of elements', () => {
    const out = kd.tensor([[1], [2], [4]], { dtype: 'float32' });
    const target = kd.tensor([1, 0, 1], { dtype: 'float32' });
    const logs = evaluateIdentity({ loss: 'mse', metrics: ['mae'] }, out, target);
    expect(logs.loss).toBeCloseTo((0 + 4 + 9) / 3, 6);
    expect(logs.mae).toBeCloseTo((0 + 2 + 3) / 3, 6);
    expect(evaluateIdentity({ loss: 'mae' }, out, target).loss).toBeCloseTo(5 / 3, 6);
  });

  it('a regularizer given to compile is in the loss fit and evaluate report', () => {
    const model = smallMlp(4);
    const [x, y] = quadrants(20, 2);
    const l2 = (m: kd.nn.Module) => F.l2Penalty(m.parameters()).mul(0.1);
    model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', regularizer: l2 });
    const penalty = kd.noGrad(() => kd.tidy(() => l2(model).item()));
    const plain = kd.train.evaluate(model, { data: new kd.data.TensorDataset(x, y), loss: F.crossEntropy }).loss;
    expect(model.evaluate(x, y).loss).toBeCloseTo(plain + penalty, 5);
  });
});

describe('compile / fit / evaluate / predict: bad input', () => {
  it('fit, evaluate before compile say to compile first', async () => {
    const model = smallMlp(1);
    const [x, y] = quadrants(4, 1);
    await expect(model.fit(x, y)).rejects.toThrow(kd.ArgumentError);
    await expect(model.fit(x, y)).rejects.toThrow(/call model.compile\(\{ optimizer, loss, metrics \}\) before model.fit\(\)/);
    expectError(() => model.evaluate(x, y), kd.ArgumentError, 'before model.evaluate()');
  });

  it('unknown names list the known ones, and a snake_case Keras name gets its camelCase spelling', () => {
    const model = smallMlp(1);
    expectError(() => model.compile({ optimizer: 'adamm' as 'adam', loss: 'mse' }), kd.ArgumentError, "unknown optimizer 'adamm'", 'adam, adamw, sgd, rmsprop');
    expectError(() => model.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy' as 'mse' }), kd.ArgumentError,
      "unknown loss 'sparse_categorical_crossentropy' (did you mean 'sparseCategoricalCrossentropy'?)");
    expectError(() => model.compile({ optimizer: 42 as unknown as 'adam', loss: 'mse' }), kd.ArgumentError, 'optimizer must be one of');
    expectError(() => model.compile({ optimizer: 'adam', loss: 7 as unknown as 'mse' }), kd.ArgumentError, 'loss must be one of');
    expectError(() => model.compile({ optimizer: 'adam', loss: 'mse', metrics: ['acc' as 'accuracy'] }), kd.ArgumentError, "unknown metric 'acc'");
    expectError(() => model.compile({ optimizer: 'adam', loss: 'mse', fromLogits: 'yes' as unknown as boolean }), kd.ArgumentError, 'fromLogits must be a boolean');
    expectError(() => model.compile(undefined as unknown as kd.train.CompileOptions), kd.ArgumentError, 'compile: expected options');
    expectError(() => new nn.ReLU().compile({ optimizer: 'adam', loss: 'mse' }), kd.ArgumentError, "optimizer 'adam' has nothing to train: the model has no parameters");
  });

  it('fit and evaluate check their arguments and options', async () => {
    const model = smallMlp(1).compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    const [x, y] = quadrants(10, 1);
    await expect(model.fit(x, y.slice(0, 0, 9))).rejects.toThrow(/fit: x \[10,2\] and y \[9\] have different numbers of samples/);
    await expect(model.fit(x, y.slice(0, 0, 9))).rejects.toThrow(kd.ShapeError);
    await expect(model.fit(x as unknown as kd.train.DataInput)).rejects.toThrow(/model.fit\(x, y, options\?\)/);
    await expect(model.fit([1, 2] as unknown as Tensor, y)).rejects.toThrow(kd.ArgumentError);
    await expect(model.fit(x, y, { batch_size: 4 } as kd.train.ModelFitOptions)).rejects.toThrow(/unknown option 'batch_size'/);
    await expect(model.fit(x, y, { validationSplit: 0.2, validationData: [x, y] })).rejects.toThrow(/not both/);
    await expect(model.fit(x, y, { validationSplit: 1.5 })).rejects.toThrow(/validationSplit must be a fraction/);
    await expect(model.fit(x, y, { validationSplit: 0.95 })).rejects.toThrow(/validationSplit 0.95 of 10 samples leaves no training samples/);
    await expect(model.fit(x, y, { validationData: [x] as unknown as [Tensor, Tensor] })).rejects.toThrow(/validationData must be \[x, y\]/);
    await expect(model.fit(new kd.data.DataLoader(new kd.data.TensorDataset(x, y)), { validationSplit: 0.5 })).rejects.toThrow(/not a DataLoader/);
    await expect(model.fit(x, y, { epochs: 0 })).rejects.toThrow(/epochs must be a positive integer/);
    expectError(() => model.evaluate(x, y, { batchSize: 0 }), kd.ArgumentError, 'batchSize');
    expectError(() => model.evaluate(x, y, { verbose: 1 } as kd.train.ModelEvaluateOptions), kd.ArgumentError, "unknown option 'verbose'");
    expectError(() => model.predict(x, { batchSize: -1 }), kd.ArgumentError, 'batchSize');
  });
});

describe('Sequential runs an instance-replaced forward instead of fusing past it', () => {
  it('a ReLU whose forward was replaced on the instance is called inside Conv2d, ReLU, MaxPool2d', () => {
    const relu = new nn.ReLU();
    let calls = 0;
    const original = relu.forward.bind(relu);
    relu.forward = (x: Tensor) => { calls++; return original(x); };
    const seq = new nn.Sequential(new nn.Conv2d(1, 2, 3), relu, new nn.MaxPool2d(2));
    const out = kd.noGrad(() => seq.forward(kd.randn([1, 1, 8, 8])));
    expect(out.shape).toEqual([1, 2, 3, 3]);
    expect(calls).toBe(1);
  });
});
