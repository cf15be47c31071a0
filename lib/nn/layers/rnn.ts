// nn.RNN, nn.LSTM, nn.GRU and their cells with PyTorch's constructors, parameter names, shapes and
// initialisation. Each layer and direction runs as one fused node (lib/ops/rnn.ts, rnnLayer); this
// file handles layers, directions, dropout between layers, batchFirst, unbatched input and packed
// sequences (run in their sorted order with per-step batch sizes, as PyTorch does).
import { ArgumentError, ShapeError, fmtShape } from '../../errors.js';
import { empty, zeros } from '../../ops/creation.js';
import { indexSelect } from '../../ops/indexing.js';
import { type RnnMode, rnnLayer } from '../../ops/rnn.js';
import { cat, squeeze, stack, transpose, unsqueeze } from '../../ops/shape.js';
import type { Tensor } from '../../tensor.js';
import { dropout } from '../functional/basic.js';
import { uniform_ } from '../init.js';
import { Module, Parameter, reprFloat } from '../module.js';
import { PackedSequence, packPaddedSequence, padPackedSequence } from '../utils/rnn.js';

/**
 * What a recurrent module's forward returns as its output for input type I: a Tensor for a Tensor,
 * a PackedSequence for a PackedSequence (and the union for the union).
 */
export type RnnOutput<I extends Tensor | PackedSequence> = I extends PackedSequence ? PackedSequence : Tensor;

export interface RNNBaseOptions {
  numLayers?: number;
  bias?: boolean;
  /** Input and output as [batch, seq, feature] instead of [seq, batch, feature] (not the states). */
  batchFirst?: boolean;
  /** Dropout probability on each layer's output except the last, in training mode. */
  dropout?: number;
  bidirectional?: boolean;
}
export interface RNNOptions extends RNNBaseOptions {
  nonlinearity?: 'tanh' | 'relu';
}
export interface LSTMOptions extends RNNBaseOptions {
  /** When > 0, h is projected to this size (must be < hiddenSize): hN and the output have it. */
  projSize?: number;
}

function positiveInt(value: number, what: string, layer: string): number {
  if (!Number.isInteger(value) || value <= 0) throw new ArgumentError(`${layer}: ${what} must be a positive integer, got ${value}`);
  return value;
}

const py = (b: boolean) => (b ? 'True' : 'False');

/** The shared body of RNN, LSTM and GRU (PyTorch's RNNBase). */
export abstract class RNNBase extends Module {
  readonly mode: RnnMode;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bias: boolean;
  readonly batchFirst: boolean;
  readonly dropout: number;
  readonly bidirectional: boolean;
  readonly projSize: number;

  constructor(mode: RnnMode, inputSize: number, hiddenSize: number, options: LSTMOptions) {
    super();
    const name = this.constructor.name;
    this.mode = mode;
    this.inputSize = positiveInt(inputSize, 'input_size', name);
    this.hiddenSize = positiveInt(hiddenSize, 'hidden_size', name);
    this.numLayers = positiveInt(options.numLayers ?? 1, 'num_layers', name);
    this.bias = options.bias ?? true;
    this.batchFirst = options.batchFirst ?? false;
    this.dropout = options.dropout ?? 0;
    if (!(this.dropout >= 0 && this.dropout <= 1)) {
      throw new ArgumentError(`${name}: dropout should be a number in range [0, 1] representing the probability of an element being zeroed, got ${this.dropout}`);
    }
    this.bidirectional = options.bidirectional ?? false;
    this.projSize = options.projSize ?? 0;
    if (!Number.isInteger(this.projSize) || this.projSize < 0) throw new ArgumentError(`${name}: proj_size should be a non-negative integer, got ${this.projSize}`);
    if (this.projSize > 0 && mode !== 'lstm') throw new ArgumentError(`${name}: proj_size argument is only supported for LSTM, not RNN or GRU`);
    if (this.projSize >= hiddenSize) throw new ArgumentError(`${name}: proj_size ${this.projSize} has to be smaller than hidden_size ${hiddenSize}`);

    const gates = (mode === 'lstm' ? 4 : mode === 'gru' ? 3 : 1) * hiddenSize;
    const hOut = this.projSize || hiddenSize;
    const dirs = this.bidirectional ? 2 : 1;
    // PyTorch's order: per layer, per direction: weight_ih, weight_hh, bias_ih, bias_hh, weight_hr.
    for (let layer = 0; layer < this.numLayers; layer++) {
      const layerInput = layer === 0 ? inputSize : hOut * dirs;
      for (let d = 0; d < dirs; d++) {
        const suffix = `_l${layer}${d === 1 ? '_reverse' : ''}`;
        const add = (key: string, shape: number[]) => {
          const field = RNNBase.field(key + suffix);
          this.registerParameter(field, empty(shape));
          this.setStateKey(field, key + suffix);
        };
        add('weight_ih', [gates, layerInput]);
        add('weight_hh', [gates, hOut]);
        if (this.bias) {
          add('bias_ih', [gates]);
          add('bias_hh', [gates]);
        }
        if (this.projSize > 0) add('weight_hr', [this.projSize, hiddenSize]);
      }
    }
    this.resetParameters();
  }

  /** The camelCase field that holds a PyTorch parameter name: weight_ih_l0_reverse → weightIhL0Reverse. */
  private static field(key: string): string {
    return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  }

  /** The parameter PyTorch names `key` (weight_ih_l0, bias_hh_l1_reverse, ...), or null. */
  param(key: string): Tensor | null {
    return ((this as unknown as Record<string, Tensor | null | undefined>)[RNNBase.field(key)]) ?? null;
  }

  /** Every parameter U(-1/√hiddenSize, 1/√hiddenSize), as PyTorch. */
  resetParameters(): void {
    const bound = 1 / Math.sqrt(this.hiddenSize);
    for (const p of this.parameters()) uniform_(p, -bound, bound);
  }

  /** Runs the layers over time-major x [T, B, I]; h0, c0 [L·D, B, ·]. */
  protected run(x: Tensor, h0: Tensor, c0: Tensor | null, batchSizes: Int32Array | null): [Tensor, Tensor, Tensor | null] {
    const dirs = this.bidirectional ? 2 : 1;
    const hs: Tensor[] = [], cs: Tensor[] = [];
    let input = x;
    for (let layer = 0; layer < this.numLayers; layer++) {
      const outs: Tensor[] = [];
      for (let d = 0; d < dirs; d++) {
        const s = `_l${layer}${d === 1 ? '_reverse' : ''}`;
        const k = layer * dirs + d;
        const r = rnnLayer(this.mode, input, h0.select(0, k), c0 ? c0.select(0, k) : null, this.param(`weight_ih${s}`)!,
          this.param(`weight_hh${s}`)!, this.param(`bias_ih${s}`), this.param(`bias_hh${s}`), this.param(`weight_hr${s}`),
          { reverse: d === 1, batchSizes });
        outs.push(r.output);
        hs.push(r.hN);
        if (r.cN) cs.push(r.cN);
      }
      input = dirs === 2 ? cat(outs, 2) : outs[0];
      if (this.training && this.dropout > 0 && layer < this.numLayers - 1) input = dropout(input, this.dropout, true);
    }
    return [input, stack(hs, 0), c0 ? stack(cs, 0) : null];
  }

  /**
   * x [T, B, I] ([B, T, I] with batchFirst), [T, I] unbatched, or a PackedSequence; hx the initial
   * state(s) [L·D, B, Hout] (LSTM: [h0, c0], c0 [L·D, B, H]), zeros when omitted.
   */
  protected forwardStates(input: Tensor | PackedSequence, hx: Tensor | null, cx: Tensor | null): [Tensor | PackedSequence, Tensor, Tensor | null] {
    const name = this.constructor.name;
    const lstm = this.mode === 'lstm';
    const dirs = this.bidirectional ? 2 : 1, hOut = this.projSize || this.hiddenSize;
    if (input instanceof PackedSequence) {
      const { batchSizes, sortedIndices, unsortedIndices } = input;
      if (input.data.ndim !== 2 || input.data.shape[1] !== this.inputSize) {
        throw new ShapeError(`${name}: packed input data ${fmtShape(input.data.shape)} must be [rows, input_size=${this.inputSize}]`);
      }
      const B = batchSizes[0];
      // The states follow the caller's batch order; the packed rows run in sorted order.
      const sortStates = (t: Tensor | null) => (t && sortedIndices ? indexSelect(t, 1, sortedIndices) : t);
      const h0 = sortStates(this.checkState(hx, [this.numLayers * dirs, B, hOut], 'hx')) ?? zeros([this.numLayers * dirs, B, hOut], { device: input.data.device });
      const c0 = lstm ? (sortStates(this.checkState(cx, [this.numLayers * dirs, B, this.hiddenSize], 'cx')) ?? zeros([this.numLayers * dirs, B, this.hiddenSize], { device: input.data.device })) : null;
      const [padded] = padPackedSequence(new PackedSequence(input.data, batchSizes));
      const [out, hN, cN] = this.run(padded, h0, c0, batchSizes);
      const lengths = Array.from({ length: B }, (_, j) => batchSizes.filter((n) => n > j).length);
      const packed = packPaddedSequence(out, lengths);
      const unsort = (t: Tensor | null) => (t && unsortedIndices ? indexSelect(t, 1, unsortedIndices) : t);
      return [new PackedSequence(packed.data, batchSizes, sortedIndices, unsortedIndices), unsort(hN)!, unsort(cN)];
    }
    if (input.ndim !== 2 && input.ndim !== 3) {
      throw new ShapeError(`${name}: expected input of 2 (unbatched) or 3 dims, got ${fmtShape(input.shape)}`);
    }
    if (input.shape[input.ndim - 1] !== this.inputSize) {
      throw new ShapeError(`${name}: input ${fmtShape(input.shape)} must have input_size=${this.inputSize} features in its last dim`);
    }
    if (input.shape[this.batchFirst && input.ndim === 3 ? 1 : 0] === 0) {
      throw new ShapeError(`${name}: expected sequence length to be larger than 0, got input ${fmtShape(input.shape)}`);
    }
    const unbatched = input.ndim === 2;
    const x = unbatched ? unsqueeze(input, 1) : this.batchFirst ? transpose(input, 0, 1) : input;
    const B = x.shape[1];
    const stateOf = (t: Tensor | null, size: number, what: string) => {
      if (t === null) return zeros([this.numLayers * dirs, B, size], { device: input.device });
      if (unbatched) {
        if (t.ndim !== 2) throw new ShapeError(`${name}: for unbatched 2-D input, ${what} should also be 2-D but got ${t.ndim}-D tensor ${fmtShape(t.shape)}`);
        return unsqueeze(this.checkState(t, [this.numLayers * dirs, size], what)!, 1);
      }
      if (t.ndim !== 3) throw new ShapeError(`${name}: for batched 3-D input, ${what} should also be 3-D but got ${t.ndim}-D tensor ${fmtShape(t.shape)}`);
      return this.checkState(t, [this.numLayers * dirs, B, size], what)!;
    };
    const h0 = stateOf(hx, hOut, 'hx');
    const c0 = lstm ? stateOf(cx, this.hiddenSize, 'cx') : null;
    const [out, hN, cN] = this.run(x, h0, c0, null);
    if (unbatched) return [squeeze(out, 1), squeeze(hN, 1), cN && squeeze(cN, 1)];
    return [this.batchFirst ? transpose(out, 0, 1) : out, hN, cN];
  }

  private checkState(t: Tensor | null, shape: number[], what: string): Tensor | null {
    if (t !== null && (t.ndim !== shape.length || t.shape.some((s, i) => s !== shape[i]))) {
      throw new ShapeError(`${this.constructor.name}: expected ${what} size ${fmtShape(shape)}, got ${fmtShape(t.shape)}`);
    }
    return t;
  }

  override extraRepr(): string {
    let s = `${this.inputSize}, ${this.hiddenSize}`;
    if (this.projSize !== 0) s += `, proj_size=${this.projSize}`;
    if (this.numLayers !== 1) s += `, num_layers=${this.numLayers}`;
    if (!this.bias) s += ', bias=False';
    if (this.batchFirst) s += ', batch_first=True';
    if (this.dropout !== 0) s += `, dropout=${reprFloat(this.dropout)}`;
    if (this.bidirectional) s += `, bidirectional=${py(true)}`;
    return s;
  }
}

/** Elman RNN: h' = tanh|relu(W_ih x + b_ih + W_hh h + b_hh). forward → [output, hN]. */
export class RNN extends RNNBase {
  readonly nonlinearity: 'tanh' | 'relu';

  constructor(inputSize: number, hiddenSize: number, options: RNNOptions = {}) {
    const nonlinearity = options.nonlinearity ?? 'tanh';
    if (nonlinearity !== 'tanh' && nonlinearity !== 'relu') throw new ArgumentError(`RNN: unknown nonlinearity '${String(nonlinearity)}' (tanh or relu)`);
    super(nonlinearity === 'tanh' ? 'rnn_tanh' : 'rnn_relu', inputSize, hiddenSize, options);
    this.nonlinearity = nonlinearity;
  }

  /** A Tensor in gives the output Tensor, a PackedSequence a PackedSequence. */
  forward<I extends Tensor | PackedSequence>(input: I, hx?: Tensor | null): [RnnOutput<I>, Tensor] {
    const [out, hN] = this.forwardStates(input, hx ?? null, null);
    return [out as RnnOutput<I>, hN];
  }

  override extraRepr(): string {
    return super.extraRepr() + (this.nonlinearity !== 'tanh' ? `, nonlinearity='${this.nonlinearity}'` : '');
  }
}

/** LSTM with PyTorch's gates (i, f, g, o) and optional projection. forward → [output, [hN, cN]]. */
export class LSTM extends RNNBase {
  constructor(inputSize: number, hiddenSize: number, options: LSTMOptions = {}) {
    super('lstm', inputSize, hiddenSize, options);
  }

  /** A Tensor in gives the output Tensor, a PackedSequence a PackedSequence. */
  forward<I extends Tensor | PackedSequence>(input: I, hx?: [Tensor, Tensor] | null): [RnnOutput<I>, [Tensor, Tensor]] {
    if (hx != null && (!Array.isArray(hx) || hx.length !== 2)) throw new ArgumentError('LSTM: hx must be a pair [h0, c0]');
    const [out, hN, cN] = this.forwardStates(input, hx ? hx[0] : null, hx ? hx[1] : null);
    return [out as RnnOutput<I>, [hN, cN!]];
  }
}

/** GRU with PyTorch's gates (r, z, n), n = tanh(W_in x + b_in + r·(W_hn h + b_hn)). forward → [output, hN]. */
export class GRU extends RNNBase {
  constructor(inputSize: number, hiddenSize: number, options: RNNBaseOptions = {}) {
    super('gru', inputSize, hiddenSize, options);
  }

  /** A Tensor in gives the output Tensor, a PackedSequence a PackedSequence. */
  forward<I extends Tensor | PackedSequence>(input: I, hx?: Tensor | null): [RnnOutput<I>, Tensor] {
    const [out, hN] = this.forwardStates(input, hx ?? null, null);
    return [out as RnnOutput<I>, hN];
  }
}

/** The shared body of the cells (PyTorch's RNNCellBase): weight_ih, weight_hh, bias_ih, bias_hh. */
abstract class RNNCellBase extends Module {
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly bias: boolean;
  weightIh: Tensor;
  weightHh: Tensor;
  biasIh: Tensor | null;
  biasHh: Tensor | null;

  constructor(protected readonly mode: RnnMode, inputSize: number, hiddenSize: number, bias: boolean) {
    super();
    const name = this.constructor.name;
    this.inputSize = positiveInt(inputSize, 'input_size', name);
    this.hiddenSize = positiveInt(hiddenSize, 'hidden_size', name);
    this.bias = bias;
    const gates = (mode === 'lstm' ? 4 : mode === 'gru' ? 3 : 1) * hiddenSize;
    this.weightIh = Parameter(empty([gates, inputSize]));
    this.weightHh = Parameter(empty([gates, hiddenSize]));
    this.biasIh = bias ? Parameter(empty([gates])) : null;
    this.biasHh = bias ? Parameter(empty([gates])) : null;
    this.resetParameters();
  }

  resetParameters(): void {
    const bound = 1 / Math.sqrt(this.hiddenSize);
    for (const p of this.parameters()) uniform_(p, -bound, bound);
  }

  /** One step of x [B, I] or [I] from h (and c) [B, H] or [H] (zeros when omitted). */
  protected step(input: Tensor, h: Tensor | null, c: Tensor | null): [Tensor, Tensor | null] {
    const name = this.constructor.name;
    if (input.ndim !== 1 && input.ndim !== 2) throw new ShapeError(`${name}: Expected input to be 1D or 2D, got ${input.ndim}D instead (${fmtShape(input.shape)})`);
    if (input.shape[input.ndim - 1] !== this.inputSize) {
      throw new ShapeError(`${name}: input ${fmtShape(input.shape)} has ${input.shape[input.ndim - 1]} features, expected input_size=${this.inputSize}`);
    }
    const unbatched = input.ndim === 1;
    const x = unbatched ? unsqueeze(input, 0) : input;
    const B = x.shape[0];
    const state = (t: Tensor | null, what: string) => {
      if (t === null) return zeros([B, this.hiddenSize], { device: input.device });
      const want = unbatched ? [this.hiddenSize] : [B, this.hiddenSize];
      if (t.ndim !== want.length || t.shape.some((s, i) => s !== want[i])) {
        throw new ShapeError(`${name}: ${what} ${fmtShape(t.shape)} must be ${fmtShape(want)} for input ${fmtShape(input.shape)}`);
      }
      return unbatched ? unsqueeze(t, 0) : t;
    };
    const h0 = state(h, 'hx'), c0 = this.mode === 'lstm' ? state(c, 'cx') : null;
    const r = rnnLayer(this.mode, unsqueeze(x, 0), h0, c0, this.weightIh, this.weightHh, this.biasIh, this.biasHh, null);
    const out = (t: Tensor) => (unbatched ? squeeze(t, 0) : t);
    return [out(r.hN), r.cN && out(r.cN)];
  }

  override extraRepr(): string {
    return `${this.inputSize}, ${this.hiddenSize}${this.bias ? '' : ', bias=False'}`;
  }
}

/** One Elman step: h' = tanh|relu(W_ih x + b_ih + W_hh h + b_hh). */
export class RNNCell extends RNNCellBase {
  readonly nonlinearity: 'tanh' | 'relu';

  constructor(inputSize: number, hiddenSize: number, options: { bias?: boolean; nonlinearity?: 'tanh' | 'relu' } = {}) {
    const nonlinearity = options.nonlinearity ?? 'tanh';
    if (nonlinearity !== 'tanh' && nonlinearity !== 'relu') throw new ArgumentError(`RNNCell: unknown nonlinearity '${String(nonlinearity)}' (tanh or relu)`);
    super(nonlinearity === 'tanh' ? 'rnn_tanh' : 'rnn_relu', inputSize, hiddenSize, options.bias ?? true);
    this.nonlinearity = nonlinearity;
  }

  forward(input: Tensor, hx?: Tensor | null): Tensor {
    return this.step(input, hx ?? null, null)[0];
  }

  override extraRepr(): string {
    return super.extraRepr() + (this.nonlinearity !== 'tanh' ? `, nonlinearity='${this.nonlinearity}'` : '');
  }
}

/** One LSTM step → [h', c']. */
export class LSTMCell extends RNNCellBase {
  constructor(inputSize: number, hiddenSize: number, options: { bias?: boolean } = {}) {
    super('lstm', inputSize, hiddenSize, options.bias ?? true);
  }

  forward(input: Tensor, hx?: [Tensor, Tensor] | null): [Tensor, Tensor] {
    if (hx != null && (!Array.isArray(hx) || hx.length !== 2)) throw new ArgumentError('LSTMCell: hx must be a pair [h, c]');
    const [h, c] = this.step(input, hx ? hx[0] : null, hx ? hx[1] : null);
    return [h, c!];
  }
}

/** One GRU step → h'. */
export class GRUCell extends RNNCellBase {
  constructor(inputSize: number, hiddenSize: number, options: { bias?: boolean } = {}) {
    super('gru', inputSize, hiddenSize, options.bias ?? true);
  }

  forward(input: Tensor, hx?: Tensor | null): Tensor {
    return this.step(input, hx ?? null, null)[0];
  }
}
