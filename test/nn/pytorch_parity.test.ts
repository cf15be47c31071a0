// Loads a state dict written by PyTorch (test/fixtures/make_nn_fixtures.py, torch's own
// Embedding/Linear/LayerNorm/GELU/BatchNorm1d) into the same architecture built with kd.nn and
// compares outputs in eval and training mode, the updated running statistics and the parameter
// gradients with PyTorch's. Reads only committed fixtures: CI has no PyTorch.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose } from '../helpers.js';

const { nn } = kd;
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

interface Expected {
  ids: { shape: number[]; values: number[] };
  r: { shape: number[]; values: number[] };
  eval_out: { shape: number[]; values: number[] };
  train_out: { shape: number[]; values: number[] };
  running_after_train: Record<string, number[]>;
  num_batches_tracked_after_train: number;
  grads: Record<string, number[]>;
  state_keys: string[];
  repr: string;
}

/** TinyNet of make_nn_fixtures.py, with camelCase fields for PyTorch's snake_case names. */
class TinyNet extends nn.Module {
  tokenEmbed = new nn.Embedding(11, 8, { paddingIdx: 0 });
  inProj = new nn.Linear(8, 16);
  preNorm = new nn.LayerNorm(16);
  act = new nn.GELU();
  batchNorm = new nn.BatchNorm1d(16);
  outProj = new nn.Linear(16, 5);

  // Intermediates are freed by tidy; the graph's saved tensors outlive it, so backward() still
  // works on the returned output.
  forward(ids: Tensor): Tensor {
    return kd.tidy(() => {
      const x = this.act.forward(this.preNorm.forward(this.inProj.forward(this.tokenEmbed.forward(ids))));
      const y = this.batchNorm.forward(x.transpose(1, 2)).transpose(1, 2);
      return this.outProj.forward(y);
    });
  }
}

function load(): { model: TinyNet; expected: Expected; ids: Tensor } {
  const expected = JSON.parse(readFileSync(join(FIXTURES, 'tiny_nn.expected.json'), 'utf8')) as Expected;
  const model = new TinyNet();
  const state = kd.io.load(join(FIXTURES, 'tiny_nn.safetensors'));
  model.loadStateDict(state);
  const ids = kd.tensor(expected.ids.values, { dtype: 'int32' }).reshape(expected.ids.shape);
  return { model, expected, ids };
}

describe('PyTorch parity: a tiny Embedding/Linear/LayerNorm/GELU/BatchNorm1d model', () => {
  it('has the same state dict keys, in the same order, and the same repr', () => {
    const { model, expected } = load();
    expect(Object.keys(model.stateDict())).toEqual(expected.state_keys);
    expect(model.toString()).toBe(expected.repr);
    expect(model.batchNorm.numBatchesTracked!.item()).toBe(expected.num_batches_tracked_after_train - 1);
  });

  it('eval-mode output matches PyTorch\'s (rel err < 1e-5)', () => {
    const { model, expected, ids } = load();
    model.eval();
    const out = kd.noGrad(() => model.forward(ids));
    expect(out.shape).toEqual(expected.eval_out.shape);
    expectClose(out.data() as Float32Array, expected.eval_out.values, 1e-5, 'eval output');
  });

  it('training-mode output, updated running statistics and parameter gradients match PyTorch\'s', () => {
    const { model, expected, ids } = load();
    model.train();
    const out = model.forward(ids);
    expect(out.shape).toEqual(expected.train_out.shape);
    expectClose(out.data() as Float32Array, expected.train_out.values, 1e-5, 'train output');
    expectClose(model.batchNorm.runningMean!.data() as Float32Array, expected.running_after_train['batch_norm.running_mean'], 1e-5, 'running_mean');
    expectClose(model.batchNorm.runningVar!.data() as Float32Array, expected.running_after_train['batch_norm.running_var'], 1e-5, 'running_var');
    expect(model.batchNorm.numBatchesTracked!.item()).toBe(expected.num_batches_tracked_after_train);

    const r = kd.tensor(expected.r.values).reshape(expected.r.shape);
    out.mul(r).sum().backward();
    const grads = [...model.namedParameters()];
    expect(grads.map(([k]) => k)).toEqual(Object.keys(expected.grads));
    for (const [name, p] of grads) {
      expect(p.grad, name).not.toBeNull();
      expectClose(p.grad!.data() as Float32Array, expected.grads[name], 1e-4, `grad of ${name}`);
    }
    // The padding row of the embedding gets no gradient, in both frameworks.
    expect(Array.from(model.tokenEmbed.weight.grad!.data()).slice(0, 8)).toEqual(new Array(8).fill(0));
  });

  it('writes back a state dict equal to the one PyTorch wrote', () => {
    const { model } = load();
    const original = kd.io.load(join(FIXTURES, 'tiny_nn.safetensors'));
    const sd = model.stateDict();
    for (const [k, t] of Object.entries(original)) {
      expect(sd[k].dtype, k).toBe(t.dtype);
      expect(Array.from(sd[k].data()), k).toEqual(Array.from(t.data()));
    }
  });
});
