// Position information for sequence models: the fixed sinusoidal table of "Attention Is All
// You Need", a learned table (an Embedding over positions), and rotary embeddings (RoPE).
// Layout: batch first, x is [batch, seq, dModel]; RoPE acts on [batch, heads, seq, headDim].
import { ArgumentError, ShapeError, fmtShape } from '../../errors.js';
import { arange, empty, tensor } from '../../ops/creation.js';
import type { Tensor } from '../../tensor.js';
import { dropout, embedding } from '../functional/basic.js';
import { applyRotaryEmb } from '../functional/rotary.js';
import { normal_ } from '../init.js';
import { Module, Parameter } from '../module.js';

function positiveInt(value: number, what: string, layer: string): number {
  if (!Number.isInteger(value) || value <= 0) throw new ArgumentError(`${layer}: ${what} must be a positive integer, got ${value}`);
  return value;
}

/**
 * PE[pos, 2i] = sin(pos / 10000^(2i/dModel)), PE[pos, 2i+1] = cos(pos / 10000^(2i/dModel)),
 * evaluated in float64 and rounded once to float32: [maxLen, dModel].
 */
export function sinusoidalTable(maxLen: number, dModel: number): Tensor {
  const table = new Float32Array(maxLen * dModel);
  for (let pos = 0; pos < maxLen; pos++) {
    for (let j = 0; j < dModel; j++) {
      const angle = pos / Math.pow(10000, (j - (j % 2)) / dModel);
      table[pos * dModel + j] = j % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
    }
  }
  return tensor(table).reshape([maxLen, dModel]);
}

/**
 * Adds the fixed sinusoidal table to x [batch, seq, dModel] (batch first): out = x + PE[:seq],
 * then dropout. The table is a non-persistent buffer `pe` [maxLen, dModel]: it moves with
 * .to() but is not in the stateDict.
 */
export class SinusoidalPositionalEncoding extends Module {
  readonly dModel: number;
  readonly maxLen: number;
  readonly p: number;
  pe!: Tensor;

  constructor(dModel: number, options: { maxLen?: number; dropout?: number } = {}) {
    super();
    this.dModel = positiveInt(dModel, 'd_model', 'SinusoidalPositionalEncoding');
    this.maxLen = positiveInt(options.maxLen ?? 5000, 'max_len', 'SinusoidalPositionalEncoding');
    this.p = options.dropout ?? 0;
    if (!(this.p >= 0 && this.p <= 1)) throw new ArgumentError(`SinusoidalPositionalEncoding: dropout probability has to be between 0 and 1, got ${this.p}`);
    this.registerBuffer('pe', sinusoidalTable(this.maxLen, this.dModel), false);
  }

  forward(x: Tensor): Tensor {
    if (x.ndim !== 3 || x.shape[2] !== this.dModel) {
      throw new ShapeError(`SinusoidalPositionalEncoding: input ${fmtShape(x.shape)} must be [batch, seq, d_model=${this.dModel}]`);
    }
    const seq = x.shape[1];
    if (seq > this.maxLen) throw new ShapeError(`SinusoidalPositionalEncoding: sequence length ${seq} exceeds max_len ${this.maxLen} (input ${fmtShape(x.shape)})`);
    return dropout(x.add(this.pe.narrow(0, 0, seq)), this.p, this.training);
  }

  override extraRepr(): string {
    return `d_model=${this.dModel}, max_len=${this.maxLen}, dropout=${this.p}`;
  }
}

/**
 * A learned table of position vectors, [maxLen, dModel] in stateDict key `weight`, N(0, 1)
 * initialised as nn.Embedding. forward(x) returns x + weight[offset:offset+seq] for
 * x [batch, seq, dModel] (batch first); offset serves a key/value cache.
 */
export class LearnedPositionalEmbedding extends Module {
  readonly maxLen: number;
  readonly dModel: number;
  weight: Tensor;

  constructor(maxLen: number, dModel: number) {
    super();
    this.maxLen = positiveInt(maxLen, 'max_len', 'LearnedPositionalEmbedding');
    this.dModel = positiveInt(dModel, 'd_model', 'LearnedPositionalEmbedding');
    this.weight = Parameter(empty([maxLen, dModel]));
    this.resetParameters();
  }

  resetParameters(): void {
    normal_(this.weight);
  }

  forward(x: Tensor, options: { offset?: number } = {}): Tensor {
    const offset = options.offset ?? 0;
    if (x.ndim !== 3 || x.shape[2] !== this.dModel) {
      throw new ShapeError(`LearnedPositionalEmbedding: input ${fmtShape(x.shape)} must be [batch, seq, d_model=${this.dModel}]`);
    }
    if (!Number.isInteger(offset) || offset < 0) throw new ArgumentError(`LearnedPositionalEmbedding: offset must be a non-negative integer, got ${offset}`);
    const seq = x.shape[1];
    if (offset + seq > this.maxLen) {
      throw new ShapeError(`LearnedPositionalEmbedding: positions ${offset}..${offset + seq - 1} exceed max_len ${this.maxLen} (input ${fmtShape(x.shape)})`);
    }
    return x.add(embedding(arange(offset, offset + seq, { dtype: 'int32', device: x.device }), this.weight));
  }

  override extraRepr(): string {
    return `${this.maxLen}, ${this.dModel}`;
  }
}

/**
 * Rotary position embeddings with Hugging Face Llama's tables: invFreq[i] = base^(-2i/headDim),
 * angle[p, j] = p * invFreq[j mod headDim/2] (cat(freqs, freqs)), cos/sin computed in float64
 * for positions 0..maxSeqLen-1 and kept as non-persistent buffers `cos` and `sin`.
 * forward(q, k, { offset }) rotates q and k [batch, heads, seq, headDim] at positions
 * offset..offset+seq-1 (offset is the length of a key/value cache already filled).
 */
export class RotaryEmbedding extends Module {
  readonly headDim: number;
  readonly base: number;
  readonly maxSeqLen: number;
  cos!: Tensor;
  sin!: Tensor;

  constructor(headDim: number, options: { base?: number; maxSeqLen?: number } = {}) {
    super();
    this.headDim = positiveInt(headDim, 'head_dim', 'RotaryEmbedding');
    if (headDim % 2 !== 0) throw new ArgumentError(`RotaryEmbedding: head_dim must be even, got ${headDim}`);
    this.base = options.base ?? 10000;
    if (!(this.base > 0)) throw new ArgumentError(`RotaryEmbedding: base must be positive, got ${this.base}`);
    this.maxSeqLen = positiveInt(options.maxSeqLen ?? 2048, 'max_seq_len', 'RotaryEmbedding');
    const half = headDim / 2, n = this.maxSeqLen;
    const cos = new Float32Array(n * headDim), sin = new Float32Array(n * headDim);
    for (let i = 0; i < half; i++) {
      // As HF: inv_freq = 1 / base^(arange(0, dim, 2) / dim), here in float64.
      const invFreq = 1 / Math.pow(this.base, (2 * i) / headDim);
      for (let p = 0; p < n; p++) {
        const angle = p * invFreq;
        cos[p * headDim + i] = cos[p * headDim + i + half] = Math.cos(angle);
        sin[p * headDim + i] = sin[p * headDim + i + half] = Math.sin(angle);
      }
    }
    this.registerBuffer('cos', tensor(cos).reshape([n, headDim]), false);
    this.registerBuffer('sin', tensor(sin).reshape([n, headDim]), false);
  }

  forward(q: Tensor, k: Tensor, options: { offset?: number } = {}): [Tensor, Tensor] {
    const offset = options.offset ?? 0;
    for (const [name, t] of [['q', q], ['k', k]] as const) {
      if (t.ndim !== 4 || t.shape[3] !== this.headDim) {
        throw new ShapeError(`RotaryEmbedding: ${name} ${fmtShape(t.shape)} must be [batch, heads, seq, head_dim=${this.headDim}]`);
      }
    }
    if (q.shape[2] !== k.shape[2]) throw new ShapeError(`RotaryEmbedding: q ${fmtShape(q.shape)} and k ${fmtShape(k.shape)} differ in sequence length`);
    if (!Number.isInteger(offset) || offset < 0) throw new ArgumentError(`RotaryEmbedding: offset must be a non-negative integer, got ${offset}`);
    const seq = q.shape[2];
    if (offset + seq > this.maxSeqLen) {
      throw new ShapeError(`RotaryEmbedding: positions ${offset}..${offset + seq - 1} exceed max_seq_len ${this.maxSeqLen} (q ${fmtShape(q.shape)})`);
    }
    const cos = this.cos.narrow(0, offset, seq), sin = this.sin.narrow(0, offset, seq);
    return [applyRotaryEmb(q, cos, sin), applyRotaryEmb(k, cos, sin)];
  }

  override extraRepr(): string {
    return `head_dim=${this.headDim}, base=${this.base}, max_seq_len=${this.maxSeqLen}`;
  }
}
