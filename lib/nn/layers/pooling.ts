// MaxPool1d over F.maxPool1d, with PyTorch's defaults (stride = kernel size) and repr.
import { ArgumentError } from '../../errors.js';
import type { Tensor } from '../../tensor.js';
import { maxPool1d, type PooledWithIndices } from '../functional/pooling.js';
import { Module } from '../module.js';

export interface MaxPool1dOptions<R extends boolean> {
  /** Defaults to the kernel size. */
  stride?: number | null;
  padding?: number;
  dilation?: number;
  ceilMode?: boolean;
  /** forward returns [values, indices] (int32 positions along L). */
  returnIndices?: R;
}

export class MaxPool1d<R extends boolean = false> extends Module {
  readonly stride: number;
  readonly padding: number;
  readonly dilation: number;
  readonly ceilMode: boolean;
  readonly returnIndices: R;

  constructor(readonly kernelSize: number, options: MaxPool1dOptions<R> = {}) {
    super();
    this.stride = options.stride ?? kernelSize;
    this.padding = options.padding ?? 0;
    this.dilation = options.dilation ?? 1;
    this.ceilMode = options.ceilMode ?? false;
    this.returnIndices = (options.returnIndices ?? false) as R;
    for (const [what, v] of [['kernel_size', kernelSize], ['stride', this.stride], ['dilation', this.dilation]] as const) {
      if (!Number.isInteger(v) || v <= 0) throw new ArgumentError(`MaxPool1d: ${what} must be a positive integer, got ${v}`);
    }
    if (!Number.isInteger(this.padding) || this.padding < 0) throw new ArgumentError(`MaxPool1d: padding must be an integer >= 0, got ${this.padding}`);
  }

  forward(input: Tensor): R extends true ? PooledWithIndices : Tensor {
    return maxPool1d(input, this.kernelSize, {
      stride: this.stride, padding: this.padding, dilation: this.dilation, ceilMode: this.ceilMode, returnIndices: this.returnIndices,
    }) as R extends true ? PooledWithIndices : Tensor;
  }

  override extraRepr(): string {
    return `kernel_size=${this.kernelSize}, stride=${this.stride}, padding=${this.padding}, dilation=${this.dilation}, ` +
      `ceil_mode=${this.ceilMode ? 'True' : 'False'}`;
  }
}
