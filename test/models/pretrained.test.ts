import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import {
  loadPretrainedWeights, loadWeightsInto, parseShardSize, readPretrainedConfig, readPretrainedWeights, shardStateDict, writePretrainedFolder,
} from '../../lib/models/pretrained.js';

const { nn } = kd;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kindling-pretrained-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

class Base extends nn.Module {
  fc1 = new nn.Linear(3, 4);
  fc2 = new nn.Linear(4, 5);
  override forward(x: Tensor): Tensor {
    return this.fc2.forward(this.fc1.forward(x));
  }
}

class WithHead extends nn.Module {
  transformer = new Base();
  head = new nn.Linear(5, 2, { bias: false });
  override forward(x: Tensor): Tensor {
    return this.head.forward(this.transformer.forward(x));
  }
}

function values(state: Record<string, Tensor>): Record<string, number[]> {
  return Object.fromEntries(Object.entries(state).map(([k, t]) => [k, Array.from(t.contiguous().data() as Float32Array)]));
}

describe('Hugging Face folders: config.json and weights', () => {
  it('writes config.json and model.safetensors that read back to the same tensors', () => {
    const model = new Base();
    writePretrainedFolder(dir, { model_type: 'toy', hidden_size: 4 }, model.stateDict());
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors']);
    expect(readPretrainedConfig(dir)).toEqual({ model_type: 'toy', hidden_size: 4 });
    const back = readPretrainedWeights(dir);
    expect(values(back)).toEqual(values(model.stateDict()));
    for (const t of Object.values(back)) t.dispose();
  });

  it('shards by maxShardSize with an index Hugging Face reads, and replaces an earlier single file', () => {
    const model = new Base();
    writePretrainedFolder(dir, { model_type: 'toy' }, model.stateDict());
    // fc1.weight 48 B, fc1.bias 16 B, fc2.weight 80 B, fc2.bias 20 B: 64-byte shards give [w1 b1] [w2] [b2].
    writePretrainedFolder(dir, { model_type: 'toy' }, model.stateDict(), { maxShardSize: 64 });
    expect(readdirSync(dir).sort()).toEqual([
      'config.json', 'model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors',
      'model.safetensors.index.json',
    ]);
    const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
    expect(index).toEqual({
      metadata: { total_parameters: 41, total_size: 164 },
      weight_map: {
        'fc1.weight': 'model-00001-of-00003.safetensors',
        'fc1.bias': 'model-00001-of-00003.safetensors',
        'fc2.weight': 'model-00002-of-00003.safetensors',
        'fc2.bias': 'model-00003-of-00003.safetensors',
      },
    });
    const back = readPretrainedWeights(dir);
    expect(values(back)).toEqual(values(model.stateDict()));
    for (const t of Object.values(back)) t.dispose();
    // And back to one file: the shards and index go.
    writePretrainedFolder(dir, { model_type: 'toy' }, model.stateDict(), { maxShardSize: '1MB' });
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors']);
  });

  it('parses shard sizes as Hugging Face does (decimal units, binary with i)', () => {
    expect(parseShardSize('5GB')).toBe(5e9);
    expect(parseShardSize('10KiB')).toBe(10240);
    expect(parseShardSize(123)).toBe(123);
    expect(() => parseShardSize('lots')).toThrow(kd.ArgumentError);
    expect(() => parseShardSize(0)).toThrow(kd.ArgumentError);
    const a = kd.zeros([10]), b = kd.zeros([100]), c = kd.zeros([1]);
    expect(shardStateDict({ a, b, c }, 50).map((s) => Object.keys(s))).toEqual([['a'], ['b'], ['c']]);
    expect(shardStateDict({}, 50)).toEqual([{}]);
  });

  it('loads a base checkpoint into a head model and a head checkpoint into the base (prefix aligned)', () => {
    kd.manualSeed(1);
    const base = new Base();
    const head = new WithHead();
    const r1 = loadWeightsInto(head, base.stateDict(), { basePrefix: 'transformer' });
    expect(r1).toEqual({ missingKeys: ['head.weight'], unexpectedKeys: [] });
    expect(values(head.transformer.stateDict())).toEqual(values(base.stateDict()));

    const other = new WithHead();
    const base2 = new Base();
    const r2 = loadWeightsInto(base2, other.stateDict(), { basePrefix: 'transformer' });
    expect(r2).toEqual({ missingKeys: [], unexpectedKeys: ['head.weight'] });
    expect(values(base2.stateDict())).toEqual(values(other.transformer.stateDict()));
  });

  it('leaves tolerated keys out of the report and applies the transform to what it loads', () => {
    const base = new Base();
    const state = { ...base.stateDict(), 'fc1.masked_bias': kd.tensor(-1e4), 'extra.weight': kd.zeros([1]) };
    delete (state as Record<string, Tensor>)['fc2.bias'];
    const target = new Base();
    const report = loadWeightsInto(target, state, {
      ignoreMissing: [/^fc2\.bias$/],
      ignoreUnexpected: [/\.masked_bias$/],
      transform: (key, t) => (key === 'fc1.bias' ? t.mul(2) : t),
    });
    expect(report).toEqual({ missingKeys: [], unexpectedKeys: ['extra.weight'] });
    const want = Array.from(base.fc1.bias!.data() as Float32Array, (v) => v * 2);
    Array.from(target.fc1.bias!.data() as Float32Array).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 6));
  });

  it('reports a shape mismatch as a ShapeError naming the folder and the key', () => {
    writePretrainedFolder(dir, {}, { '0.weight': kd.zeros([4, 3]) });
    const wrong = new nn.Sequential(new nn.Linear(3, 7));
    expect(() => loadPretrainedWeights(wrong, dir)).toThrow(/fromPretrained: .*size mismatch for 0.weight/);
  });
});

describe('Hugging Face folders: errors', () => {
  it('a missing folder or config.json is a DataError naming the file', () => {
    expect(() => readPretrainedConfig(join(dir, 'nope'))).toThrow(kd.DataError);
    expect(() => readPretrainedConfig(dir)).toThrow(/config\.json is missing/);
  });

  it('a config.json that is not a JSON object is a DataError', () => {
    writeFileSync(join(dir, 'config.json'), '{"n_embd": 3,');
    expect(() => readPretrainedConfig(dir)).toThrow(/config\.json is not valid JSON/);
    writeFileSync(join(dir, 'config.json'), '[1, 2]');
    expect(() => readPretrainedConfig(dir)).toThrow(/must hold a JSON object, got an array/);
  });

  it('no weights, a corrupt weights file, or an index naming a missing shard is an error naming the file', () => {
    expect(() => readPretrainedWeights(dir)).toThrow(/has neither model\.safetensors nor model\.safetensors\.index\.json/);
    expect(() => readPretrainedWeights(join(dir, 'gone'))).toThrow(/does not exist/);
    writeFileSync(join(dir, 'model.safetensors'), 'not a safetensors file');
    expect(() => readPretrainedWeights(dir)).toThrow(kd.DataError);
    rmSync(join(dir, 'model.safetensors'));
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: 'model-00001-of-00002.safetensors' } }));
    expect(() => readPretrainedWeights(dir)).toThrow(/names the shard model-00001-of-00002\.safetensors, which is missing/);
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: '../secret.safetensors' } }));
    expect(() => readPretrainedWeights(dir)).toThrow(/must be a file name in the folder/);
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {} }));
    expect(() => readPretrainedWeights(dir)).toThrow(/no "weight_map"/);
  });

  it('an index that puts a tensor in the wrong shard is a DataError', () => {
    writePretrainedFolder(dir, {}, new Base().stateDict(), { maxShardSize: 64 });
    const indexPath = join(dir, 'model.safetensors.index.json');
    const index = JSON.parse(readFileSync(indexPath, 'utf8'));
    index.weight_map['fc2.bias'] = 'model-00001-of-00003.safetensors';
    writeFileSync(indexPath, JSON.stringify(index));
    expect(() => readPretrainedWeights(dir)).toThrow(/puts 'fc2\.bias' in model-00001-of-00003\.safetensors, which does not hold it/);
  });

  it('a failed save leaves the folder as it was', () => {
    writePretrainedFolder(dir, { v: 1 }, new Base().stateDict());
    const before = readFileSync(join(dir, 'model.safetensors'));
    expect(() => writePretrainedFolder(dir, { v: 2 }, { bad: 3 as unknown as Tensor })).toThrow(kd.ArgumentError);
    expect(readFileSync(join(dir, 'model.safetensors'))).toEqual(before);
    expect(readPretrainedConfig(dir)).toEqual({ v: 1 });
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors']);
    expect(existsSync(join(dir, 'model.safetensors.index.json'))).toBe(false);
    writeFileSync(join(dir, 'a-file'), 'x');
    expect(() => writePretrainedFolder(join(dir, 'a-file'), {}, {})).toThrow(kd.IOError);
  });
});
