// BatchNorm1d/2d, LayerNorm, RMSNorm, Dropout, with PyTorch's parameters, buffers and defaults.
import { ArgumentError, ShapeError, fmtShape } from '../../errors.js';
import { full, ones, zeros } from '../../ops/creation.js';
import type { Tensor } from '../../tensor.js';
import { batchNorm, dropout, layerNorm, rmsNorm } from '../functional/basic.js';
import { Module, Parameter, reprFloat, reprTuple } from '../module.js';
import { noGrad } from '../../autograd/grad_mode.js';

abstract class BatchNormBase extends Module {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  weight: Tensor | null;
  bias: Tensor | null;
  runningMean!: Tensor | null;
  runningVar!: Tensor | null;
  numBatchesTracked!: Tensor | null;

  protected abstract readonly expectedDims: number[];

  /** momentum weighs each batch in the running statistics; null makes them a cumulative average, as PyTorch. */
  constructor(numFeatures: number, options: { eps?: number; momentum?: number | null; affine?: boolean; trackRunningStats?: boolean } = {}) {
    super();
    if (!Number.isInteger(numFeatures) || numFeatures <= 0) throw new ArgumentError(`${new.target.name}: num_features must be a positive integer, got ${numFeatures}`);
    this.numFeatures = numFeatures;
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum === undefined ? 0.1 : options.momentum;
    this.affine = options.affine ?? true;
    this.trackRunningStats = options.trackRunningStats ?? true;
    this.weight = this.affine ? Parameter(ones([numFeatures])) : null;
    this.bias = this.affine ? Parameter(zeros([numFeatures])) : null;
    if (this.trackRunningStats) {
      this.registerBuffer('runningMean', zeros([numFeatures]));
      this.registerBuffer('runningVar', ones([numFeatures]));
      this.registerBuffer('numBatchesTracked', full([], 0, { dtype: 'int32' }));
    } else {
      this.registerBuffer('runningMean', null);
      this.registerBuffer('runningVar', null);
      this.registerBuffer('numBatchesTracked', null);
    }
  }

  forward(input: Tensor): Tensor {
    if (!this.expectedDims.includes(input.ndim)) {
      throw new ShapeError(`${this.constructor.name}: expected ${this.expectedDims.join(' or ')}-d input, got ${fmtShape(input.shape)}`);
    }
    let momentum = this.momentum ?? 0;
    const useBatchStats = this.training || !this.trackRunningStats;
    if (this.training && this.trackRunningStats && this.numBatchesTracked) {
      noGrad(() => this.numBatchesTracked!.add_(1));
      if (this.momentum === null) momentum = 1 / this.numBatchesTracked.item();
    }
    return batchNorm(input, {
      runningMean: !this.training || this.trackRunningStats ? this.runningMean : null,
      runningVar: !this.training || this.trackRunningStats ? this.runningVar : null,
      weight: this.weight,
      bias: this.bias,
      training: useBatchStats,
      momentum,
      eps: this.eps,
    });
  }

  override extraRepr(): string {
    return `${this.numFeatures}, eps=${reprFloat(this.eps)}, momentum=${reprFloat(this.momentum)}, affine=${this.affine ? 'True' : 'False'}, track_running_stats=${this.trackRunningStats ? 'True' : 'False'}`;
  }
}

export class BatchNorm1d extends BatchNormBase {
  protected readonly expectedDims = [2, 3];
}

export class BatchNorm2d extends BatchNormBase {
  protected readonly expectedDims = [4];
}

function normalizedShapeOf(shape: number | number[], layer: string): number[] {
  const dims = Array.isArray(shape) ? [...shape] : [shape];
  if (dims.length === 0 || !dims.every((d) => Number.isInteger(d) && d > 0)) {
    throw new ArgumentError(`${layer}: normalized_shape must be positive integers, got ${JSON.stringify(shape)}`);
  }
  return dims;
}

export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  readonly eps: number;
  readonly elementwiseAffine: boolean;
  weight: Tensor | null;
  bias: Tensor | null;

  constructor(normalizedShape: number | number[], options: { eps?: number; elementwiseAffine?: boolean; bias?: boolean } = {}) {
    super();
    this.normalizedShape = normalizedShapeOf(normalizedShape, 'LayerNorm');
    this.eps = options.eps ?? 1e-5;
    this.elementwiseAffine = options.elementwiseAffine ?? true;
    this.weight = this.elementwiseAffine ? Parameter(ones(this.normalizedShape)) : null;
    this.bias = this.elementwiseAffine && (options.bias ?? true) ? Parameter(zeros(this.normalizedShape)) : null;
  }

  forward(input: Tensor): Tensor {
    return layerNorm(input, this.normalizedShape, this.weight, this.bias, this.eps);
  }

  override extraRepr(): string {
    return `${reprTuple(this.normalizedShape)}, eps=${reprFloat(this.eps)}, elementwise_affine=${this.elementwiseAffine ? 'True' : 'False'}`;
  }
}

export class RMSNorm extends Module {
  readonly normalizedShape: number[];
  readonly eps: number | null;
  weight: Tensor | null;

  constructor(normalizedShape: number | number[], options: { eps?: number | null; elementwiseAffine?: boolean } = {}) {
    super();
    this.normalizedShape = normalizedShapeOf(normalizedShape, 'RMSNorm');
    this.eps = options.eps ?? null;
    this.weight = options.elementwiseAffine ?? true ? Parameter(ones(this.normalizedShape)) : null;
  }

  forward(input: Tensor): Tensor {
    return rmsNorm(input, this.normalizedShape, this.weight, this.eps);
  }

  override extraRepr(): string {
    return `${reprTuple(this.normalizedShape)}, eps=${reprFloat(this.eps)}, elementwise_affine=${this.weight ? 'True' : 'False'}`;
  }
}

export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new ArgumentError(`Dropout: probability has to be between 0 and 1, got ${p}`);
  }

  forward(input: Tensor): Tensor {
    return dropout(input, this.p, this.training);
  }

  override extraRepr(): string {
    return `p=${this.p}, inplace=False`;
  }
}
