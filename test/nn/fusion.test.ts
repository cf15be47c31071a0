// Fusion: F.conv2dReluMaxPool2d against a float64 reference and against the layers run one by
// one (values and every gradient), and nn.Sequential running the patterns lib/nn/fusion.ts
// lists as their fused ops (seen in the autograd graph it records) and nothing else.
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { fusions } from '../../lib/nn/fusion.js';
import { expectClose, freshSeed, makeRng, numel } from '../helpers.js';

const { nn } = kd;
const F = kd.nn.functional;

const f64 = (t: Tensor) => Float64Array.from(t.data() as Float32Array);

type Pair = number | [number, number];
const two = (v: Pair): [number, number] => (typeof v === 'number' ? [v, v] : v);

interface ConvArgs { stride?: Pair; padding?: Pair | 'same'; dilation?: Pair; groups?: number }
interface PoolArgs { kernelSize: Pair; stride?: Pair; padding?: Pair; dilation?: Pair; ceilMode?: boolean }

/** PyTorch's pooled size, ceil mode's last window starting inside the input or left padding. */
function poolSize(n: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  const span = n + 2 * p - d * (k - 1) - 1;
  let out = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  if (ceil && (out - 1) * s >= n + p) out--;
  return out;
}

/** maxPool2d(relu(conv2d(x, w, b))) over NCHW in float64, with every option of both ops. */
function convReluPoolRef(x: Float64Array, xShape: number[], w: Float64Array, wShape: number[], b: Float64Array | null,
  conv: ConvArgs, pool: PoolArgs): { ref: Float64Array; shape: number[] } {
  const [n, c, h, wd] = xShape, [k, cg, kh, kw] = wShape;
  const g = conv.groups ?? 1, [sh, sw] = two(conv.stride ?? 1), [dh, dw] = two(conv.dilation ?? 1);
  // 'same' (stride 1): dilation * (k - 1) zeros in all, the odd one at the bottom / right.
  const same = conv.padding === 'same';
  const [ph, pw] = same ? [Math.floor((dh * (kh - 1)) / 2), Math.floor((dw * (kw - 1)) / 2)] : two((conv.padding ?? 0) as Pair);
  const oh = same ? h : Math.floor((h + 2 * ph - dh * (kh - 1) - 1) / sh) + 1;
  const ow = same ? wd : Math.floor((wd + 2 * pw - dw * (kw - 1) - 1) / sw) + 1;
  const y = new Float64Array(n * k * oh * ow);
  for (let i = 0; i < n; i++) for (let o = 0; o < k; o++) {
    const group = Math.floor(o / (k / g));
    for (let r = 0; r < oh; r++) for (let q = 0; q < ow; q++) {
      let acc = b ? b[o] : 0;
      for (let ci = 0; ci < cg; ci++) for (let u = 0; u < kh; u++) for (let v = 0; v < kw; v++) {
        const yy = r * sh - ph + u * dh, xx = q * sw - pw + v * dw;
        if (yy < 0 || yy >= h || xx < 0 || xx >= wd) continue;
        acc += x[((i * c + group * cg + ci) * h + yy) * wd + xx] * w[((o * cg + ci) * kh + u) * kw + v];
      }
      y[((i * k + o) * oh + r) * ow + q] = Math.max(acc, 0);
    }
  }
  const [pkh, pkw] = two(pool.kernelSize), [psh, psw] = two(pool.stride ?? pool.kernelSize);
  const [pph, ppw] = two(pool.padding ?? 0), [pdh, pdw] = two(pool.dilation ?? 1), ceil = pool.ceilMode ?? false;
  const mh = poolSize(oh, pkh, psh, pph, pdh, ceil), mw = poolSize(ow, pkw, psw, ppw, pdw, ceil);
  const ref = new Float64Array(n * k * mh * mw);
  for (let plane = 0; plane < n * k; plane++) for (let r = 0; r < mh; r++) for (let q = 0; q < mw; q++) {
    let best = -Infinity;
    for (let u = 0; u < pkh; u++) for (let v = 0; v < pkw; v++) {
      const yy = r * psh - pph + u * pdh, xx = q * psw - ppw + v * pdw;
      if (yy >= 0 && yy < oh && xx >= 0 && xx < ow) best = Math.max(best, y[(plane * oh + yy) * ow + xx]);
    }
    ref[(plane * mh + r) * mw + q] = best;
  }
  return { ref, shape: [n, k, mh, mw] };
}

/** Every node name reachable from t's grad_fn. */
function graphNodes(t: Tensor): string[] {
  const names: string[] = [];
  const todo = t.gradFn ? [t.gradFn] : [];
  const seen = new Set(todo);
  while (todo.length) {
    const node = todo.pop()!;
    names.push(node.name);
    for (const e of node.edges) {
      if (e?.node && !seen.has(e.node)) { seen.add(e.node); todo.push(e.node); }
    }
  }
  return names;
}

/** A hand-written forward that calls the fused functional with its own parameters. */
class ConvBlock extends nn.Module {
  weight: Tensor;
  bias: Tensor | null;
  constructor(readonly cin: number, readonly cout: number, readonly k: number, readonly conv: ConvArgs,
    readonly pool: PoolArgs, bias: boolean) {
    super();
    const layer = new nn.Conv2d(cin, cout, k, { ...conv, bias });
    this.weight = layer.weight;
    this.bias = layer.bias;
  }
  forward(x: Tensor): Tensor {
    return F.conv2dReluMaxPool2d(x, this.weight, this.bias, this.conv, this.pool);
  }
}

describe('F.conv2dReluMaxPool2d', () => {
  const cases: { x: number[]; cin: number; cout: number; k: number; conv: ConvArgs; pool: PoolArgs; bias: boolean; view: boolean }[] = [
    { x: [2, 3, 9, 11], cin: 3, cout: 5, k: 3, conv: {}, pool: { kernelSize: 2 }, bias: true, view: false },
    { x: [3, 4, 10, 9], cin: 4, cout: 6, k: 3, conv: { stride: 2, padding: 1 }, pool: { kernelSize: 3, stride: 2, padding: 1, ceilMode: true }, bias: true, view: true },
    { x: [1, 4, 12, 12], cin: 4, cout: 6, k: 3, conv: { groups: 2, dilation: 2, padding: [2, 1] }, pool: { kernelSize: [2, 3], stride: 1 }, bias: false, view: false },
    { x: [2, 2, 13, 7], cin: 2, cout: 7, k: 3, conv: { padding: 'same' }, pool: { kernelSize: 2, dilation: 2 }, bias: true, view: true },
  ];

  it('matches maxPool2d(relu(conv2d(...))) in float64 and the layers run one by one in every gradient, strided inputs included', () => {
    const seed = freshSeed();
    for (const [ci, cs] of cases.entries()) {
      const context = `case ${ci} seed ${seed}`;
      const rng = makeRng(seed + ci);
      kd.manualSeed(seed + ci);
      const block = new ConvBlock(cs.cin, cs.cout, cs.k, cs.conv, cs.pool, cs.bias);
      const data = Float32Array.from({ length: numel(cs.x) }, () => 2 * rng() - 1);
      // A strided input: stored [n, h, c, w], seen as [n, c, h, w].
      const [n, c, h, w] = cs.x;
      const input = (xs: Tensor) => (cs.view ? xs.permute(0, 2, 1, 3) : xs);
      const leaf = () => kd.tensor(data).reshape(cs.view ? [n, h, c, w] : cs.x).requiresGrad_();
      const xa = leaf(), xb = leaf();
      if (cs.view) expect(input(xa).isContiguous()).toBe(false);

      const ya = block.forward(input(xa));
      const xLogical = f64(input(xb).contiguous());
      const { ref, shape } = convReluPoolRef(xLogical, cs.x, f64(block.weight), block.weight.shape, block.bias && f64(block.bias), cs.conv, cs.pool);
      expect(ya.shape, context).toEqual(shape);
      expectClose(f64(ya), ref, 1e-5, `values ${context}`);

      const yb = F.maxPool2d(F.relu(F.conv2d(input(xb), block.weight, block.bias, cs.conv)), cs.pool.kernelSize, cs.pool);
      expect(f64(ya), context).toEqual(f64(yb));
      const g = kd.tensor(Float32Array.from({ length: ya.numel }, () => rng() - 0.5)).reshape(ya.shape);
      ya.backward(g);
      const fused = [xa.grad!, block.weight.grad!, block.bias?.grad ?? null].map((t) => t && f64(t));
      block.zeroGrad();
      yb.backward(g);
      expectClose(fused[0]!, f64(xb.grad!), 1e-5, `input grad ${context}`);
      expectClose(fused[1]!, f64(block.weight.grad!), 1e-5, `weight grad ${context}`);
      if (block.bias) expectClose(fused[2]!, f64(block.bias.grad!), 1e-5, `bias grad ${context}`);
      // One convolution-and-pooling node under the ReLU, no separate convolution or pooling.
      expect(ya.gradFn?.name, context).toBe('ReluBackward');
      expect(graphNodes(ya), context).toContain('ConvolutionMaxPoolBackward');
      expect(graphNodes(ya), context).not.toContain('ConvolutionBackward');
      expect(graphNodes(yb), context).toContain('ConvolutionBackward');
    }
  });

  it.skipIf(!kd.cuda.isAvailable())('on a CUDA device gives the values and gradients of the layers run there one by one', () => {
    const seed = freshSeed(), rng = makeRng(seed);
    kd.manualSeed(seed);
    const conv = new nn.Conv2d(3, 8, 3, { padding: 1 }).to('cuda');
    const data = Float32Array.from({ length: 4 * 3 * 14 * 14 }, () => 2 * rng() - 1);
    const xa = kd.tensor(data).reshape([4, 3, 14, 14]).to('cuda').requiresGrad_();
    const xb = kd.tensor(data).reshape([4, 3, 14, 14]).to('cuda').requiresGrad_();
    const pool = { kernelSize: 2 };
    const ya = F.conv2dReluMaxPool2d(xa, conv.weight, conv.bias, { padding: 1 }, pool);
    const yb = F.maxPool2d(F.relu(F.conv2d(xb, conv.weight, conv.bias, { padding: 1 })), 2);
    expect(ya.device).toBe('cuda');
    const host = (t: Tensor) => f64(t.to('cpu'));
    expectClose(host(ya), host(yb), 1e-5, `values seed ${seed}`);
    const g = kd.tensor(Float32Array.from({ length: ya.numel }, () => rng() - 0.5)).reshape(ya.shape).to('cuda');
    ya.backward(g);
    const fused = [xa.grad!, conv.weight.grad!, conv.bias!.grad!].map(host);
    conv.zeroGrad();
    yb.backward(g);
    const plain = [xb.grad!, conv.weight.grad!, conv.bias!.grad!].map(host);
    ['input', 'weight', 'bias'].forEach((what, i) => expectClose(fused[i], plain[i], 1e-4, `${what} grad seed ${seed}`));
  });

  it('refuses a missing kernel size and mismatched channels with KindlingErrors naming the op', () => {
    const x = kd.randn([1, 3, 8, 8]), w = kd.randn([4, 3, 3, 3]);
    expect(() => F.conv2dReluMaxPool2d(x, w, null, {}, {} as never)).toThrowError(kd.ArgumentError);
    expect(() => F.conv2dReluMaxPool2d(x, w, null, {}, {} as never)).toThrowError(/conv2dReluMaxPool2d/);
    expect(() => F.conv2dReluMaxPool2d(kd.randn([1, 2, 8, 8]), w, null, {}, { kernelSize: 2 })).toThrowError(kd.ShapeError);
    expect(() => F.conv2dReluMaxPool2d(kd.randn([1, 2, 8, 8]), w, null, {}, { kernelSize: 2 })).toThrowError(/conv2d/);
    expect(() => F.conv2dReluMaxPool2d(x, w, null, {}, { kernelSize: 9 })).toThrowError(kd.ShapeError);
  });
});

describe('Sequential fusion', () => {
  it('lists its patterns as data, longest first', () => {
    expect(fusions.map((f) => [f.name, f.pattern.map((c) => c.name)])).toEqual([
      ['conv2dReluMaxPool2d', ['Conv2d', 'ReLU', 'MaxPool2d']],
      ['relu(maxPool2d)', ['ReLU', 'MaxPool2d']],
    ]);
  });

  it('runs Conv2d, ReLU, MaxPool2d as one conv-pool node and ReLU, MaxPool2d as pool then ReLU, inside a longer model', () => {
    kd.manualSeed(7);
    const model = new nn.Sequential(
      new nn.Conv2d(1, 4, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
      new nn.Conv2d(4, 6, 3), new nn.BatchNorm2d(6), new nn.ReLU(), new nn.MaxPool2d(2, { ceilMode: true }),
      new nn.Flatten(), new nn.Linear(6 * 2 * 2, 3),
    );
    const x = kd.randn([2, 1, 12, 12]);
    const y = model.forward(x) as Tensor;
    expect(y.shape).toEqual([2, 3]);
    const nodes = graphNodes(y);
    expect(nodes.filter((s) => s === 'ConvolutionMaxPoolBackward')).toHaveLength(1);
    expect(nodes.filter((s) => s === 'ConvolutionBackward')).toHaveLength(1);
    expect(nodes.filter((s) => s === 'MaxPool2DWithIndicesBackward')).toHaveLength(1);
    // Each fused ReLU sits on its pooling output.
    expect(nodes.filter((s) => s === 'ReluBackward')).toHaveLength(2);
    const seqOut = (m: kd.nn.Module, input: Tensor) => m.forward(input) as Tensor;
    const pooledFirst = seqOut(new nn.Sequential(new nn.ReLU(), new nn.MaxPool2d(2)), kd.randn([1, 2, 4, 4], { requiresGrad: true }));
    expect(pooledFirst.gradFn?.name).toBe('ReluBackward');
    expect(pooledFirst.gradFn?.edges[0]?.node?.name).toBe('MaxPool2DWithIndicesBackward');
  });

  it('leaves other sequences and subclasses to their own forwards', () => {
    kd.manualSeed(11);
    const x = kd.randn([2, 3, 10, 10], { requiresGrad: true });
    const names = (...modules: kd.nn.Module[]) => graphNodes(new nn.Sequential(...modules).forward(x) as Tensor);
    const conv = () => new nn.Conv2d(3, 4, 3);

    const avg = names(conv(), new nn.ReLU(), new nn.AvgPool2d(2));
    expect(avg).toEqual(expect.arrayContaining(['AvgPool2DBackward', 'ReluBackward', 'ConvolutionBackward']));
    expect(avg).not.toContain('ConvolutionMaxPoolBackward');

    // Pooling without the ReLU between: no fusion (the fused op's ReLU would change values).
    const noRelu = names(conv(), new nn.MaxPool2d(2));
    expect(noRelu).toEqual(['MaxPool2DWithIndicesBackward', 'ConvolutionBackward']);

    // A ReLU that is not the last before the pool: the convolution stays alone, the ReLU and pool fuse.
    const twoRelus = names(conv(), new nn.ReLU(), new nn.ReLU(), new nn.MaxPool2d(2));
    expect(twoRelus).toEqual(['ReluBackward', 'MaxPool2DWithIndicesBackward', 'ReluBackward', 'ConvolutionBackward']);

    // A subclass may override forward, so it never matches a pattern: its forward runs.
    let calls = 0;
    class CountingPool extends nn.MaxPool2d {
      override forward(input: Tensor): Tensor { calls++; return super.forward(input); }
    }
    const sub = names(conv(), new nn.ReLU(), new CountingPool(2));
    expect(calls).toBe(1);
    expect(sub).toEqual(['MaxPool2DWithIndicesBackward', 'ReluBackward', 'ConvolutionBackward']);
  });
});
