// nn.RNN, nn.LSTM, nn.GRU and the cells against PyTorch's equations in float64
// (test/ops/rnn_reference.ts), layer by layer and direction by direction: outputs, final states and
// gradients for 1–2 layers, uni- and bidirectional, batchFirst both ways, projSize, packed batches
// of unsorted lengths (checked against each sequence run alone), unbatched input; stateDict names
// and shapes; initialisation bounds; dropout between layers only in training; bad input.
import { describe, expect, expectTypeOf, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { ArgumentError, ShapeError } from '../../lib/errors.js';
import { expectClose, expectError, freshSeed, makeRng } from '../helpers.js';
import { type Mode, dot, gatesOf, numericGradients, referenceLayer } from '../ops/rnn_reference.js';

const nn = kd.nn;
const { packPaddedSequence, padPackedSequence, PackedSequence } = kd.nn.utils.rnn;
const seed = freshSeed();

const values = (t: Tensor) => Float64Array.from(t.contiguous().data() as Float32Array);
function rand(rng: () => number, n: number, scale = 1): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.fround(scale * (2 * rng() - 1));
  return a;
}
const tensorOf = (a: Float64Array, shape: number[], grad = false) => {
  const t = kd.tensor(Float32Array.from(a)).reshape(shape);
  t.requiresGrad = grad;
  return t;
};

interface Spec { mode: Mode; I: number; H: number; L: number; D: number; P: number; bias: boolean }

/** The whole module in float64: params by PyTorch name; x [T, B, I] time-major; states [L·D, B, ·]. */
function referenceModule(s: Spec, params: Record<string, Float64Array>, x: Float64Array, T: number, B: number,
  h0: Float64Array, c0: Float64Array | null): { out: Float64Array; hN: Float64Array; cN: Float64Array } {
  const Ho = s.P || s.H;
  let input = x, inSize = s.I;
  const hN = new Float64Array(s.L * s.D * B * Ho), cN = new Float64Array(s.L * s.D * B * s.H);
  for (let l = 0; l < s.L; l++) {
    const outs: Float64Array[] = [];
    for (let d = 0; d < s.D; d++) {
      const sfx = `_l${l}${d ? '_reverse' : ''}`, k = l * s.D + d;
      const r = referenceLayer({
        mode: s.mode, T, B, I: inSize, H: s.H, P: s.P, wIh: params[`weight_ih${sfx}`], wHh: params[`weight_hh${sfx}`],
        bIh: s.bias ? params[`bias_ih${sfx}`] : null, bHh: s.bias ? params[`bias_hh${sfx}`] : null, wHr: s.P ? params[`weight_hr${sfx}`] : null,
      }, input, h0.subarray(k * B * Ho, (k + 1) * B * Ho), c0 ? c0.subarray(k * B * s.H, (k + 1) * B * s.H) : null, d === 1);
      outs.push(r.out);
      hN.set(r.hN, k * B * Ho);
      cN.set(r.cN, k * B * s.H);
    }
    inSize = Ho * s.D;
    input = new Float64Array(T * B * inSize);
    for (let tb = 0; tb < T * B; tb++) for (let d = 0; d < s.D; d++) input.set(outs[d].subarray(tb * Ho, (tb + 1) * Ho), tb * inSize + d * Ho);
  }
  return { out: input, hN, cN };
}

function makeModule(s: Spec, batchFirst: boolean) {
  const options = { numLayers: s.L, bidirectional: s.D === 2, batchFirst, bias: s.bias };
  if (s.mode === 'lstm') return new nn.LSTM(s.I, s.H, { ...options, projSize: s.P });
  if (s.mode === 'gru') return new nn.GRU(s.I, s.H, options);
  return new nn.RNN(s.I, s.H, { ...options, nonlinearity: s.mode === 'rnn_relu' ? 'relu' : 'tanh' });
}

type AnyRnn = InstanceType<typeof nn.LSTM> | InstanceType<typeof nn.GRU> | InstanceType<typeof nn.RNN>;
/** [output, hN, cN|null] whatever the module. */
function run(m: AnyRnn, x: Tensor | InstanceType<typeof PackedSequence>, h0?: Tensor, c0?: Tensor | null): [Tensor | InstanceType<typeof PackedSequence>, Tensor, Tensor | null] {
  if (m instanceof nn.LSTM) {
    const [out, [h, c]] = m.forward(x, h0 ? [h0, c0!] : undefined);
    return [out, h, c];
  }
  const [out, h] = (m as InstanceType<typeof nn.GRU>).forward(x, h0);
  return [out, h, null];
}

function checkModule(s: Spec, batchFirst: boolean, T: number, B: number, rng: () => number): void {
  const context = `${JSON.stringify(s)} batchFirst ${batchFirst} seed ${seed}`;
  const m = makeModule(s, batchFirst);
  const state = m.stateDict();
  const names = Object.keys(state);
  const params: Record<string, Float64Array> = {};
  for (const k of names) params[k] = values(state[k]);
  const Ho = s.P || s.H, LD = s.L * s.D, lstm = s.mode === 'lstm';
  const x = rand(rng, T * B * s.I), h0 = rand(rng, LD * B * Ho, 0.5), c0 = lstm ? rand(rng, LD * B * s.H, 0.5) : null;
  const wOut = rand(rng, T * B * Ho * s.D), wH = rand(rng, LD * B * Ho), wC = rand(rng, LD * B * s.H);
  const ref = referenceModule(s, params, x, T, B, h0, c0);
  const refLoss = () => {
    const r = referenceModule(s, params, x, T, B, h0, c0);
    return dot(r.out, wOut) + dot(r.hN, wH) + (lstm ? dot(r.cN, wC) : 0);
  };
  const refGrads = numericGradients(refLoss, [x, h0, ...names.map((k) => params[k])]);

  kd.tidy(() => {
    const xt = tensorOf(x, [T, B, s.I], true);
    const input = batchFirst ? xt.transpose(0, 1).contiguous() : xt;
    const h0t = tensorOf(h0, [LD, B, Ho], true), c0t = c0 ? tensorOf(c0, [LD, B, s.H]) : null;
    const [outRaw, hN, cN] = run(m, input, h0t, c0t);
    const out = batchFirst ? (outRaw as Tensor).transpose(0, 1) : (outRaw as Tensor);
    expect(out.shape).toEqual([T, B, Ho * s.D]);
    expect(hN.shape).toEqual([LD, B, Ho]);
    expectClose(values(out), ref.out, 1e-5, `${context} output`);
    expectClose(values(hN), ref.hN, 1e-5, `${context} hN`);
    if (lstm) expectClose(values(cN!), ref.cN, 1e-5, `${context} cN`);
    let loss = out.mul(tensorOf(wOut, [T, B, Ho * s.D])).sum().add(hN.mul(tensorOf(wH, [LD, B, Ho])).sum());
    if (cN) loss = loss.add(cN.mul(tensorOf(wC, [LD, B, s.H])).sum());
    loss.backward();
    expectClose(values(xt.grad!), refGrads[0], 1e-4, `${context} grad input`);
    expectClose(values(h0t.grad!), refGrads[1], 1e-4, `${context} grad h0`);
    const byName = Object.fromEntries(m.namedParameters());
    names.forEach((k, i) => expectClose(values(byName[k].grad!), refGrads[2 + i], 1e-4, `${context} grad ${k}`));
  });
}

describe('RNN / LSTM / GRU modules match PyTorch equations in float64', () => {
  const cases: [string, Spec, boolean][] = [
    ['LSTM, 2 layers, bidirectional', { mode: 'lstm', I: 3, H: 5, L: 2, D: 2, P: 0, bias: true }, false],
    ['LSTM, 2 layers, bidirectional, batchFirst, projSize 3', { mode: 'lstm', I: 4, H: 5, L: 2, D: 2, P: 3, bias: true }, true],
    ['LSTM, 1 layer, no bias', { mode: 'lstm', I: 3, H: 7, L: 1, D: 1, P: 0, bias: false }, false],
    ['GRU, 2 layers, bidirectional, batchFirst', { mode: 'gru', I: 3, H: 5, L: 2, D: 2, P: 0, bias: true }, true],
    ['GRU, 1 layer', { mode: 'gru', I: 5, H: 3, L: 1, D: 1, P: 0, bias: true }, false],
    ['RNN tanh, 2 layers, bidirectional', { mode: 'rnn_tanh', I: 3, H: 5, L: 2, D: 2, P: 0, bias: true }, false],
    ['RNN relu, 2 layers, batchFirst, no bias', { mode: 'rnn_relu', I: 4, H: 3, L: 2, D: 1, P: 0, bias: false }, true],
  ];
  cases.forEach(([name, spec, batchFirst], i) => {
    it(`${name}: outputs, final states, input and weight gradients`, () => checkModule(spec, batchFirst, 4, 3, makeRng(seed + i)));
  });
});

describe('packed sequences', () => {
  for (const mode of ['lstm', 'gru', 'rnn_tanh'] as const) {
    it(`${mode}: unsorted lengths (enforceSorted false) give each sequence what it gives alone`, () => {
      const rng = makeRng(seed + 20);
      const spec: Spec = { mode, I: 3, H: 4, L: 2, D: 2, P: mode === 'lstm' ? 2 : 0, bias: true };
      const m = makeModule(spec, true);
      const lengths = [3, 5, 1, 4];
      const B = lengths.length, T = 5, Ho = spec.P || spec.H, LD = 4;
      const x = rand(rng, B * T * spec.I), h0 = rand(rng, LD * B * Ho, 0.5), c0 = rand(rng, LD * B * spec.H, 0.5);
      kd.tidy(() => {
        const xt = tensorOf(x, [B, T, spec.I], true);
        const packed = packPaddedSequence(xt, lengths, { batchFirst: true, enforceSorted: false });
        const [out, hN, cN] = run(m, packed, tensorOf(h0, [LD, B, Ho]), mode === 'lstm' ? tensorOf(c0, [LD, B, spec.H]) : null);
        expect(out).toBeInstanceOf(PackedSequence);
        const [padded, lens] = padPackedSequence(out as InstanceType<typeof PackedSequence>, { batchFirst: true });
        expect(Array.from(lens.data() as Int32Array)).toEqual(lengths);
        const pv = values(padded), hv = values(hN), cv = cN ? values(cN) : null;
        const params: Record<string, Float64Array> = {};
        for (const [k, v] of Object.entries(m.stateDict())) params[k] = values(v);
        lengths.forEach((len, b) => {
          // Sequence b alone: batch 1, its own length, its own initial states.
          const xb = new Float64Array(len * spec.I);
          for (let t = 0; t < len; t++) xb.set(x.subarray((b * T + t) * spec.I, (b * T + t + 1) * spec.I), t * spec.I);
          const pick = (a: Float64Array, size: number) => {
            const r = new Float64Array(LD * size);
            for (let k = 0; k < LD; k++) r.set(a.subarray((k * B + b) * size, (k * B + b + 1) * size), k * size);
            return r;
          };
          const ref = referenceModule(spec, params, xb, len, 1, pick(h0, Ho), mode === 'lstm' ? pick(c0, spec.H) : null);
          const got = new Float64Array(T * Ho * 2), want = new Float64Array(T * Ho * 2);
          got.set(pv.subarray(b * T * Ho * 2, (b + 1) * T * Ho * 2));
          want.set(ref.out);  // steps past the end stay zero in both
          expectClose(got, want, 1e-5, `${mode} sequence ${b} output, seed ${seed}`);
          expectClose(pick(hv, Ho), ref.hN, 1e-5, `${mode} sequence ${b} hN`);
          if (cv) expectClose(pick(cv, spec.H), ref.cN, 1e-5, `${mode} sequence ${b} cN`);
        });
        // Gradients reach the padded input through the packing, zero past each sequence's end.
        const sum = (out as InstanceType<typeof PackedSequence>).data.sum().add(hN.sum());
        sum.backward();
        const g = values(xt.grad!);
        lengths.forEach((len, b) => {
          for (let t = 0; t < T; t++) {
            const row = g.subarray((b * T + t) * spec.I, (b * T + t + 1) * spec.I);
            if (t >= len) expect(Array.from(row)).toEqual([0, 0, 0]);
            else expect(row.some((v) => v !== 0)).toBe(true);
          }
        });
      });
    });
  }
});

describe('module behaviour', () => {
  it('stateDict names and shapes are PyTorch\'s', () => {
    const shapes = (m: InstanceType<typeof nn.Module>) => Object.fromEntries(Object.entries(m.stateDict()).map(([k, v]) => [k, v.shape]));
    expect(shapes(new nn.LSTM(3, 5, { numLayers: 2, bidirectional: true, projSize: 2 }))).toEqual({
      weight_ih_l0: [20, 3], weight_hh_l0: [20, 2], bias_ih_l0: [20], bias_hh_l0: [20], weight_hr_l0: [2, 5],
      weight_ih_l0_reverse: [20, 3], weight_hh_l0_reverse: [20, 2], bias_ih_l0_reverse: [20], bias_hh_l0_reverse: [20], weight_hr_l0_reverse: [2, 5],
      weight_ih_l1: [20, 4], weight_hh_l1: [20, 2], bias_ih_l1: [20], bias_hh_l1: [20], weight_hr_l1: [2, 5],
      weight_ih_l1_reverse: [20, 4], weight_hh_l1_reverse: [20, 2], bias_ih_l1_reverse: [20], bias_hh_l1_reverse: [20], weight_hr_l1_reverse: [2, 5],
    });
    expect(Object.keys(new nn.LSTM(3, 5, { numLayers: 2, bidirectional: true, projSize: 2 }).stateDict())[0]).toBe('weight_ih_l0');
    expect(shapes(new nn.GRU(4, 6, { bias: false, numLayers: 2 }))).toEqual({
      weight_ih_l0: [18, 4], weight_hh_l0: [18, 6], weight_ih_l1: [18, 6], weight_hh_l1: [18, 6],
    });
    expect(shapes(new nn.RNN(2, 3))).toEqual({ weight_ih_l0: [3, 2], weight_hh_l0: [3, 3], bias_ih_l0: [3], bias_hh_l0: [3] });
    expect(shapes(new nn.LSTMCell(3, 4))).toEqual({ weight_ih: [16, 3], weight_hh: [16, 4], bias_ih: [16], bias_hh: [16] });
    expect(shapes(new nn.GRUCell(3, 4, { bias: false }))).toEqual({ weight_ih: [12, 3], weight_hh: [12, 4] });
    expect(String(new nn.LSTM(10, 20, { numLayers: 2, batchFirst: true, bidirectional: true }))).toContain('LSTM(10, 20, num_layers=2, batch_first=True, bidirectional=True)');
  });

  it('a stateDict round trip reproduces the outputs', () => {
    const a = new nn.GRU(3, 4, { numLayers: 2 }), b = new nn.GRU(3, 4, { numLayers: 2 });
    b.loadStateDict(a.stateDict());
    const x = kd.randn([5, 2, 3]);
    expectClose(values(b.forward(x)[0]), values(a.forward(x)[0]), 1e-7);
  });

  it('initialises every parameter uniformly within ±1/√hiddenSize', () => {
    for (const m of [new nn.LSTM(30, 25, { numLayers: 2 }), new nn.GRUCell(20, 16), new nn.RNN(8, 64)]) {
      const bound = 1 / Math.sqrt((m as { hiddenSize: number }).hiddenSize);
      for (const p of m.parameters()) {
        const v = values(p);
        const max = Math.max(...v.map(Math.abs));
        expect(max).toBeLessThanOrEqual(bound);
        expect(max).toBeGreaterThan(0.8 * bound);
        const mean = v.reduce((a, b) => a + b, 0) / v.length;
        expect(Math.abs(mean)).toBeLessThan(0.3 * bound);
      }
    }
  });

  it('unbatched input gives the batch-of-one result with 2-d states', () => {
    const m = new nn.LSTM(3, 4, { numLayers: 2, bidirectional: true });
    const x = kd.randn([6, 3]), h = kd.randn([4, 4]), c = kd.randn([4, 4]);
    const [out, [hN, cN]] = m.forward(x, [h, c]);
    const [outB, [hB, cB]] = m.forward(x.unsqueeze(1), [h.unsqueeze(1), c.unsqueeze(1)]);
    expect(out.shape).toEqual([6, 8]);
    expect(hN.shape).toEqual([4, 4]);
    expectClose(values(out), values(outB), 1e-7);
    expectClose(values(hN), values(hB), 1e-7);
    expectClose(values(cN), values(cB), 1e-7);
  });

  it('an empty batch gives empty outputs and states, as PyTorch', () => {
    const [out, [h, c]] = new nn.LSTM(3, 4, { numLayers: 2 }).forward(kd.zeros([5, 0, 3]));
    expect(out.shape).toEqual([5, 0, 4]);
    expect(h.shape).toEqual([2, 0, 4]);
    expect(c.shape).toEqual([2, 0, 4]);
  });

  it('forward is typed by its input: a Tensor gives a Tensor, a PackedSequence a PackedSequence', () => {
    const lstm = new nn.LSTM(3, 4), gru = new nn.GRU(3, 4), rnn = new nn.RNN(3, 4);
    const x = kd.randn([5, 2, 3]);
    const packed = packPaddedSequence(x, [5, 3]);
    const [out] = lstm.forward(x);
    const [outPacked, [h, c]] = lstm.forward(packed);
    expectTypeOf(out).toEqualTypeOf<Tensor>();
    expectTypeOf(outPacked).toEqualTypeOf<InstanceType<typeof PackedSequence>>();
    expectTypeOf(gru.forward(packed)[0]).toEqualTypeOf<InstanceType<typeof PackedSequence>>();
    expectTypeOf(rnn.forward(x)[0]).toEqualTypeOf<Tensor>();
    expect(out).not.toBeInstanceOf(PackedSequence);
    expect(outPacked).toBeInstanceOf(PackedSequence);
    expect(out.shape).toEqual([5, 2, 4]);
    expect(padPackedSequence(outPacked)[0].shape).toEqual([5, 2, 4]);
    expect([h.shape, c.shape]).toEqual([[1, 2, 4], [1, 2, 4]]);
    // A module of a union type still takes a union input, and gives the union.
    const either: InstanceType<typeof nn.LSTM> | InstanceType<typeof nn.GRU> = gru;
    const input = x as Tensor | InstanceType<typeof PackedSequence>;
    expectTypeOf(either.forward(input)[0]).toEqualTypeOf<Tensor | InstanceType<typeof PackedSequence>>();
  });

  it('h0 defaults to zeros', () => {
    const m = new nn.GRU(3, 4, { bidirectional: true });
    const x = kd.randn([5, 2, 3]);
    expectClose(values(m.forward(x)[0]), values(m.forward(x, kd.zeros([2, 2, 4]))[0]), 1e-7);
  });

  it('dropout acts between layers in training only, never after the last layer', () => {
    const m = new nn.LSTM(3, 4, { numLayers: 2, dropout: 1 });
    const x = kd.randn([4, 2, 3]);
    const trainOut = values(m.forward(x)[0]);
    // p = 1 zeroes layer 0's output: layer 1 sees zeros, but its own output is not dropped.
    const lone = new nn.LSTM(4, 4);
    for (const k of ['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh']) kd.noGrad(() => lone.param(`${k}_l0`)!.copy_(m.param(`${k}_l1`)!));
    expectClose(trainOut, values(lone.forward(kd.zeros([4, 2, 4]))[0]), 1e-6);
    expect(trainOut.some((v) => v !== 0)).toBe(true);
    m.eval();
    const evalOut = values(m.forward(x)[0]);
    const noDrop = new nn.LSTM(3, 4, { numLayers: 2 });
    noDrop.loadStateDict(m.stateDict());
    expectClose(evalOut, values(noDrop.forward(x)[0]), 1e-7);
    expect(evalOut).not.toEqual(trainOut);
  });

  it('the cells match one step of the float64 equations, batched and unbatched', () => {
    const rng = makeRng(seed + 30);
    for (const mode of ['lstm', 'gru', 'rnn_tanh', 'rnn_relu'] as const) {
      const I = 3, H = 5, B = 2;
      const cell = mode === 'lstm' ? new nn.LSTMCell(I, H) : mode === 'gru' ? new nn.GRUCell(I, H) : new nn.RNNCell(I, H, { nonlinearity: mode === 'rnn_relu' ? 'relu' : 'tanh' });
      const p = Object.fromEntries(Object.entries(cell.stateDict()).map(([k, v]) => [k, values(v)]));
      const x = rand(rng, B * I), h = rand(rng, B * H), c = rand(rng, B * H);
      const ref = referenceLayer({ mode, T: 1, B, I, H, P: 0, wIh: p.weight_ih, wHh: p.weight_hh, bIh: p.bias_ih, bHh: p.bias_hh, wHr: null }, x, h, c);
      const xt = tensorOf(x, [B, I]), ht = tensorOf(h, [B, H]), ct = tensorOf(c, [B, H]);
      if (cell instanceof nn.LSTMCell) {
        const [h1, c1] = cell.forward(xt, [ht, ct]);
        expectClose(values(h1), ref.hN, 1e-5, mode);
        expectClose(values(c1), ref.cN, 1e-5, mode);
        const [hu] = cell.forward(xt.select(0, 1), [ht.select(0, 1), ct.select(0, 1)]);
        expect(hu.shape).toEqual([H]);
        expectClose(values(hu), ref.hN.subarray(H), 1e-5, `${mode} unbatched`);
      } else {
        const h1 = (cell as InstanceType<typeof nn.GRUCell>).forward(xt, ht);
        expectClose(values(h1), ref.hN, 1e-5, mode);
        const hu = (cell as InstanceType<typeof nn.GRUCell>).forward(xt.select(0, 0), ht.select(0, 0));
        expectClose(values(hu), ref.hN.subarray(0, H), 1e-5, `${mode} unbatched`);
      }
    }
    expect(gatesOf('gru')).toBe(3);
  });

  it('bad arguments and shapes name the module and the shapes', () => {
    expectError(() => new nn.GRU(3, 4, { projSize: 2 } as never), ArgumentError, 'proj_size');
    expectError(() => new nn.LSTM(3, 4, { projSize: 4 }), ArgumentError, 'proj_size');
    expectError(() => new nn.LSTM(3, 4, { dropout: 1.5 }), ArgumentError, 'dropout');
    expectError(() => new nn.RNN(3, 4, { nonlinearity: 'sigmoid' as never }), ArgumentError, 'nonlinearity');
    expectError(() => new nn.RNN(0, 4), ArgumentError, 'input_size');
    const m = new nn.LSTM(3, 4, { numLayers: 2 });
    expectError(() => m.forward(kd.zeros([5, 2, 6])), ShapeError, 'LSTM', '[5,2,6]', 'input_size=3');
    expectError(() => m.forward(kd.zeros([5, 2, 3]), [kd.zeros([1, 2, 4]), kd.zeros([2, 2, 4])]), ShapeError, 'LSTM', 'hx', '[2,2,4]', '[1,2,4]');
    expectError(() => m.forward(kd.zeros([5, 2, 3]), [kd.zeros([2, 2, 4]), kd.zeros([2, 3, 4])]), ShapeError, 'cx');
    expectError(() => m.forward(kd.zeros([5, 3]), [kd.zeros([2, 1, 4]), kd.zeros([2, 1, 4])]), ShapeError, '2-D');
    expectError(() => m.forward(kd.zeros([0, 2, 3])), ShapeError, 'LSTM', 'sequence length');
    expectError(() => new nn.GRUCell(3, 4).forward(kd.zeros([2, 5])), ShapeError, 'GRUCell', 'input_size=3');
    expectError(() => new nn.GRUCell(3, 4).forward(kd.zeros([2, 3]), kd.zeros([3, 4])), ShapeError, 'GRUCell', '[3,4]');
  });
});
