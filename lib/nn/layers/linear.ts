// Linear, Identity, Flatten, Embedding: PyTorch's layers, names and default initialisation.
import { ArgumentError, ShapeError, fmtShape } from '../../errors.js';
import { empty } from '../../ops/creation.js';
import { flatten, unflatten } from '../../ops/shape.js';
import { scoped } from '../../scope.js';
import type { Tensor } from '../../tensor.js';
import { embedding, linear } from '../functional/basic.js';
import { calculateFanInAndFanOut, kaimingUniform_, normal_, uniform_ } from '../init.js';
import { Module, Parameter, reprFloat, reprTuple } from '../module.js';
import { noGrad } from '../../autograd/grad_mode.js';

function positiveInt(value: number, what: string, layer: string): number {
  if (!Number.isInteger(value) || value <= 0) throw new ArgumentError(`${layer}: ${what} must be a positive integer, got ${value}`);
  return value;
}

/**
 * PyTorch's default for Linear and ConvNd: kaiming_uniform_(a=√5) for the weight (so
 * U(±1/√fan_in)), and U(±1/√fan_in) for the bias.
 */
export function resetAffine(weight: Tensor, bias: Tensor | null): void {
  kaimingUniform_(weight, { a: Math.sqrt(5) });
  if (bias) {
    const { fanIn } = calculateFanInAndFanOut(weight);
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    uniform_(bias, -bound, bound);
  }
}

export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  weight: Tensor;
  bias: Tensor | null;

  constructor(inFeatures: number, outFeatures: number, options: { bias?: boolean } = {}) {
    super();
    this.inFeatures = positiveInt(inFeatures, 'in_features', 'Linear');
    this.outFeatures = positiveInt(outFeatures, 'out_features', 'Linear');
    this.weight = Parameter(empty([outFeatures, inFeatures]));
    this.bias = options.bias === false ? null : Parameter(empty([outFeatures]));
    this.resetParameters();
  }

  resetParameters(): void {
    resetAffine(this.weight, this.bias);
  }

  forward(input: Tensor): Tensor {
    return linear(input, this.weight, this.bias);
  }

  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${this.bias ? 'True' : 'False'}`;
  }
}

export class Identity extends Module {
  forward(input: Tensor): Tensor {
    // A new tensor object (callers may dispose what a module returns), same values and graph.
    return input.mul(1);
  }
}

export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }

  forward(input: Tensor): Tensor {
    return flatten(input, this.startDim, this.endDim);
  }

  override extraRepr(): string {
    return `start_dim=${this.startDim}, end_dim=${this.endDim}`;
  }
}

export class Unflatten extends Module {
  constructor(readonly dim: number, readonly unflattenedSize: number[]) {
    super();
  }

  forward(input: Tensor): Tensor {
    return unflatten(input, this.dim, this.unflattenedSize);
  }

  override extraRepr(): string {
    return `dim=${this.dim}, unflattened_size=${reprTuple(this.unflattenedSize)}`;
  }
}

export interface EmbeddingOptions {
  paddingIdx?: number | null;
  /** Looked-up rows whose normType-norm exceeds this are rescaled to it in the weight, before the lookup. */
  maxNorm?: number | null;
  normType?: number;
  scaleGradByFreq?: boolean;
  /** Sparse gradients are not supported; true is an error. */
  sparse?: boolean;
  /** An initial weight [numEmbeddings, embeddingDim] to use as-is (what fromPretrained passes). */
  weight?: Tensor;
}

export class Embedding extends Module {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly paddingIdx: number | null;
  readonly maxNorm: number | null;
  readonly normType: number;
  readonly scaleGradByFreq: boolean;
  weight: Tensor;

  constructor(numEmbeddings: number, embeddingDim: number, options: EmbeddingOptions = {}) {
    super();
    this.numEmbeddings = positiveInt(numEmbeddings, 'num_embeddings', 'Embedding');
    this.embeddingDim = positiveInt(embeddingDim, 'embedding_dim', 'Embedding');
    let pad = options.paddingIdx ?? null;
    if (pad !== null) {
      if (!Number.isInteger(pad) || pad >= numEmbeddings || pad < -numEmbeddings) throw new ArgumentError(`Embedding: padding_idx ${pad} must be within num_embeddings ${numEmbeddings}`);
      if (pad < 0) pad += numEmbeddings;
    }
    this.paddingIdx = pad;
    const maxNorm = options.maxNorm ?? null;
    if (maxNorm !== null && !(maxNorm > 0)) throw new ArgumentError(`Embedding: max_norm must be positive, got ${maxNorm}`);
    this.maxNorm = maxNorm;
    this.normType = options.normType ?? 2;
    if (!(this.normType > 0)) throw new ArgumentError(`Embedding: norm_type must be positive, got ${this.normType}`);
    this.scaleGradByFreq = options.scaleGradByFreq ?? false;
    if (options.sparse) throw new ArgumentError('Embedding: sparse gradients are not supported (sparse: true)');
    if (options.weight) {
      const w = options.weight;
      if (w.ndim !== 2 || w.shape[0] !== numEmbeddings || w.shape[1] !== embeddingDim) {
        throw new ShapeError(`Embedding: _weight ${fmtShape(w.shape)} does not match [num_embeddings=${numEmbeddings}, embedding_dim=${embeddingDim}]`);
      }
      this.weight = Parameter(w);
    } else {
      this.weight = Parameter(empty([numEmbeddings, embeddingDim]));
      this.resetParameters();
    }
  }

  /**
   * An Embedding whose weight is (a copy of) the given 2-d table, as PyTorch's
   * nn.Embedding.from_pretrained; freeze (default true) turns its gradient off.
   */
  static fromPretrained(embeddings: Tensor, options: Omit<EmbeddingOptions, 'weight'> & { freeze?: boolean } = {}): Embedding {
    if (embeddings.ndim !== 2) throw new ShapeError(`Embedding.fromPretrained: embeddings must be 2-d [num, dim], got ${fmtShape(embeddings.shape)}`);
    const { freeze = true, ...rest } = options;
    const weight = noGrad(() => embeddings.clone());
    const layer = new Embedding(embeddings.shape[0], embeddings.shape[1], { ...rest, weight });
    layer.weight.requiresGrad = !freeze;
    return layer;
  }

  /** N(0, 1), with the padding row zeroed, as PyTorch. */
  resetParameters(): void {
    normal_(this.weight);
    const pad = this.paddingIdx;
    if (pad !== null) scoped(() => noGrad(() => { this.weight.select(0, pad).zero_(); }));
  }

  forward(input: Tensor): Tensor {
    return embedding(input, this.weight, { paddingIdx: this.paddingIdx, maxNorm: this.maxNorm, normType: this.normType, scaleGradByFreq: this.scaleGradByFreq });
  }

  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}${this.paddingIdx !== null ? `, padding_idx=${this.paddingIdx}` : ''}${this.maxNorm !== null ? `, max_norm=${reprFloat(this.maxNorm)}` : ''}${this.normType !== 2 ? `, norm_type=${reprFloat(this.normType)}` : ''}${this.scaleGradByFreq ? ', scale_grad_by_freq=True' : ''}`;
  }
}
