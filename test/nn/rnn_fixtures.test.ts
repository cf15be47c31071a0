// nn.RNN / LSTM / GRU and the three cells against PyTorch 2.13: PyTorch's initialised weights
// loaded by stateDict key, then outputs, final states and the gradients of a fixed loss for the
// input, the initial states and every parameter (test/fixtures/make_rnn_fixtures.py writes
// test/fixtures/rnn/: 1-2 layers, uni- and bidirectional, batchFirst both ways, projSize, no bias,
// unbatched input, and packed batches whose lengths come unsorted).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose } from '../helpers.js';

const { nn } = kd;
const { packPaddedSequence, padPackedSequence, PackedSequence } = kd.nn.utils.rnn;
const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'rnn');
const ALL = kd.io.load(join(DIR, 'rnn.safetensors'));

type Kind = 'RNN' | 'LSTM' | 'GRU' | 'RNNCell' | 'LSTMCell' | 'GRUCell';
interface Case {
  module: Kind;
  inputSize: number;
  hiddenSize: number;
  options: { numLayers?: number; bidirectional?: boolean; batchFirst?: boolean; projSize?: number; bias?: boolean; nonlinearity?: 'tanh' | 'relu' };
  lengths: number[] | null;
  h0: boolean;
  unbatched: boolean;
}
const { torch: TORCH, cases: CASES } = JSON.parse(readFileSync(join(DIR, 'cases.json'), 'utf8')) as { torch: string; cases: Record<string, Case> };

function part(c: string, kind: 'p' | 'i' | 'o' | 'g'): Record<string, Tensor> {
  const prefix = `${c}.${kind}.`, out: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(ALL)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
  return out;
}

function close(a: Tensor, b: Tensor, tol: number, what: string): void {
  expect(a.shape, what).toEqual(b.shape);
  expectClose(a.contiguous().data() as Float32Array, b.data() as Float32Array, tol, what);
}

const leaf = (t: Tensor) => {
  const c = t.clone().detach();
  c.requiresGrad = true;
  return c;
};

type Recurrent = InstanceType<typeof nn.RNN> | InstanceType<typeof nn.LSTM> | InstanceType<typeof nn.GRU>;
type Cell = InstanceType<typeof nn.RNNCell> | InstanceType<typeof nn.LSTMCell> | InstanceType<typeof nn.GRUCell>;

function build(c: Case): Recurrent | Cell {
  const { inputSize: i, hiddenSize: h, options: o } = c;
  switch (c.module) {
    case 'RNN': return new nn.RNN(i, h, o);
    case 'LSTM': return new nn.LSTM(i, h, o);
    case 'GRU': return new nn.GRU(i, h, o);
    case 'RNNCell': return new nn.RNNCell(i, h, o);
    case 'LSTMCell': return new nn.LSTMCell(i, h, o);
    case 'GRUCell': return new nn.GRUCell(i, h, o);
  }
}

/** Runs the case's forward; returns the outputs under the fixture's names. */
function run(c: Case, m: Recurrent | Cell, x: Tensor, h0?: Tensor, c0?: Tensor): Record<string, Tensor> {
  const state = c0 ? [h0!, c0] as [Tensor, Tensor] : h0;
  if (c.module.endsWith('Cell')) {
    const r = (m as { forward(x: Tensor, s?: Tensor | [Tensor, Tensor]): Tensor | [Tensor, Tensor] }).forward(x, state);
    return Array.isArray(r) ? { hN: r[0], cN: r[1] } : { hN: r };
  }
  const batchFirst = c.options.batchFirst ?? false;
  const input = c.lengths ? packPaddedSequence(x, c.lengths, { batchFirst, enforceSorted: false }) : x;
  const [out, final] = (m as { forward(x: Tensor | kd.nn.utils.rnn.PackedSequence, s?: Tensor | [Tensor, Tensor]): [Tensor | kd.nn.utils.rnn.PackedSequence, Tensor | [Tensor, Tensor]] }).forward(input, state);
  let padded: Tensor;
  if (c.lengths) {
    expect(out).toBeInstanceOf(PackedSequence);
    [padded] = padPackedSequence(out as kd.nn.utils.rnn.PackedSequence, { batchFirst });
  } else {
    padded = out as Tensor;
  }
  return Array.isArray(final) ? { out: padded, hN: final[0], cN: final[1] } : { out: padded, hN: final };
}

describe(`recurrent modules vs PyTorch ${TORCH}`, () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(`${name}: ${c.module}(${JSON.stringify(c.options)})${c.lengths ? ` packed lengths [${c.lengths}]` : ''} outputs, states and gradients`, () => {
      const p = part(name, 'p'), i = part(name, 'i'), o = part(name, 'o'), g = part(name, 'g');
      const m = build(c);
      const loaded = m.loadStateDict(p);
      expect(loaded.missingKeys).toEqual([]);
      expect(loaded.unexpectedKeys).toEqual([]);
      expect(Object.keys(m.stateDict()).sort()).toEqual(Object.keys(p).sort());
      m.eval();
      const x = leaf(i.x), h0 = i.h0 ? leaf(i.h0) : undefined, c0 = i.c0 ? leaf(i.c0) : undefined;
      const outs = run(c, m, x, h0, c0);
      expect(Object.keys(outs).sort()).toEqual(Object.keys(o).sort());
      let loss: Tensor | null = null;
      for (const [k, v] of Object.entries(outs)) {
        close(v, o[k], 1e-5, `${name} ${k}`);
        const term = v.mul(i[`r_${k}`]).sum();
        loss = loss ? loss.add(term) : term;
      }
      loss!.backward();
      close(x.grad!, g.x, 1e-4, `${name} grad x`);
      if (h0) close(h0.grad!, g.h0, 1e-4, `${name} grad h0`);
      if (c0) close(c0.grad!, g.c0, 1e-4, `${name} grad c0`);
      const params = Object.fromEntries(m.namedParameters());
      for (const key of Object.keys(p)) close(params[key].grad!, g[key], 1e-4, `${name} grad ${key}`);
    });
  }
});
