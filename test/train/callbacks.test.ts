import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';

const { nn } = kd;
const { earlyStopping, modelCheckpoint, lrSchedulerCallback } = kd.train.callbacks;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kindling-callbacks-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function toyData(n = 24) {
  const x = kd.tensor(Array.from({ length: n }, (_, i) => [Math.sin(i), Math.cos(3 * i)]), { dtype: 'float32' });
  const y = kd.tensor(Array.from({ length: n }, (_, i) => i % 3), { dtype: 'int32' });
  return new kd.data.TensorDataset(x, y);
}

function toyModel() {
  return new nn.Sequential(new nn.Linear(2, 8), new nn.ReLU(), new nn.Linear(8, 3));
}

/** Overwrites a logged value with a script, epoch by epoch (runs before the callbacks after it). */
function scripted(key: string, values: number[]): kd.train.Callback {
  return { onEpochEnd: (epoch, logs) => { logs[key] = values[epoch - 1]; } };
}

/** A copy of the first layer's weight at the end of every epoch. */
function weightRecorder(snapshots: number[][]): kd.train.Callback {
  return { onEpochEnd: (_e, _l, state) => { snapshots.push(Array.from(state.model.stateDict()['0.weight'].data())); } };
}

async function train(callbacks: kd.train.Callback[], epochs: number, extra: Partial<kd.train.FitOptions> = {}) {
  kd.manualSeed(21);
  const model = toyModel();
  const optimizer = new kd.optim.SGD(model.parameters(), { lr: 0.1 });
  const history = await kd.train.fit(model, {
    optimizer, loss: new nn.CrossEntropyLoss(), trainData: toyData(), valData: toyData(9), epochs, batchSize: 8, seed: 1, verbose: 0, callbacks, ...extra,
  });
  return { model, optimizer, history };
}

describe('earlyStopping', () => {
  it('stops once val_loss has not improved for `patience` epochs and restores the best weights', async () => {
    const snapshots: number[][] = [];
    // Best at epoch 2; epochs 3 and 4 fail to improve on it, so patience 2 stops after epoch 4.
    const stopper = earlyStopping({ monitor: 'val_loss', patience: 2, restoreBestWeights: true });
    const { model, history } = await train([scripted('val_loss', [1.0, 0.5, 0.7, 0.6, 0.1, 0.1]), weightRecorder(snapshots), stopper], 6);
    expect(history.epoch).toEqual([1, 2, 3, 4]);
    expect(stopper.stoppedEpoch).toBe(4);
    expect(stopper.bestEpoch).toBe(2);
    expect(snapshots[3]).not.toEqual(snapshots[1]);
    expect(Array.from(model.stateDict()['0.weight'].data())).toEqual(snapshots[1]);
  });

  it('minDelta: a gain smaller than it is no improvement; mode max for accuracies', async () => {
    const stopper = earlyStopping({ monitor: 'val_accuracy', patience: 1, minDelta: 0.05 });
    const { history } = await train([scripted('val_accuracy', [0.5, 0.52, 0.54, 0.9]), stopper], 4);
    expect(history.epoch).toEqual([1, 2]);
    expect(stopper.bestEpoch).toBe(1);
  });

  it('runs to the end while improving, keeping the last weights', async () => {
    const snapshots: number[][] = [];
    const stopper = earlyStopping({ patience: 0, restoreBestWeights: true });
    const { model, history } = await train([scripted('val_loss', [3, 2, 1]), weightRecorder(snapshots), stopper], 3);
    expect(history.epoch).toEqual([1, 2, 3]);
    expect(stopper.stoppedEpoch).toBe(0);
    expect(Array.from(model.stateDict()['0.weight'].data())).toEqual(snapshots[2]);
  });

  it('patience 0 stops at the first epoch without improvement', async () => {
    const { history } = await train([scripted('val_loss', [3, 2, 2.5, 1]), earlyStopping({ patience: 0 })], 4);
    expect(history.epoch).toEqual([1, 2, 3]);
  });

  it('a monitor that is not logged is an ArgumentError naming what is', async () => {
    await expect(train([earlyStopping({ monitor: 'val_f1' })], 1)).rejects.toThrow(/'val_f1' is not among the logged values loss, val_loss, lr/);
    await expect(train([earlyStopping()], 1, { valData: undefined })).rejects.toThrow(/pass valData/);
  });
});

describe('modelCheckpoint', () => {
  it('writes a safetensors file that loads into a fresh model, plus the curve SVG and history JSON', async () => {
    const path = join(dir, 'best.safetensors');
    const { model, history } = await train([modelCheckpoint({ path })], 2);
    expect(existsSync(path)).toBe(true);
    const state = kd.io.load(path);
    expect(Object.keys(state).sort()).toEqual(Object.keys(model.stateDict()).sort());
    expect(kd.io.loadMetadata(path)).toMatchObject({ format: 'pt', epoch: '2', monitor: 'val_loss', val_loss: String(history.history.val_loss[1]) });
    const fresh = toyModel();
    fresh.loadStateDict(state);
    const x = kd.tensor([[0.3, -0.7], [1, 2]], { dtype: 'float32' });
    expect((fresh.forward(x) as Tensor).toArray()).toEqual((model.forward(x) as Tensor).toArray());

    const svg = readFileSync(join(dir, 'best.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toMatch(/<path/);
    const saved = kd.train.historyFromJson(readFileSync(join(dir, 'best.history.json'), 'utf8'));
    expect(saved.epoch).toEqual([1, 2]);
    expect(saved.history.loss).toEqual(history.history.loss);
    expect(existsSync(join(dir, 'best.optim.safetensors'))).toBe(true);
  });

  it('saveBestOnly writes only on epochs that improve the monitored value', async () => {
    const path = join(dir, 'ck.safetensors');
    const saver = modelCheckpoint({ path, saveBestOnly: true });
    const epochsSaved: string[] = [];
    const watcher: kd.train.Callback = { onEpochEnd: () => { if (existsSync(path)) epochsSaved.push(kd.io.loadMetadata(path).epoch); } };
    await train([scripted('val_loss', [2, 1, 1.5, 0.5]), saver, watcher], 4);
    expect(epochsSaved).toEqual(['1', '2', '2', '4']);
    expect(saver.best).toBe(0.5);
  });

  it('with saveOptimizer false writes no optimizer state', async () => {
    const path = join(dir, 'w.safetensors');
    await train([modelCheckpoint({ path, saveOptimizer: false })], 1);
    expect(existsSync(path)).toBe(true);
    expect(existsSync(join(dir, 'w.optim.safetensors'))).toBe(false);
  });
});

describe('lrSchedulerCallback', () => {
  it('steps StepLR once per epoch; history.lr holds the lr each epoch ran with', async () => {
    kd.manualSeed(2);
    const model = toyModel();
    const optimizer = new kd.optim.SGD(model.parameters(), { lr: 0.1 });
    const scheduler = new kd.optim.lrScheduler.StepLR(optimizer, { stepSize: 1, gamma: 0.5 });
    const history = await kd.train.fit(model, {
      optimizer, loss: new nn.CrossEntropyLoss(), trainData: toyData(), epochs: 3, batchSize: 8, verbose: 0, callbacks: [lrSchedulerCallback(scheduler)],
    });
    expect(history.history.lr).toEqual([0.1, 0.05, 0.025]);
    expect(optimizer.paramGroups[0].lr).toBeCloseTo(0.0125, 12);
  });

  it('feeds ReduceLROnPlateau the monitored value', async () => {
    kd.manualSeed(2);
    const model = toyModel();
    const optimizer = new kd.optim.SGD(model.parameters(), { lr: 0.1 });
    const plateau = new kd.optim.lrScheduler.ReduceLROnPlateau(optimizer, { patience: 1, factor: 0.5 });
    const history = await kd.train.fit(model, {
      optimizer, loss: new nn.CrossEntropyLoss(), trainData: toyData(), valData: toyData(6), epochs: 5, batchSize: 8, verbose: 0,
      callbacks: [scripted('val_loss', [1, 1, 1, 1, 1]), lrSchedulerCallback(plateau)],
    });
    // Epoch 1 sets the best; epochs 2 and 3 are bad, and the second bad one (> patience) halves the lr.
    expect(history.history.lr).toEqual([0.1, 0.1, 0.1, 0.05, 0.05]);
  });

  it('rejects something that is not a scheduler', () => {
    expect(() => lrSchedulerCallback({ step() {} } as unknown as kd.optim.lrScheduler.StepLR)).toThrow(kd.ArgumentError);
  });
});
