// nn.TransformerEncoderLayer / DecoderLayer, TransformerEncoder / Decoder and nn.Transformer with
// PyTorch's submodule names (so checkpoints load key for key), defaults and post-/pre-norm forwards.
import { ArgumentError, ShapeError, fmtShape } from '../../errors.js';
import { full } from '../../ops/creation.js';
import { gelu, relu } from '../../ops/elementwise.js';
import type { Tensor } from '../../tensor.js';
import { xavierUniform_ } from '../init.js';
import { Module } from '../module.js';
import { MultiheadAttention } from './attention.js';
import { ModuleList } from './container.js';
import { Linear } from './linear.js';
import { Dropout, LayerNorm } from './normalization.js';

export type TransformerActivation = 'relu' | 'gelu' | ((x: Tensor) => Tensor);

export interface TransformerLayerOptions {
  dimFeedforward?: number;
  dropout?: number;
  activation?: TransformerActivation;
  layerNormEps?: number;
  batchFirst?: boolean;
  normFirst?: boolean;
  bias?: boolean;
}

function activationFn(a: TransformerActivation | undefined, layer: string): (x: Tensor) => Tensor {
  if (a === undefined || a === 'relu') return relu;
  if (a === 'gelu') return (x) => gelu(x);
  if (typeof a === 'function') return a;
  throw new ArgumentError(`${layer}: activation should be 'relu', 'gelu' or a function, got ${String(a)}`);
}

function checkInt(value: number, what: string, layer: string): void {
  if (!Number.isInteger(value) || value <= 0) throw new ArgumentError(`${layer}: ${what} must be a positive integer, got ${value}`);
}

/** The settings both layer kinds share, checked, with PyTorch's defaults. */
function layerSettings(layer: string, dModel: number, nhead: number, options: TransformerLayerOptions) {
  checkInt(dModel, 'd_model', layer);
  checkInt(nhead, 'nhead', layer);
  const dff = options.dimFeedforward ?? 2048;
  checkInt(dff, 'dim_feedforward', layer);
  return { dff, p: options.dropout ?? 0.1, eps: options.layerNormEps ?? 1e-5, bias: options.bias ?? true, batchFirst: options.batchFirst ?? false };
}

/** `fresh` (built with `layer`'s arguments) given `layer`'s values and mode: PyTorch's deepcopy. */
function copyInto<T extends Module>(layer: T, fresh: T): T {
  fresh.loadStateDict(layer.stateDict());
  fresh.train(layer.training);
  return fresh;
}

export interface TransformerEncoderLayerForwardOptions {
  srcMask?: Tensor | null;
  srcKeyPaddingMask?: Tensor | null;
  isCausal?: boolean;
}

export class TransformerEncoderLayer extends Module {
  selfAttn: MultiheadAttention;
  linear1: Linear;
  dropout: Dropout;
  linear2: Linear;
  readonly normFirst: boolean;
  norm1: LayerNorm;
  norm2: LayerNorm;
  dropout1: Dropout;
  dropout2: Dropout;
  private readonly _activation: (x: Tensor) => Tensor;
  private readonly _config: [number, number, TransformerLayerOptions];

  constructor(dModel: number, nhead: number, options: TransformerLayerOptions = {}) {
    super();
    const { dff, p, eps, bias, batchFirst } = layerSettings('TransformerEncoderLayer', dModel, nhead, options);
    this._config = [dModel, nhead, { ...options }];
    this.selfAttn = new MultiheadAttention(dModel, nhead, { dropout: p, bias, batchFirst });
    this.linear1 = new Linear(dModel, dff, { bias });
    this.dropout = new Dropout(p);
    this.linear2 = new Linear(dff, dModel, { bias });
    this.normFirst = options.normFirst ?? false;
    this.norm1 = new LayerNorm(dModel, { eps, bias });
    this.norm2 = new LayerNorm(dModel, { eps, bias });
    this.dropout1 = new Dropout(p);
    this.dropout2 = new Dropout(p);
    this._activation = activationFn(options.activation, 'TransformerEncoderLayer');
  }

  forward(src: Tensor, options: TransformerEncoderLayerForwardOptions = {}): Tensor {
    const sa = (x: Tensor) => this.dropout1.forward(this.selfAttn.forward(x, x, x, {
      attnMask: options.srcMask, keyPaddingMask: options.srcKeyPaddingMask, needWeights: false, isCausal: options.isCausal,
    })[0]);
    const ff = (x: Tensor) => this.dropout2.forward(this.linear2.forward(this.dropout.forward(this._activation(this.linear1.forward(x)))));
    let x = src;
    if (this.normFirst) {
      x = x.add(sa(this.norm1.forward(x)));
      x = x.add(ff(this.norm2.forward(x)));
    } else {
      x = this.norm1.forward(x.add(sa(x)));
      x = this.norm2.forward(x.add(ff(x)));
    }
    return x;
  }

  /** A copy with its own parameters holding the same values (copy.deepcopy). */
  copy(): TransformerEncoderLayer {
    return copyInto(this, new TransformerEncoderLayer(...this._config));
  }
}

export interface TransformerDecoderLayerForwardOptions {
  tgtMask?: Tensor | null;
  memoryMask?: Tensor | null;
  tgtKeyPaddingMask?: Tensor | null;
  memoryKeyPaddingMask?: Tensor | null;
  tgtIsCausal?: boolean;
  memoryIsCausal?: boolean;
}

export class TransformerDecoderLayer extends Module {
  selfAttn: MultiheadAttention;
  multiheadAttn: MultiheadAttention;
  linear1: Linear;
  dropout: Dropout;
  linear2: Linear;
  readonly normFirst: boolean;
  norm1: LayerNorm;
  norm2: LayerNorm;
  norm3: LayerNorm;
  dropout1: Dropout;
  dropout2: Dropout;
  dropout3: Dropout;
  private readonly _activation: (x: Tensor) => Tensor;
  private readonly _config: [number, number, TransformerLayerOptions];

  constructor(dModel: number, nhead: number, options: TransformerLayerOptions = {}) {
    super();
    const { dff, p, eps, bias, batchFirst } = layerSettings('TransformerDecoderLayer', dModel, nhead, options);
    this._config = [dModel, nhead, { ...options }];
    this.selfAttn = new MultiheadAttention(dModel, nhead, { dropout: p, bias, batchFirst });
    this.multiheadAttn = new MultiheadAttention(dModel, nhead, { dropout: p, bias, batchFirst });
    this.linear1 = new Linear(dModel, dff, { bias });
    this.dropout = new Dropout(p);
    this.linear2 = new Linear(dff, dModel, { bias });
    this.normFirst = options.normFirst ?? false;
    this.norm1 = new LayerNorm(dModel, { eps, bias });
    this.norm2 = new LayerNorm(dModel, { eps, bias });
    this.norm3 = new LayerNorm(dModel, { eps, bias });
    this.dropout1 = new Dropout(p);
    this.dropout2 = new Dropout(p);
    this.dropout3 = new Dropout(p);
    this._activation = activationFn(options.activation, 'TransformerDecoderLayer');
  }

  forward(tgt: Tensor, memory: Tensor, options: TransformerDecoderLayerForwardOptions = {}): Tensor {
    const sa = (x: Tensor) => this.dropout1.forward(this.selfAttn.forward(x, x, x, {
      attnMask: options.tgtMask, keyPaddingMask: options.tgtKeyPaddingMask, needWeights: false, isCausal: options.tgtIsCausal,
    })[0]);
    const mha = (x: Tensor) => this.dropout2.forward(this.multiheadAttn.forward(x, memory, memory, {
      attnMask: options.memoryMask, keyPaddingMask: options.memoryKeyPaddingMask, needWeights: false, isCausal: options.memoryIsCausal,
    })[0]);
    const ff = (x: Tensor) => this.dropout3.forward(this.linear2.forward(this.dropout.forward(this._activation(this.linear1.forward(x)))));
    let x = tgt;
    if (this.normFirst) {
      x = x.add(sa(this.norm1.forward(x)));
      x = x.add(mha(this.norm2.forward(x)));
      x = x.add(ff(this.norm3.forward(x)));
    } else {
      x = this.norm1.forward(x.add(sa(x)));
      x = this.norm2.forward(x.add(mha(x)));
      x = this.norm3.forward(x.add(ff(x)));
    }
    return x;
  }

  /** A copy with its own parameters holding the same values (copy.deepcopy). */
  copy(): TransformerDecoderLayer {
    return copyInto(this, new TransformerDecoderLayer(...this._config));
  }
}

function clones<T extends TransformerEncoderLayer | TransformerDecoderLayer>(layer: T, n: number, what: string): ModuleList {
  checkInt(n, 'num_layers', what);
  return new ModuleList(Array.from({ length: n }, () => layer.copy()));
}

export interface TransformerEncoderForwardOptions {
  mask?: Tensor | null;
  srcKeyPaddingMask?: Tensor | null;
  isCausal?: boolean;
}

export class TransformerEncoder extends Module {
  layers: ModuleList;
  readonly numLayers: number;
  norm: Module | null;

  /** numLayers copies of encoderLayer, all starting with its values (PyTorch's _get_clones). */
  constructor(encoderLayer: TransformerEncoderLayer, numLayers: number, options: { norm?: Module | null } = {}) {
    super();
    if (!(encoderLayer instanceof TransformerEncoderLayer)) throw new ArgumentError('TransformerEncoder: encoderLayer must be a TransformerEncoderLayer');
    this.layers = clones(encoderLayer, numLayers, 'TransformerEncoder');
    this.numLayers = numLayers;
    this.norm = options.norm ?? null;
  }

  forward(src: Tensor, options: TransformerEncoderForwardOptions = {}): Tensor {
    let out = src;
    for (const layer of this.layers) {
      out = (layer as TransformerEncoderLayer).forward(out, { srcMask: options.mask, srcKeyPaddingMask: options.srcKeyPaddingMask, isCausal: options.isCausal });
    }
    return this.norm ? (this.norm.forward(out) as Tensor) : out;
  }
}

export class TransformerDecoder extends Module {
  layers: ModuleList;
  readonly numLayers: number;
  norm: Module | null;

  /** numLayers copies of decoderLayer, all starting with its values (PyTorch's _get_clones). */
  constructor(decoderLayer: TransformerDecoderLayer, numLayers: number, options: { norm?: Module | null } = {}) {
    super();
    if (!(decoderLayer instanceof TransformerDecoderLayer)) throw new ArgumentError('TransformerDecoder: decoderLayer must be a TransformerDecoderLayer');
    this.layers = clones(decoderLayer, numLayers, 'TransformerDecoder');
    this.numLayers = numLayers;
    this.norm = options.norm ?? null;
  }

  forward(tgt: Tensor, memory: Tensor, options: TransformerDecoderLayerForwardOptions = {}): Tensor {
    let out = tgt;
    for (const layer of this.layers) out = (layer as TransformerDecoderLayer).forward(out, memory, options);
    return this.norm ? (this.norm.forward(out) as Tensor) : out;
  }
}

export interface TransformerOptions extends TransformerLayerOptions {
  dModel?: number;
  nhead?: number;
  numEncoderLayers?: number;
  numDecoderLayers?: number;
}

export interface TransformerForwardOptions {
  srcMask?: Tensor | null;
  tgtMask?: Tensor | null;
  memoryMask?: Tensor | null;
  srcKeyPaddingMask?: Tensor | null;
  tgtKeyPaddingMask?: Tensor | null;
  memoryKeyPaddingMask?: Tensor | null;
  srcIsCausal?: boolean;
  tgtIsCausal?: boolean;
  memoryIsCausal?: boolean;
}

export class Transformer extends Module {
  encoder: TransformerEncoder;
  decoder: TransformerDecoder;
  readonly dModel: number;
  readonly nhead: number;
  readonly batchFirst: boolean;

  constructor(options: TransformerOptions = {}) {
    super();
    const dModel = options.dModel ?? 512, nhead = options.nhead ?? 8;
    const layerOptions: TransformerLayerOptions = {
      dimFeedforward: options.dimFeedforward ?? 2048, dropout: options.dropout ?? 0.1, activation: options.activation ?? 'relu',
      layerNormEps: options.layerNormEps ?? 1e-5, batchFirst: options.batchFirst ?? false, normFirst: options.normFirst ?? false, bias: options.bias ?? true,
    };
    const eps = layerOptions.layerNormEps!, bias = layerOptions.bias!;
    this.encoder = new TransformerEncoder(new TransformerEncoderLayer(dModel, nhead, layerOptions), options.numEncoderLayers ?? 6, { norm: new LayerNorm(dModel, { eps, bias }) });
    this.decoder = new TransformerDecoder(new TransformerDecoderLayer(dModel, nhead, layerOptions), options.numDecoderLayers ?? 6, { norm: new LayerNorm(dModel, { eps, bias }) });
    this.dModel = dModel;
    this.nhead = nhead;
    this.batchFirst = layerOptions.batchFirst!;
    for (const p of this.parameters()) if (p.ndim > 1) xavierUniform_(p);
  }

  forward(src: Tensor, tgt: Tensor, options: TransformerForwardOptions = {}): Tensor {
    const batched = src.ndim === 3;
    if (src.ndim !== tgt.ndim) throw new ShapeError(`Transformer: src and tgt must both be 2-d or 3-d, got src ${fmtShape(src.shape)}, tgt ${fmtShape(tgt.shape)}`);
    const b = this.batchFirst ? 0 : 1;
    if (batched && src.shape[b] !== tgt.shape[b]) throw new ShapeError(`Transformer: the batch number of src and tgt must be equal, got src ${fmtShape(src.shape)}, tgt ${fmtShape(tgt.shape)}`);
    if (src.shape[src.ndim - 1] !== this.dModel || tgt.shape[tgt.ndim - 1] !== this.dModel) {
      throw new ShapeError(`Transformer: the feature number of src and tgt must be d_model ${this.dModel}, got src ${fmtShape(src.shape)}, tgt ${fmtShape(tgt.shape)}`);
    }
    const memory = this.encoder.forward(src, { mask: options.srcMask, srcKeyPaddingMask: options.srcKeyPaddingMask, isCausal: options.srcIsCausal });
    return this.decoder.forward(tgt, memory, {
      tgtMask: options.tgtMask, memoryMask: options.memoryMask, tgtKeyPaddingMask: options.tgtKeyPaddingMask,
      memoryKeyPaddingMask: options.memoryKeyPaddingMask, tgtIsCausal: options.tgtIsCausal, memoryIsCausal: options.memoryIsCausal,
    });
  }

  /** [n, n] float32: -Infinity above the diagonal, 0 on and below it. */
  static generateSquareSubsequentMask(n: number): Tensor {
    if (!Number.isInteger(n) || n <= 0) throw new ArgumentError(`Transformer.generateSquareSubsequentMask: size must be a positive integer, got ${n}`);
    return full([n, n], -Infinity).triu(1);
  }
}
