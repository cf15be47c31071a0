// One recurrent layer (LSTM, GRU, Elman RNN) in one direction over a whole sequence, as one
// autograd node on the fused kernels (native/common/rnn.h): the forward is one native call that
// runs every step and keeps the activated gates for the backward, which is one native call too.
// The node's output is one flat buffer holding output, hN and cN back to back; the three tensors
// the caller sees are views of it, so gradients reaching any of them flow into one backward.
import type { RnnCall } from '../backend/native_backend.js';
import { backendOf } from '../backend/index.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { scoped } from '../scope.js';
import { Tensor } from '../tensor.js';
import { noDoubleBackward } from './conv.js';
import { assertTensor, record, sameDevice } from './record.js';
import { contiguous, reshape, slice } from './shape.js';

export type RnnMode = 'lstm' | 'gru' | 'rnn_tanh' | 'rnn_relu';

export interface RnnLayerOptions {
  /** Walk the sequence from its last step to its first (the reverse direction). */
  reverse?: boolean;
  /**
   * A packed batch's sizes (PyTorch's batch_sizes): step t advances only rows < batchSizes[t]
   * (non-increasing); the other rows keep their state and output zeros.
   */
  batchSizes?: Int32Array | null;
}

export interface RnnLayerResult {
  /** [T, B, Hout]: h after each step (Hout = projSize when the LSTM projects, else hidden). */
  output: Tensor;
  /** [B, Hout]: each row's state after its last step. */
  hN: Tensor;
  /** [B, H]: the LSTM's cell state after each row's last step; null for GRU and RNN. */
  cN: Tensor | null;
}

const OP = 'rnnLayer';
const GATES: Record<RnnMode, number> = { lstm: 4, gru: 3, rnn_tanh: 1, rnn_relu: 1 };

const buffer = (t: Tensor) => ({ handle: t.handle, offset: t.offset });

/**
 * Runs one layer-direction of nn.RNN / nn.LSTM / nn.GRU with PyTorch's equations and gate order
 * over x [T, B, I] from h0 [B, Hout] (and c0 [B, H] for the LSTM); weights as PyTorch stores them:
 * wIh [G·H, I], wHh [G·H, Hout], biases [G·H] (both or neither), wHr [P, H] (LSTM projection).
 */
export function rnnLayer(mode: RnnMode, x: Tensor, h0: Tensor, c0: Tensor | null, wIh: Tensor, wHh: Tensor,
  bIh: Tensor | null, bHh: Tensor | null, wHr: Tensor | null, options: RnnLayerOptions = {}): RnnLayerResult {
  if (!(mode in GATES)) throw new ArgumentError(`${OP}: unknown mode '${String(mode)}' (lstm, gru, rnn_tanh, rnn_relu)`);
  const named: [string, Tensor | null][] = [['input', x], ['h0', h0], ['c0', c0], ['weight_ih', wIh], ['weight_hh', wHh],
    ['bias_ih', bIh], ['bias_hh', bHh], ['weight_hr', wHr]];
  const given: Tensor[] = [];
  for (const [name, t] of named) {
    if (t === null || t === undefined) continue;
    assertTensor(t, OP, name);
    if (t.dtype !== 'float32') throw new DTypeError(`${OP}: ${name} must be float32, got ${t.dtype}`);
    given.push(t);
  }
  sameDevice(OP, ...given);
  if (x.ndim !== 3) throw new ShapeError(`${OP}: input must be [seq, batch, inputSize], got ${fmtShape(x.shape)}`);
  const [T, B, I] = x.shape;
  if (wIh.ndim !== 2 || wIh.shape[0] % GATES[mode] !== 0 || wIh.shape[0] === 0) {
    throw new ShapeError(`${OP}: weight_ih ${fmtShape(wIh.shape)} must be [${GATES[mode]}·hidden, inputSize] for ${mode}`);
  }
  const H = wIh.shape[0] / GATES[mode], G = wIh.shape[0];
  if (wIh.shape[1] !== I) throw new ShapeError(`${OP}: input ${fmtShape(x.shape)} has ${I} features, weight_ih ${fmtShape(wIh.shape)} expects ${wIh.shape[1]}`);
  if (wHr && mode !== 'lstm') throw new ArgumentError(`${OP}: a projection (weight_hr) needs the lstm mode, got ${mode}`);
  if (wHr && (wHr.ndim !== 2 || wHr.shape[1] !== H || wHr.shape[0] === 0)) {
    throw new ShapeError(`${OP}: weight_hr ${fmtShape(wHr.shape)} must be [projSize, hidden=${H}]`);
  }
  const P = wHr ? wHr.shape[0] : 0, Ho = P || H;
  const expect = (t: Tensor | null, name: string, shape: number[]) => {
    if (t && (t.ndim !== shape.length || t.shape.some((s, i) => s !== shape[i]))) {
      throw new ShapeError(`${OP}: ${name} ${fmtShape(t.shape)} must be ${fmtShape(shape)} (input ${fmtShape(x.shape)}, weight_ih ${fmtShape(wIh.shape)})`);
    }
  };
  expect(wHh, 'weight_hh', [G, Ho]);
  expect(bIh, 'bias_ih', [G]);
  expect(bHh, 'bias_hh', [G]);
  if ((bIh === null) !== (bHh === null)) throw new ArgumentError(`${OP}: give both biases or neither`);
  expect(h0, 'h0', [B, Ho]);
  if (mode === 'lstm') {
    if (!c0) throw new ArgumentError(`${OP}: the lstm mode needs c0 [batch, hidden]`);
    expect(c0, 'c0', [B, H]);
  } else if (c0) {
    throw new ArgumentError(`${OP}: c0 is only for the lstm mode, got ${mode}`);
  }
  const batchSizes = options.batchSizes ?? null;
  if (batchSizes) {
    if (!(batchSizes instanceof Int32Array) || batchSizes.length !== T) {
      throw new ShapeError(`${OP}: batchSizes must be an Int32Array with one entry per step (${T}), got ${batchSizes.length}`);
    }
    for (let t = 0; t < T; t++) {
      if (batchSizes[t] < 0 || batchSizes[t] > B || (t > 0 && batchSizes[t] > batchSizes[t - 1])) {
        throw new ShapeError(`${OP}: batchSizes must be non-increasing and within [0, ${B}], got [${Array.from(batchSizes).join(', ')}]`);
      }
    }
  }
  const call: RnnCall = { mode, steps: T, batch: B, input: I, hidden: H, proj: P, reverse: options.reverse ?? false, batchSizes };

  const [output, hN, cN] = scoped(() => {
    const [xc, h0c, c0c, wIhc, wHhc, bIhc, bHhc, wHrc] = [x, h0, c0, wIh, wHh, bIh, bHh, wHr].map((t) => (t ? contiguous(t) : null));
    const lstm = mode === 'lstm';
    const outElems = T * B * Ho, hElems = B * Ho, cElems = lstm ? B * H : 0;
    const extra = mode === 'lstm' || mode === 'gru' ? H : 0;
    const flat = Tensor._empty([outElems + hElems + cElems], 'float32', x.device);
    const workspace = Tensor._empty([T * B * (G + extra + Ho)], 'float32', x.device);
    const weights = {
      wIh: buffer(wIhc!), wHh: buffer(wHhc!), bIh: bIhc && buffer(bIhc), bHh: bHhc && buffer(bHhc), wHr: wHrc && buffer(wHrc),
    };
    const at = (offset: number) => ({ handle: flat.handle, offset: flat.offset + offset });
    backendOf(x).rnnForward(call, buffer(xc!), buffer(h0c!), c0c && buffer(c0c), weights, at(0), at(outElems),
      lstm ? at(outElems + hElems) : null, buffer(workspace));
    const inputs = [xc, h0c, c0c, wIhc, wHhc, bIhc, bHhc, wHrc];
    const node = record('RnnLayerBackward', flat, inputs, (n) => {
      const xs = n.save(xc!), ws = n.save(workspace);
      const ih = n.save(wIhc!), hh = n.save(wHhc!), hr = wHrc && n.save(wHrc);
      return (grad) => {
        noDoubleBackward(OP);
        const g = contiguous(grad);
        const need = inputs.map((t) => (t && t.requiresGrad ? Tensor._empty(t.shape, 'float32', t.device) : null));
        const gradAt = (offset: number) => ({ handle: g.handle, offset: g.offset + offset });
        backendOf(g).rnnBackward(call, buffer(xs), buffer(ws), { wIh: buffer(ih), wHh: buffer(hh), bIh: null, bHh: null, wHr: hr && buffer(hr) },
          gradAt(0), gradAt(outElems), lstm ? gradAt(outElems + hElems) : null, {
            x: need[0] && buffer(need[0]), h0: need[1] && buffer(need[1]), c0: need[2] && buffer(need[2]),
            wIh: need[3] && buffer(need[3]), wHh: need[4] && buffer(need[4]), bIh: need[5] && buffer(need[5]),
            bHh: need[6] && buffer(need[6]), wHr: need[7] && buffer(need[7]),
          });
        return need;
      };
    });
    const output = reshape(slice(node, 0, 0, outElems), [T, B, Ho]);
    const hNView = reshape(slice(node, 0, outElems, outElems + hElems), [B, Ho]);
    const cNView = lstm ? reshape(slice(node, 0, outElems + hElems), [B, H]) : null;
    return [output, hNView, cNView] as const;
  });
  return { output, hN, cN };
}
