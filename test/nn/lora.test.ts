// kd.nn.lora against Hugging Face peft: fixtures from test/fixtures/make_lora_fixtures.py (a tiny
// torch model with named Linear layers, peft's LoRA on it with nonzero lora_B, its adapter folder).
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { ArgumentError, DataError, ShapeError } from '../../lib/errors.js';

const { nn } = kd;
const { lora } = nn;
const fixtures = join(import.meta.dirname, '..', 'fixtures', 'lora');
const expected = JSON.parse(readFileSync(join(fixtures, 'expected.json'), 'utf8')) as {
  input: number[][]; base_output: number[][]; lora_output: number[][]; merged_output: number[][];
  trainable_parameters: number; all_parameters: number; trainable_names: string[];
  config: { r: number; lora_alpha: number; target_modules: string[]; modules_to_save: string[] };
};
const config: kd.nn.LoraConfig = { r: 4, loraAlpha: 8, loraDropout: 0, targetModules: ['q_proj', 'v_proj', 'fc1'], modulesToSave: ['head'] };

class Attn extends nn.Module {
  qProj = new nn.Linear(8, 8);
  vProj = new nn.Linear(8, 8, { bias: false });
  outProj = new nn.Linear(8, 8);
  forward(x: Tensor): Tensor {
    return this.outProj.forward(this.qProj.forward(x).tanh().mul(this.vProj.forward(x)));
  }
}

class Mlp extends nn.Module {
  fc1 = new nn.Linear(8, 16);
  gelu = new nn.GELU();
  fc2 = new nn.Linear(16, 8);
  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.gelu.forward(this.fc1.forward(x)));
  }
}

class Block extends nn.Module {
  attn = new Attn();
  mlp = new Mlp();
  forward(x: Tensor): Tensor {
    const h = x.add(this.attn.forward(x));
    return h.add(this.mlp.forward(h));
  }
}

/** The fixture's Tiny: proj_in, layers (two blocks), head. */
class Tiny extends nn.Module {
  projIn = new nn.Linear(6, 8);
  layers = new nn.ModuleList([new Block(), new Block()]);
  head = new nn.Linear(8, 3);
  forward(x: Tensor): Tensor {
    let h = this.projIn.forward(x);
    for (const layer of this.layers) h = layer.forward(h) as Tensor;
    return this.head.forward(h);
  }
}

function baseModel(): Tiny {
  const model = new Tiny();
  const weights = kd.io.load(join(fixtures, 'base.safetensors'));
  model.loadStateDict(weights);
  for (const t of Object.values(weights)) t.dispose();
  return model.eval();
}

function run(model: kd.nn.Module, input: number[][] = expected.input): number[][] {
  return kd.noGrad(() => kd.tidy(() => (model.forward(kd.tensor(input)) as Tensor).toArray() as number[][]));
}

function maxAbsDiff(a: number[][], b: number[][]): number {
  return Math.max(...a.flatMap((row, i) => row.map((v, j) => Math.abs(v - b[i][j]))));
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kindling-lora-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('kd.nn.lora', () => {
  it("the base model reproduces torch's outputs (the fixture's sanity check)", () => {
    expect(maxAbsDiff(run(baseModel()), expected.base_output)).toBeLessThan(1e-5);
  });

  it("apply wraps the targets with peft's module names, B = 0 keeps the output, and only the adapters and modulesToSave train", () => {
    const model = lora.apply(baseModel(), config);
    expect(maxAbsDiff(run(model), expected.base_output)).toBeLessThan(1e-6);
    const trainable = [...model.namedParameters()].filter(([, p]) => p.requiresGrad).map(([n]) => n);
    // peft's names less its `base_model.model.` prefix; modulesToSave keep their own names here.
    const peftNames = expected.trainable_names.map((n) => n.replace(/^base_model\.model\./, '').replace('.modules_to_save.default', ''));
    expect(trainable).toEqual(peftNames);
    const keys = Object.keys(model.stateDict());
    expect(keys).toContain('layers.0.attn.q_proj.base_layer.weight');
    expect(keys).toContain('layers.0.attn.q_proj.lora_A.default.weight');
    expect(keys).toContain('layers.1.mlp.fc1.lora_B.default.weight');
    // The trainable count is exactly peft's get_nb_trainable_parameters(): r·(in + out) per adapted
    // layer (A is r×in, B is out×r) plus the head; peft's total also counts its frozen copy of the head (27).
    expect(model.numParameters()).toBe(expected.trainable_parameters);
    expect(model.numParameters({ trainable: false })).toBe(expected.all_parameters - 27);
    const layer = model.layers.at(0).attn.qProj as unknown as kd.nn.lora.LoraLinear;
    expect(layer).toBeInstanceOf(kd.nn.lora.LoraLinear);
    expect(layer.scaling).toBe(2);
    expect((layer.loraB.get('default').weight.toArray() as number[][]).flat().every((v) => v === 0)).toBe(true);
    // A is drawn as nn.Linear's weight: U(±1/√in).
    const a = (layer.loraA.get('default').weight.toArray() as number[][]).flat();
    expect(Math.max(...a.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(8));
    expect(new Set(a).size).toBe(a.length);
  });

  it("loadAdapter on a fresh model reads peft's adapter folder and gives peft's outputs (1e-5)", () => {
    const model = lora.loadAdapter(baseModel(), join(fixtures, 'adapter'));
    expect(maxAbsDiff(run(model), expected.lora_output)).toBeLessThan(1e-5);
    expect(maxAbsDiff(run(model), expected.base_output)).toBeGreaterThan(1e-2);
    expect(lora.configOfModel(model)).toMatchObject({ r: 4, loraAlpha: 8, modulesToSave: ['head'] });
  });

  it('merge gives the unmerged outputs (1e-5) and peft\'s merged outputs; unmerge restores the base weights', () => {
    const model = lora.loadAdapter(baseModel(), join(fixtures, 'adapter'));
    const before = (model.stateDict()['layers.0.attn.q_proj.base_layer.weight'].toArray() as number[][]).flat();
    const unmerged = run(model);
    lora.merge(model);
    expect(maxAbsDiff(run(model), unmerged)).toBeLessThan(1e-5);
    expect(maxAbsDiff(run(model), expected.merged_output)).toBeLessThan(1e-5);
    lora.unmerge(model);
    const after = (model.stateDict()['layers.0.attn.q_proj.base_layer.weight'].toArray() as number[][]).flat();
    after.forEach((v, i) => expect(Math.abs(v - before[i])).toBeLessThan(1e-6));
    const plain = lora.mergeAndUnload(model);
    expect(Object.keys(plain.stateDict())).toEqual(Object.keys(baseModel().stateDict()));
    expect(maxAbsDiff(run(plain), expected.merged_output)).toBeLessThan(1e-5);
  });

  it('saveAdapter round-trips and writes the file the check file records, which peft loads to our outputs (1e-5)', () => {
    const model = lora.loadAdapter(baseModel(), join(fixtures, 'adapter'));
    kd.noGrad(() => {
      for (const [, layer] of lora.loraLayers(model)) layer.b.weight.copy_(layer.b.weight.mul(-0.5));
      model.head.bias!.add_(0.25);
    });
    const ours = run(model);
    const out = process.env.KINDLING_LORA_WRITE ?? join(dir, 'adapter');
    lora.saveAdapter(model, out);
    expect(readdirSync(out).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    const cfg = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(cfg).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 8, target_modules: ['fc1', 'q_proj', 'v_proj'], modules_to_save: ['head'], fan_in_fan_out: false, bias: 'none' });
    const peftConfig = JSON.parse(readFileSync(join(fixtures, 'adapter', 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(cfg).sort()).toEqual(Object.keys(peftConfig).filter((k) => k !== 'peft_version').sort());
    // Loading it into a fresh base model gives the same outputs.
    expect(maxAbsDiff(run(lora.loadAdapter(baseModel(), out)), ours)).toBeLessThan(1e-6);
    // peft loaded this very file (same bytes) and computed these outputs: test/fixtures/lora/kindling_written.check.json.
    const check = JSON.parse(readFileSync(join(fixtures, 'kindling_written.check.json'), 'utf8')) as { sha256: Record<string, string>; peft_output: number[][] };
    for (const name of ['adapter_model.safetensors', 'adapter_config.json']) {
      expect(createHash('sha256').update(readFileSync(join(out, name))).digest('hex'), name).toBe(check.sha256[name]);
    }
    expect(maxAbsDiff(ours, check.peft_output)).toBeLessThan(1e-5);
  });

  it("a GPT-2 adapter (c_attn, c_proj, fanInFanOut) loads in peft over transformers' Conv1D GPT-2 to our logits (1e-4)", () => {
    const model = kd.models.gpt2.fromPretrained(join(fixtures, '..', 'gpt2', 'tiny'));
    kd.manualSeed(7);
    lora.apply(model, { r: 2, loraAlpha: 4, targetModules: ['c_attn', 'c_proj'], fanInFanOut: true, taskType: 'CAUSAL_LM' });
    expect(lora.loraLayers(model).map(([n]) => n)).toEqual(['transformer.h.0.attn.c_attn', 'transformer.h.0.attn.c_proj', 'transformer.h.0.mlp.c_proj', 'transformer.h.1.attn.c_attn', 'transformer.h.1.attn.c_proj', 'transformer.h.1.mlp.c_proj']);
    kd.noGrad(() => {
      for (const [, layer] of lora.loraLayers(model)) {
        const w = layer.b.weight;
        layer.b.weight.copy_(kd.tensor(Array.from({ length: w.numel }, (_, i) => 0.2 * Math.sin(i + 1)), { dtype: 'float32' }).reshape(w.shape));
      }
    });
    const ids = [[1, 5, 9, 20, 33, 2, 64, 17], [3, 3, 50, 71, 8, 0, 12, 90]];
    const ours = kd.noGrad(() => kd.tidy(() => (model.forward(kd.tensor(ids, { dtype: 'int32' })) as Tensor).toArray() as number[][][]));
    const out = process.env.KINDLING_LORA_GPT2_WRITE ?? join(dir, 'gpt2-adapter');
    lora.saveAdapter(model, out);
    const check = JSON.parse(readFileSync(join(fixtures, 'gpt2_written.check.json'), 'utf8')) as { sha256: Record<string, string>; input_ids: number[][]; peft_logits: number[][][] };
    expect(check.input_ids).toEqual(ids);
    for (const name of ['adapter_model.safetensors', 'adapter_config.json']) {
      expect(createHash('sha256').update(readFileSync(join(out, name))).digest('hex'), name).toBe(check.sha256[name]);
    }
    const diff = Math.max(...ours.flat(2).map((v, i) => Math.abs(v - check.peft_logits.flat(2)[i])));
    expect(diff).toBeLessThan(1e-4);
    // The adapter matters: the base model's logits are far from these.
    const base = kd.models.gpt2.fromPretrained(join(fixtures, '..', 'gpt2', 'tiny'));
    const plain = kd.noGrad(() => kd.tidy(() => (base.forward(kd.tensor(ids, { dtype: 'int32' })) as Tensor).toArray() as number[][][]));
    expect(Math.max(...plain.flat(2).map((v, i) => Math.abs(v - check.peft_logits.flat(2)[i])))).toBeGreaterThan(1e-2);
  });

  it('adapts kd.models.gpt (its layers run through their forward): same outputs as merged, grads reach A and B', () => {
    kd.manualSeed(12);
    const model = kd.models.gpt({ vocabSize: 11, blockSize: 8, nLayer: 1, nHead: 2, nEmbd: 8 });
    const ids = kd.tensor([[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]], { dtype: 'int32' });
    const plain = kd.noGrad(() => kd.tidy(() => (model.forward(ids) as Tensor).toArray() as number[][][]));
    lora.apply(model, { r: 2, loraAlpha: 4, targetModules: ['c_attn', 'c_proj'] });
    kd.noGrad(() => { for (const [, l] of lora.loraLayers(model)) l.b.weight.copy_(kd.randn(l.b.weight.shape).mul(0.3)); });
    model.eval();
    const adapted = kd.noGrad(() => kd.tidy(() => (model.forward(ids) as Tensor).toArray() as number[][][]));
    expect(Math.max(...adapted.flat(2).map((v, i) => Math.abs(v - plain.flat(2)[i])))).toBeGreaterThan(1e-3);
    lora.merge(model);
    const merged = kd.noGrad(() => kd.tidy(() => (model.forward(ids) as Tensor).toArray() as number[][][]));
    expect(Math.max(...merged.flat(2).map((v, i) => Math.abs(v - adapted.flat(2)[i])))).toBeLessThan(1e-5);
    lora.unmerge(model);
    model.train();
    kd.tidy(() => (model.forward(ids) as Tensor).square().mean().backward());
    for (const [, l] of lora.loraLayers(model)) {
      expect(l.a.weight.grad).not.toBeNull();
      expect(l.b.weight.grad).not.toBeNull();
      expect(l.baseLayer.weight.grad).toBeNull();
    }
    const [, first] = lora.loraLayers(model)[0];
    expect(first.weight).toBe(first.baseLayer.weight);
    // The adapter's dropout acts on the layer's input now that the model calls forward.
    const withDropout = lora.apply(kd.models.gpt({ vocabSize: 11, blockSize: 8, nLayer: 1, nHead: 2, nEmbd: 8 }), { r: 2, loraDropout: 0.5, targetModules: ['c_fc', 'lm_head'] });
    kd.noGrad(() => { for (const [, l] of lora.loraLayers(withDropout)) l.b.weight.copy_(kd.randn(l.b.weight.shape).mul(0.3)); });
    withDropout.train();
    const t1 = kd.noGrad(() => kd.tidy(() => (withDropout.forward(ids) as Tensor).toArray() as number[][][]));
    const t2 = kd.noGrad(() => kd.tidy(() => (withDropout.forward(ids) as Tensor).toArray() as number[][][]));
    expect(Math.max(...t1.flat(2).map((v, i) => Math.abs(v - t2.flat(2)[i])))).toBeGreaterThan(1e-4);
    withDropout.eval();
    const e1 = kd.noGrad(() => kd.tidy(() => (withDropout.forward(ids) as Tensor).toArray() as number[][][]));
    const e2 = kd.noGrad(() => kd.tidy(() => (withDropout.forward(ids) as Tensor).toArray() as number[][][]));
    expect(e1).toEqual(e2);
  });

  it('the layer (one output the adapter accumulates onto) equals base(x) + B(A(x)) · scaling, with the same gradients', () => {
    for (const [shape, bias, trainBase] of [[[2, 5, 8], true, false], [[7, 8], false, true], [[3, 1, 8], true, true]] as [number[], boolean, boolean][]) {
      kd.manualSeed(31);
      const layer = new lora.LoraLinear(new nn.Linear(8, 6, { bias }), { r: 3, loraAlpha: 5 });
      kd.noGrad(() => layer.b.weight.copy_(kd.randn([6, 3])));
      layer.baseLayer.weight.requiresGrad = trainBase;
      if (layer.bias) layer.bias.requiresGrad = trainBase;
      const x = kd.randn(shape, { requiresGrad: true });
      const g = kd.randn([...shape.slice(0, -1), 6]);
      const params = [x, layer.a.weight, layer.b.weight, layer.baseLayer.weight, ...(layer.bias ? [layer.bias] : [])];
      const run = (f: () => Tensor) => {
        for (const p of params) p.grad = null;
        const y = f();
        y.backward(g);
        return [y, ...params.map((p) => p.grad)].map((t) => (t ? Array.from(t.contiguous().data() as Float32Array) : null));
      };
      const fused = run(() => layer.forward(x));
      const composed = run(() => layer.baseLayer.forward(x).add(layer.b.forward(layer.a.forward(x)).mul(layer.scaling)));
      fused.forEach((v, i) => {
        expect(v === null).toBe(composed[i] === null);
        v?.forEach((e, j) => expect(e).toBeCloseTo(composed[i]![j]!, 5));
      });
      expect(fused[4]).toEqual(trainBase ? expect.any(Array) : null);
    }
  });

  it('trains only the adapters with fit, and lora_dropout is a Dropout when loraDropout > 0', async () => {
    kd.manualSeed(4);
    const model = lora.apply(baseModel(), { r: 2, loraAlpha: 4, loraDropout: 0.1, targetModules: 'layers\\.\\d+\\.attn\\.(q|v)_proj' });
    expect(lora.loraLayers(model).map(([n]) => n)).toEqual(['layers.0.attn.q_proj', 'layers.0.attn.v_proj', 'layers.1.attn.q_proj', 'layers.1.attn.v_proj']);
    expect((lora.loraLayers(model)[0][1].loraDropout.get('default'))).toBeInstanceOf(nn.Dropout);
    const frozen = Object.fromEntries(Object.entries(model.stateDict()).filter(([k]) => !k.includes('lora_')).map(([k, t]) => [k, t.toArray()]));
    const x = kd.randn([32, 6]), y = kd.randn([32, 3]);
    const optimizer = new kd.optim.AdamW(model.parameters().filter((p) => p.requiresGrad), { lr: 0.01 });
    const history = await kd.train.fit(model, { optimizer, loss: new nn.MSELoss(), trainData: new kd.data.TensorDataset(x, y), epochs: 5, batchSize: 8, verbose: 0 });
    expect(history.history.loss[4]).toBeLessThan(history.history.loss[0]);
    for (const [k, t] of Object.entries(model.stateDict())) if (!k.includes('lora_')) expect(t.toArray()).toEqual(frozen[k]);
  });

  it('rejects bad configs and adapters that do not fit, naming the op', () => {
    expect(() => lora.apply(baseModel(), { targetModules: ['nope'] })).toThrow(/lora.apply: no module matches targetModules \["nope"\]; the Linear layers are: proj_in/);
    expect(() => lora.apply(baseModel(), { targetModules: ['attn'] })).toThrow(/target module 'layers.0.attn' is a Attn; LoRA wraps nn.Linear/);
    expect(() => lora.apply(baseModel(), { targetModules: ['fc1'], r: 0 })).toThrow(ArgumentError);
    expect(() => lora.apply(baseModel(), { targetModules: ['fc1'], bias: 'all' as 'none' })).toThrow(/bias 'all' is not supported/);
    const twice = lora.apply(baseModel(), { targetModules: ['fc1'] });
    expect(() => lora.apply(twice, { targetModules: ['fc2'] })).toThrow(/already has LoRA adapters/);
    expect(() => lora.saveAdapter(baseModel(), dir)).toThrow(/lora.saveAdapter: the model has no LoRA adapters/);
    // A rank-2 model does not take the rank-4 adapter; nothing is copied.
    const r2 = lora.apply(baseModel(), { ...config, r: 2 });
    expect(() => lora.loadAdapter(r2, join(fixtures, 'adapter'))).toThrow(ShapeError);
    const bad = join(dir, 'bad');
    cpSync(join(fixtures, 'adapter'), bad, { recursive: true });
    rmSync(join(bad, 'adapter_model.safetensors'));
    expect(() => lora.loadAdapter(baseModel(), bad)).toThrow(DataError);
  });
});

describe('Module.freeze / unfreeze', () => {
  it('selects by regex, string, predicate or all; optimizers skip the frozen parameters', () => {
    const model = baseModel();
    expect(model.freeze(/^layers\.0\./)).toBe(model);
    const frozen = [...model.namedParameters()].filter(([, p]) => !p.requiresGrad).map(([n]) => n);
    expect(frozen.length).toBe(9);
    expect(frozen.every((n) => n.startsWith('layers.0.'))).toBe(true);
    model.unfreeze('attn').freeze((name, p) => p.ndim === 1 && name.startsWith('head'));
    expect(model.head.bias!.requiresGrad).toBe(false);
    expect(model.layers.at(0).attn.qProj.weight.requiresGrad).toBe(true);
    expect(model.layers.at(0).mlp.fc1.weight.requiresGrad).toBe(false);
    model.freeze();
    expect(model.numParameters()).toBe(0);
    model.unfreeze(/head\.weight/g);
    expect(model.numParameters()).toBe(24);
    // A frozen parameter gets no grad, so SGD (momentum, weight decay) and AdamW leave it as it was.
    for (const Opt of [kd.optim.SGD, kd.optim.AdamW] as const) {
      const before = model.layers.at(1).mlp.fc2.weight.toArray();
      const optimizer = new Opt(model.parameters(), { lr: 0.1, weightDecay: 0.1, ...(Opt === kd.optim.SGD ? { momentum: 0.9 } : {}) });
      kd.tidy(() => (model.forward(kd.randn([4, 6])) as Tensor).square().mean().backward());
      expect(model.layers.at(1).mlp.fc2.weight.grad).toBeNull();
      const headBefore = model.head.weight.toArray();
      optimizer.step();
      expect(model.layers.at(1).mlp.fc2.weight.toArray()).toEqual(before);
      expect(model.head.weight.toArray()).not.toEqual(headBefore);
      model.zeroGrad();
    }
    expect(() => model.freeze('(')).toThrow(/freeze: '\(' is not a valid regular expression/);
    expect(() => model.freeze(3 as unknown as string)).toThrow(ArgumentError);
  });
});
