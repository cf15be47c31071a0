// GroupNorm over F.groupNorm, with PyTorch's parameters (weight ones, bias zeros) and repr.
import { ArgumentError } from '../../errors.js';
import { ones, zeros } from '../../ops/creation.js';
import type { Tensor } from '../../tensor.js';
import { groupNorm } from '../functional/normalization.js';
import { Module, Parameter, reprFloat } from '../module.js';

export interface GroupNormOptions {
  eps?: number;
  /** Learn a per-channel weight and bias. Default true. */
  affine?: boolean;
  /** With affine, also learn the bias. Default true. */
  bias?: boolean;
}

export class GroupNorm extends Module {
  readonly eps: number;
  readonly affine: boolean;
  weight: Tensor | null;
  bias: Tensor | null;

  constructor(readonly numGroups: number, readonly numChannels: number, options: GroupNormOptions = {}) {
    super();
    for (const [what, v] of [['num_groups', numGroups], ['num_channels', numChannels]] as const) {
      if (!Number.isInteger(v) || v <= 0) throw new ArgumentError(`GroupNorm: ${what} must be a positive integer, got ${v}`);
    }
    if (numChannels % numGroups !== 0) throw new ArgumentError(`GroupNorm: num_channels (${numChannels}) must be divisible by num_groups (${numGroups})`);
    this.eps = options.eps ?? 1e-5;
    this.affine = options.affine ?? true;
    this.weight = this.affine ? Parameter(ones([numChannels])) : null;
    this.bias = this.affine && (options.bias ?? true) ? Parameter(zeros([numChannels])) : null;
  }

  forward(input: Tensor): Tensor {
    return groupNorm(input, this.numGroups, this.weight, this.bias, this.eps);
  }

  override extraRepr(): string {
    const bool = (b: boolean) => (b ? 'True' : 'False');
    return `${this.numGroups}, ${this.numChannels}, eps=${reprFloat(this.eps)}, affine=${bool(this.affine)}, bias=${bool(this.bias !== null)}`;
  }
}
