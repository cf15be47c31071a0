import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { freshSeed, makeRng } from '../helpers.js';

const fixturesDir = fileURLToPath(new URL('../fixtures/', import.meta.url));
const { nn } = kd;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kindling-io-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function tinyModel() {
  return new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.Linear(4, 2), new nn.BatchNorm1d(2));
}

describe('kd.io.save / load', () => {
  it('round-trips float32, int32 and bool tensors of several shapes, and metadata', () => {
    const seed = freshSeed();
    const rng = makeRng(seed);
    const state: Record<string, Tensor> = {
      'f32.matrix': kd.tensor(Array.from({ length: 3 }, () => Array.from({ length: 5 }, () => rng() * 200 - 100))),
      'f32.scalar': kd.tensor(-0.125),
      'f32.special': kd.tensor([Infinity, -Infinity, -0, 3.4e38, 1e-45]),
      'i32.values': kd.tensor([[-(2 ** 31), 2 ** 31 - 1], [0, -7]], { dtype: 'int32' }),
      'bool.mask': kd.tensor([true, false, false, true, true], { dtype: 'bool' }),
      'f32.empty': kd.zeros([0, 4]),
    };
    const path = join(dir, 'all.safetensors');
    kd.io.save(state, path, { note: 'hello', epoch: '3' });
    const back = kd.io.load(path);
    expect(Object.keys(back).sort()).toEqual(Object.keys(state).sort());
    for (const [key, t] of Object.entries(state)) {
      expect(back[key].dtype, key).toBe(t.dtype);
      expect(back[key].shape, key).toEqual(t.shape);
      expect(Array.from(back[key].data()), `${key}, seed ${seed}`).toEqual(Array.from(t.data()));
    }
    expect(Object.is((back['f32.special'].data() as Float32Array)[2], -0)).toBe(true);
    expect(kd.io.loadMetadata(path)).toEqual({ format: 'pt', note: 'hello', epoch: '3' });
  });

  it('writes a non-contiguous view as its logical values', () => {
    const t = kd.tensor([[1, 2, 3], [4, 5, 6]]).transpose(0, 1);
    const path = join(dir, 't.safetensors');
    kd.io.save({ t }, path);
    expect(kd.io.load(path).t.toArray()).toEqual([[1, 4], [2, 5], [3, 6]]);
  });

  it("a module's stateDict through a file into a fresh module gives identical outputs", () => {
    const seed = freshSeed();
    kd.manualSeed(seed);
    const a = tinyModel();
    // Train-mode passes give the BatchNorm running statistics and counter non-default values.
    kd.noGrad(() => {
      for (let i = 0; i < 3; i++) a.forward(kd.randn([6, 3]));
    });
    const path = join(dir, 'model.safetensors');
    kd.io.save(a.stateDict(), path);
    const b = tinyModel();
    b.loadStateDict(kd.io.load(path));
    a.eval();
    b.eval();
    const x = kd.randn([5, 3]);
    const ya = a.forward(x) as Tensor, yb = b.forward(x) as Tensor;
    expect(Array.from(yb.data()), `seed ${seed}`).toEqual(Array.from(ya.data()));
    expect(b.stateDict()['3.num_batches_tracked'].item()).toBe(3);
    expect(b.stateDict()['3.num_batches_tracked'].dtype).toBe('int32');
  });
});

describe('loading the PyTorch-written fixture', () => {
  interface Expected { tensors: Record<string, { dtype: string; shape: number[]; values: number[] }> }
  const expected = JSON.parse(readFileSync(join(fixturesDir, 'tiny_model.expected.json'), 'utf8')) as Expected;

  it('loads into Sequential(Linear(3,4), ReLU(), Linear(4,2), BatchNorm1d(2)) with strict keys', () => {
    const state = kd.io.load(join(fixturesDir, 'tiny_model.safetensors'));
    const model = tinyModel();
    const result = model.loadStateDict(state);
    expect(result).toEqual({ missingKeys: [], unexpectedKeys: [] });
    const loaded = model.stateDict();
    expect(Object.keys(loaded)).toEqual(Object.keys(expected.tensors));
    for (const [key, ref] of Object.entries(expected.tensors)) {
      expect(loaded[key].shape, key).toEqual(ref.shape);
      expect(Array.from(loaded[key].data()), key).toEqual(ref.values.map((v) => Math.fround(v)));
    }
    // PyTorch's int64 counter arrives as int32.
    expect(state['3.num_batches_tracked'].dtype).toBe('int32');
    expect(loaded['3.num_batches_tracked'].item()).toBe(3);
  });

  it('the loaded model in eval mode matches a float64 forward pass of the fixture values', () => {
    const model = tinyModel();
    model.loadStateDict(kd.io.load(join(fixturesDir, 'tiny_model.safetensors')));
    model.eval();
    const v = (k: string) => expected.tensors[k].values;
    const input = [[0.5, -1, 2], [-0.25, 0.75, -1.5], [3, 0, -2]];
    const out = kd.noGrad(() => model.forward(kd.tensor(input, { dtype: 'float32' })) as Tensor).toArray() as number[][];
    input.forEach((x, n) => {
      const h = [0, 1, 2, 3].map((j) => Math.max(0, v('0.bias')[j] + x.reduce((s, xi, i) => s + v('0.weight')[j * 3 + i] * xi, 0)));
      [0, 1].forEach((k) => {
        const z = v('2.bias')[k] + h.reduce((s, hj, j) => s + v('2.weight')[k * 4 + j] * hj, 0);
        const ref = ((z - v('3.running_mean')[k]) / Math.sqrt(v('3.running_var')[k] + 1e-5)) * v('3.weight')[k] + v('3.bias')[k];
        expect(Math.abs(out[n][k] - ref), `row ${n} output ${k}: ${out[n][k]} vs ${ref}`).toBeLessThan(1e-5 * Math.max(1, Math.abs(ref)));
      });
    });
  });

  it('strict loading names missing and unexpected keys', () => {
    const state = kd.io.load(join(fixturesDir, 'tiny_model.safetensors'));
    const model = new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.Linear(4, 2));
    expect(() => model.loadStateDict(state)).toThrow(/unexpected keys: .*3\.num_batches_tracked/);
  });

  it('an int64 tensor with values beyond int32 is a DTypeError naming it', () => {
    expect(() => kd.io.load(join(fixturesDir, 'every_dtype.safetensors'))).toThrow(kd.DTypeError);
    expect(() => kd.io.load(join(fixturesDir, 'every_dtype.safetensors'))).toThrow(/i64_big/);
  });
});

describe('damaged files and failed writes', () => {
  function savedModelFile(): { path: string; bytes: Buffer } {
    kd.manualSeed(11);
    const path = join(dir, 'ckpt.safetensors');
    kd.io.save(tinyModel().stateDict(), path);
    return { path, bytes: readFileSync(path) };
  }

  it('a truncated file is a KindlingError, at every cut point tried', () => {
    const { bytes } = savedModelFile();
    const cut = join(dir, 'cut.safetensors');
    for (const length of [0, 4, 8, 20, bytes.length - 1, bytes.length - 9]) {
      writeFileSync(cut, bytes.subarray(0, length));
      expect(() => kd.io.load(cut), `cut at ${length} of ${bytes.length} bytes`).toThrow(kd.KindlingError);
    }
  });

  it('a malformed header (bad JSON, offsets past the end, wrong dtype) is a KindlingError', () => {
    const header = (json: string) => {
      const h = Buffer.from(json);
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(h.length));
      return Buffer.concat([len, h, Buffer.alloc(8)]);
    };
    const cases = {
      'bad json': header('{"a": '),
      'offsets past end': header('{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}'),
      'unknown dtype': header('{"a":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}}'),
      'huge header length': Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), Buffer.alloc(16)]),
    };
    const path = join(dir, 'bad.safetensors');
    for (const [what, bytes] of Object.entries(cases)) {
      writeFileSync(path, bytes);
      expect(() => kd.io.load(path), what).toThrow(kd.KindlingError);
    }
  });

  it('loading a damaged checkpoint leaves the model untouched', () => {
    const { path, bytes } = savedModelFile();
    writeFileSync(path, bytes.subarray(0, bytes.length - 5));
    kd.manualSeed(12);
    const model = tinyModel();
    const before = Object.entries(model.stateDict()).map(([k, t]) => [k, Array.from(t.data())]);
    expect(() => kd.train.loadCheckpoint(path, { model })).toThrow(kd.KindlingError);
    expect(Object.entries(model.stateDict()).map(([k, t]) => [k, Array.from(t.data())])).toEqual(before);
  });

  it('a save that fails leaves the previous checkpoint byte for byte, and no temp file', () => {
    const { path, bytes } = savedModelFile();
    const disposed = kd.ones([3]);
    disposed.dispose();
    expect(() => kd.io.save({ ...tinyModel().stateDict(), late: disposed }, path)).toThrow(kd.KindlingError);
    expect(() => kd.io.save({ w: 'not a tensor' as unknown as Tensor }, path)).toThrow(kd.ArgumentError);
    expect(readFileSync(path).equals(bytes)).toBe(true);
    expect(kd.io.load(path)['0.weight'].shape).toEqual([4, 3]);
    expect(readdirSync(dir)).toEqual(['ckpt.safetensors']);
  });
});
