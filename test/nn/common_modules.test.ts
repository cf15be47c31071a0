// The modules added for PyTorch parity: ConvTranspose2d, GroupNorm, MaxPool1d, Upsample and
// Hardtanh. Constructor defaults, parameter shapes, state-dict keys (written out here and
// compared with PyTorch 2.13's, from test/fixtures/common_ops.expected.json), repr, the
// initialisation's bounds, and a ConvTranspose2d loaded from a PyTorch state dict.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose } from '../helpers.js';

const { nn } = kd;
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

interface Stored { shape: number[]; values: number[] }
interface Fixture {
  modules: Record<string, { repr: string; state: Record<string, number[]> }>;
  convt_module_forward: { state: Record<string, Stored>; x: Stored; out: Stored };
}
const fixture = JSON.parse(readFileSync(join(FIXTURES, 'common_ops.expected.json'), 'utf8')) as Fixture;

const stored = (s: Stored) => kd.tensor(s.values, { dtype: 'float32' }).reshape(s.shape);

/** The modules of make_common_ops_fixtures.py, built the kindling way, with their expected state keys. */
const MODULES: Record<string, [() => kd.nn.Module, string[]]> = {
  convt_default: [() => new nn.ConvTranspose2d(4, 6, 3), ['weight', 'bias']],
  convt_all: [() => new nn.ConvTranspose2d(4, 6, [3, 2], { stride: 2, padding: 1, outputPadding: 1, groups: 2, bias: false, dilation: 2 }), ['weight']],
  group_norm: [() => new nn.GroupNorm(2, 6), ['weight', 'bias']],
  group_norm_plain: [() => new nn.GroupNorm(3, 6, { eps: 1e-3, affine: false }), []],
  group_norm_no_bias: [() => new nn.GroupNorm(3, 6, { bias: false }), ['weight']],
  max_pool1d: [() => new nn.MaxPool1d(3), []],
  max_pool1d_all: [() => new nn.MaxPool1d(3, { stride: 2, padding: 1, dilation: 2, ceilMode: true }), []],
  upsample_scale: [() => new nn.Upsample({ scaleFactor: 2 }), []],
  upsample_size: [() => new nn.Upsample({ size: [3, 4], mode: 'bilinear', alignCorners: true }), []],
  hardtanh: [() => new nn.Hardtanh(), []],
  hardtanh_range: [() => new nn.Hardtanh(-2, 3.5), []],
};

describe('new modules: state dict keys, parameter shapes and repr as PyTorch', () => {
  for (const [name, [make, keys]] of Object.entries(MODULES)) {
    it(`${name}: keys ${JSON.stringify(keys)}, shapes and repr`, () => {
      const expected = fixture.modules[name];
      const m = make();
      const state = m.stateDict();
      expect(Object.keys(state)).toEqual(keys);
      expect(Object.keys(expected.state)).toEqual(keys);
      for (const k of keys) expect(state[k].shape, k).toEqual(expected.state[k]);
      expect(m.toString()).toBe(expected.repr);
    });
  }
});

describe('ConvTranspose2d', () => {
  it('defaults: stride 1, no padding, groups 1, a bias; weight [in, out/groups, kh, kw]', () => {
    const m = new nn.ConvTranspose2d(4, 6, 3);
    expect([m.stride, m.padding, m.outputPadding, m.dilation, m.groups]).toEqual([[1, 1], [0, 0], [0, 0], [1, 1], 1]);
    expect(m.weight.shape).toEqual([4, 6, 3, 3]);
    expect(m.bias!.shape).toEqual([6]);
    expect(m.weight.requiresGrad && m.bias!.requiresGrad).toBe(true);
    expect(new nn.ConvTranspose2d(4, 6, [3, 2], { groups: 2 }).weight.shape).toEqual([4, 3, 3, 2]);
  });

  it('initialises weight and bias uniformly within ±1/sqrt(fanIn), fanIn = (out/groups)·kh·kw as PyTorch', () => {
    kd.manualSeed(3);
    // fanIn from dim 1 is 32·9 = 288 (bound 0.0589); from dim 0 it would be 64·9 = 576 (0.0417).
    const m = new nn.ConvTranspose2d(64, 32, 3);
    const bound = 1 / Math.sqrt(32 * 9);
    const w = m.weight.data() as Float32Array, b = m.bias!.data() as Float32Array;
    let maxAbs = 0, sumSq = 0;
    for (const v of w) { maxAbs = Math.max(maxAbs, Math.abs(v)); sumSq += v * v; }
    expect(maxAbs).toBeLessThanOrEqual(bound);
    expect(maxAbs).toBeGreaterThan(0.99 * bound);
    // A uniform on ±bound has standard deviation bound/√3.
    expect(Math.sqrt(sumSq / w.length)).toBeCloseTo(bound / Math.sqrt(3), 3);
    const bMax = Math.max(...Array.from(b, Math.abs));
    expect(bMax).toBeLessThanOrEqual(bound);
    expect(bMax).toBeGreaterThan(0.8 * bound);
  });

  it('loads a PyTorch state dict and reproduces its output (rel err < 1e-4)', () => {
    const f = fixture.convt_module_forward;
    const m = new nn.ConvTranspose2d(4, 6, 3, { stride: 2, padding: 1, outputPadding: 1, groups: 2 });
    const state: Record<string, Tensor> = {};
    for (const [k, s] of Object.entries(f.state)) state[k] = stored(s);
    m.loadStateDict(state);
    const out = kd.noGrad(() => m.forward(stored(f.x)));
    expect(out.shape).toEqual(f.out.shape);
    expectClose(out.data() as Float32Array, f.out.values, 1e-4, 'ConvTranspose2d output');
  });

  it('forward(input, outputSize) picks the output padding, and rejects sizes the stride cannot reach', () => {
    const m = new nn.ConvTranspose2d(2, 3, 3, { stride: 3, padding: 1 });
    const x = kd.randn([1, 2, 4, 5]);
    // Without output padding: (4-1)·3 - 2 + 2 + 1 = 10 by 13; the stride allows up to 2 more.
    expect(m.forward(x).shape).toEqual([1, 3, 10, 13]);
    expect(m.forward(x, [12, 14]).shape).toEqual([1, 3, 12, 14]);
    expect(m.forward(x, [1, 3, 11, 13]).shape).toEqual([1, 3, 11, 13]);
    expect(() => m.forward(x, [13, 13])).toThrow(kd.ShapeError);
    expect(() => m.forward(x, [13, 13])).toThrow(/ConvTranspose2d.*10 to 12.*\[1,2,4,5\]/);
  });

  it('rejects channels not divisible by groups, naming the layer', () => {
    expect(() => new nn.ConvTranspose2d(4, 6, 3, { groups: 4 })).toThrow(kd.ArgumentError);
    expect(() => new nn.ConvTranspose2d(4, 6, 3, { groups: 4 })).toThrow(/ConvTranspose2d: out_channels 6.*groups 4/);
    expect(() => new nn.ConvTranspose2d(0, 6, 3)).toThrow(/ConvTranspose2d: in_channels/);
  });
});

describe('GroupNorm', () => {
  it('defaults: eps 1e-5, affine with weight ones and bias zeros of [numChannels]', () => {
    const m = new nn.GroupNorm(2, 6);
    expect([m.numGroups, m.numChannels, m.eps, m.affine]).toEqual([2, 6, 1e-5, true]);
    expect(Array.from(m.weight!.data())).toEqual([1, 1, 1, 1, 1, 1]);
    expect(Array.from(m.bias!.data())).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('normalises each group of channels to zero mean and unit variance', () => {
    kd.manualSeed(11);
    const m = new nn.GroupNorm(2, 4, { affine: false });
    const y = m.forward(kd.randn([3, 4, 5]).mul(3).add(2));
    const groups = y.reshape([3, 2, 10]);
    const mu = groups.mean(2).data() as Float32Array, v = groups.var(2, { correction: 0 }).data() as Float32Array;
    for (const x of mu) expect(Math.abs(x)).toBeLessThan(1e-5);
    for (const x of v) expect(x).toBeCloseTo(1, 3);
  });

  it('rejects channels not divisible by the groups', () => {
    expect(() => new nn.GroupNorm(4, 6)).toThrow(kd.ArgumentError);
    expect(() => new nn.GroupNorm(4, 6)).toThrow(/GroupNorm: num_channels \(6\) must be divisible by num_groups \(4\)/);
  });
});

describe('MaxPool1d, Upsample and Hardtanh', () => {
  it('MaxPool1d defaults its stride to the kernel size and can return indices', () => {
    const x = kd.tensor([[[1, 5, 2, 8, 3, 0, 7]]], { dtype: 'float32' });
    const m = new nn.MaxPool1d(2);
    expect(m.stride).toBe(2);
    expect(m.forward(x).toArray()).toEqual([[[5, 8, 3]]]);
    const [values, indices] = new nn.MaxPool1d(3, { stride: 2, returnIndices: true }).forward(x);
    expect(values.toArray()).toEqual([[[5, 8, 7]]]);
    expect(indices.toArray()).toEqual([[[1, 3, 6]]]);
    expect(() => new nn.MaxPool1d(0)).toThrow(/MaxPool1d: kernel_size/);
  });

  it('Upsample is interpolate with the stored options', () => {
    const x = kd.tensor([[[[1, 2], [3, 4]]]], { dtype: 'float32' });
    expect(new nn.Upsample({ scaleFactor: 2 }).forward(x).shape).toEqual([1, 1, 4, 4]);
    const up = new nn.Upsample({ size: [3, 3], mode: 'bilinear', alignCorners: true });
    expect(up.forward(x).toArray()).toEqual([[[[1, 1.5, 2], [2, 2.5, 3], [3, 3.5, 4]]]]);
    expect(up.mode).toBe('bilinear');
    expect(new nn.Upsample().mode).toBe('nearest');
    expect(() => new nn.Upsample().forward(x)).toThrow(/interpolate: either size or scaleFactor/);
  });

  it('Hardtanh defaults to [-1, 1] and needs maxVal > minVal', () => {
    const m = new nn.Hardtanh();
    expect([m.minVal, m.maxVal]).toEqual([-1, 1]);
    expect(m.forward(kd.tensor([-3, -0.5, 0.25, 2])).toArray()).toEqual([-1, -0.5, 0.25, 1]);
    expect(() => new nn.Hardtanh(1, 1)).toThrow(kd.ArgumentError);
    expect(() => new nn.Hardtanh(1, 1)).toThrow(/Hardtanh: maxVal \(1\) must be greater than minVal \(1\)/);
  });

  it('the new modules train inside a Sequential: every parameter gets a gradient', () => {
    kd.manualSeed(7);
    const model = new nn.Sequential(
      new nn.ConvTranspose2d(2, 4, 3, { stride: 2, outputPadding: 1 }), new nn.GroupNorm(2, 4), new nn.Hardtanh(),
      new nn.Upsample({ scaleFactor: 0.5, mode: 'bilinear' }), new nn.Flatten(2), new nn.MaxPool1d(2),
    );
    expect(Object.keys(model.stateDict())).toEqual(['0.weight', '0.bias', '1.weight', '1.bias']);
    const y = model.forward(kd.randn([2, 2, 3, 3])) as Tensor;
    expect(y.shape).toEqual([2, 4, 8]);
    y.square().sum().backward();
    for (const [name, p] of model.namedParameters()) {
      expect(p.grad, name).not.toBeNull();
      expect((p.grad!.abs().sum().item()), name).toBeGreaterThan(0);
    }
  });
});
