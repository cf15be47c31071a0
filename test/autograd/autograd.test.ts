// Autograd: every differentiable op's backward against central finite differences (gradcheck),
// on broadcast and non-contiguous operands; and the engine's rules: accumulation, leaf-only
// .grad, noGrad, detach, freed graphs, retainGraph, in-place checks, deep graphs.
import { describe, expect, it } from 'vitest';

import { liveStorageCount } from '../../lib/backend/storage.js';
import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { record } from '../../lib/ops/record.js';
import { expectClose, freshSeed, gradcheck, makeRng, numel, settledStorageCount } from '../helpers.js';

type Rng = () => number;

/** A float32 leaf requiring grad, filled by draw. */
function leaf(shape: number[], draw: () => number): Tensor {
  const t = kd.tensor(Float32Array.from({ length: numel(shape) }, draw)).reshape(shape).detach();
  t.requiresGrad = true;
  return t;
}

/** Values in ±[0.2, 2]: away from the kinks of relu, abs, leakyRelu, elu, sign. */
const awayFromZero = (rng: Rng) => () => (rng() < 0.5 ? -1 : 1) * (0.2 + 1.8 * rng());
/** n values at least 0.08 apart (shuffled), so a max/min cannot change under a ±1e-2 nudge. */
function spaced(rng: Rng, n: number): () => number {
  const vals = Array.from({ length: n }, (_, i) => (i - n / 2) * 0.1 + 0.02 * rng());
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [vals[i], vals[j]] = [vals[j], vals[i]];
  }
  let k = 0;
  return () => vals[k++ % n];
}

/** Weights that make the scalar loss sensitive to every output element differently. */
function weightedSum(out: Tensor, rng: Rng): Tensor {
  const w = kd.tensor(Float32Array.from({ length: out.numel }, () => 0.5 + rng())).reshape(out.shape);
  return out.mul(w).sum();
}

interface UnaryGrad {
  name: string;
  f: (x: Tensor) => Tensor;
  draw?: (rng: Rng) => () => number;
}

const unaryGrads: UnaryGrad[] = [
  { name: 'neg', f: (x) => x.neg() },
  { name: 'exp', f: (x) => x.exp() },
  { name: 'log', f: (x) => x.log(), draw: (r) => () => 0.3 + 2 * r() },
  { name: 'sqrt', f: (x) => x.sqrt(), draw: (r) => () => 0.3 + 2 * r() },
  { name: 'rsqrt', f: (x) => x.rsqrt(), draw: (r) => () => 0.3 + 2 * r() },
  { name: 'abs', f: (x) => x.abs(), draw: awayFromZero },
  { name: 'relu', f: (x) => x.relu(), draw: awayFromZero },
  { name: 'gelu', f: (x) => x.gelu() },
  { name: 'gelu(tanh)', f: (x) => x.gelu('tanh') },
  { name: 'sigmoid', f: (x) => x.sigmoid() },
  { name: 'tanh', f: (x) => x.tanh() },
  { name: 'silu', f: (x) => x.silu() },
  { name: 'sin', f: (x) => x.sin() },
  { name: 'cos', f: (x) => x.cos() },
  { name: 'square', f: (x) => x.square() },
  { name: 'reciprocal', f: (x) => x.reciprocal(), draw: awayFromZero },
  { name: 'log1p', f: (x) => x.log1p(), draw: (r) => () => -0.5 + 2 * r() },
  { name: 'expm1', f: (x) => x.expm1() },
  { name: 'erf', f: (x) => x.erf() },
  { name: 'leakyRelu(0.1)', f: (x) => x.leakyRelu(0.1), draw: awayFromZero },
  { name: 'elu(0.7)', f: (x) => x.elu(0.7), draw: awayFromZero },
  { name: 'softplus', f: (x) => x.softplus() },
  // Linear above x = threshold / beta = 0.5, where softplus jumps (as in PyTorch): stay clear of it.
  { name: 'softplus(beta 2, threshold 1)', f: (x) => x.softplus(2, 1), draw: (r) => () => { const u = r(); return u < 0.33 ? -0.1 - r() : u < 0.66 ? 0.05 + 0.3 * r() : 0.7 + r(); } },
  { name: 'clamp(-0.5, 0.5)', f: (x) => x.clamp(-0.5, 0.5), draw: (r) => () => (r() < 0.5 ? 0.1 + 0.3 * r() : 0.7 + r()) * (r() < 0.5 ? -1 : 1) },
  { name: 'clamp(min)', f: (x) => x.clamp(0), draw: awayFromZero },
  { name: 'pow(3)', f: (x) => x.pow(3) },
  { name: 'pow(2)', f: (x) => x.pow(2) },
  { name: 'pow(-1.5)', f: (x) => x.pow(-1.5), draw: (r) => () => 0.5 + r() },
  { name: 'pow(0.5)', f: (x) => x.pow(0.5), draw: (r) => () => 0.5 + r() },
  { name: 'add scalar', f: (x) => x.add(2.5) },
  { name: 'sub scalar alpha', f: (x) => x.sub(2.5, 3) },
  { name: 'mul scalar', f: (x) => x.mul(-1.5) },
  { name: 'div scalar', f: (x) => x.div(0.7) },
  { name: 'remainder scalar', f: (x) => x.remainder(0.7), draw: (r) => () => 0.7 * (Math.floor(r() * 5) - 2 + 0.2 + 0.6 * r()) },
  { name: 'maximum scalar', f: (x) => x.maximum(0.05), draw: awayFromZero },
  { name: 'clone', f: (x) => x.clone() },
];

describe('gradcheck: unary ops on contiguous and transposed inputs', () => {
  for (const c of unaryGrads) {
    it(`${c.name}`, () => {
      const seed = freshSeed(), rng = makeRng(seed);
      const draw = (c.draw ?? ((r: Rng) => () => 2 * r() - 1))(rng);
      const x = leaf([3, 5], draw);
      gradcheck((t) => weightedSum(c.f(t), makeRng(seed + 1)), [x], { context: `${c.name} seed ${seed}` });
      // Through a transposed view: the op sees strides [1, 5].
      gradcheck((t) => weightedSum(c.f(t.T), makeRng(seed + 2)), [x], { context: `${c.name} transposed seed ${seed}` });
    });
  }

  it('floor, ceil, round and sign have zero gradient', () => {
    const x = leaf([4], () => 1.3);
    for (const f of [(t: Tensor) => t.floor(), (t: Tensor) => t.ceil(), (t: Tensor) => t.round(), (t: Tensor) => t.sign()]) {
      x.grad = null;
      f(x).sum().backward();
      expect(x.grad!.toArray()).toEqual([0, 0, 0, 0]);
    }
  });
});

interface BinaryGrad {
  name: string;
  f: (a: Tensor, b: Tensor) => Tensor;
  drawA?: (rng: Rng) => () => number;
  drawB?: (rng: Rng) => () => number;
  sameShape?: boolean;
}

const binaryGrads: BinaryGrad[] = [
  { name: 'add', f: (a, b) => a.add(b) },
  { name: 'add(alpha)', f: (a, b) => a.add(b, -2) },
  { name: 'sub', f: (a, b) => a.sub(b) },
  { name: 'mul', f: (a, b) => a.mul(b) },
  { name: 'div', f: (a, b) => a.div(b), drawB: awayFromZero },
  { name: 'pow', f: (a, b) => a.pow(b), drawA: (r) => () => 0.5 + 1.5 * r(), drawB: (r) => () => 3 * r() - 1.5 },
  { name: 'maximum', f: (a, b) => a.maximum(b), sameShape: true },
  { name: 'minimum', f: (a, b) => a.minimum(b), sameShape: true },
  { name: 'where', f: (a, b) => kd.where(a.gt(b.mul(0)), a, b), drawA: awayFromZero },
];

describe('gradcheck: binary ops, broadcast gradients reduced to each input shape', () => {
  for (const c of binaryGrads) {
    it(`${c.name}: [3,1,4] with [2,4], [2,3] with 0-d, and a transposed with a sliced operand`, () => {
      const seed = freshSeed(), rng = makeRng(seed);
      const dA = (c.drawA ?? ((r: Rng) => () => 2 * r() - 1))(rng), dB = (c.drawB ?? ((r: Rng) => () => 2 * r() - 1))(rng);
      const pairs: [number[], number[]][] = c.sameShape ? [[[3, 4], [3, 4]]] : [[[3, 1, 4], [2, 4]], [[2, 3], []], [[4], [3, 4]]];
      for (const [sa, sb] of pairs) {
        const a = leaf(sa, dA);
        // For max/min keep the two operands apart so the winner is stable under the nudge.
        const b = c.sameShape ? leaf(sb, (() => { const ad = a.data() as Float32Array; let k = 0; return () => ad[k++] + (rng() < 0.5 ? -1 : 1) * (0.1 + rng()); })()) : leaf(sb, dB);
        gradcheck((x, y) => weightedSum(c.f(x, y), makeRng(seed + 3)), [a, b], { context: `${c.name} ${JSON.stringify(sa)} ${JSON.stringify(sb)} seed ${seed}` });
        expect(a.grad!.shape).toEqual(sa);
        expect(b.grad!.shape).toEqual(sb);
      }
      // Non-contiguous operands: a.T [4,3] against every other column of b [4,6].
      const a = leaf([3, 4], dA);
      const b = c.sameShape ? leaf([4, 6], () => 3 + rng()) : leaf([4, 6], dB);
      gradcheck((x, y) => weightedSum(c.f(x.T, y.slice(1, 0, null, 2)), makeRng(seed + 4)), [a, b], { context: `${c.name} non-contiguous seed ${seed}` });
    });
  }

  it('remainder: d/da = 1, d/db = -floor(a/b)', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const b = leaf([6], () => 0.8 + rng());
    const bd = b.data() as Float32Array;
    let k = 0;
    const a = leaf([6], () => bd[k++] * (Math.floor(rng() * 6) - 3 + 0.2 + 0.6 * rng()));
    gradcheck((x, y) => weightedSum(x.remainder(y), makeRng(seed)), [a, b], { context: `remainder seed ${seed}` });
  });

  it('maximum/minimum split the gradient evenly on ties; amax/max() share it among tied maxima', () => {
    const a = leaf([3], () => 1), b = kd.tensor([1, 0, 2], { dtype: 'float32' });
    a.maximum(b).sum().backward();
    expect(a.grad!.toArray()).toEqual([0.5, 1, 0]);
    const x = kd.tensor([1, 3, 3, 2], { requiresGrad: true, dtype: 'float32' });
    x.amax().backward();
    expect(x.grad!.toArray()).toEqual([0, 0.5, 0.5, 0]);
    x.grad = null;
    x.max().backward();
    expect(x.grad!.toArray()).toEqual([0, 0.5, 0.5, 0]);
    x.grad = null;
    x.max(0).values.backward();
    expect(x.grad!.toArray()).toEqual([0, 1, 0, 0]); // max(dim) routes to the returned index
  });

  it('maskedFill passes the gradient where the mask is false', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    const x = leaf([3, 4], () => rng());
    const mask = kd.tensor([true, false, false, true]);
    gradcheck((t) => weightedSum(t.maskedFill(mask, -2), makeRng(seed)), [x], { context: `maskedFill seed ${seed}` });
    const g = x.grad!.toArray() as number[][];
    for (const row of g) {
      expect(row[0]).toBe(0);
      expect(row[3]).toBe(0);
      expect(row[1]).toBeGreaterThan(0);
    }
  });
});

describe('gradcheck: reductions', () => {
  const reductions: [string, (x: Tensor) => Tensor][] = [
    ['sum', (x) => x.sum()],
    ['sum(dim 1, keepdim)', (x) => x.sum(1, true)],
    ['sum([0, 2])', (x) => x.sum([0, 2])],
    ['mean(-1)', (x) => x.mean(-1)],
    ['mean()', (x) => x.mean()],
    ['prod(1)', (x) => x.prod(1)],
    ['prod()', (x) => x.prod()],
    ['var(1)', (x) => x.var(1)],
    ['var([0,2], correction 0, keepdim)', (x) => x.var([0, 2], { correction: 0, keepdim: true })],
    ['std(0)', (x) => x.std(0)],
    ['amax(1)', (x) => x.amax(1)],
    ['amin([0, 2])', (x) => x.amin([0, 2])],
    ['max(2).values', (x) => x.max(2).values],
    ['min(0, keepdim).values', (x) => x.min(0, true).values],
    ['max()', (x) => x.max()],
    ['logsumexp(1)', (x) => x.logsumexp(1)],
    ['logsumexp([0, -1], keepdim)', (x) => x.logsumexp([0, -1], true)],
  ];
  for (const [name, f] of reductions) {
    it(`${name} on [2,3,4] and on a permuted view`, () => {
      const seed = freshSeed(), rng = makeRng(seed);
      const draw = name.startsWith('prod') ? () => (rng() < 0.5 ? -1 : 1) * (0.5 + rng()) : spaced(rng, 24);
      const x = leaf([2, 3, 4], draw);
      gradcheck((t) => weightedSum(f(t), makeRng(seed)), [x], { context: `${name} seed ${seed}` });
      const y = leaf([4, 2, 3], draw);
      gradcheck((t) => weightedSum(f(t.permute(1, 2, 0)), makeRng(seed)), [y], { context: `${name} permuted seed ${seed}` });
    });
  }

  it('prod gradient with zeros: one zero gets the product of the others, two zeros give all zeros', () => {
    const x = kd.tensor([[2, 0, 3], [0, 0, 5], [1, 2, 4]], { dtype: 'float32', requiresGrad: true });
    x.prod(1).sum().backward();
    expect(x.grad!.toArray()).toEqual([[0, 6, 0], [0, 0, 0], [8, 4, 2]]);
    const y = kd.tensor([2, 0, 3], { dtype: 'float32', requiresGrad: true });
    y.prod().backward();
    expect(y.grad!.toArray()).toEqual([0, 6, 0]);
  });
});

describe('gradcheck: views and shape ops', () => {
  const views: [string, (x: Tensor) => Tensor][] = [
    ['reshape', (x) => x.reshape(4, 6)],
    ['view(-1)', (x) => x.view(-1)],
    ['transpose', (x) => x.transpose(0, 2)],
    ['permute', (x) => x.permute(2, 0, 1)],
    ['mT', (x) => x.mT],
    ['unsqueeze/squeeze', (x) => x.unsqueeze(1).squeeze(1).unsqueeze(-1)],
    ['expand', (x) => x.select(1, 0).unsqueeze(1).expand(2, 5, 4)],
    ['contiguous of transposed', (x) => x.transpose(1, 2).contiguous()],
    ['slice step 2', (x) => x.slice(2, 1, null, 2)],
    ['slice negative', (x) => x.slice(1, -2)],
    ['narrow', (x) => x.narrow(2, 1, 2)],
    ['select', (x) => x.select(1, -1)],
    ['split', (x) => x.split([1, 2], 1)[1]],
    ['chunk', (x) => x.chunk(2, 2)[0].mul(x.chunk(2, 2)[1])],
    ['flip', (x) => x.flip([0, 2])],
    ['repeat', (x) => x.repeat(2, 1, 1, 2)],
    ['flatten', (x) => x.flatten(1)],
    ['unflatten', (x) => x.unflatten(2, [2, 2])],
    ['cat', (x) => kd.cat([x, x.mul(2), x.transpose(0, 1).transpose(0, 1)], 1)],
    ['stack', (x) => kd.stack([x.select(0, 0), x.select(0, 1).exp()], -1)],
    ['to(float32) is the identity', (x) => x.to('float32').mul(x)],
  ];
  for (const [name, f] of views) {
    it(`${name}`, () => {
      const seed = freshSeed(), rng = makeRng(seed);
      const x = leaf([2, 3, 4], () => 2 * rng() - 1);
      gradcheck((t) => weightedSum(f(t), makeRng(seed)), [x], { context: `${name} seed ${seed}` });
      expect(x.grad!.shape).toEqual([2, 3, 4]);
    });
  }
});

describe('engine rules', () => {
  it('gradients accumulate across two backward calls', () => {
    const x = kd.tensor([1, 2, 3], { dtype: 'float32', requiresGrad: true });
    x.mul(x).sum().backward();
    expect(x.grad!.toArray()).toEqual([2, 4, 6]);
    x.mul(3).sum().backward();
    expect(x.grad!.toArray()).toEqual([5, 7, 9]);
    expect(x.grad!.requiresGrad).toBe(false);
  });

  it('gradients meeting at a node sum correctly when one is shared by two nodes or flows in twice (in-place accumulation)', () => {
    const x = kd.tensor([1, 2, 3], { dtype: 'float32', requiresGrad: true });
    const y = x.mul(2); // y feeds add twice (one gradient tensor for both edges), then three more branches
    const a = y.add(y), b = y.exp(), c = y.mul(y);
    const u = x.mul(1), v = x.mul(1);
    // u and v each get the same gradient tensor from add; u also gets a second one: v's must not change.
    a.add(b).add(c).sum().add(u.add(v).sum()).add(u.mul(4).sum()).backward();
    const yv = [2, 4, 6];
    // d/dx: 2 * (2 + e^y + 2y) + 1 (v) + 1 + 4 (u)
    expectClose(x.grad!.data() as Float32Array, yv.map((t) => 2 * (2 + Math.exp(t) + 2 * t) + 6), 1e-6, 'diamond');
  });

  it('only leaves keep .grad; non-leaf .grad stays null', () => {
    const x = kd.tensor([1, 2], { dtype: 'float32', requiresGrad: true });
    const y = x.mul(2), z = y.exp().sum();
    z.backward();
    expect(y.grad).toBeNull();
    expect(z.grad).toBeNull();
    expect(y.isLeaf).toBe(false);
    expect(x.isLeaf).toBe(true);
    expectClose(Array.from(x.grad!.data()), [2 * Math.exp(2), 2 * Math.exp(4)], 1e-6);
  });

  it('a value used twice receives the sum of both paths', () => {
    const x = kd.tensor([0.5, -1.5], { dtype: 'float32', requiresGrad: true });
    x.mul(x).add(x).sum().backward(); // d/dx (x^2 + x) = 2x + 1
    expect(x.grad!.toArray()).toEqual([2, -2]);
    const y = kd.tensor([2], { dtype: 'float32', requiresGrad: true });
    const e = y.exp();
    e.add(e.mul(e)).sum().backward(); // d/dy (e^y + e^2y) = e^y + 2e^2y
    expectClose(Array.from(y.grad!.data()), [Math.exp(2) + 2 * Math.exp(4)], 1e-6);
    // Both operands of one add are the same leaf, and a broadcast operand is used twice.
    const a = kd.tensor([[1, 2]], { dtype: 'float32', requiresGrad: true }), b = kd.tensor([[1], [2], [3]], { dtype: 'float32', requiresGrad: true });
    a.add(a).add(b).add(b.mul(a)).sum().backward();
    expect(a.grad!.toArray()).toEqual([[2 * 3 + 6, 2 * 3 + 6]]);
    expect(b.grad!.toArray()).toEqual([[2 + 3], [2 + 3], [2 + 3]]);
  });

  it('backward with an explicit gradient for a non-scalar; a missing or misshaped gradient is a ShapeError', () => {
    const x = kd.tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float32', requiresGrad: true });
    const y = x.mul(3);
    y.backward(kd.tensor([[1, 0, -1], [2, 0.5, 0]], { dtype: 'float32' }));
    expect(x.grad!.toArray()).toEqual([[3, 0, -3], [6, 1.5, 0]]);
    const z = x.mul(2);
    expect(() => z.backward()).toThrow(kd.ShapeError);
    expect(() => z.backward(kd.ones([3, 2]))).toThrow(kd.ShapeError);
    expect(() => z.backward(kd.ones([3, 2]))).toThrow(/\[3,2\].*\[2,3\]/);
  });

  it('backward of a leaf itself seeds its own .grad', () => {
    const x = kd.tensor(2.5, { requiresGrad: true });
    x.backward();
    expect(x.grad!.item()).toBe(1);
  });

  it('noGrad records nothing; detach shares storage but cuts the graph', () => {
    const x = kd.tensor([1, 2], { dtype: 'float32', requiresGrad: true });
    const y = kd.noGrad(() => x.mul(2));
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    expect(kd.isGradEnabled()).toBe(true);
    const d = x.detach();
    expect(d.requiresGrad).toBe(false);
    (d.data() as Float32Array)[0] = 10;
    expect(x.toArray()).toEqual([10, 2]);
    const z = x.mul(d).sum();
    z.backward();
    expect(x.grad!.toArray()).toEqual([10, 2]);
    expect(() => d.sum().backward()).toThrow(kd.ArgumentError);
    // enableGrad inside noGrad turns recording back on
    const w = kd.noGrad(() => kd.enableGrad(() => x.mul(2)));
    expect(w.requiresGrad).toBe(true);
  });

  it('requiresGrad: int and bool tensors refuse it; a non-leaf cannot turn it off', () => {
    expect(() => { kd.tensor([1, 2]).requiresGrad = true; }).toThrow(kd.DTypeError);
    expect(() => kd.tensor([true]).requiresGrad_()).toThrow(kd.DTypeError);
    const x = kd.ones([2], { requiresGrad: true });
    const y = x.mul(2);
    expect(() => { y.requiresGrad = false; }).toThrow(kd.ArgumentError);
    expect(x.requiresGrad_(false).requiresGrad).toBe(false);
    // int outputs of float inputs do not require grad
    expect(x.mul(2).argmax().requiresGrad).toBe(false);
    expect(x.mul(2).gt(0).requiresGrad).toBe(false);
  });

  it('a second backward through a freed graph is a clear error; retainGraph allows it', () => {
    const x = kd.tensor([1, 2], { dtype: 'float32', requiresGrad: true });
    const y = x.mul(x).sum();
    y.backward();
    expect(() => y.backward()).toThrow(kd.ArgumentError);
    expect(() => y.backward()).toThrow(/second time.*retainGraph/);
    x.grad = null;
    const z = x.mul(x).exp().sum();
    z.backward(undefined, { retainGraph: true });
    const once = Array.from(x.grad!.data());
    z.backward();
    expectClose(Array.from(x.grad!.data()), once.map((v) => 2 * v), 1e-6);
  });

  it('modifying a saved tensor in place before backward is an error at backward', () => {
    const x = kd.tensor([1, 2], { dtype: 'float32', requiresGrad: true });
    const a = kd.tensor([3, 4], { dtype: 'float32' });
    const y = x.mul(a).sum();
    a.add_(1);
    let caught: unknown = null;
    try {
      y.backward();
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(kd.ArgumentError);
    expect((caught as Error).message).toMatch(/in-place/);
    // An output saved for backward (exp saves its result), changed under noGrad.
    const e = x.exp();
    const s = e.sum();
    kd.noGrad(() => e.mul_(2));
    expect(() => s.backward()).toThrow(/in-place/);
  });

  it('a 10k-op chain backpropagates without overflowing the stack', () => {
    const x = kd.tensor([1], { dtype: 'float32', requiresGrad: true });
    const result = kd.tidy(() => {
      let y = x;
      for (let i = 0; i < 10_000; i++) y = y.mul(1.0001);
      y.sum().backward();
      return null;
    });
    expect(result).toBeNull();
    expectClose(Array.from(x.grad!.data()), [1.0001 ** 10_000], 1e-3);
  });

  it('createGraph: the gradient is differentiable again, also when a leaf gets gradient from two paths', () => {
    const x = kd.tensor([1, 2, 3], { dtype: 'float32', requiresGrad: true });
    x.mul(x).mul(x).sum().backward(undefined, { createGraph: true });
    const g = x.grad!;
    expect(g.toArray()).toEqual([3, 12, 27]); // 3x^2
    expect(g.requiresGrad).toBe(true);
    x.grad = null;
    g.sum().backward();
    expect(x.grad!.toArray()).toEqual([6, 12, 18]); // 6x
  });

  it('createGraph: second derivatives through ops that save their own output (exp, softmax) and through fused-kernel activation backwards', () => {
    const x = kd.tensor([0.5, -1, 2], { requiresGrad: true });
    x.exp().sum().backward(undefined, { createGraph: true });
    const g = x.grad!; // exp(x)
    x.grad = null;
    g.sum().backward();
    expectClose(Array.from(x.grad!.data()), [0.5, -1, 2].map(Math.exp), 1e-6, 'd2/dx2 exp');

    // Activations whose backward is one fused kernel: the second derivative vs central differences
    // of the analytic first derivative.
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    const phi = (v: number) => Math.exp(-v * v / 2) / Math.sqrt(2 * Math.PI);
    const erfApprox = (v: number) => { // Abramowitz-Stegun 7.1.26 is too coarse; integrate instead
      let sum = 0;
      const n = 2000;
      for (let i = 0; i < n; i++) { const t = (i + 0.5) * v / n; sum += Math.exp(-t * t); }
      return (2 / Math.sqrt(Math.PI)) * sum * v / n;
    };
    const k = Math.sqrt(2 / Math.PI);
    const derivatives: [string, (t: kd.Tensor) => kd.Tensor, (v: number) => number][] = [
      ['sigmoid', (t) => t.sigmoid(), (v) => sig(v) * (1 - sig(v))],
      ['tanh', (t) => t.tanh(), (v) => 1 - Math.tanh(v) ** 2],
      ['silu', (t) => kd.nn.functional.silu(t), (v) => sig(v) * (1 + v * (1 - sig(v)))],
      ['gelu', (t) => t.gelu(), (v) => 0.5 * (1 + erfApprox(v / Math.SQRT2)) + v * phi(v)],
      ['gelu tanh', (t) => kd.nn.functional.gelu(t, 'tanh'), (v) => {
        const th = Math.tanh(k * (v + 0.044715 * v ** 3));
        return 0.5 * (1 + th) + 0.5 * v * (1 - th * th) * k * (1 + 3 * 0.044715 * v * v);
      }],
      ['relu', (t) => t.relu(), (v) => (v > 0 ? 1 : 0)],
    ];
    for (const [name, f, d1] of derivatives) {
      const v0 = [0.3, -0.7, 1.4];
      const t = kd.tensor(v0, { requiresGrad: true });
      f(t).sum().backward(undefined, { createGraph: true });
      const first = t.grad!;
      expectClose(Array.from(first.data()), v0.map(d1), 1e-5, `${name} first derivative`);
      expect(first.requiresGrad, name).toBe(true);
      t.grad = null;
      first.sum().backward();
      const h = 1e-3;
      expectClose(Array.from(t.grad!.data()), v0.map((v) => (d1(v + h) - d1(v - h)) / (2 * h)), 1e-3, `${name} second derivative`);
    }

    // d/dx of sum_i w_i * dL/dx_i where L = sum_j c_j softmax(x)_j, checked by finite differences.
    const c = [1, -2, 0.5], w = [0.7, 0.2, -1.3], x0 = [0.1, 0.4, -0.3];
    const firstGrad = (v: number[]): number[] => {
      const e = v.map(Math.exp), z = e.reduce((a, b) => a + b), p = e.map((t) => t / z);
      const dot = p.reduce((a, pi, i) => a + pi * c[i], 0);
      return p.map((pi, i) => pi * (c[i] - dot));
    };
    const objective = (v: number[]) => firstGrad(v).reduce((a, gi, i) => a + gi * w[i], 0);
    const sx = kd.tensor(x0, { requiresGrad: true });
    sx.softmax(0).mul(kd.tensor(c)).sum().backward(undefined, { createGraph: true });
    const gsx = sx.grad!;
    sx.grad = null;
    gsx.mul(kd.tensor(w)).sum().backward();
    const h = 1e-4;
    const fd = x0.map((_, i) => {
      const up = [...x0], down = [...x0];
      up[i] += h;
      down[i] -= h;
      return (objective(up) - objective(down)) / (2 * h);
    });
    expectClose(Array.from(sx.grad!.data()), fd, 1e-3, 'd2 softmax vs finite differences');
  });

  it('backward on a tensor that does not require grad is an ArgumentError', () => {
    expect(() => kd.ones([1]).backward()).toThrow(kd.ArgumentError);
  });

  it('integer-valued paths stop the gradient: to(int32) and comparisons', () => {
    const x = kd.tensor([1.5, -2.5], { requiresGrad: true });
    const i = x.to('int32');
    expect(i.requiresGrad).toBe(false);
    expect(i.toArray()).toEqual([1, -2]);
    const y = x.mul(i).sum(); // int operand, float leaf
    y.backward();
    expect(x.grad!.toArray()).toEqual([1, -2]);
  });
  it('frees each backward\'s temporaries when its node returns, not at the end of backward', () => {
    // Probes pass the gradient through unchanged and note how many storages are live.
    const counts: number[] = [];
    const probe = (t: Tensor) => record('ProbeBackward', t.mul(1), [t], () => (g) => {
      counts.push(liveStorageCount());
      return [g];
    });
    const x = kd.tensor([0.5, -1.5, 2, 2], { requiresGrad: true });
    // maximum's backward (ties split evenly) makes eight temporaries between the two probes.
    const loss = probe(probe(x).maximum(kd.tensor([1, -2, 2, 3], { dtype: 'float32' }))).sum();
    loss.backward();
    expect(counts).toHaveLength(2);
    expect(counts[1], `live storages at the inner probe ${counts[1]} vs the outer ${counts[0]}`).toBeLessThanOrEqual(counts[0]);
    expect(x.grad!.toArray()).toEqual([0, 1, 0.5, 0]);
  });

  it('a backward may return its incoming gradient, or views of it, for several inputs', () => {
    const before = settledStorageCount();
    const a = kd.tensor([1, 2, 3, 4, 5, 6], { dtype: 'float32', requiresGrad: true });
    const b = kd.tensor([[1, 1, 1], [2, 2, 2]], { dtype: 'float32', requiresGrad: true });
    const c = kd.tensor([7, 8, 9, 10, 11, 12], { dtype: 'float32', requiresGrad: true });
    // Gradients: a gets g itself, b a reshaped view of it, c g again.
    const y = record('SharedGradBackward', kd.zeros([6]), [a, b, c], () => (g) => [g, g.reshape([2, 3]), g]);
    const weights = kd.tensor([1, 2, 3, 4, 5, 6], { dtype: 'float32' }), weighted = y.mul(weights), loss = weighted.sum();
    loss.backward();
    for (const t of [a, c]) expect(t.grad!.toArray()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(b.grad!.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    // Each leaf owns its gradient: updating one in place leaves the others alone.
    kd.noGrad(() => a.grad!.add_(1));
    expect(c.grad!.toArray()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(b.grad!.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    for (const t of [a, b, c, y, weights, weighted, loss]) t.dispose();
    expect(settledStorageCount()).toBeLessThanOrEqual(before);
  });

  it('createGraph: second derivatives through composed backwards (rsqrt, maximum, remainder) match the analytic ones', () => {
    const xs = [0.7, 1.3, 2.1];
    const x = kd.tensor(xs, { requiresGrad: true });
    // f = rsqrt(x) + maximum(x, 1)^2 + remainder(x^2, 1): f'' = 3/4 x^-5/2 + (x > 1 ? 2 : 0) + 2
    x.rsqrt().add(x.maximum(1).square()).add(x.square().remainder(1)).sum().backward(undefined, { createGraph: true });
    const g = x.grad!;
    x.grad = null;
    expectClose(Array.from(g.data()), xs.map((v) => -0.5 * v ** -1.5 + (v > 1 ? 2 * v : 0) + 2 * v), 1e-5, 'first derivative');
    g.sum().backward();
    expectClose(Array.from(x.grad!.data()), xs.map((v) => 0.75 * v ** -2.5 + (v > 1 ? 2 : 0) + 2), 1e-5, 'second derivative');
  });
});

describe('backward on disposed tensors', () => {
  it('a disposed output is an ArgumentError and fills no gradient', () => {
    const x = kd.tensor([1, 2, 3], { dtype: 'float32', requiresGrad: true });
    const y = x.mul(2).sum();
    y.dispose();
    expect(() => y.backward()).toThrow(kd.ArgumentError);
    expect(() => y.backward()).toThrow(/disposed/);
    expect(x.grad).toBeNull();
  });

  it('a disposed gradient argument is an ArgumentError', () => {
    const x = kd.tensor([1, 2], { dtype: 'float32', requiresGrad: true });
    const y = x.mul(3);
    const g = kd.ones([2]);
    g.dispose();
    expect(() => y.backward(g)).toThrow(/gradient .* was disposed/);
    expect(x.grad).toBeNull();
  });
});
