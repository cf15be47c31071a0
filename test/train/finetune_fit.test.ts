// fit's fine-tuning options: gradient accumulation, clipping, per-step schedulers, maxSteps, and
// checkpoints that resume a run exactly (dropout, shuffling and the schedule included).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import { ArgumentError } from '../../lib/errors.js';
import { regression, resumeRun } from '../fixtures/resume_run.js';

const { nn } = kd;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kindling-ftfit-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function weightsOf(model: kd.nn.Module): Float32Array[] {
  return model.parameters().map((p) => Float32Array.from(p.data() as Float32Array));
}

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((t, i) => t.forEach((v, j) => { m = Math.max(m, Math.abs(v - b[i][j])); }));
  return m;
}

describe('fit: accumulationSteps', () => {
  it('k micro-batches of n give the same weights as batches of k·n (SGD and Adam, to 1e-6)', async () => {
    const data = regression(48, 3);
    for (const Opt of [kd.optim.SGD, kd.optim.Adam] as const) {
      const run = async (batchSize: number, accumulationSteps: number) => {
        kd.manualSeed(11);
        const model = new nn.Sequential(new nn.Linear(3, 8), new nn.Tanh(), new nn.Linear(8, 1));
        const optimizer = new Opt(model.parameters(), { lr: 0.05 });
        await kd.train.fit(model, { optimizer, loss: new nn.MSELoss(), trainData: data, epochs: 2, batchSize, accumulationSteps, shuffle: false, verbose: 0 });
        return weightsOf(model);
      };
      const big = await run(12, 1);
      const micro = await run(4, 3);
      expect(maxDiff(big, micro)).toBeLessThan(1e-6);
      // And it is not vacuous: without accumulation the 4-sample batches train differently.
      expect(maxDiff(big, await run(4, 1))).toBeGreaterThan(1e-3);
    }
  });

  it('a short last group is averaged over its own size: 5 batches with k = 2 step 3 times', async () => {
    kd.manualSeed(1);
    const model = new nn.Linear(3, 1);
    const optimizer = new kd.optim.SGD(model.parameters(), { lr: 0.1 });
    let steps = 0;
    const original = optimizer.step.bind(optimizer);
    optimizer.step = () => { steps++; original(); };
    await kd.train.fit(model, { optimizer, loss: new nn.MSELoss(), trainData: regression(20, 2), epochs: 1, batchSize: 4, accumulationSteps: 2, shuffle: false, verbose: 0 });
    expect(steps).toBe(3);
  });
});

describe('fit: clipGradNorm, scheduler, maxSteps', () => {
  it('clips the total gradient norm before each step', async () => {
    kd.manualSeed(2);
    const model = new nn.Linear(3, 1);
    const optimizer = new kd.optim.SGD(model.parameters(), { lr: 1 });
    const before = weightsOf(model);
    await kd.train.fit(model, { optimizer, loss: new nn.MSELoss(), trainData: regression(8, 4), epochs: 1, batchSize: 8, clipGradNorm: 1e-3, verbose: 0 });
    const after = weightsOf(model);
    // One SGD step with lr 1 moves the parameters by exactly the clipped gradient: norm 1e-3.
    let sq = 0;
    after.forEach((t, i) => t.forEach((v, j) => { sq += (v - before[i][j]) ** 2; }));
    expect(Math.sqrt(sq)).toBeCloseTo(1e-3, 6);
  });

  it('steps the scheduler after every optimizer step and stops at maxSteps', async () => {
    kd.manualSeed(3);
    const model = new nn.Linear(3, 1);
    const optimizer = new kd.optim.SGD(model.parameters(), { lr: 0.1 });
    const scheduler = new kd.optim.lrScheduler.WarmupLinearLR(optimizer, { warmupSteps: 2, totalSteps: 10 });
    const lrs: number[] = [];
    await kd.train.fit(model, {
      optimizer, loss: new nn.MSELoss(), trainData: regression(16, 5), epochs: 10, batchSize: 4, scheduler, maxSteps: 6, verbose: 0,
      callbacks: [{ onBatchEnd: () => { lrs.push(optimizer.paramGroups[0].lr); } }],
    });
    expect(lrs.length).toBe(6);
    const expected = [1, 2, 3, 4, 5, 6].map((s) => (s < 2 ? 0.1 * s / 2 : 0.1 * (10 - s) / 8));
    lrs.forEach((lr, i) => expect(lr).toBeCloseTo(expected[i], 12));
  });

  it('rejects bad options with ArgumentError naming fit', async () => {
    const model = new nn.Linear(3, 1);
    const optimizer = new kd.optim.SGD(model.parameters(), { lr: 0.1 });
    const base = { optimizer, loss: new nn.MSELoss(), trainData: regression(4, 1), epochs: 1, verbose: 0 as const };
    await expect(kd.train.fit(model, { ...base, accumulationSteps: 0 })).rejects.toThrow(/fit: accumulationSteps must be a positive integer/);
    await expect(kd.train.fit(model, { ...base, clipGradNorm: -1 })).rejects.toThrow(/fit: clipGradNorm must be a positive number/);
    await expect(kd.train.fit(model, { ...base, checkpointEvery: 2 })).rejects.toThrow(ArgumentError);
    const other = new kd.optim.SGD(new nn.Linear(1, 1).parameters(), { lr: 1 });
    await expect(kd.train.fit(model, { ...base, scheduler: new kd.optim.lrScheduler.WarmupLinearLR(other, { warmupSteps: 1, totalSteps: 2 }) })).rejects.toThrow(/another optimizer/);
  });
});

describe('fit: exact resume', () => {
  const train = resumeRun;

  it('a run that crashed resumes from its last checkpoint with the same losses, history and weights (1e-6)', async () => {
    const full = await train({});
    expect(full.losses.length).toBe(30);
    const path = join(dir, 'run', 'model.safetensors');
    // Crash at micro-batch 17: the last checkpoint (every 3 steps = 6 micro-batches) is at micro-batch 12, mid-epoch 2.
    await expect(train({ checkpoint: path, checkpointEvery: 3, crashAfter: 17 })).rejects.toThrow('simulated crash');
    const rest = await train({ checkpoint: path, checkpointEvery: 3, resume: true });
    expect(rest.losses.length).toBe(18);
    rest.losses.forEach((l, i) => expect(Math.abs(l - full.losses[12 + i])).toBeLessThan(1e-6));
    expect(maxDiff(rest.weights, full.weights)).toBeLessThan(1e-6);
    expect(rest.history.epoch).toEqual([1, 2, 3]);
    rest.history.history.loss.forEach((l, i) => expect(Math.abs(l - full.history.history.loss[i])).toBeLessThan(1e-6));
  });

  it('resumes a DataLoader given as trainData (its seed and epoch come from the checkpoint)', async () => {
    const loader = (seed: number) => new kd.data.DataLoader(regression(40, 7), { batchSize: 4, shuffle: true, seed });
    const full = await train({ trainData: loader(21) });
    const path = join(dir, 'dl.safetensors');
    await expect(train({ checkpoint: path, checkpointEvery: 2, crashAfter: 26, trainData: loader(21) })).rejects.toThrow('simulated crash');
    // A fresh loader with another seed: the checkpoint puts back seed 21 and the epoch count. The last checkpoint: step 12 = micro-batch 24.
    const rest = await train({ checkpoint: path, resume: path, trainData: loader(5) });
    expect(rest.losses.length).toBe(6);
    rest.losses.forEach((l, i) => expect(Math.abs(l - full.losses[24 + i])).toBeLessThan(1e-6));
    expect(maxDiff(rest.weights, full.weights)).toBeLessThan(1e-6);
  });

  it('a run killed with SIGKILL (checkpoint every step) resumes from its last checkpoint with the same losses and weights (1e-6)', async () => {
    const full = await train({});
    const path = join(dir, 'killed', 'model.safetensors');
    const lossFile = join(dir, 'losses.txt');
    writeFileSync(lossFile, '');
    const root = join(import.meta.dirname, '..', '..');
    const child = spawn(process.execPath, [join(root, 'node_modules', 'vite-node', 'vite-node.mjs'), join(root, 'test', 'fixtures', 'resume_run.ts'), path, lossFile], { cwd: root, stdio: 'ignore', env: { ...process.env, KINDLING_RESUME_CHILD: '1' } });
    const killAt = 7 + Math.floor(Math.random() * 16); // somewhere in batches 7..22 of 30
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    const deadline = Date.now() + 90_000;
    let exitedEarly = false;
    void exited.then(() => { exitedEarly = true; });
    while (readFileSync(lossFile, 'utf8').split('\n').filter(Boolean).length < killAt && Date.now() < deadline && !exitedEarly) await sleep(5);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const done = readFileSync(lossFile, 'utf8').split('\n').filter(Boolean).map(Number);
    expect(done.length).toBeGreaterThanOrEqual(killAt);
    expect(done.length).toBeLessThan(30);
    // The child's losses are the uninterrupted run's.
    done.forEach((l, i) => expect(Math.abs(l - full.losses[i])).toBeLessThan(1e-6));
    const rest = await train({ checkpoint: path, resume: true });
    // It resumes at the last whole checkpoint: an optimizer step boundary at or before the kill.
    const resumedAt = 30 - rest.losses.length;
    expect(resumedAt % 2).toBe(0);
    expect(resumedAt).toBeGreaterThanOrEqual(done.length - 2);
    expect(resumedAt).toBeLessThanOrEqual(done.length);
    rest.losses.forEach((l, i) => expect(Math.abs(l - full.losses[resumedAt + i])).toBeLessThan(1e-6));
    expect(maxDiff(rest.weights, full.weights)).toBeLessThan(1e-6);
  }, 120_000);

  it('refuses to resume from a checkpoint without a resume point', async () => {
    const model = new nn.Linear(3, 1);
    const optimizer = new kd.optim.SGD(model.parameters(), { lr: 0.1 });
    const path = join(dir, 'plain.safetensors');
    kd.train.saveCheckpoint(path, { model, optimizer, epoch: 1 });
    await expect(kd.train.fit(model, { optimizer, loss: new nn.MSELoss(), trainData: regression(4, 1), epochs: 2, verbose: 0, resume: path })).rejects.toThrow(/has no resume point/);
  });
});

describe('resume state: Generator and DataLoader', () => {
  it('Generator.getState/setState continue the stream exactly; kd.rand and dropout draw from the default one', () => {
    const g = new kd.Generator(42);
    for (let i = 0; i < 5; i++) g.nextUint32();
    const state = g.getState();
    expect(JSON.parse(JSON.stringify(state))).toEqual(state);
    const next = Array.from({ length: 8 }, () => g.nextUint32());
    expect(Array.from({ length: 8 }, () => new kd.Generator(0).setState(state).nextUint32())[0]).toBe(next[0]);
    const h = new kd.Generator(7).setState(state);
    expect(Array.from({ length: 8 }, () => h.nextUint32())).toEqual(next);
    expect(() => g.setState([0, 0, 0, 0])).toThrow(/Generator.setState: expected four 32-bit unsigned integers/);
    expect(() => g.setState([1, 2, 3] as number[])).toThrow(ArgumentError);
    kd.manualSeed(3);
    const saved = kd.getRngState();
    const a = kd.nn.functional.dropout(kd.ones([64]), 0.5).toArray();
    kd.setRngState(saved);
    expect(kd.nn.functional.dropout(kd.ones([64]), 0.5).toArray()).toEqual(a);
  });

  it('DataLoader.state/loadState and batchesFrom give the same batches as an uninterrupted loader', () => {
    const data = regression(10, 1);
    const first = new kd.data.DataLoader(data, { batchSize: 3, shuffle: true, seed: 9 });
    const epochs = [0, 1].map(() => [...first].map((b) => b[1].toArray()));
    const second = new kd.data.DataLoader(data, { batchSize: 3, shuffle: true, seed: 1 });
    second.loadState({ seed: 9, epoch: 1 });
    expect([...second.batchesFrom(2)].map((b) => b[1].toArray())).toEqual(epochs[1].slice(2));
    expect(second.state()).toEqual({ seed: 9, epoch: 2 });
    expect(() => second.loadState({ seed: 1, epoch: -1 })).toThrow(/DataLoader.loadState/);
    expect(() => second.batchesFrom(-1).next()).toThrow(/DataLoader.batchesFrom: start must be an integer >= 0/);
  });
});
