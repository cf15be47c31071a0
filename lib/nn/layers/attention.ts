// nn.MultiheadAttention with PyTorch's parameters (in_proj_weight or q/k/v_proj_weight,
// in_proj_bias, out_proj, bias_k/bias_v), initialisation and masking conventions.
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../../errors.js';
import { empty, zeros } from '../../ops/creation.js';
import { scaledDotProductAttention } from '../../ops/attention.js';
import { where } from '../../ops/elementwise.js';
import { cat } from '../../ops/shape.js';
import type { Tensor } from '../../tensor.js';
import { dropout, linear } from '../functional/basic.js';
import { pad } from '../functional/padding.js';
import { xavierNormal_, xavierUniform_, constant_ } from '../init.js';
import { Module, Parameter } from '../module.js';
import { Linear } from './linear.js';

const OP = 'MultiheadAttention';

export interface MultiheadAttentionOptions {
  dropout?: number;
  bias?: boolean;
  addBiasKv?: boolean;
  addZeroAttn?: boolean;
  kdim?: number | null;
  vdim?: number | null;
  batchFirst?: boolean;
}

export interface MultiheadAttentionForwardOptions {
  /** [N, S] (or [S] unbatched): bool true = that key is padding and ignored, or float added to the scores. */
  keyPaddingMask?: Tensor | null;
  /** Return the attention weights (default true); false takes the fused path and returns null weights. */
  needWeights?: boolean;
  /** [L, S] or [N·numHeads, L, S]: bool true = NOT allowed to attend (PyTorch's nn convention), or float added. */
  attnMask?: Tensor | null;
  /** Average the returned weights over the heads (default true); otherwise [N, numHeads, L, S]. */
  averageAttnWeights?: boolean;
  /** Hint that attnMask is the causal mask; needs attnMask, as PyTorch. */
  isCausal?: boolean;
}

function positiveInt(value: number, what: string): number {
  if (!Number.isInteger(value) || value <= 0) throw new ArgumentError(`${OP}: ${what} must be a positive integer, got ${value}`);
  return value;
}

/** A bool mask (true = masked) becomes float -Infinity / 0; a float mask is returned as is. */
function additiveMask(mask: Tensor, what: string): Tensor {
  if (mask.dtype === 'bool') return where(mask, -Infinity, 0);
  if (mask.dtype !== 'float32') throw new DTypeError(`${OP}: ${what} must be bool or float32, got ${mask.dtype}`);
  return mask;
}

export class MultiheadAttention extends Module {
  readonly embedDim: number;
  readonly kdim: number;
  readonly vdim: number;
  readonly numHeads: number;
  readonly dropout: number;
  readonly batchFirst: boolean;
  readonly headDim: number;
  readonly addZeroAttn: boolean;
  private readonly _qkvSameEmbedDim: boolean;
  inProjWeight: Tensor | null;
  qProjWeight: Tensor | null;
  kProjWeight: Tensor | null;
  vProjWeight: Tensor | null;
  inProjBias: Tensor | null;
  outProj: Linear;
  biasK: Tensor | null;
  biasV: Tensor | null;

  constructor(embedDim: number, numHeads: number, options: MultiheadAttentionOptions = {}) {
    super();
    this.embedDim = positiveInt(embedDim, 'embed_dim');
    this.numHeads = positiveInt(numHeads, 'num_heads');
    this.kdim = positiveInt(options.kdim ?? embedDim, 'kdim');
    this.vdim = positiveInt(options.vdim ?? embedDim, 'vdim');
    const p = options.dropout ?? 0;
    if (!(p >= 0 && p < 1)) throw new ArgumentError(`${OP}: dropout must be in [0, 1), got ${p}`);
    this.dropout = p;
    this.batchFirst = options.batchFirst ?? false;
    if (embedDim % numHeads !== 0) throw new ArgumentError(`${OP}: embed_dim ${embedDim} must be divisible by num_heads ${numHeads}`);
    this.headDim = embedDim / numHeads;
    this.addZeroAttn = options.addZeroAttn ?? false;
    this._qkvSameEmbedDim = this.kdim === embedDim && this.vdim === embedDim;
    const bias = options.bias ?? true;
    if (this._qkvSameEmbedDim) {
      this.inProjWeight = Parameter(empty([3 * embedDim, embedDim]));
      this.qProjWeight = this.kProjWeight = this.vProjWeight = null;
    } else {
      this.qProjWeight = Parameter(empty([embedDim, embedDim]));
      this.kProjWeight = Parameter(empty([embedDim, this.kdim]));
      this.vProjWeight = Parameter(empty([embedDim, this.vdim]));
      this.inProjWeight = null;
    }
    this.inProjBias = bias ? Parameter(empty([3 * embedDim])) : null;
    this.outProj = new Linear(embedDim, embedDim, { bias });
    if (options.addBiasKv) {
      this.biasK = Parameter(empty([1, 1, embedDim]));
      this.biasV = Parameter(empty([1, 1, embedDim]));
    } else {
      this.biasK = this.biasV = null;
    }
    this.resetParameters();
  }

  /** PyTorch's _reset_parameters: xavier_uniform_ on the input projections, zero biases, xavier_normal_ on bias_k/v. */
  resetParameters(): void {
    if (this.inProjWeight) xavierUniform_(this.inProjWeight);
    else for (const w of [this.qProjWeight!, this.kProjWeight!, this.vProjWeight!]) xavierUniform_(w);
    if (this.inProjBias) {
      constant_(this.inProjBias, 0);
      constant_(this.outProj.bias!, 0);
    }
    if (this.biasK) xavierNormal_(this.biasK);
    if (this.biasV) xavierNormal_(this.biasV);
  }

  forward(query: Tensor, key: Tensor, value: Tensor, options: MultiheadAttentionForwardOptions = {}): [Tensor, Tensor | null] {
    const needWeights = options.needWeights ?? true;
    const average = options.averageAttnWeights ?? true;
    const E = this.embedDim, H = this.numHeads, hd = this.headDim;
    const batched = query.ndim === 3;
    if (!(query.ndim === 3 || query.ndim === 2) || key.ndim !== query.ndim || value.ndim !== query.ndim) {
      throw new ShapeError(`${OP}: query, key and value must all be 3-d (batched) or 2-d (unbatched), got query ${fmtShape(query.shape)}, key ${fmtShape(key.shape)}, value ${fmtShape(value.shape)}`);
    }
    // Work batch-first: [N, L, E].
    let q = batched ? (this.batchFirst ? query : query.transpose(0, 1)) : query.unsqueeze(0);
    let k = batched ? (this.batchFirst ? key : key.transpose(0, 1)) : key.unsqueeze(0);
    let v = batched ? (this.batchFirst ? value : value.transpose(0, 1)) : value.unsqueeze(0);
    const [N, L] = q.shape, S = k.shape[1];
    if (q.shape[2] !== E || k.shape[2] !== this.kdim || v.shape[2] !== this.vdim) {
      throw new ShapeError(`${OP}: expected query, key, value feature sizes ${E}, ${this.kdim}, ${this.vdim}, got query ${fmtShape(query.shape)}, key ${fmtShape(key.shape)}, value ${fmtShape(value.shape)}`);
    }
    if (k.shape[0] !== N || v.shape[0] !== N || v.shape[1] !== S) {
      throw new ShapeError(`${OP}: batch and source sizes of query ${fmtShape(query.shape)}, key ${fmtShape(key.shape)}, value ${fmtShape(value.shape)} do not match`);
    }

    // Masks, as float additive [N, H, L, S] pieces.
    let mask: Tensor | null = null;
    if (options.attnMask) {
      const m = options.attnMask;
      if (m.ndim === 2) {
        if (m.shape[0] !== L || m.shape[1] !== S) throw new ShapeError(`${OP}: 2-d attn_mask must be ${fmtShape([L, S])}, got ${fmtShape(m.shape)}`);
      } else if (m.ndim === 3) {
        if (m.shape[0] !== N * H || m.shape[1] !== L || m.shape[2] !== S) throw new ShapeError(`${OP}: 3-d attn_mask must be ${fmtShape([N * H, L, S])}, got ${fmtShape(m.shape)}`);
      } else {
        throw new ShapeError(`${OP}: attn_mask must be 2-d or 3-d, got ${fmtShape(m.shape)}`);
      }
      const f = additiveMask(m, 'attn_mask');
      mask = m.ndim === 2 ? f.reshape([1, 1, L, S]) : f.reshape([N, H, L, S]);
    } else if (options.isCausal) {
      throw new ArgumentError(`${OP}: isCausal needs attnMask (PyTorch's is_causal is only a hint)`);
    }
    if (options.keyPaddingMask) {
      const m = options.keyPaddingMask;
      const want = batched ? [N, S] : [S];
      if (m.ndim !== want.length || m.shape.some((d, i) => d !== want[i])) {
        throw new ShapeError(`${OP}: key_padding_mask must be ${fmtShape(want)}, got ${fmtShape(m.shape)}`);
      }
      const f = additiveMask(m, 'key_padding_mask').reshape([N, 1, 1, S]);
      mask = mask ? mask.add(f) : f;
    }

    // Input projections.
    let bq: Tensor | null = null, bk: Tensor | null = null, bv: Tensor | null = null;
    if (this.inProjBias) [bq, bk, bv] = this.inProjBias.chunk(3, 0);
    if (this.inProjWeight) {
      const [wq, wk, wv] = this.inProjWeight.chunk(3, 0);
      q = linear(q, wq, bq); k = linear(k, wk, bk); v = linear(v, wv, bv);
    } else {
      q = linear(q, this.qProjWeight!, bq); k = linear(k, this.kProjWeight!, bk); v = linear(v, this.vProjWeight!, bv);
    }
    if (this.biasK && this.biasV) {
      k = cat([k, this.biasK.expand([N, 1, E])], 1);
      v = cat([v, this.biasV.expand([N, 1, E])], 1);
      if (mask) mask = pad(mask, [0, 1]);
    }
    // [N, H, len, hd]
    q = q.reshape([N, L, H, hd]).transpose(1, 2);
    k = k.reshape([N, k.shape[1], H, hd]).transpose(1, 2);
    v = v.reshape([N, v.shape[1], H, hd]).transpose(1, 2);
    if (this.addZeroAttn) {
      k = cat([k, zeros([N, H, 1, hd], { device: k.device })], 2);
      v = cat([v, zeros([N, H, 1, hd], { device: v.device })], 2);
      if (mask) mask = pad(mask, [0, 1]);
    }
    const p = this.training ? this.dropout : 0;

    let out: Tensor, weights: Tensor | null = null;
    if (!needWeights) {
      // PyTorch drops a causal-hinted mask for is_causal only when nothing else is masked.
      const causalOnly = options.isCausal === true && !options.keyPaddingMask && !this.biasK && !this.addZeroAttn;
      out = scaledDotProductAttention(q, k, v, causalOnly ? { isCausal: true, dropoutP: p } : { attnMask: mask, dropoutP: p });
    } else {
      let scores = q.mul(1 / Math.sqrt(hd)).matmul(k.transpose(-2, -1));
      if (mask) scores = scores.add(mask);
      let w = scores.softmax(-1);
      if (p > 0) w = dropout(w, p, true);
      out = w.matmul(v);
      weights = average ? w.mean(1) : w;
      if (!batched) weights = weights.squeeze(0);
    }
    // [N, L, E] -> out_proj
    out = linear(out.transpose(1, 2).reshape([N, L, E]), this.outProj.weight, this.outProj.bias);
    if (!batched) out = out.squeeze(0);
    else if (!this.batchFirst) out = out.transpose(0, 1);
    return [out, weights];
  }
}
