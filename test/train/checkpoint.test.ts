import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';

const { nn } = kd;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kindling-ckpt-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function model(seed: number): kd.nn.Sequential {
  kd.manualSeed(seed);
  return new nn.Sequential(new nn.Linear(2, 3), new nn.Tanh(), new nn.Linear(3, 2));
}

/** An Adam with state (one step taken), so its file holds tensors. */
function trainedAdam(m: kd.nn.Module, lr = 0.01): kd.optim.Adam {
  const opt = new kd.optim.Adam(m.parameters(), { lr });
  const loss = (m.forward(kd.tensor([[0.5, -1], [1, 2]])) as Tensor).pow(2).sum();
  loss.backward();
  opt.step();
  opt.zeroGrad();
  return opt;
}

function history(epochs: number): kd.train.History {
  const epoch = Array.from({ length: epochs }, (_, i) => i + 1);
  return { epoch, history: { loss: epoch.map((e) => 1 / e) } };
}

/** Every file in the folder, by name, as bytes (a folder as the names in it). */
function snapshot(): Record<string, Buffer | string[]> {
  return Object.fromEntries(readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((e) => [e.name, e.isDirectory() ? readdirSync(join(dir, e.name)) : readFileSync(join(dir, e.name))]));
}

function values(m: kd.nn.Module): Record<string, number[]> {
  return Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [k, Array.from(t.data())]));
}

describe('saveCheckpoint is whole or nothing', () => {
  it('a failure while writing the model part leaves the previous checkpoint byte for byte', () => {
    const path = join(dir, 'ckpt.safetensors');
    const m = model(1);
    kd.train.saveCheckpoint(path, { model: m, optimizer: trainedAdam(m), epoch: 1, history: history(1) });
    const before = snapshot();
    expect(Object.keys(before)).toEqual(['ckpt.history.json', 'ckpt.optim.safetensors', 'ckpt.safetensors', 'ckpt.svg']);

    // Injected failure: the model's state dict cannot be written (a disposed buffer), after the
    // history and the optimizer parts are ready.
    const broken = model(2);
    const opt2 = trainedAdam(broken);
    const original = broken.stateDict.bind(broken);
    broken.stateDict = () => {
      const state = original();
      const gone = kd.ones([1]);
      gone.dispose();
      state['late'] = gone;
      return state;
    };
    expect(() => kd.train.saveCheckpoint(path, { model: broken, optimizer: opt2, epoch: 2, history: history(2) })).toThrow(kd.KindlingError);
    expect(snapshot()).toEqual(before);
  });

  it('a read-only part makes the save fail with EACCES before any part is replaced', () => {
    const path = join(dir, 'ckpt.safetensors');
    const m = model(1);
    kd.train.saveCheckpoint(path, { model: m, optimizer: trainedAdam(m), epoch: 1, history: history(1) });
    chmodSync(join(dir, 'ckpt.safetensors'), 0o444);
    const before = snapshot();
    const m2 = model(2);
    let error: unknown;
    try {
      kd.train.saveCheckpoint(path, { model: m2, optimizer: trainedAdam(m2), epoch: 2, history: history(2) });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(kd.IOError);
    expect((error as kd.IOError).code).toBe('EACCES');
    expect(snapshot()).toEqual(before);
    const loaded = kd.train.loadCheckpoint(path, { model: model(3) });
    expect(loaded.epoch).toBe(1);
    expect(loaded.history?.epoch).toEqual([1]);
  });

  it('a rename that fails midway puts back the parts already replaced', () => {
    const path = join(dir, 'ckpt.safetensors');
    const m = model(1);
    kd.train.saveCheckpoint(path, { model: m, optimizer: trainedAdam(m), epoch: 1, history: history(1) });
    // The model part, renamed last, cannot be replaced: its path is now a non-empty folder.
    rmSync(path);
    mkdirSync(path);
    writeFileSync(join(path, 'inside'), 'x');
    const before = snapshot();
    const m2 = model(2);
    expect(() => kd.train.saveCheckpoint(path, { model: m2, optimizer: trainedAdam(m2), epoch: 2, history: history(2) })).toThrow(kd.IOError);
    expect(snapshot()).toEqual(before);
    expect(readFileSync(join(path, 'inside'), 'utf8')).toBe('x');
  });

  it('a completed save replaces every part and loads back', () => {
    const path = join(dir, 'ckpt.safetensors');
    const m = model(1);
    kd.train.saveCheckpoint(path, { model: m, optimizer: trainedAdam(m), epoch: 1, history: history(1) });
    const m2 = model(2);
    kd.train.saveCheckpoint(path, { model: m2, optimizer: trainedAdam(m2, 0.05), epoch: 2, history: history(2), metadata: { note: 'x' } });
    expect(readdirSync(dir).sort()).toEqual(['ckpt.history.json', 'ckpt.optim.safetensors', 'ckpt.safetensors', 'ckpt.svg']);
    const target = model(3);
    const opt = new kd.optim.Adam(target.parameters(), { lr: 0.9 });
    const loaded = kd.train.loadCheckpoint(path, { model: target, optimizer: opt });
    expect(loaded.epoch).toBe(2);
    expect(loaded.history?.epoch).toEqual([1, 2]);
    expect(loaded.metadata.note).toBe('x');
    expect(opt.paramGroups[0].lr).toBe(0.05);
    expect(values(target)).toEqual(values(m2));
  });
});

describe('loadCheckpoint checks every part before changing anything', () => {
  function saved(): { path: string; m: kd.nn.Sequential } {
    const path = join(dir, 'ckpt.safetensors');
    const m = model(1);
    kd.train.saveCheckpoint(path, { model: m, optimizer: trainedAdam(m), epoch: 2, history: history(2) });
    return { path, m };
  }

  function expectUntouched(path: string, error: new (...a: never[]) => Error, pattern: RegExp): void {
    const target = model(9);
    const opt = new kd.optim.Adam(target.parameters(), { lr: 0.9 });
    const before = values(target);
    expect(() => kd.train.loadCheckpoint(path, { model: target, optimizer: opt })).toThrow(error);
    expect(() => kd.train.loadCheckpoint(path, { model: target, optimizer: opt })).toThrow(pattern);
    expect(values(target)).toEqual(before);
    expect(opt.paramGroups[0].lr).toBe(0.9);
    expect(opt.stateDict().state).toEqual({});
  }

  it('corrupt history JSON is a DataError naming the file', () => {
    const { path } = saved();
    writeFileSync(join(dir, 'ckpt.history.json'), '{"epoch": [1, 2], "hist');
    expectUntouched(path, kd.DataError, /ckpt\.history\.json.*not valid JSON/);
  });

  it('a missing optimizer part is an IOError naming it', () => {
    const { path } = saved();
    rmSync(join(dir, 'ckpt.optim.safetensors'));
    expectUntouched(path, kd.IOError, /ckpt\.optim\.safetensors.*ENOENT/);
  });

  it('a missing history part is an IOError naming it', () => {
    const { path } = saved();
    rmSync(join(dir, 'ckpt.history.json'));
    expectUntouched(path, kd.IOError, /ckpt\.history\.json.*ENOENT/);
  });

  it('a part from another save (an interrupted one) is a DataError, not a mixed checkpoint', () => {
    const { path } = saved();
    const other = join(dir, 'other');
    const m = model(5);
    kd.train.saveCheckpoint(join(other, 'ckpt.safetensors'), { model: m, optimizer: trainedAdam(m), epoch: 3, history: history(3) });
    copyFileSync(join(other, 'ckpt.optim.safetensors'), join(dir, 'ckpt.optim.safetensors'));
    expectUntouched(path, kd.DataError, /ckpt\.optim\.safetensors belongs to another checkpoint/);
    const { path: path2 } = saved();
    copyFileSync(join(other, 'ckpt.history.json'), join(dir, 'ckpt.history.json'));
    expectUntouched(path2, kd.DataError, /ckpt\.history\.json belongs to another checkpoint/);
  });

  it('optimizer state for other parameters leaves the model untouched', () => {
    const { path } = saved();
    const target = model(9);
    const before = values(target);
    const wrongOpt = new kd.optim.Adam([...target.parameters()].slice(0, 2), { lr: 0.9 });
    expect(() => kd.train.loadCheckpoint(path, { model: target, optimizer: wrongOpt })).toThrow(kd.KindlingError);
    expect(values(target)).toEqual(before);
  });

  it('a model of another architecture leaves the optimizer untouched', () => {
    const { path } = saved();
    kd.manualSeed(3);
    const other = new nn.Sequential(new nn.Linear(2, 3), new nn.Tanh(), new nn.Linear(3, 5));
    const opt = new kd.optim.Adam(other.parameters(), { lr: 0.9 });
    expect(() => kd.train.loadCheckpoint(path, { model: other, optimizer: opt })).toThrow(kd.ShapeError);
    expect(opt.paramGroups[0].lr).toBe(0.9);
  });
});
