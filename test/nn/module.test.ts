// kd.nn.Module against PyTorch's nn.Module: parameter/buffer discovery and naming, state dicts,
// modes, apply order, zeroGrad, summary() counts and repr.
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { snakeCase } from '../../lib/nn/module.js';
import { freshSeed, makeRng } from '../helpers.js';

const { nn } = kd;

const keysOf = (m: kd.nn.Module) => [...m.namedParameters()].map(([k]) => k);
const values = (t: Tensor) => Array.from(t.data() as Float32Array);

class Attention extends nn.Module {
  inProjWeight = nn.Parameter(kd.zeros([6, 2]));
  inProjBias = nn.Parameter(kd.zeros([6]));
  outProj = new nn.Linear(2, 2);
  forward(x: Tensor): Tensor {
    return this.outProj.forward(x);
  }
}

class EncoderLayer extends nn.Module {
  selfAttn = new Attention();
  norm1 = new nn.LayerNorm(2);
  linear1 = new nn.Linear(2, 3);
  forward(x: Tensor): Tensor {
    return this.linear1.forward(this.norm1.forward(this.selfAttn.forward(x)));
  }
}

/** A child assigned before an own parameter: PyTorch lists own parameters first. */
class ChildFirst extends nn.Module {
  lin = new nn.Linear(2, 2);
  logitScale = nn.Parameter(kd.ones([]));
  forward(x: Tensor): Tensor {
    return this.lin.forward(x);
  }
}

describe('Module: parameter discovery and PyTorch keys', () => {
  it('maps camelCase fields to snake_case keys, nested: selfAttn.outProj.weight -> self_attn.out_proj.weight', () => {
    const layer = new EncoderLayer();
    expect(keysOf(layer)).toEqual([
      'self_attn.in_proj_weight', 'self_attn.in_proj_bias', 'self_attn.out_proj.weight', 'self_attn.out_proj.bias',
      'norm1.weight', 'norm1.bias', 'linear1.weight', 'linear1.bias',
    ]);
    expect(Object.keys(layer.stateDict())).toEqual(keysOf(layer));
    expect([...layer.namedModules()].map(([k]) => k)).toEqual(['', 'self_attn', 'self_attn.out_proj', 'norm1', 'linear1']);
    expect(layer.parameters()[0]).toBe(layer.selfAttn.inProjWeight);
  });

  it('snake-cases PyTorch-style names (weightIhL0Reverse, numBatchesTracked, fc1)', () => {
    expect(snakeCase('weightIhL0Reverse')).toBe('weight_ih_l0_reverse');
    expect(snakeCase('numBatchesTracked')).toBe('num_batches_tracked');
    expect(snakeCase('fc1')).toBe('fc1');
    expect(snakeCase('inProjWeight')).toBe('in_proj_weight');
  });

  it('lists a module\'s own parameters before its children\'s, whatever the field order', () => {
    const m = new ChildFirst();
    expect(keysOf(m)).toEqual(['logit_scale', 'lin.weight', 'lin.bias']);
    expect(Object.keys(m.stateDict())).toEqual(['logit_scale', 'lin.weight', 'lin.bias']);
  });

  it('names Sequential / ModuleList / ModuleDict children like PyTorch, in order past index 9', () => {
    const seq = new nn.Sequential(
      new nn.Linear(3, 4),
      new nn.Sequential(new nn.ReLU(), new nn.Linear(4, 4, { bias: false })),
      new nn.ModuleList([new nn.Linear(4, 2)]),
      new nn.ModuleDict({ head: new nn.Linear(2, 1), auxOut: new nn.Linear(2, 1) }),
    );
    expect(keysOf(seq)).toEqual([
      '0.weight', '0.bias', '1.1.weight', '2.0.weight', '2.0.bias',
      '3.head.weight', '3.head.bias', '3.auxOut.weight', '3.auxOut.bias',
    ]);
    const long = new nn.Sequential(...Array.from({ length: 12 }, () => new nn.Linear(1, 1, { bias: false })));
    expect(keysOf(long)).toEqual(Array.from({ length: 12 }, (_, i) => `${i}.weight`));
    expect(long.length).toBe(12);
    expect(long.at(-1)).toBe(long.at(11));
  });

  it('keeps ModuleDict insertion order, also for keys that look like integers', () => {
    const d = new nn.ModuleDict({ b: new nn.Linear(1, 1), 10: new nn.Linear(1, 1), a: new nn.Linear(1, 1) });
    d.set('2', new nn.Linear(1, 1));
    // Object.entries({b, 10, a}) would already reorder '10' first; PyTorch keeps what the user gave.
    const expected = Object.keys({ b: 0, 10: 0, a: 0 }).concat('2');
    expect(d.keys()).toEqual(expected);
    expect(keysOf(d)).toEqual(expected.flatMap((k) => [`${k}.weight`, `${k}.bias`]));
  });

  it('counts a shared parameter once but keeps every key in stateDict, as PyTorch', () => {
    const tied = new nn.Linear(4, 4);
    const seq = new nn.Sequential(tied, new nn.ReLU(), tied);
    expect(keysOf(seq)).toEqual(['0.weight', '0.bias']);
    expect(seq.parameters().length).toBe(2);
    expect(Object.keys(seq.stateDict())).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
    expect(seq.numParameters()).toBe(20);

    class Tied extends nn.Module {
      embed = new nn.Embedding(7, 3);
      head = new nn.Linear(3, 7, { bias: false });
      constructor() {
        super();
        this.head.weight = this.embed.weight;
      }
      forward(x: Tensor): Tensor { return x; }
    }
    const t = new Tied();
    expect(keysOf(t)).toEqual(['embed.weight']);
    expect(t.numParameters()).toBe(21);
    expect(Object.keys(t.stateDict())).toEqual(['embed.weight', 'head.weight']);
  });

  it('runs a shared module twice in a Sequential (PyTorch iterates _modules, not unique modules)', () => {
    const double = new nn.Linear(1, 1, { bias: false });
    kd.noGrad(() => double.weight.fill_(2));
    const seq = new nn.Sequential(double, double);
    expect(seq.length).toBe(2);
    const y = seq.forward(kd.tensor([[3]], { dtype: 'float32' })) as Tensor;
    expect(y.item()).toBe(12);
    expect(seq.children()).toEqual([double]);
    expect([...seq.namedChildren()].map(([k]) => k)).toEqual(['0']);
  });

  it('lists BatchNorm\'s buffers after weight and bias, num_batches_tracked last; non-persistent buffers are not saved', () => {
    const bn = new nn.BatchNorm1d(3);
    expect(Object.keys(bn.stateDict())).toEqual(['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
    expect([...bn.namedBuffers()].map(([k]) => k)).toEqual(['running_mean', 'running_var', 'num_batches_tracked']);
    expect(keysOf(bn)).toEqual(['weight', 'bias']);

    class WithMask extends nn.Module {
      proj = new nn.Linear(2, 2);
      causalMask!: Tensor;
      positionIds!: Tensor;
      constructor() {
        super();
        this.registerBuffer('causalMask', kd.ones([2, 2]), false);
        this.registerBuffer('positionIds', kd.arange(2, { dtype: 'int32' }));
      }
      forward(x: Tensor): Tensor { return x; }
    }
    const m = new WithMask();
    expect([...m.namedBuffers()].map(([k]) => k)).toEqual(['causal_mask', 'position_ids']);
    expect(Object.keys(m.stateDict())).toEqual(['position_ids', 'proj.weight', 'proj.bias']);
    const seq = new nn.Sequential(new nn.Linear(2, 3), new nn.BatchNorm1d(3));
    expect(Object.keys(seq.stateDict())).toEqual([
      '0.weight', '0.bias', '1.weight', '1.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked',
    ]);
  });

  it('has no buffers with trackRunningStats=false and no parameters with affine=false', () => {
    expect(Object.keys(new nn.BatchNorm2d(3, { trackRunningStats: false }).stateDict())).toEqual(['weight', 'bias']);
    expect(Object.keys(new nn.BatchNorm2d(3, { affine: false }).stateDict())).toEqual(['running_mean', 'running_var', 'num_batches_tracked']);
  });
});

describe('Module: stateDict and loadStateDict', () => {
  const mlp = () => new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.Linear(4, 2), new nn.BatchNorm1d(2));

  it('stateDict values share storage with the module but are detached', () => {
    const m = mlp();
    const sd = m.stateDict();
    const w = (m.at(0) as kd.nn.Linear).weight;
    expect(sd['0.weight']).not.toBe(w);
    expect(sd['0.weight'].requiresGrad).toBe(false);
    expect(sd['0.weight'].gradFn).toBeNull();
    expect(sd['0.weight'].shape).toEqual([4, 3]);
    (sd['0.weight'].data() as Float32Array)[5] = 42;
    expect((w.data() as Float32Array)[5]).toBe(42);
    expect(sd['3.num_batches_tracked'].dtype).toBe('int32');
  });

  it('loads another model\'s values, keeping every parameter object (optimizers hold them)', () => {
    const seed = freshSeed();
    kd.manualSeed(seed);
    const a = mlp(), b = mlp();
    kd.noGrad(() => {
      (a.at(3) as kd.nn.BatchNorm1d).runningMean!.fill_(0.25);
      (a.at(3) as kd.nn.BatchNorm1d).numBatchesTracked!.fill_(7);
    });
    const before = b.parameters(), beforeBuffers = b.buffers();
    const result = b.loadStateDict(a.stateDict());
    expect(result).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(b.parameters()).toEqual(before);
    b.parameters().forEach((p, i) => {
      expect(p).toBe(before[i]);
      expect(p.requiresGrad).toBe(true);
      expect(values(p), `seed ${seed}`).toEqual(values(a.parameters()[i]));
    });
    b.buffers().forEach((t, i) => expect(t).toBe(beforeBuffers[i]));
    expect(values((b.at(3) as kd.nn.BatchNorm1d).runningMean!)).toEqual([0.25, 0.25]);
    expect((b.at(3) as kd.nn.BatchNorm1d).numBatchesTracked!.item()).toBe(7);
    // A copy, not an alias: changing the source afterwards leaves b alone.
    kd.noGrad(() => (a.at(0) as kd.nn.Linear).weight.fill_(9));
    expect(values((b.at(0) as kd.nn.Linear).weight)).not.toContain(9);
  });

  it('strict: missing and unexpected keys throw an ArgumentError naming them, and nothing is loaded', () => {
    const a = mlp(), b = mlp();
    const sd = a.stateDict();
    const w0 = values((b.at(0) as kd.nn.Linear).weight);
    const missing = { ...sd };
    delete missing['2.bias'];
    delete missing['3.running_var'];
    expect(() => b.loadStateDict(missing)).toThrowError(kd.ArgumentError);
    expect(() => b.loadStateDict(missing)).toThrowError(/missing.*2\.bias.*3\.running_var/);
    const extra = { ...sd, 'head.weight': kd.zeros([1]) };
    expect(() => b.loadStateDict(extra)).toThrowError(/unexpected.*head\.weight/);
    const both = { ...missing, 'head.weight': kd.zeros([1]) };
    expect(() => b.loadStateDict(both)).toThrowError(/2\.bias[\s\S]*head\.weight/);
    expect(values((b.at(0) as kd.nn.Linear).weight)).toEqual(w0);
  });

  it('a shape mismatch is a ShapeError naming the key and both shapes, also when not strict; nothing is loaded', () => {
    const b = mlp();
    const sd = { ...mlp().stateDict(), '2.weight': kd.zeros([2, 5]) };
    const w0 = values((b.at(0) as kd.nn.Linear).weight);
    expect(() => b.loadStateDict(sd)).toThrowError(kd.ShapeError);
    expect(() => b.loadStateDict(sd)).toThrowError(/2\.weight.*\[2,5\].*\[2,4\]/);
    expect(() => b.loadStateDict(sd, { strict: false })).toThrowError(kd.ShapeError);
    expect(values((b.at(0) as kd.nn.Linear).weight)).toEqual(w0);
  });

  it('non-strict returns the missing and unexpected keys and loads the rest', () => {
    const a = mlp(), b = mlp();
    const sd = a.stateDict();
    delete sd['0.bias'];
    sd['extra.scale'] = kd.ones([1]);
    const b0 = values((b.at(0) as kd.nn.Linear).bias!);
    const result = b.loadStateDict(sd, { strict: false });
    expect(result).toEqual({ missingKeys: ['0.bias'], unexpectedKeys: ['extra.scale'] });
    expect(values((b.at(0) as kd.nn.Linear).weight)).toEqual(values((a.at(0) as kd.nn.Linear).weight));
    expect(values((b.at(0) as kd.nn.Linear).bias!)).toEqual(b0);
  });

  it('rejects a value that is not a tensor; casts another dtype like PyTorch\'s copy_', () => {
    const b = mlp();
    const sd = mlp().stateDict() as Record<string, unknown>;
    expect(() => b.loadStateDict({ ...sd, '0.weight': [[1, 2, 3]] } as never)).toThrowError(kd.ArgumentError);
    expect(() => b.loadStateDict({ ...sd, '0.weight': [[1, 2, 3]] } as never)).toThrowError(/0\.weight/);
    b.loadStateDict({ ...sd, '0.weight': kd.full([4, 3], 2, { dtype: 'int32' }) } as never);
    const w = (b.at(0) as kd.nn.Linear).weight;
    expect(w.dtype).toBe('float32');
    expect(values(w)).toEqual(new Array(12).fill(2));
  });

  it('round-trips through kd.io.save / kd.io.load', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'kd-nn-'));
    try {
      const a = mlp(), b = mlp();
      kd.noGrad(() => (a.at(3) as kd.nn.BatchNorm1d).numBatchesTracked!.fill_(5));
      kd.io.save(a.stateDict(), join(dir, 'm.safetensors'));
      b.loadStateDict(kd.io.load(join(dir, 'm.safetensors')));
      a.parameters().forEach((p, i) => expect(values(b.parameters()[i])).toEqual(values(p)));
      expect((b.at(3) as kd.nn.BatchNorm1d).numBatchesTracked!.item()).toBe(5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Module: modes, apply, zeroGrad, to', () => {
  it('train() and eval() reach every submodule and return the module', () => {
    const m = new nn.Sequential(new nn.Linear(2, 2), new nn.Sequential(new nn.Dropout(), new nn.BatchNorm1d(2)), new nn.ModuleList([new nn.Dropout()]));
    expect(m.eval()).toBe(m);
    expect(m.modules().map((x) => x.training)).toEqual(new Array(7).fill(false));
    expect(m.train()).toBe(m);
    expect(m.modules().every((x) => x.training)).toBe(true);
    m.train(false);
    expect(m.modules().some((x) => x.training)).toBe(false);
  });

  it('apply visits children depth-first, then the module itself, as PyTorch (a module shared by two parents twice)', () => {
    const shared = new nn.Tanh();
    const inner = new nn.Sequential(new nn.ReLU(), new nn.Sigmoid(), shared);
    const outer = new nn.Sequential(new nn.Linear(1, 1), inner, shared);
    const order: kd.nn.Module[] = [];
    expect(outer.apply((m) => order.push(m))).toBe(outer);
    expect(order).toEqual([outer.at(0), inner.at(0), inner.at(1), shared, inner, shared, outer]);
    // Within one parent a module held twice is a single child.
    const twice = new nn.Sequential(shared, shared);
    const seen: kd.nn.Module[] = [];
    twice.apply((m) => seen.push(m));
    expect(seen).toEqual([shared, twice]);
  });

  it('apply can re-initialise layers (the PyTorch init idiom)', () => {
    const m = new nn.Sequential(new nn.Linear(3, 3), new nn.ReLU(), new nn.Linear(3, 2));
    m.apply((x) => {
      if (x instanceof nn.Linear) {
        nn.init.constant_(x.weight, 0.5);
        if (x.bias) nn.init.zeros_(x.bias);
      }
    });
    for (const p of m.parameters()) expect(new Set(values(p)).size).toBe(1);
  });

  it('zeroGrad sets every parameter\'s grad to null', () => {
    const m = new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.Linear(4, 1));
    const y = m.forward(kd.randn([5, 3])) as Tensor;
    y.sum().backward();
    expect(m.parameters().every((p) => p.grad !== null)).toBe(true);
    m.zeroGrad();
    expect(m.parameters().every((p) => p.grad === null)).toBe(true);
  });

  it('to("cpu") keeps every tensor object', () => {
    const m = new nn.Sequential(new nn.Linear(2, 2), new nn.BatchNorm1d(2));
    const before = [...m.parameters(), ...m.buffers()];
    expect(m.to('cpu')).toBe(m);
    expect([...m.parameters(), ...m.buffers()]).toEqual(before);
  });
});

describe('Module: summary() and toString()', () => {
  it('summary counts the Keras MNIST CNN: 320 + 18,496 + 36,928 + 36,928 + 650 = 93,322, every layer listed', () => {
    const cnn = new nn.Sequential(
      new nn.Conv2d(1, 32, 3), new nn.ReLU(), new nn.MaxPool2d(2),
      new nn.Conv2d(32, 64, 3), new nn.ReLU(), new nn.MaxPool2d(2),
      new nn.Conv2d(64, 64, 3), new nn.ReLU(),
      new nn.Flatten(), new nn.Linear(576, 64), new nn.ReLU(), new nn.Linear(64, 10),
    );
    expect(cnn.numParameters()).toBe(93_322);
    const s = cnn.summary();
    const rows = s.split('\n').filter((l) => /^\d+ \(/.test(l)).map((l) => l.trim().split(/\s+/));
    expect(rows.map((r) => [r[0], r[1], r[r.length - 1]])).toEqual([
      ['0', '(Conv2d)', '320'], ['1', '(ReLU)', '0'], ['2', '(MaxPool2d)', '0'],
      ['3', '(Conv2d)', '18,496'], ['4', '(ReLU)', '0'], ['5', '(MaxPool2d)', '0'],
      ['6', '(Conv2d)', '36,928'], ['7', '(ReLU)', '0'], ['8', '(Flatten)', '0'],
      ['9', '(Linear)', '36,928'], ['10', '(ReLU)', '0'], ['11', '(Linear)', '650'],
    ]);
    expect(s).toMatch(/^Model: "Sequential"\n/);
    expect(s).toContain('Param Shapes');
    expect(s).toContain('weight[32,1,3,3] bias[32]');
    expect(s).toContain('Total params: 93,322 (364.54 KB)');
    expect(s).toContain('Trainable params: 93,322 (364.54 KB)');
    expect(s).toContain('Non-trainable params: 0 (0.00 B)');
  });

  it('summary({ inputShape }) lists each layer\'s output shape for a batch of one, leaving modes and forwards as they were', () => {
    const cnn = new nn.Sequential(
      new nn.Conv2d(1, 32, 3), new nn.ReLU(), new nn.MaxPool2d(2),
      new nn.Conv2d(32, 64, 3), new nn.ReLU(), new nn.MaxPool2d(2),
      new nn.Flatten(), new nn.Dropout(0.5), new nn.Linear(64 * 5 * 5, 10),
    );
    const forwards = cnn.modules().map((m) => m.forward);
    const s = cnn.summary({ inputShape: [1, 28, 28] });
    const shapes = Object.fromEntries(s.split('\n').filter((l) => /^\d+ \(/.test(l)).map((l) => {
      const cells = l.trim().split(/\s+/);
      return [cells[0], cells[2]];
    }));
    expect(shapes).toEqual({
      0: '[1,32,26,26]', 1: '[1,32,26,26]', 2: '[1,32,13,13]', 3: '[1,64,11,11]', 4: '[1,64,11,11]', 5: '[1,64,5,5]',
      6: '[1,1600]', 7: '[1,1600]', 8: '[1,10]',
    });
    expect(s).toContain('Output Shape');
    expect(cnn.training).toBe(true);
    expect(cnn.modules().every((m, i) => m.training && m.forward === forwards[i])).toBe(true);
    expect(() => cnn.summary({ inputShape: [3, 28, 28] })).toThrow(kd.ShapeError);
    expect(() => cnn.summary({ inputShape: [3, 28, 28] })).toThrow(/summary: a batch of shape \[1,3,28,28\]/);
    expect(cnn.modules().every((m, i) => m.training && m.forward === forwards[i])).toBe(true);
  });

  it('numParameters counts trainable parameters, and { trainable: false } counts all (58 vs 26 with a frozen layer)', () => {
    const m = new nn.Sequential(new nn.Linear(4, 4), new nn.Tanh(), new nn.Linear(4, 4), new nn.Linear(4, 2));
    expect(m.numParameters()).toBe(20 + 20 + 10);
    for (const p of m.at(0).parameters()) p.requiresGrad = false;
    for (const p of m.at(3).parameters()) p.requiresGrad = false;
    expect(m.numParameters()).toBe(20);
    expect(m.numParameters({ trainable: true })).toBe(20);
    expect(m.numParameters({ trainable: false })).toBe(50);
    const issue = new nn.Sequential(new nn.Linear(4, 6), new nn.ReLU(), new nn.Linear(6, 2));
    for (const p of issue.at(0).parameters()) p.requiresGrad = false;
    expect([issue.numParameters(), issue.numParameters({ trainable: false })]).toEqual([14, 44]);
    expect(() => m.numParameters(true as unknown as { trainable: boolean })).toThrow(kd.ArgumentError);
  });

  it('summary separates frozen parameters in its totals', () => {
    const m = new nn.Sequential(new nn.Linear(10, 10), new nn.Linear(10, 1));
    for (const p of m.at(0).parameters()) p.requiresGrad = false;
    expect(m.numParameters()).toBe(11);
    expect(m.numParameters({ trainable: false })).toBe(121);
    const s = m.summary();
    expect(s).toContain('Total params: 121 (484.00 B)');
    expect(s).toContain('Trainable params: 11 (44.00 B)');
    expect(s).toContain('Non-trainable params: 110 (440.00 B)');
  });

  it('toString prints a Sequential of Linear/ReLU like PyTorch\'s repr', () => {
    const m = new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.Linear(8, 2, { bias: false }));
    expect(m.toString()).toBe(
      'Sequential(\n' +
        '  (0): Linear(in_features=4, out_features=8, bias=True)\n' +
        '  (1): ReLU()\n' +
        '  (2): Linear(in_features=8, out_features=2, bias=False)\n' +
        ')',
    );
    expect(String(m)).toBe(m.toString());
  });

  it('nests reprs with PyTorch\'s indentation and field names in snake_case', () => {
    const m = new nn.Sequential(new nn.Sequential(new nn.Linear(2, 2)), new nn.Tanh());
    expect(m.toString()).toBe('Sequential(\n  (0): Sequential(\n    (0): Linear(in_features=2, out_features=2, bias=True)\n  )\n  (1): Tanh()\n)');
    expect(new EncoderLayer().toString()).toBe(
      'EncoderLayer(\n' +
        '  (self_attn): Attention(\n' +
        '    (out_proj): Linear(in_features=2, out_features=2, bias=True)\n' +
        '  )\n' +
        '  (norm1): LayerNorm((2,), eps=1e-05, elementwise_affine=True)\n' +
        '  (linear1): Linear(in_features=2, out_features=3, bias=True)\n' +
        ')',
    );
  });

  it('prints each layer\'s repr as PyTorch does', () => {
    const cases: [kd.nn.Module, string][] = [
      [new nn.LayerNorm([4, 8]), 'LayerNorm((4, 8), eps=1e-05, elementwise_affine=True)'],
      [new nn.LayerNorm(8, { eps: 1e-6, elementwiseAffine: false }), 'LayerNorm((8,), eps=1e-06, elementwise_affine=False)'],
      [new nn.RMSNorm(8), 'RMSNorm((8,), eps=None, elementwise_affine=True)'],
      [new nn.BatchNorm1d(4, { momentum: null, affine: false }), 'BatchNorm1d(4, eps=1e-05, momentum=None, affine=False, track_running_stats=True)'],
      [new nn.BatchNorm2d(3, { eps: 1e-3 }), 'BatchNorm2d(3, eps=0.001, momentum=0.1, affine=True, track_running_stats=True)'],
      [new nn.Dropout(), 'Dropout(p=0.5, inplace=False)'],
      [new nn.Dropout(0.25), 'Dropout(p=0.25, inplace=False)'],
      [new nn.LeakyReLU(), 'LeakyReLU(negative_slope=0.01)'],
      [new nn.ELU(), 'ELU(alpha=1.0)'],
      [new nn.Softplus(), 'Softplus(beta=1.0, threshold=20.0)'],
      [new nn.Softmax(1), 'Softmax(dim=1)'],
      [new nn.LogSoftmax(-1), 'LogSoftmax(dim=-1)'],
      [new nn.GELU('tanh'), "GELU(approximate='tanh')"],
      [new nn.SiLU(), 'SiLU()'],
      [new nn.Identity(), 'Identity()'],
      [new nn.Flatten(), 'Flatten(start_dim=1, end_dim=-1)'],
      [new nn.Unflatten(1, [2, 3]), 'Unflatten(dim=1, unflattened_size=(2, 3))'],
      [new nn.Embedding(10, 3), 'Embedding(10, 3)'],
      [new nn.Embedding(10, 3, { paddingIdx: 0 }), 'Embedding(10, 3, padding_idx=0)'],
      [new nn.Conv2d(1, 32, 3), 'Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1))'],
      [new nn.Conv2d(3, 8, [3, 5], { stride: 2, padding: 1, bias: false }), 'Conv2d(3, 8, kernel_size=(3, 5), stride=(2, 2), padding=(1, 1), bias=False)'],
      [new nn.Conv1d(2, 4, 3), 'Conv1d(2, 4, kernel_size=(3,), stride=(1,))'],
      [new nn.Conv1d(2, 4, 3, { stride: 2, padding: 1 }), 'Conv1d(2, 4, kernel_size=(3,), stride=(2,), padding=(1,))'],
      [new nn.MaxPool2d(2), 'MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)'],
      [new nn.AvgPool2d(2), 'AvgPool2d(kernel_size=2, stride=2, padding=0)'],
      [new nn.AdaptiveAvgPool2d([1, 1]), 'AdaptiveAvgPool2d(output_size=(1, 1))'],
      [new nn.ModuleList([new nn.ReLU()]), 'ModuleList(\n  (0): ReLU()\n)'],
      [new nn.ModuleDict({ a: new nn.ReLU() }), 'ModuleDict(\n  (a): ReLU()\n)'],
    ];
    for (const [m, repr] of cases) expect(m.toString()).toBe(repr);
  });
});

describe('Module: registration', () => {
  it('Parameter refuses non-leaf tensors; registerParameter(null) leaves an optional slot', () => {
    const rng = makeRng(1);
    const x = kd.tensor([rng(), rng()], { requiresGrad: true });
    const y = x.mul(2);
    expect(() => nn.Parameter(y)).toThrowError(kd.ArgumentError);
    class Opt extends nn.Module {
      scale!: Tensor | null;
      constructor() {
        super();
        this.registerParameter('scale', null);
      }
      forward(v: Tensor): Tensor { return v; }
    }
    expect(keysOf(new Opt())).toEqual([]);
  });

  it('a plain tensor field (not a Parameter, not a buffer) is not state, as in PyTorch', () => {
    class Plain extends nn.Module {
      cache = kd.zeros([2]);
      weight = nn.Parameter(kd.zeros([2]));
      forward(v: Tensor): Tensor { return v; }
    }
    expect(Object.keys(new Plain().stateDict())).toEqual(['weight']);
  });

  it('ModuleDict rejects keys that would shadow Module members', () => {
    expect(() => new nn.ModuleDict({ training: new nn.ReLU() })).toThrowError(kd.ArgumentError);
    expect(() => new nn.ModuleDict({ forward: new nn.ReLU() })).toThrowError(kd.ArgumentError);
    expect(() => new nn.ModuleDict({ 'a.b': new nn.ReLU() })).toThrowError(kd.ArgumentError);
    expect(() => new nn.Sequential(new nn.ReLU(), 3 as never)).toThrowError(kd.ArgumentError);
  });
});
