// Upsample: F.interpolate as a layer, with PyTorch's options and repr.
import type { Tensor } from '../../tensor.js';
import { interpolate, type InterpolateMode } from '../functional/interpolate.js';
import { Module, reprFloat, reprTuple } from '../module.js';

export interface UpsampleOptions {
  size?: number | readonly number[] | null;
  scaleFactor?: number | readonly number[] | null;
  /** Default 'nearest'. */
  mode?: InterpolateMode;
  alignCorners?: boolean | null;
  recomputeScaleFactor?: boolean | null;
}

export class Upsample extends Module {
  readonly size: number | readonly number[] | null;
  readonly scaleFactor: number | readonly number[] | null;
  readonly mode: InterpolateMode;
  readonly alignCorners: boolean | null;
  readonly recomputeScaleFactor: boolean | null;

  constructor(options: UpsampleOptions = {}) {
    super();
    this.size = options.size ?? null;
    this.scaleFactor = options.scaleFactor ?? null;
    this.mode = options.mode ?? 'nearest';
    this.alignCorners = options.alignCorners ?? null;
    this.recomputeScaleFactor = options.recomputeScaleFactor ?? null;
  }

  forward(input: Tensor): Tensor {
    return interpolate(input, {
      size: this.size, scaleFactor: this.scaleFactor, mode: this.mode, alignCorners: this.alignCorners,
      recomputeScaleFactor: this.recomputeScaleFactor,
    });
  }

  override extraRepr(): string {
    // PyTorch stores the scale factor as float(s) and prints it with Python's repr.
    const info = this.scaleFactor !== null
      ? `scale_factor=${typeof this.scaleFactor === 'number' ? reprFloat(this.scaleFactor) : `(${this.scaleFactor.map(reprFloat).join(', ')})`}`
      : `size=${this.size === null ? 'None' : typeof this.size === 'number' ? this.size : reprTuple(this.size)}`;
    return `${info}, mode='${this.mode}'`;
  }
}
